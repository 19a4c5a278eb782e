//! Outbox dispatcher Lambda: the delivery half of the transactional outbox.
//!
//! Every money-moving commit writes its follow-ups (partner events, Wellflow retries) as
//! `OUTBOX#<id>` items in the same DynamoDB transaction as the money (`bonus::Effect::Outbox`).
//! The table's stream feeds them here through an event source mapping filtered on
//! `INSERT` of `SK = OUTBOX` items, with `ReportBatchItemFailures`, bisect on error and an
//! on-failure destination (SQS DLQ). Each message goes to its queue
//! (`referral_core::usecases::outbox::dispatch`): partner events to `PartnerWebhookQueue`,
//! retries to `CreditRetryQueue` with their backoff. Delivery is at least once; both
//! consumers are idempotent. The items expire by TTL (`expires_at`) a week later.
//!
//! Records are processed concurrently; the response reports the failed records so the
//! stream retries from the earliest of them (stream semantics: everything after a reported
//! failure is re-delivered too — harmless, the consumers are idempotent). A record that is
//! not an outbox message, or whose message cannot be read, is logged and skipped rather than
//! blocking the shard.

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use referral_core::bonus::OutboxMessage;
use referral_core::metrics;
use referral_core::ports::{EventQueue, RetryQueue};
use referral_core::usecases::outbox::dispatch;

/// What became of one stream record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordOutcome {
    Delivered,
    /// Not for us (another item, a TTL removal, a modification): nothing to do.
    Skipped(&'static str),
    /// Unreadable outbox item: logged, counted, skipped (it would fail forever).
    Poison(String),
    /// The queue send failed: report it, the stream delivers it again.
    Failed(String),
}

/// The outbox message of a stream record, if it is the insertion of one.
pub fn message_of(record: &EventRecord) -> Result<Option<OutboxMessage>, String> {
    if record.event_name != "INSERT" {
        return Ok(None);
    }
    let image = &record.change.new_image;
    let is_outbox = matches!(image.get("SK"), Some(serde_dynamo::AttributeValue::S(sk)) if sk == "OUTBOX");
    if !is_outbox {
        return Ok(None);
    }
    let message = image.get("message").ok_or("outbox item without a message")?;
    serde_dynamo::from_attribute_value(message.clone()).map(Some).map_err(|e| format!("unreadable outbox message: {e}"))
}

pub async fn process_record<Q, E>(retry: &Q, events: &E, record: &EventRecord) -> RecordOutcome
where
    Q: RetryQueue,
    E: EventQueue,
{
    let message = match message_of(record) {
        Ok(Some(message)) => message,
        Ok(None) => return RecordOutcome::Skipped("not_an_outbox_insert"),
        Err(why) => return RecordOutcome::Poison(why),
    };
    match dispatch(&message, retry, events).await {
        Ok(()) => {
            tracing::info!(message_id = %message.id(), payment_id = %message.payment_id(), outcome = "delivered", "outbox message delivered");
            RecordOutcome::Delivered
        }
        Err(err) => {
            tracing::warn!(message_id = %message.id(), payment_id = %message.payment_id(), error = %err, outcome = "failed", "outbox delivery failed; the stream retries");
            RecordOutcome::Failed(err)
        }
    }
}

/// Processes a batch; reports the records whose delivery failed.
pub async fn handle_batch<Q, E>(retry: &Q, events: &E, event: Event) -> DynamoDbEventResponse
where
    Q: RetryQueue,
    E: EventQueue,
{
    let outcomes = futures::future::join_all(event.records.iter().map(|r| process_record(retry, events, r))).await;
    let mut response = DynamoDbEventResponse::default();
    let (mut delivered, mut failed) = (0usize, 0usize);
    for (record, outcome) in event.records.iter().zip(outcomes) {
        let sequence = record.change.sequence_number.clone();
        match outcome {
            RecordOutcome::Delivered => delivered += 1,
            RecordOutcome::Skipped(_) => {}
            RecordOutcome::Poison(why) => {
                metrics::count("OutboxPoison", &[("event_id", record.event_id.as_str())]);
                tracing::error!(event_id = %record.event_id, sequence = sequence.as_deref(), reason = %why, outcome = "poison", "unreadable outbox record skipped");
            }
            RecordOutcome::Failed(_) => {
                failed += 1;
                let mut failure = DynamoDbBatchItemFailure::default();
                failure.item_identifier = sequence;
                response.batch_item_failures.push(failure);
            }
        }
    }
    metrics::emit(
        &[
            ("OutboxDelivered", delivered as f64, metrics::Unit::Count),
            ("OutboxFailed", failed as f64, metrics::Unit::Count),
        ],
        &[],
    );
    response
}

/// What a cold start builds: both queues.
pub struct App {
    pub retry: adapters::billing::SqsRetryQueue,
    pub events: adapters::billing::SqsEventQueue,
}

impl App {
    /// Everything `main` builds, from the environment and the SDK config.
    pub fn from_env(
        env: &dyn adapters::config::Source,
        sdk: &adapters::aws::SdkConfig,
    ) -> Result<Self, adapters::config::InitError> {
        use adapters::billing::settings;
        Ok(Self { retry: settings::retry_queue_from_env(env, sdk)?, events: settings::event_queue_from_env(env, sdk)? })
    }

    pub async fn handle(&self, event: Event) -> DynamoDbEventResponse {
        handle_batch(&self.retry, &self.events, event).await
    }
}
