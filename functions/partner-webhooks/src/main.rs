//! Lambda entry point for the partner webhook sender (SQS event source with
//! `ReportBatchItemFailures`): store, HTTP client and backoff built once per cold start
//! ([`partner_webhooks::App::from_env`]).

use adapters::config::ProcessEnv;
use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{service_fn, Error, LambdaEvent};

// One thread: a Lambda process serves one event at a time, and a current-thread runtime starts
// faster (no worker threads to spawn) — cold-start figures in docs/BENCHMARKS.md.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    adapters::telemetry::init();
    let sdk = adapters::aws::sdk_config().await;
    let sender = partner_webhooks::App::from_env(&ProcessEnv, &sdk)?;
    let sender = &sender;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, Error>(partner_webhooks::handle_batch(sender, event.payload).await)
    }))
    .await
}
