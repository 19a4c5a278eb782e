//! Settling a bonus: sending its in-flight Wellflow move (credit or debit, with the move's own
//! idempotency key) and recording the answer, until nothing is in flight — or a call fails,
//! in which case the failure is recorded (with a retry in the outbox) and we stop.
//!
//! The move was written to the row *before* this runs (write-ahead, `bonus::ledger`), so a
//! crash anywhere leaves a row that says which call may be in flight; whoever comes next (a
//! re-delivered webhook, the retry consumer, the sweeper, an admin) re-issues the same move.
//! Two settlers racing on one bonus both send the same key (Wellflow applies it once) and the
//! conditional commit lets only one record it; the other re-reads and carries on.

use std::time::Instant;

use crate::bonus::{Bonus, FailureKind, Move, MoveKind};
use crate::metrics::{self, Unit};
use crate::ports::{Ledger, TransferRequest};
use crate::store::{Commit, CommitOutcome, Payments, StoreError};
use crate::usecases::{Billing, BillingError};

/// Bound on moves sent in one call (a bonus needs at most a handful: resolve, then adjust).
const MAX_STEPS: usize = 8;

/// How far settling got.
#[derive(Debug, Clone, PartialEq)]
pub struct Settled {
    /// The bonus as last written.
    pub bonus: Box<Bonus>,
    /// The last Wellflow call failed (recorded on the row, retry scheduled when useful).
    pub failed: Option<String>,
}

/// Who is settling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Sends the in-flight move unless Wellflow refused it (that waits for an admin).
    Auto,
    /// After an admin's approval (which re-issued any refused move).
    Admin,
}

/// Sends the bonus's in-flight moves until it is settled or a call fails.
pub async fn settle<S, L>(
    billing: &Billing<S, L>,
    bonus: Bonus,
    actor: &str,
    mode: Mode,
) -> Result<Settled, BillingError>
where
    S: Payments,
    L: Ledger,
{
    let mut bonus = bonus;
    if mode == Mode::Admin {
        debug_assert!(bonus.ledger.in_flight().is_none_or(|m| !m.refused()), "approve re-issues refused moves");
    }
    for _ in 0..MAX_STEPS {
        // A refused move the target no longer needs is dropped once that is safe — and only
        // if Wellflow refuses its key once more (the probe): a sender that read the row before
        // the refusal was recorded may have had the key applied and died before recording it.
        // Wellflow answers an applied key with its transfer, never with a refusal.
        let probing = bonus.needs_replan(&billing.now_str());
        let step = if probing { bonus.ledger.in_flight().cloned() } else { bonus.next_move().cloned() };
        let Some(step) = step else {
            return Ok(Settled { bonus: Box::new(bonus), failed: None });
        };
        let started = Instant::now();
        let result = billing.ledger.transfer(&request(&bonus, &step)).await;
        let latency_ms = started.elapsed().as_millis() as f64;
        if probing && result.as_ref().is_err_and(|e| e.kind == FailureKind::Refused) {
            if let Some(change) = bonus.replan(actor, &billing.now_str()) {
                bonus = match billing.store.commit(&Commit::bonus(change.clone())).await? {
                    CommitOutcome::Committed => change.bonus,
                    CommitOutcome::Conflict => reload(billing, &bonus).await?,
                };
            }
            continue;
        }
        bonus = record(billing, bonus, &step, &result, actor, latency_ms).await?;
        if let Err(err) = &result {
            return Ok(Settled { bonus: Box::new(bonus), failed: Some(err.to_string()) });
        }
    }
    Err(BillingError::Contended(bonus.source_payment_id.to_string()))
}

/// The retry consumer's entry: settle the bonus of `payment` as stored now. `Ok(None)` if
/// there is no bonus for it.
pub async fn settle_payment<S, L>(
    billing: &Billing<S, L>,
    payment: &crate::domain::PaymentId,
    actor: &str,
) -> Result<Option<Settled>, BillingError>
where
    S: Payments,
    L: Ledger,
{
    match billing.store.bonus(payment).await? {
        Some(bonus) => settle(billing, bonus, actor, Mode::Auto).await.map(Some),
        None => Ok(None),
    }
}

