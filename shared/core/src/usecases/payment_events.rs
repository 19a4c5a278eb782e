//! One entry point for everything a payment provider tells us: success, refund (by
//! cumulative total), dispute, dispute won or lost. Any order, any duplication:
//!
//! 1. read the payment's record, its bonus, the payer and the rate tiers (one round trip);
//! 2. fold the event into the record (`payment::PaymentRecord::apply`: facts only move one
//!    way, so a re-delivered or reordered event changes nothing it should not);
//! 3. a success of a referred payer creates the bonus from the record *as it is now* (a
//!    refund or dispute that came first is already in it); any other fact moves an existing
//!    bonus (`Bonus::on_payment`) or is just recorded for a later success;
//! 4. commit record + bonus + effects atomically (a conflict → back to 1);
//! 5. settle: send the bonus's in-flight Wellflow move and record the answer.
//!
//! DynamoDB round trips: duplicate 1 (the read), unreferred or below-minimum success 1; a
//! repeat top-up (the payer's copy of the referrer context) held 2, credited 3 (read,
//! create-and-claim, record Wellflow's answer); a payer's first top-up +1 (it reads the
//! referrer's velocity window); a refund or dispute 2 plus 1 per Wellflow move.

use crate::bonus::{Bonus, BonusStatus};
use crate::metrics;
use crate::payment::{PaymentEvent, PaymentEventKind, PaymentRecord, Unchanged};
use crate::ports::Ledger;
use crate::store::{Commit, CommitOutcome, Payments};
use crate::usecases::settle::{settle, Mode, Settled};
use crate::usecases::topup::{create_bonus, use_copy, Created, TopupInput};
use crate::usecases::{Billing, BillingError};

/// How often a decision may lose an optimistic-concurrency race before we give up (the
/// provider retries).
const ATTEMPTS: usize = 8;

#[derive(Debug, Clone, PartialEq)]
pub enum EventOutcome {
    /// A success below the minimum top-up: nothing written.
    BelowMinimum,
    /// A success of a payer nobody referred: nothing written.
    NotReferred,
    /// Nothing new (a re-delivery, or a fact already known); an unsettled bonus was settled.
    Unchanged { why: Unchanged, bonus: Option<Box<Bonus>>, failed: Option<String> },
    /// A refund or dispute for a payment without a bonus (yet): recorded, so a success that
    /// arrives later pays only what is still due.
    Recorded,
    /// The bonus was created (`created`) or changed, then settled as far as Wellflow allowed.
    Bonus { created: bool, bonus: Box<Bonus>, failed: Option<String> },
}

