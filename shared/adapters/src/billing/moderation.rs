//! Admin decisions on bonuses: approve (credit through Wellflow) or reject (→ `reversed`).
//!
//! Approving a `pending` bonus first claims it (`pending → failed`, "approved, credit in
//! progress") with a conditional write, so of two admins clicking at once only one proceeds
//! to Wellflow; a `failed` bonus is credited directly (Wellflow's idempotency key makes a
//! concurrent retry harmless and the conditional transition lets only one record it).

use crate::billing::{credit_bonus, partner_events, Billing, CreditOutcome, OnFailure, RetryQueue};
use crate::clock;
use crate::domain::{BonusStatus, PartnerEventType, PaymentId};
use crate::store::{BonusRecord, Bonuses, StoreError, Transition, TransitionOutcome};

#[derive(Debug, Clone, PartialEq)]
pub enum ModerationOutcome {
    Credited(Box<BonusRecord>),
    /// Approved, but Wellflow failed: the bonus is `failed` again (retry scheduled if useful).
    CreditFailed {
        record: Box<BonusRecord>,
        error: String,
        retry_scheduled: bool,
    },
    Rejected(Box<BonusRecord>),
    NotFound,
    /// Already decided (credited or reversed), possibly by a concurrent admin.
    NotOpen(Box<BonusRecord>),
}

pub async fn approve<S, Q>(
    billing: &Billing<S, Q>,
    payment: &PaymentId,
    actor: &str,
    note: Option<&str>,
) -> Result<ModerationOutcome, StoreError>
where
    S: Bonuses,
    Q: RetryQueue,
{
    let Some(current) = billing.store.bonus(payment).await? else { return Ok(ModerationOutcome::NotFound) };
    let claimed = match current.status {
        BonusStatus::Credited | BonusStatus::Reversed => return Ok(ModerationOutcome::NotOpen(Box::new(current))),
        BonusStatus::Failed => current,
        BonusStatus::Pending => {
            let mut claim = Transition::new(BonusStatus::Failed, actor, clock::rfc3339(clock::now()));
            claim.error = Some("approved: credit in progress".into());
            claim.note = note.map(str::to_string);
            match billing.store.transition(&current, &claim).await? {
                TransitionOutcome::Applied(record) => *record,
                TransitionOutcome::Conflict => return not_open(billing, payment).await,
            }
        }
    };
    Ok(match credit_bonus(billing, &claimed, actor, note, OnFailure::Enqueue).await? {
        CreditOutcome::Credited(record) => ModerationOutcome::Credited(record),
        CreditOutcome::Failed { record, error, retry_scheduled, .. } => {
            ModerationOutcome::CreditFailed { record, error, retry_scheduled }
        }
        CreditOutcome::AlreadyDecided(record) => ModerationOutcome::NotOpen(record),
    })
}

pub async fn reject<S, Q>(
    billing: &Billing<S, Q>,
    payment: &PaymentId,
    actor: &str,
    reason: &str,
    note: Option<&str>,
) -> Result<ModerationOutcome, StoreError>
where
    S: Bonuses,
{
    let Some(current) = billing.store.bonus(payment).await? else { return Ok(ModerationOutcome::NotFound) };
    if !current.status.is_open() {
        return Ok(ModerationOutcome::NotOpen(Box::new(current)));
    }
    let mut change = Transition::new(BonusStatus::Reversed, actor, clock::rfc3339(clock::now()));
    change.reason = Some(reason.to_string());
    change.note = note.map(str::to_string);
    match billing.store.transition(&current, &change).await? {
        TransitionOutcome::Applied(record) => {
            crate::metrics::count("BonusReversed", &[("payment_id", payment.as_str()), ("reason", reason)]);
            tracing::info!(payment_id = %payment, actor, reason, outcome = "rejected", "bonus rejected by admin");
            partner_events::emit(billing, &record, PartnerEventType::BonusReversed).await;
            Ok(ModerationOutcome::Rejected(record))
        }
        TransitionOutcome::Conflict => not_open(billing, payment).await,
    }
}

async fn not_open<S: Bonuses, Q>(
    billing: &Billing<S, Q>,
    payment: &PaymentId,
) -> Result<ModerationOutcome, StoreError> {
    Ok(match billing.store.bonus(payment).await? {
        Some(record) => ModerationOutcome::NotOpen(Box::new(record)),
        None => ModerationOutcome::NotFound,
    })
}
