//! A local stand-in for Lambda's SQS event source mapping: receive a batch, hand it to the
//! function as an `SqsEvent`, delete the messages not listed in `batchItemFailures`.
//! Used by the tests (function called in-process) and by the `sqs-poller` binary that feeds
//! `cargo lambda watch` during `make dev`.

use std::future::Future;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use aws_sdk_sqs::types::MessageSystemAttributeName;

/// Receives up to `max` messages (long-polling `wait_secs`) as a Lambda SQS event.
pub async fn receive(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    max: i32,
    wait_secs: i32,
) -> Result<Option<SqsEvent>, String> {
    let out = sqs
        .receive_message()
        .queue_url(queue_url)
        .max_number_of_messages(max)
        .wait_time_seconds(wait_secs)
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .send()
        .await
        .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(e).to_string())?;
    let messages = out.messages.unwrap_or_default();
    if messages.is_empty() {
        return Ok(None);
    }
    let mut event = SqsEvent::default();
    for m in messages {
        let mut record = SqsMessage::default();
        record.message_id = m.message_id;
        record.receipt_handle = m.receipt_handle;
        record.body = m.body;
        record.attributes =
            m.attributes.unwrap_or_default().into_iter().map(|(k, v)| (k.as_str().to_string(), v)).collect();
        record.event_source = Some("aws:sqs".into());
        event.records.push(record);
    }
    Ok(Some(event))
}

/// Deletes every message of `event` the function did not report as failed.
pub async fn settle(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    event: &SqsEvent,
    response: &SqsBatchResponse,
) -> Result<usize, String> {
    let failed: Vec<&str> = response.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
    let mut deleted = 0;
    for record in &event.records {
        let id = record.message_id.as_deref().unwrap_or_default();
        if failed.contains(&id) {
            continue;
        }
        if let Some(handle) = &record.receipt_handle {
            sqs.delete_message()
                .queue_url(queue_url)
                .receipt_handle(handle)
                .send()
                .await
                .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(e).to_string())?;
            deleted += 1;
        }
    }
    Ok(deleted)
}

/// One receive → invoke → settle cycle. Returns `None` when the queue had nothing visible.
pub async fn poll_once<F, Fut>(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    wait_secs: i32,
    invoke: F,
) -> Result<Option<SqsBatchResponse>, String>
where
    F: FnOnce(SqsEvent) -> Fut,
    Fut: Future<Output = Result<SqsBatchResponse, String>>,
{
    let Some(event) = receive(sqs, queue_url, 10, wait_secs).await? else { return Ok(None) };
    let response = invoke(event.clone()).await?;
    settle(sqs, queue_url, &event, &response).await?;
    Ok(Some(response))
}
