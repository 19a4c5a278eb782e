//! Crediting one bonus through Wellflow with its deterministic idempotency key
//! (`ref:auto:<payment_id>`), then recording the result with a conditional transition.
//!
//! The row is `failed` before the call (write-ahead), so a crash or timeout at any point
//! leaves a row that retries and admins find; the idempotency key makes every retry safe.

use crate::billing::{partner_events, Billing, RetryQueue};
use crate::clock;
use crate::domain::{BonusStatus, PartnerEventType};
use crate::metrics::{self, Unit};
use crate::store::{BonusRecord, Bonuses, StoreError, Transition, TransitionOutcome};

#[derive(Debug, Clone, PartialEq)]
pub enum CreditOutcome {
    Credited(Box<BonusRecord>),
    /// Wellflow failed; the row stays `failed` with the error. `retryable`: worth trying
    /// again (timeout, unreachable, 5xx); `retry_scheduled`: a retry message was sent.
    Failed {
        record: Box<BonusRecord>,
        error: String,
        retryable: bool,
        retry_scheduled: bool,
    },
    /// Someone else moved the row first (another retry, an admin, a refund): nothing done.
    AlreadyDecided(Box<BonusRecord>),
}

/// What to do when Wellflow fails with a retryable error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnFailure {
    /// Send a retry message (webhook, admin approve).
    Enqueue,
    /// The caller is the retry consumer: it reports the message as failed so SQS redelivers it.
    Redeliver,
}

/// Credits a `failed` bonus (the in-flight state) and records the outcome.
pub async fn credit_bonus<S, Q>(
    billing: &Billing<S, Q>,
    record: &BonusRecord,
    actor: &str,
    note: Option<&str>,
    on_failure: OnFailure,
) -> Result<CreditOutcome, StoreError>
where
    S: Bonuses,
    Q: RetryQueue,
{
    debug_assert_eq!(record.status, BonusStatus::Failed, "credit only the in-flight/failed state");
    let started = std::time::Instant::now();
    let result = billing
        .wellflow
        .credit(
            record.referrer_id.as_str(),
            record.bonus_amount.decimal(),
            &record.bonus_key,
            &format!("Referral bonus for payment {}", record.source_payment_id),
        )
        .await;
    let latency_ms = started.elapsed().as_millis() as u64;
    let now = clock::rfc3339(clock::now());
    match result {
        Ok(transfer) => {
            let mut change = Transition::new(BonusStatus::Credited, actor, now);
            change.wellflow_transaction_id = Some(transfer.transaction_id.clone());
            change.attempt = true;
            change.note = note.map(str::to_string);
            match billing.store.transition(record, &change).await? {
                TransitionOutcome::Applied(updated) => {
                    metrics::emit(
                        &[
                            ("BonusCredited", 1.0, Unit::Count),
                            ("WellflowLatencyMs", latency_ms as f64, Unit::Milliseconds),
                        ],
                        &[("payment_id", record.source_payment_id.as_str()), ("actor", actor)],
                    );
                    tracing::info!(
                        payment_id = %record.source_payment_id,
                        referrer_id = %record.referrer_id,
                        amount = %record.bonus_amount,
                        wellflow_tx = %transfer.transaction_id,
                        replayed = transfer.replayed,
                        latency_ms,
                        outcome = "credited",
                        "bonus credited"
                    );
                    partner_events::emit(billing, &updated, PartnerEventType::BonusCredited).await;
                    Ok(CreditOutcome::Credited(updated))
                }
                TransitionOutcome::Conflict => settle_conflict(billing, record, actor).await,
            }
        }
        Err(err) => {
            metrics::emit(
                &[
                    ("BonusFailed", 1.0, Unit::Count),
                    ("WellflowErrors", 1.0, Unit::Count),
                    ("WellflowLatencyMs", latency_ms as f64, Unit::Milliseconds),
                ],
                &[("payment_id", record.source_payment_id.as_str()), ("actor", actor), ("error_code", err.code())],
            );
            let error = format!("{}: {err}", err.code());
            let mut change = Transition::new(BonusStatus::Failed, actor, now);
            change.error = Some(error.clone());
            change.attempt = true;
            change.note = note.map(str::to_string);
            let updated = match billing.store.transition(record, &change).await? {
                TransitionOutcome::Applied(updated) => updated,
                TransitionOutcome::Conflict => return settle_conflict(billing, record, actor).await,
            };
            let retryable = err.is_retryable();
            let retry_scheduled = if retryable && on_failure == OnFailure::Enqueue {
                match billing.retry.schedule(&record.source_payment_id, updated.attempts).await {
                    Ok(()) => true,
                    Err(send_err) => {
                        tracing::error!(
                            payment_id = %record.source_payment_id,
                            error = %send_err,
                            "could not enqueue the retry; the bonus stays failed and is listed for admins"
                        );
                        false
                    }
                }
            } else {
                false
            };
            tracing::warn!(
                payment_id = %record.source_payment_id,
                referrer_id = %record.referrer_id,
                amount = %record.bonus_amount,
                error = %error,
                attempts = updated.attempts,
                retry_scheduled,
                latency_ms,
                outcome = "failed",
                "Wellflow credit failed; bonus left failed"
            );
            Ok(CreditOutcome::Failed { record: updated, error, retryable, retry_scheduled })
        }
    }
}

/// The row moved while we were talking to Wellflow. If it was reversed meanwhile (a refund
/// raced a retry), the credit we may just have made is debited back — idempotently.
async fn settle_conflict<S, Q>(
    billing: &Billing<S, Q>,
    record: &BonusRecord,
    actor: &str,
) -> Result<CreditOutcome, StoreError>
where
    S: Bonuses,
    Q: RetryQueue,
{
    let current = billing.store.bonus(&record.source_payment_id).await?.ok_or_else(|| StoreError::Corrupt {
        key: record.bonus_key.clone(),
        reason: "bonus disappeared during crediting".into(),
    })?;
    if current.status == BonusStatus::Reversed {
        tracing::warn!(payment_id = %record.source_payment_id, actor, "bonus reversed during credit; debiting back");
        if let Err(err) = billing
            .wellflow
            .debit(
                record.referrer_id.as_str(),
                record.bonus_amount.decimal(),
                &record.reversal_key(),
                &format!("Reversal of referral bonus for payment {}", record.source_payment_id),
            )
            .await
        {
            tracing::error!(payment_id = %record.source_payment_id, error = %err, "debit-back failed; reconcile manually");
        }
    }
    Ok(CreditOutcome::AlreadyDecided(Box::new(current)))
}
