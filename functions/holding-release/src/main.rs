//! Lambda entry point for the scheduled holding-period release; billing wiring built once per
//! cold start ([`holding_release::App::from_env`]).
// The release → settle → Wellflow future nests deeply.
#![recursion_limit = "256"]

use adapters::config::ProcessEnv;
use lambda_runtime::{service_fn, Error, LambdaEvent};

// One thread: a Lambda process serves one event at a time, and a current-thread runtime starts
// faster (no worker threads to spawn) — cold-start figures in docs/BENCHMARKS.md.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    adapters::telemetry::init();
    let sdk = adapters::aws::sdk_config().await;
    let app = holding_release::App::from_env(&ProcessEnv, &sdk).await?;
    let app = &app;
    lambda_runtime::run(service_fn(move |_: LambdaEvent<serde_json::Value>| async move {
        Ok::<_, Error>(app.handle(adapters::clock::now()).await?)
    }))
    .await
}