/// Records what Wellflow said about `step`, on the bonus as stored now: if someone moved it
/// meanwhile, the observation still counts (an applied move is applied, even one dropped in
/// between). Returns the bonus as last read or written.
async fn record<S: Payments, L>(
    billing: &Billing<S, L>,
    mut bonus: Bonus,
    step: &Move,
    result: &Result<crate::ports::Transfer, crate::ports::LedgerError>,
    actor: &str,
    latency_ms: f64,
) -> Result<Bonus, BillingError> {
    for _ in 0..MAX_STEPS {
        let now = billing.now_str();
        let change = match result {
            Ok(transfer) => bonus.record_applied(step.seq, &transfer.transaction_id, actor, &now),
            Err(err) => bonus.record_failed(step.seq, err.failure(&now), actor, &now),
        };
        let Some(change) = change else { break };
        match billing.store.commit(&Commit::bonus(change.clone())).await? {
            CommitOutcome::Committed => {
                report(&change.bonus, step, actor, latency_ms, result);
                return Ok(change.bonus);
            }
            CommitOutcome::Conflict => bonus = reload(billing, &bonus).await?,
        }
    }
    Ok(bonus)
}

async fn reload<S: Payments, L>(billing: &Billing<S, L>, bonus: &Bonus) -> Result<Bonus, StoreError> {
    billing.store.bonus(&bonus.source_payment_id).await?.ok_or_else(|| StoreError::Corrupt {
        key: bonus.bonus_key.clone(),
        reason: "bonus disappeared while settling".into(),
    })
}

fn request<'a>(bonus: &'a Bonus, step: &'a Move) -> TransferRequest<'a> {
    let description = match step.kind {
        MoveKind::Credit => format!("Referral bonus for payment {}", bonus.source_payment_id),
        MoveKind::Debit => format!("Reversal of referral bonus for payment {}", bonus.source_payment_id),
    };
    TransferRequest {
        kind: step.kind,
        account: &bonus.referrer_id,
        amount: step.amount,
        idempotency_key: &step.key,
        description,
    }
}

fn report(
    bonus: &Bonus,
    step: &Move,
    actor: &str,
    latency_ms: f64,
    result: &Result<crate::ports::Transfer, crate::ports::LedgerError>,
) {
    let payment = bonus.source_payment_id.as_str();
    match result {
        Ok(transfer) => {
            let name = match step.kind {
                MoveKind::Credit => "BonusCredited",
                MoveKind::Debit => "BonusDebited",
            };
            metrics::emit(
                &[(name, 1.0, Unit::Count), ("WellflowLatencyMs", latency_ms, Unit::Milliseconds)],
                &[("payment_id", payment), ("actor", actor)],
            );
            tracing::info!(
                payment_id = payment,
                referrer_id = %bonus.referrer_id,
                operation = step.kind.as_str(),
                amount = %step.amount,
                idempotency_key = %step.key,
                wellflow_tx = %transfer.transaction_id,
                replayed = transfer.replayed,
                status = %bonus.status,
                net_amount = %bonus.net_amount,
                latency_ms,
                outcome = "applied",
                "wellflow move applied"
            );
        }
        Err(err) => {
            metrics::emit(
                &[
                    ("BonusFailed", 1.0, Unit::Count),
                    ("WellflowErrors", 1.0, Unit::Count),
                    ("WellflowLatencyMs", latency_ms, Unit::Milliseconds),
                ],
                &[("payment_id", payment), ("actor", actor), ("error_code", err.code.as_str())],
            );
            tracing::warn!(
                payment_id = payment,
                referrer_id = %bonus.referrer_id,
                operation = step.kind.as_str(),
                amount = %step.amount,
                idempotency_key = %step.key,
                error = %err,
                attempts = step.attempts + 1,
                latency_ms,
                outcome = "failed",
                "wellflow move failed; the bonus stays failed and is retried"
            );
        }
    }
}
