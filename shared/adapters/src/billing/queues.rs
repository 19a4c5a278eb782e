//! The SQS side of the core's queue ports. Retry messages (`{"payment_id": ...}` only — the
//! row is the source of truth) are sent with a delay that grows with the attempts; partner
//! events carry ids only. Both are sent by the outbox dispatcher (and the sweeper), never on
//! the money path itself: a failed send is retried from the outbox, and the row stays
//! listed for the sweeper and admins.

use std::time::Duration;

use crate::domain::PaymentId;
use referral_core::ports::{EventQueue, PartnerEventMessage, RetryQueue};

/// Longest a single send may take before it counts as failed (and is retried).
pub const SEND_TIMEOUT: Duration = Duration::from_millis(1000);

/// Exponential backoff: `base`, 2×, 4×, … capped at `cap_secs`.
pub fn exponential_backoff_secs(base_secs: u32, attempts: u32, cap_secs: u64) -> i32 {
    let exp = attempts.saturating_sub(1).min(16);
    (u64::from(base_secs) << exp).min(cap_secs) as i32
}

/// Retry-message backoff: exponential, capped at SQS's 15-minute maximum `DelaySeconds`.
pub fn backoff_secs(base_secs: u32, attempts: u32) -> i32 {
    exponential_backoff_secs(base_secs, attempts, 900)
}

/// SQS-backed retry queue.
#[derive(Clone, Debug)]
pub struct SqsRetryQueue {
    client: aws_sdk_sqs::Client,
    url: String,
    base_delay_secs: u32,
}

impl SqsRetryQueue {
    /// Production default for the first delay (`RETRY_BASE_DELAY_SECS`).
    pub const DEFAULT_BASE_DELAY_SECS: u32 = 30;

    pub fn new(client: aws_sdk_sqs::Client, url: impl Into<String>, base_delay_secs: u32) -> Self {
        Self { client, url: url.into(), base_delay_secs }
    }

    pub fn client(&self) -> &aws_sdk_sqs::Client {
        &self.client
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn base_delay_secs(&self) -> u32 {
        self.base_delay_secs
    }
}

/// The message body for a retry.
pub fn message_body(payment: &PaymentId) -> String {
    serde_json::json!({ "payment_id": payment.as_str() }).to_string()
}

impl RetryQueue for SqsRetryQueue {
    async fn schedule(&self, payment: &PaymentId, attempts: u32) -> Result<(), String> {
        let delay_secs = backoff_secs(self.base_delay_secs, attempts);
        let send = self
            .client
            .send_message()
            .queue_url(&self.url)
            .message_body(message_body(payment))
            .delay_seconds(delay_secs)
            .send();
        bounded(send).await
    }
}

/// The partner webhook queue (`PARTNER_WEBHOOK_QUEUE_URL`): the `partner-webhooks`
/// function re-reads the bonus row, signs and delivers.
#[derive(Clone, Debug)]
pub struct SqsEventQueue {
    client: aws_sdk_sqs::Client,
    url: String,
}

impl SqsEventQueue {
    pub fn new(client: aws_sdk_sqs::Client, url: impl Into<String>) -> Self {
        Self { client, url: url.into() }
    }
}

impl EventQueue for SqsEventQueue {
    async fn publish(&self, message: &PartnerEventMessage) -> Result<(), String> {
        let body = serde_json::to_string(message).map_err(|e| e.to_string())?;
        bounded(self.client.send_message().queue_url(&self.url).message_body(body).send()).await
    }
}

async fn bounded<T, E: std::error::Error + 'static>(
    send: impl std::future::Future<Output = Result<T, E>>,
) -> Result<(), String> {
    match tokio::time::timeout(SEND_TIMEOUT, send).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(aws_sdk_sqs::error::DisplayErrorContext(e).to_string()),
        Err(_) => Err(format!("SQS send timed out after {} ms", SEND_TIMEOUT.as_millis())),
    }
}

/// How an SQS consumer (`credit-retry`, `partner-webhooks`) backs off a failed message: it
/// sets the message's visibility itself, rather than leaving it to the queue's default.
#[derive(Clone, Debug)]
pub struct VisibilityBackoff {
    pub sqs: aws_sdk_sqs::Client,
    pub queue_url: String,
    pub base_delay_secs: u32,
}

impl VisibilityBackoff {
    /// Makes the message visible again in `secs` (0 = now). Not fatal when it fails: the
    /// message comes back after the queue's default visibility timeout instead; logged.
    pub async fn set_visibility(&self, receipt_handle: Option<&str>, secs: i32) {
        let Some(handle) = receipt_handle else { return };
        if let Err(err) = self
            .sqs
            .change_message_visibility()
            .queue_url(&self.queue_url)
            .receipt_handle(handle)
            .visibility_timeout(secs)
            .send()
            .await
        {
            tracing::warn!(error = %aws_sdk_sqs::error::DisplayErrorContext(err), "could not set message visibility");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::backoff_secs;

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(backoff_secs(30, 1), 30);
        assert_eq!(backoff_secs(30, 2), 60);
        assert_eq!(backoff_secs(30, 3), 120);
        assert_eq!(backoff_secs(30, 6), 900);
        assert_eq!(backoff_secs(30, 60), 900);
        assert_eq!(backoff_secs(0, 5), 0);
    }
}
