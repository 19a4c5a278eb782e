//! A refunded top-up reverses its bonus: a credited one is debited back through Wellflow
//! (idempotency key `ref:reverse:<payment_id>`) and marked `reversed`; a pending or failed
//! one is just marked `reversed`. A refund covers the whole bonus (partial refunds too:
//! the bonus was earned on a payment that did not stand).

use crate::billing::{partner_events, Billing, BillingError};
use crate::clock;
use crate::domain::{BonusStatus, PartnerEventType, PaymentId};
use crate::store::{BonusRecord, Bonuses, Transition, TransitionOutcome};

const ATTEMPTS: usize = 5;

#[derive(Debug, Clone, PartialEq)]
pub enum RefundOutcome {
    /// No bonus for that payment (not referred, below minimum): nothing to do.
    NoBonus,
    AlreadyReversed(Box<BonusRecord>),
    Reversed {
        record: Box<BonusRecord>,
        debited: bool,
    },
}

pub async fn process_refund<S, Q>(billing: &Billing<S, Q>, payment: &PaymentId) -> Result<RefundOutcome, BillingError>
where
    S: Bonuses,
{
    for _ in 0..ATTEMPTS {
        let Some(current) = billing.store.bonus(payment).await? else { return Ok(RefundOutcome::NoBonus) };
        let debited = match current.status {
            BonusStatus::Reversed => return Ok(RefundOutcome::AlreadyReversed(Box::new(current))),
            BonusStatus::Credited => {
                // Debit first: if Wellflow is down the webhook answers 503 and the provider
                // re-sends the refund; the row stays credited until the money is back.
                billing
                    .wellflow
                    .debit(
                        current.referrer_id.as_str(),
                        current.bonus_amount.decimal(),
                        &current.reversal_key(),
                        &format!("Reversal of referral bonus for refunded payment {payment}"),
                    )
                    .await?;
                true
            }
            BonusStatus::Pending | BonusStatus::Failed => false,
        };
        let mut change = Transition::new(BonusStatus::Reversed, "webhook", clock::rfc3339(clock::now()));
        change.reason = Some("refunded".into());
        match billing.store.transition(&current, &change).await? {
            TransitionOutcome::Applied(record) => {
                crate::metrics::count("BonusReversed", &[("payment_id", payment.as_str()), ("reason", "refunded")]);
                tracing::info!(payment_id = %payment, referrer_id = %record.referrer_id, amount = %record.bonus_amount, debited, outcome = "reversed", "bonus reversed after refund");
                partner_events::emit(billing, &record, PartnerEventType::BonusReversed).await;
                return Ok(RefundOutcome::Reversed { record, debited });
            }
            TransitionOutcome::Conflict => continue, // moved meanwhile (e.g. just credited): decide again
        }
    }
    Err(BillingError::Contended(format!("ref:auto:{payment}")))
}
