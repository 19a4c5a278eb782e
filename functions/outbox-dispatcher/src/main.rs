//! Lambda entry point for the outbox dispatcher (DynamoDB stream event source with
//! `ReportBatchItemFailures`): both queue clients built once per cold start
//! ([`outbox_dispatcher::App::from_env`]).

use adapters::config::ProcessEnv;
use aws_lambda_events::event::dynamodb::Event;
use lambda_runtime::{service_fn, Error, LambdaEvent};

// One thread: a Lambda process serves one event at a time, and a current-thread runtime starts
// faster (no worker threads to spawn) — cold-start figures in docs/BENCHMARKS.md.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    adapters::telemetry::init();
    let sdk = adapters::aws::sdk_config().await;
    let app = outbox_dispatcher::App::from_env(&ProcessEnv, &sdk)?;
    let app = &app;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Event>| async move {
        Ok::<_, Error>(app.handle(event.payload).await)
    }))
    .await
}
