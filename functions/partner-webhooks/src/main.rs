//! Lambda entry point for the partner webhook sender (SQS event source with
//! `ReportBatchItemFailures`): store, HTTP client and backoff built once per cold start.

use adapters::config::{self, ProcessEnv};
use adapters::domain::partner_webhook::UrlPolicy;
use adapters::store::DynamoStore;
use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use partner_webhooks::{Backoff, Sender};

// One thread: a Lambda process serves one event at a time, and a current-thread runtime starts
// faster (no worker threads to spawn) — cold-start figures in BENCHMARKS.md.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    adapters::telemetry::init();
    let sdk = adapters::aws::sdk_config().await;
    let policy =
        UrlPolicy { allow_http_loopback: config::parsed_or(&ProcessEnv, "WEBHOOK_ALLOW_HTTP_LOOPBACK", false)? };
    let sender = Sender {
        store: DynamoStore::new(adapters::aws::dynamodb(&sdk), config::table_name(&ProcessEnv)?),
        http: partner_webhooks::client::http_client(policy)?,
        policy,
        backoff: Backoff {
            sqs: adapters::aws::sqs(&sdk),
            queue_url: config::required(
                &ProcessEnv,
                "PARTNER_WEBHOOK_QUEUE_URL",
                "the partner webhook queue (!Ref PartnerWebhookQueue)",
            )?,
            base_delay_secs: config::parsed_or(
                &ProcessEnv,
                "PARTNER_WEBHOOK_BASE_DELAY_SECS",
                partner_webhooks::DEFAULT_BASE_DELAY_SECS,
            )?,
        },
    };
    let sender = &sender;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, Error>(partner_webhooks::handle_batch(sender, event.payload).await)
    }))
    .await
}
