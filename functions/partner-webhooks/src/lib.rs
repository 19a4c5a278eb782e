//! Partner webhook sender (SQS `PartnerWebhookQueue`, partial batch failures): each message
//! `{event_id, type, referrer_id, payment_id}` becomes one signed POST to the endpoint the
//! referrer registered.
//!
//! Per message (a batch is delivered concurrently):
//! * endpoint deleted, or no longer subscribed to the type → dropped (logged);
//! * otherwise the bonus row is read, the payload built ([`payload`]) and signed
//!   (`Referral-Signature: t=<now>,v1=<hex HMAC-SHA256("{t}.{body}")>`, re-signed on every
//!   attempt), and POSTed (5 s timeout, redirects not followed); every attempt writes a
//!   delivery-log row (status code or error, duration, 30-day TTL);
//! * 2xx → done; anything else → visibility set to the backoff for the attempt number
//!   (`ApproximateReceiveCount`) and reported in `batchItemFailures`; after 8 receives the
//!   queue's redrive policy moves it to the DLQ;
//! * poison (bad body, forged event id, no bonus row) → visible again at once → DLQ.

pub mod client;
pub mod payload;

use std::time::Instant;

use adapters::billing::PartnerEventMessage;
use adapters::domain::partner_webhook::{event_id, UrlPolicy, SIGNATURE_HEADER};
use adapters::domain::signature;
use adapters::metrics::{self, Unit};
use adapters::store::{DeliveryRecord, PartnerWebhooks};
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use referral_core::store::Payments;

/// How long delivery-log rows are kept (DynamoDB TTL).
pub const DELIVERY_LOG_TTL_SECS: i64 = 30 * 24 * 3600;
/// Longest error text kept in the delivery log.
const MAX_ERROR_LEN: usize = 200;

/// How a failed message comes back: its visibility is set by us, like the credit-retry consumer.
pub use adapters::billing::VisibilityBackoff as Backoff;

/// First retry after 60 s, doubling up to 1 h: 8 attempts span about 2 hours.
pub const DEFAULT_BASE_DELAY_SECS: u32 = 60;
pub const MAX_DELAY_SECS: u64 = 3600;

/// Delay before attempt `attempt + 1`.
pub fn delay_secs(base_delay_secs: u32, attempt: u32) -> i32 {
    adapters::billing::exponential_backoff_secs(base_delay_secs, attempt, MAX_DELAY_SECS)
}

