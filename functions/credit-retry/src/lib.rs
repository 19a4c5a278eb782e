//! Credit-retry Lambda: consumes the retry queue (`{"payment_id": ...}` messages, sent by
//! the outbox dispatcher after a failed Wellflow call, and by the sweeper) and settles the
//! bonus through `referral_core::usecases::settle` — the same idempotent moves, same keys.
//!
//! Per message (processed concurrently within a batch):
//! * nothing in flight (credited, reversed, held for moderation) → done, nothing sent;
//! * a move in flight → sent; applied → recorded; failed → recorded on the row, and that
//!   failure's own retry is already in the outbox (with its backoff), so this message is done;
//! * a move Wellflow refused → left for an admin (done);
//! * DynamoDB unavailable → the message comes back after a backoff (visibility), reported in
//!   `batchItemFailures` so only it is redelivered;
//! * poison (unparseable body, invalid payment id, no row) → made visible again at once and
//!   reported failed, so it reaches the DLQ after `maxReceiveCount` without blocking others.

use adapters::billing::{backoff_secs, Billing};
use adapters::domain::PaymentId;
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use referral_core::ports::Ledger;
use referral_core::store::Payments;
use referral_core::usecases::settle::settle_payment;
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
pub async fn process_message<S, L>(billing: &Billing<S, L>, message: &SqsMessage) -> MessageOutcome
where
    S: Payments,
    L: Ledger,
{
    let body = message.body.as_deref().unwrap_or("");
    let Ok(parsed) = serde_json::from_str::<RetryMessage>(body) else {
        return MessageOutcome::Poison("body is not {\"payment_id\": ...}".into());
    };
    let Ok(payment) = PaymentId::parse(&parsed.payment_id) else {
        return MessageOutcome::Poison("invalid payment_id".into());
    };
    // Boxed: the settle future is large; keep it off the worker stack.
    match Box::pin(settle_payment(billing, &payment, "retry")).await {
        Ok(None) => MessageOutcome::Poison(format!("no bonus row for payment {payment}")),
        Ok(Some(settled)) => match (&settled.failed, settled.bonus.ledger.in_flight()) {
            (None, None) => MessageOutcome::Done("settled"),
            (Some(_), _) => MessageOutcome::Done("failed_again_retry_in_outbox"),
            (None, Some(step)) if step.refused() => MessageOutcome::Done("refused_left_for_admin"),
            (None, Some(_)) => MessageOutcome::Done("left_in_flight"),
        },
        Err(err) => {
            tracing::warn!(payment_id = %payment, error = %err, "store unavailable; retrying later");
            let receives = message.attributes.get("ApproximateReceiveCount").and_then(|r| r.parse().ok()).unwrap_or(1);
            MessageOutcome::Retry { attempts: receives }
        }
    }
}

/// Processes a batch; only the messages that must come back are reported as failures.
pub async fn handle_batch<S, L>(billing: &Billing<S, L>, backoff: &Backoff, event: SqsEvent) -> SqsBatchResponse
where
    S: Payments,
    L: Ledger,
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

/// Read from Secrets Manager at cold start (`WELLFLOW_API_KEY_SECRET_ARN` in the environment).
pub const SECRETS: &[adapters::secrets::Secret] = &[adapters::secrets::Secret::text("WELLFLOW_API_KEY")];

/// What a cold start builds: billing (store + Wellflow) and the queue's backoff.
pub struct App {
    pub billing: adapters::billing::LiveBilling,
    pub backoff: Backoff,
}

impl App {
    /// Everything `main` builds, from the environment and the SDK config (secrets read first).
    pub async fn from_env(
        env: &dyn adapters::config::Source,
        sdk: &adapters::aws::SdkConfig,
    ) -> Result<Self, adapters::config::InitError> {
        use adapters::config;
        let env = adapters::secrets::load(&adapters::aws::secretsmanager(sdk), env, SECRETS).await?;
        Ok(Self {
            billing: adapters::billing::settings::billing_from_env(&env, sdk)?,
            backoff: Backoff {
                sqs: adapters::aws::sqs(sdk),
                queue_url: config::required(
                    &env,
                    "CREDIT_RETRY_QUEUE_URL",
                    "the credit retry queue (!Ref CreditRetryQueue)",
                )?,
                base_delay_secs: config::parsed_or(
                    &env,
                    "RETRY_BASE_DELAY_SECS",
                    adapters::billing::SqsRetryQueue::DEFAULT_BASE_DELAY_SECS,
                )?,
            },
        })
    }

    pub async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        handle_batch(&self.billing, &self.backoff, event).await
    }
}
