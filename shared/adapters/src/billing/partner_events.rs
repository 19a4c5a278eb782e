//! Partner event emission from the money paths: when a bonus of a subscribed referrer
//! (`BonusRecord::notify`) is created, credited or reversed, one small message
//! `{event_id, type, referrer_id, payment_id}` goes to `PartnerWebhookQueue`; the
//! `partner-webhooks` function re-reads the bonus row, signs and delivers it.
//!
//! Emission never fails or stalls the money path: the send is bounded by
//! [`SEND_TIMEOUT`], and an error is logged and counted (`PartnerEventEmitFailed`) but not
//! returned. That is the one at-most-once gap of partner webhooks (the money moved, the
//! event is lost); a DynamoDB Streams outbox on the bonus rows would close it.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::billing::Billing;
use crate::domain::partner_webhook::event_id;
use crate::domain::{PartnerEventType, PaymentId, UserId};
use crate::metrics;
use crate::store::BonusRecord;

/// Longest an emission may add to a webhook / retry / admin call.
pub const SEND_TIMEOUT: Duration = Duration::from_millis(1000);

/// The queue message. Carries ids only: the bonus row is the source of truth.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartnerEventMessage {
    pub event_id: String,
    #[serde(rename = "type")]
    pub kind: PartnerEventType,
    pub referrer_id: UserId,
    pub payment_id: PaymentId,
}

impl PartnerEventMessage {
    pub fn for_bonus(record: &BonusRecord, kind: PartnerEventType) -> Self {
        Self {
            event_id: event_id(&record.source_payment_id, kind),
            kind,
            referrer_id: record.referrer_id.clone(),
            payment_id: record.source_payment_id.clone(),
        }
    }
}

/// The SQS side of emission (`PARTNER_WEBHOOK_QUEUE_URL`).
#[derive(Clone, Debug)]
pub struct PartnerEvents {
    client: aws_sdk_sqs::Client,
    url: String,
}

impl PartnerEvents {
    pub fn new(client: aws_sdk_sqs::Client, url: impl Into<String>) -> Self {
        Self { client, url: url.into() }
    }

    pub async fn send(&self, message: &PartnerEventMessage) -> Result<(), String> {
        let body = serde_json::to_string(message).map_err(|e| e.to_string())?;
        let send = self.client.send_message().queue_url(&self.url).message_body(body).send();
        match tokio::time::timeout(SEND_TIMEOUT, send).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(aws_sdk_sqs::error::DisplayErrorContext(e).to_string()),
            Err(_) => Err(format!("SQS send timed out after {} ms", SEND_TIMEOUT.as_millis())),
        }
    }
}

/// Enqueues `kind` for `record` if its referrer subscribed. Never fails (see module docs).
pub async fn emit<S, Q>(billing: &Billing<S, Q>, record: &BonusRecord, kind: PartnerEventType) {
    let Some(events) = billing.events.as_ref() else { return };
    if !record.notify {
        return;
    }
    let message = PartnerEventMessage::for_bonus(record, kind);
    match events.send(&message).await {
        Ok(()) => tracing::info!(
            payment_id = %record.source_payment_id,
            referrer_id = %record.referrer_id,
            event_id = %message.event_id,
            event_type = %kind,
            outcome = "partner_event_enqueued",
            "partner event enqueued"
        ),
        Err(err) => {
            metrics::count(
                "PartnerEventEmitFailed",
                &[("payment_id", record.source_payment_id.as_str()), ("event_type", kind.as_str())],
            );
            tracing::error!(
                payment_id = %record.source_payment_id,
                referrer_id = %record.referrer_id,
                event_id = %message.event_id,
                event_type = %kind,
                error = %err,
                outcome = "partner_event_lost",
                "could not enqueue the partner event; the bonus itself is unaffected"
            );
        }
    }
}