/// Everything the sender needs, built once per cold start.
pub struct Sender<S> {
    pub store: S,
    pub http: reqwest::Client,
    pub policy: UrlPolicy,
    pub backoff: Backoff,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageOutcome {
    /// Finished with this message (delete it); the label says why.
    Done(&'static str),
    /// Deliver again after the backoff for this attempt.
    Retry { attempt: u32 },
    /// Will never succeed: send it to the DLQ quickly.
    Poison(String),
}

fn attempt_of(message: &SqsMessage) -> u32 {
    message.attributes.get("ApproximateReceiveCount").and_then(|c| c.parse().ok()).unwrap_or(1).max(1)
}

fn truncate(mut text: String) -> String {
    if text.len() > MAX_ERROR_LEN {
        let mut cut = MAX_ERROR_LEN;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
    text
}

/// Decides and (maybe) delivers one message.
pub async fn process_message<S>(sender: &Sender<S>, message: &SqsMessage) -> MessageOutcome
where
    S: Payments + PartnerWebhooks,
{
    let body = message.body.as_deref().unwrap_or("");
    let Ok(event) = serde_json::from_str::<PartnerEventMessage>(body) else {
        return MessageOutcome::Poison("body is not a partner event message".into());
    };
    if event.event_id != event_id(&event.payment_id, event.kind, event.bonus_version) {
        return MessageOutcome::Poison("event_id does not match payment_id, type and bonus_version".into());
    }
    let attempt = attempt_of(message);
    let endpoint = match sender.store.webhook_endpoint(&event.referrer_id).await {
        Ok(Some(endpoint)) => endpoint,
        Ok(None) => return MessageOutcome::Done("endpoint_deleted"),
        Err(err) => {
            tracing::warn!(event_id = %event.event_id, error = %err, "store unavailable; retrying later");
            return MessageOutcome::Retry { attempt };
        }
    };
    if !endpoint.events.contains(&event.kind) {
        return MessageOutcome::Done("not_subscribed");
    }
    let bonus = match sender.store.bonus(&event.payment_id).await {
        Ok(Some(bonus)) => bonus,
        Ok(None) => return MessageOutcome::Poison(format!("no bonus row for payment {}", event.payment_id)),
        Err(err) => {
            tracing::warn!(event_id = %event.event_id, error = %err, "store unavailable; retrying later");
            return MessageOutcome::Retry { attempt };
        }
    };
    if bonus.referrer_id != event.referrer_id {
        return MessageOutcome::Poison("bonus belongs to another referrer".into());
    }
    // Re-checked at send time: the rules may have tightened since registration.
    let Ok(url) = sender.policy.validate(&endpoint.url) else { return MessageOutcome::Done("endpoint_url_refused") };

    let payload = payload::body(&event, &bonus);
    let now = adapters::clock::now();
    let header = signature::sign(&endpoint.secret, now.unix_timestamp(), payload.as_bytes());
    let started = Instant::now();
    let result = sender
        .http
        .post(url)
        .header("content-type", "application/json")
        .header(SIGNATURE_HEADER, header)
        .header("Referral-Event-Id", &event.event_id)
        .body(payload)
        .send()
        .await;
    let duration_ms = started.elapsed().as_millis() as u64;
    let (status_code, error) = match &result {
        Ok(resp) => (Some(resp.status().as_u16()), None),
        Err(err) if err.is_timeout() => (None, Some(format!("timeout after {} s", client::TIMEOUT.as_secs()))),
        Err(err) if err.is_connect() => (None, Some(truncate(format!("connection failed: {err}")))),
        Err(err) => (None, Some(truncate(format!("request failed: {err}")))),
    };
    let delivered = status_code.is_some_and(|c| (200..300).contains(&c));
    let record = DeliveryRecord {
        event_id: event.event_id.clone(),
        event_type: event.kind,
        payment_id: event.payment_id.clone(),
        attempt,
        at: adapters::clock::rfc3339(now),
        delivered,
        status_code,
        error: error.clone(),
        duration_ms,
        expires_at: now.unix_timestamp() + DELIVERY_LOG_TTL_SECS,
    };
    if let Err(err) = sender.store.record_delivery(&event.referrer_id, &record).await {
        // The delivery itself stands; only its log row is missing.
        tracing::warn!(event_id = %event.event_id, error = %err, "could not write the delivery log row");
    }
    metrics::emit(
        &[
            (if delivered { "PartnerWebhookDelivered" } else { "PartnerWebhookFailed" }, 1.0, Unit::Count),
            ("PartnerWebhookLatencyMs", duration_ms as f64, Unit::Milliseconds),
        ],
        &[("event_id", event.event_id.as_str()), ("event_type", event.kind.as_str())],
    );
    tracing::info!(
        event_id = %event.event_id,
        event_type = %event.kind,
        referrer_id = %event.referrer_id,
        payment_id = %event.payment_id,
        attempt,
        status_code,
        error = error.as_deref(),
        duration_ms,
        outcome = if delivered { "delivered" } else { "delivery_failed" },
        "partner webhook attempt"
    );
    if delivered {
        MessageOutcome::Done("delivered")
    } else {
        MessageOutcome::Retry { attempt }
    }
}

/// Processes a batch; only the messages that must come back are reported as failures.
pub async fn handle_batch<S>(sender: &Sender<S>, event: SqsEvent) -> SqsBatchResponse
where
    S: Payments + PartnerWebhooks,
{
    let outcomes = futures::future::join_all(event.records.iter().map(|m| process_message(sender, m))).await;
    let mut response = SqsBatchResponse::default();
    for (message, outcome) in event.records.iter().zip(outcomes) {
        let id = message.message_id.clone().unwrap_or_default();
        match &outcome {
            MessageOutcome::Done(label) => {
                tracing::info!(message_id = %id, outcome = *label, "partner event done");
                continue;
            }
            MessageOutcome::Retry { attempt } => {
                let delay = delay_secs(sender.backoff.base_delay_secs, *attempt);
                tracing::info!(message_id = %id, attempt, delay_secs = delay, outcome = "retry_later", "partner webhook will be retried");
                sender.backoff.set_visibility(message.receipt_handle.as_deref(), delay).await;
            }
            MessageOutcome::Poison(why) => {
                tracing::error!(message_id = %id, reason = %why, outcome = "poison", "poison partner event; heading to the DLQ");
                sender.backoff.set_visibility(message.receipt_handle.as_deref(), 0).await;
            }
        }
        let mut failure = BatchItemFailure::default();
        failure.item_identifier = id;
        response.batch_item_failures.push(failure);
    }
    response
}

/// What a cold start builds.
pub type App = Sender<adapters::store::DynamoStore>;

impl App {
    /// Everything `main` builds, from the environment and the SDK config.
    pub fn from_env(
        env: &dyn adapters::config::Source,
        sdk: &adapters::aws::SdkConfig,
    ) -> Result<Self, adapters::config::InitError> {
        use adapters::config;
        let policy = UrlPolicy { allow_http_loopback: config::parsed_or(env, "WEBHOOK_ALLOW_HTTP_LOOPBACK", false)? };
        Ok(Sender {
            store: adapters::store::DynamoStore::new(adapters::aws::dynamodb(sdk), config::table_name(env)?),
            http: client::http_client(policy)?,
            policy,
            backoff: Backoff {
                sqs: adapters::aws::sqs(sdk),
                queue_url: config::required(
                    env,
                    "PARTNER_WEBHOOK_QUEUE_URL",
                    "the partner webhook queue (!Ref PartnerWebhookQueue)",
                )?,
                base_delay_secs: config::parsed_or(env, "PARTNER_WEBHOOK_BASE_DELAY_SECS", DEFAULT_BASE_DELAY_SECS)?,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps_at_an_hour() {
        let delays: Vec<i32> = (1..=8).map(|a| delay_secs(60, a)).collect();
        assert_eq!(delays, vec![60, 120, 240, 480, 960, 1920, 3600, 3600]);
        assert_eq!(delay_secs(0, 5), 0);
    }
}
