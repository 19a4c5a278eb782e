//! Credit-retry Lambda: consumes the retry queue (`{"payment_id": ...}` messages) and
//! re-credits `failed` bonuses through Wellflow with the same idempotency key.
//!
//! Per message (processed concurrently within a batch):
//! * row `failed` → credit; success → delete (`credited`); retryable failure → attempts and
//!   error recorded on the row, the message's visibility set to the backoff for its attempt
//!   count and reported in `batchItemFailures`, so only it comes back;
//! * row no longer `failed` (credited, reversed, or pending moderation) → done, nothing sent;
//! * poison (unparseable body, unknown payment, no row) → made visible again at once and
//!   reported failed, so it reaches the DLQ after `maxReceiveCount` without blocking others;
//! * non-retryable Wellflow rejection → left `failed` for an admin, message deleted.

use adapters::billing::{backoff_secs, credit_bonus, Billing, CreditOutcome, OnFailure, RetryQueue};
use adapters::domain::{BonusStatus, PaymentId};
use adapters::store::Bonuses;
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use serde::Deserialize;

/// How a failed message comes back: its visibility is set by us, not left to the default.
pub use adapters::billing::VisibilityBackoff as Backoff;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageOutcome {
    /// Finished with this message (delete it); the label says why.
    Done(&'static str),
    /// Try again after the backoff for `attempts`.
    Retry { attempts: u32 },
    /// Will never succeed: send it to the DLQ quickly.
    Poison(String),
}

#[derive(Deserialize)]
struct RetryMessage {
    payment_id: String,
}

/// Decides one message.
pub async fn process_message<S, Q>(billing: &Billing<S, Q>, message: &SqsMessage) -> MessageOutcome
where
    S: Bonuses,
    Q: RetryQueue,
{
    let body = message.body.as_deref().unwrap_or("");
    let Ok(parsed) = serde_json::from_str::<RetryMessage>(body) else {
        return MessageOutcome::Poison("body is not {\"payment_id\": ...}".into());
    };
    let Ok(payment) = PaymentId::parse(&parsed.payment_id) else {
        return MessageOutcome::Poison("invalid payment_id".into());
    };
    let record = match billing.store.bonus(&payment).await {
        Ok(Some(record)) => record,
        Ok(None) => return MessageOutcome::Poison(format!("no bonus row for payment {payment}")),
        Err(err) => {
            tracing::warn!(payment_id = %payment, error = %err, "store unavailable; retrying later");
            return MessageOutcome::Retry { attempts: 1 };
        }
    };
    match record.status {
        BonusStatus::Credited => return MessageOutcome::Done("already_credited"),
        BonusStatus::Reversed => return MessageOutcome::Done("reversed"),
        BonusStatus::Pending => return MessageOutcome::Done("pending_moderation"),
        BonusStatus::Failed => {}
    }
    match credit_bonus(billing, &record, "retry", None, OnFailure::Redeliver).await {
        Ok(CreditOutcome::Credited(_)) => MessageOutcome::Done("credited"),
        Ok(CreditOutcome::AlreadyDecided(_)) => MessageOutcome::Done("already_decided"),
        Ok(CreditOutcome::Failed { record, retryable: true, .. }) => {
            MessageOutcome::Retry { attempts: record.attempts }
        }
        Ok(CreditOutcome::Failed { .. }) => MessageOutcome::Done("rejected_left_for_admin"),
        Err(err) => {
            tracing::warn!(payment_id = %payment, error = %err, "store unavailable while recording; retrying later");
            MessageOutcome::Retry { attempts: record.attempts.max(1) }
        }
    }
}

/// Processes a batch; only the messages that must come back are reported as failures.
pub async fn handle_batch<S, Q>(billing: &Billing<S, Q>, backoff: &Backoff, event: SqsEvent) -> SqsBatchResponse
where
    S: Bonuses,
    Q: RetryQueue,
{
    let outcomes = futures::future::join_all(event.records.iter().map(|m| process_message(billing, m))).await;
    let mut response = SqsBatchResponse::default();
    for (message, outcome) in event.records.iter().zip(outcomes) {
        let id = message.message_id.clone().unwrap_or_default();
        let receives = message.attributes.get("ApproximateReceiveCount").cloned().unwrap_or_default();
        match &outcome {
            MessageOutcome::Done(label) => {
                tracing::info!(message_id = %id, receives = %receives, outcome = *label, "retry message done");
                continue;
            }
            MessageOutcome::Retry { attempts } => {
                let delay = backoff_secs(backoff.base_delay_secs, *attempts);
                tracing::info!(message_id = %id, attempts, delay_secs = delay, outcome = "retry_later", "credit still failing");
                backoff.set_visibility(message.receipt_handle.as_deref(), delay).await;
            }
            MessageOutcome::Poison(why) => {
                tracing::error!(message_id = %id, receives = %receives, reason = %why, outcome = "poison", "poison retry message; heading to the DLQ");
                backoff.set_visibility(message.receipt_handle.as_deref(), 0).await;
            }
        }
        let mut failure = BatchItemFailure::default();
        failure.item_identifier = id;
        response.batch_item_failures.push(failure);
    }
    response
}
