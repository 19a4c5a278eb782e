//! Admin decisions on bonuses. **Approve**: a held bonus becomes payable and is credited; a
//! failed one is re-issued now (with its own key — including one Wellflow refused). **Reject**:
//! the bonus is due nothing from now on; anything Wellflow may hold for it is taken back
//! through the same idempotent moves. Both are conditional writes on the bonus's version, so
//! of two admins clicking at once exactly one decides and the other is told it is decided.

use crate::bonus::{Bonus, Change, NotOpen};
use crate::domain::PaymentId;
use crate::metrics;
use crate::ports::Ledger;
use crate::store::{Commit, CommitOutcome, Payments};
use crate::usecases::settle::{settle, Mode};
use crate::usecases::{Billing, BillingError};

const ATTEMPTS: usize = 5;

#[derive(Debug, Clone, PartialEq)]
pub enum ModerationOutcome {
    /// Approved and settled (credited, or reversed when nothing is due any more).
    Approved(Box<Bonus>),
    /// Approved, but Wellflow failed: the bonus is `failed` (retried automatically unless
    /// Wellflow refused it).
    ApprovedButFailed {
        bonus: Box<Bonus>,
        error: String,
    },
    Rejected(Box<Bonus>),
    NotFound,
    /// Already decided (credited, reversed, rejected), possibly by a concurrent admin.
    NotOpen(Box<Bonus>),
}

pub async fn approve<S, L>(
    billing: &Billing<S, L>,
    payment: &PaymentId,
    actor: &str,
    note: Option<&str>,
) -> Result<ModerationOutcome, BillingError>
where
    S: Payments,
    L: Ledger,
{
    let decided = decide(billing, payment, |bonus, now| bonus.approve(actor, note, now)).await?;
    let change = match decided {
        Decided::Changed(change) => *change,
        Decided::Other(outcome) => return Ok(outcome),
    };
    tracing::info!(payment_id = %payment, actor, outcome = "approved", "bonus approved by admin");
    let settled = settle(billing, change.bonus, actor, Mode::Admin).await?;
    Ok(match settled.failed {
        None => ModerationOutcome::Approved(settled.bonus),
        Some(error) => ModerationOutcome::ApprovedButFailed { bonus: settled.bonus, error },
    })
}

pub async fn reject<S, L>(
    billing: &Billing<S, L>,
    payment: &PaymentId,
    actor: &str,
    reason: &str,
    note: Option<&str>,
) -> Result<ModerationOutcome, BillingError>
where
    S: Payments,
    L: Ledger,
{
    let decided = decide(billing, payment, |bonus, now| bonus.reject(actor, reason, note, now)).await?;
    let change = match decided {
        Decided::Changed(change) => *change,
        Decided::Other(outcome) => return Ok(outcome),
    };
    metrics::count("BonusReversed", &[("payment_id", payment.as_str()), ("reason", reason)]);
    tracing::info!(payment_id = %payment, actor, reason, outcome = "rejected", "bonus rejected by admin");
    // Nothing is due any more; whatever may be in flight is resolved and taken back.
    let settled = settle(billing, change.bonus, actor, Mode::Auto).await?;
    Ok(ModerationOutcome::Rejected(settled.bonus))
}

enum Decided {
    Changed(Box<Change>),
    Other(ModerationOutcome),
}

async fn decide<S, L>(
    billing: &Billing<S, L>,
    payment: &PaymentId,
    decision: impl Fn(&Bonus, &str) -> Result<Change, NotOpen>,
) -> Result<Decided, BillingError>
where
    S: Payments,
{
    for _ in 0..ATTEMPTS {
        let Some(bonus) = billing.store.bonus(payment).await? else {
            return Ok(Decided::Other(ModerationOutcome::NotFound));
        };
        let change = match decision(&bonus, &billing.now_str()) {
            Ok(change) => change,
            Err(NotOpen::Decided(bonus)) => return Ok(Decided::Other(ModerationOutcome::NotOpen(bonus))),
        };
        match billing.store.commit(&Commit::bonus(change.clone())).await? {
            CommitOutcome::Committed => return Ok(Decided::Changed(Box::new(change))),
            CommitOutcome::Conflict => continue, // moved meanwhile: look again
        }
    }
    Err(BillingError::Contended(payment.to_string()))
}