/// Handles one provider event. Store errors propagate (the provider retries; every write is
/// one atomic commit, so nothing is half-written). Wellflow failures do not: they are
/// recorded on the bonus and retried by us.
pub async fn handle_payment_event<S, L>(
    billing: &Billing<S, L>,
    event: &PaymentEvent,
) -> Result<EventOutcome, BillingError>
where
    S: Payments,
    L: Ledger,
{
    if let PaymentEventKind::Succeeded { amount } = event.kind {
        if amount < billing.policy.min_topup {
            return Ok(EventOutcome::BelowMinimum);
        }
    }
    for attempt in 0..ATTEMPTS {
        let snapshot = billing.store.payment_snapshot(&event.payment_id, event.user_id.as_ref()).await?;
        let now = billing.now_str();
        let record = snapshot.record.clone().unwrap_or_else(|| PaymentRecord::new(event.payment_id.clone(), &now));
        let next_record = match record.apply(event, &now) {
            Ok(next) => next,
            Err(why) => return unchanged(billing, event, why, snapshot.bonus).await,
        };
        let (commit, created) = match (&event.kind, snapshot.bonus) {
            (PaymentEventKind::Succeeded { .. }, Some(bonus)) => {
                // A bonus exists, so its success was recorded: this is one more delivery.
                return unchanged(billing, event, Unchanged::AlreadyKnown, Some(bonus)).await;
            }
            (PaymentEventKind::Succeeded { amount }, None) => {
                let Some(payer) = snapshot.payer.as_ref().filter(|p| p.referrer_id.is_some()) else {
                    return Ok(EventOutcome::NotReferred);
                };
                let referrer_id = payer.referrer_id.as_ref().expect("filtered");
                let month = crate::clock::month_of(&now);
                let (referrer, referrer_from_copy) = match use_copy(payer, referrer_id, month, attempt) {
                    Some(copy) => (copy, true),
                    None => (billing.store.referrer_snapshot(referrer_id, month).await?, false),
                };
                let input = TopupInput {
                    payment: &event.payment_id,
                    referrer_from_copy,
                    amount: *amount,
                    occurred_at: &event.occurred_at,
                    payer,
                    referrer: &referrer,
                    rate_tiers: snapshot.rate_tiers.as_ref(),
                    record: &next_record,
                };
                match create_bonus(billing, input) {
                    Created::BelowMinimum => return Ok(EventOutcome::BelowMinimum),
                    Created::Bonus(change) => (Commit { payment: Some(next_record), bonus: Some(*change) }, true),
                }
            }
            (kind, Some(bonus)) => match bonus.on_payment(&next_record, "webhook", &now, kind.as_str()) {
                Some(change) => (Commit { payment: Some(next_record), bonus: Some(change) }, false),
                None => {
                    // Recorded, but nothing the bonus depends on moved (e.g. a dispute won
                    // before it was opened).
                    if billing.store.commit(&Commit { payment: Some(next_record), bonus: None }).await?
                        == CommitOutcome::Conflict
                    {
                        continue;
                    }
                    return unchanged(billing, event, Unchanged::AlreadyKnown, Some(bonus)).await;
                }
            },
            (_, None) => (Commit { payment: Some(next_record), bonus: None }, false),
        };
        if billing.store.commit(&commit).await? == CommitOutcome::Conflict {
            continue;
        }
        let Some(change) = commit.bonus else {
            tracing::info!(
                payment_id = %event.payment_id,
                event = event.kind.as_str(),
                outcome = "recorded",
                "payment fact recorded; no bonus yet"
            );
            return Ok(EventOutcome::Recorded);
        };
        log_change(event, &change.bonus, created);
        let settled = settle(billing, change.bonus, "webhook", Mode::Auto).await?;
        return Ok(EventOutcome::Bonus { created, bonus: settled.bonus, failed: settled.failed });
    }
    Err(BillingError::Contended(event.payment_id.to_string()))
}

/// Nothing new in the event. If the bonus still has a move in flight (our earlier attempt
/// died half-way: exactly when providers re-send), settle it now.
async fn unchanged<S, L>(
    billing: &Billing<S, L>,
    event: &PaymentEvent,
    why: Unchanged,
    bonus: Option<Bonus>,
) -> Result<EventOutcome, BillingError>
where
    S: Payments,
    L: Ledger,
{
    tracing::info!(
        payment_id = %event.payment_id,
        event = event.kind.as_str(),
        provider_event_id = event.provider_event_id.as_deref(),
        why = why.as_str(),
        outcome = "unchanged",
        "payment event changes nothing"
    );
    metrics::count("WebhookDuplicates", &[("payment_id", event.payment_id.as_str()), ("why", why.as_str())]);
    let Some(bonus) = bonus else { return Ok(EventOutcome::Unchanged { why, bonus: None, failed: None }) };
    let Settled { bonus, failed } = settle(billing, bonus, "webhook", Mode::Auto).await?;
    Ok(EventOutcome::Unchanged { why, bonus: Some(bonus), failed })
}

fn log_change(event: &PaymentEvent, bonus: &Bonus, created: bool) {
    let payment = event.payment_id.as_str();
    if created {
        metrics::count("BonusCreated", &[("payment_id", payment)]);
        if bonus.status == BonusStatus::Pending && bonus.ledger.in_flight().is_none() {
            metrics::count("BonusHeld", &[("payment_id", payment), ("reason", bonus.reason.as_deref().unwrap_or(""))]);
        }
    }
    if bonus.status == BonusStatus::Reversed {
        metrics::count("BonusReversed", &[("payment_id", payment), ("reason", bonus.reason.as_deref().unwrap_or(""))]);
    }
    tracing::info!(
        payment_id = payment,
        referrer_id = %bonus.referrer_id,
        event = event.kind.as_str(),
        topup = %bonus.topup_amount,
        refunded = %bonus.refunded_amount,
        disputed = %bonus.disputed_amount,
        rate = %bonus.rate,
        net_amount = %bonus.net_amount,
        status = %bonus.status,
        reason = bonus.reason.as_deref(),
        outcome = if created { "created" } else { "changed" },
        "bonus {}", if created { "created" } else { "changed" }
    );
}
