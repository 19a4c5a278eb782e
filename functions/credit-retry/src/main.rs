//! Lambda entry point for the credit-retry consumer (SQS event source with
//! `ReportBatchItemFailures`): dependencies built once per cold start
//! ([`credit_retry::App::from_env`]).

use adapters::config::ProcessEnv;
use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{service_fn, Error, LambdaEvent};

// One thread: a Lambda process serves one event at a time, and a current-thread runtime starts
// faster (no worker threads to spawn) — cold-start figures in docs/BENCHMARKS.md.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    adapters::telemetry::init();
    let sdk = adapters::aws::sdk_config().await;
    let app = credit_retry::App::from_env(&ProcessEnv, &sdk).await?;
    let app = &app;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, Error>(app.handle(event.payload).await)
    }))
    .await
}
