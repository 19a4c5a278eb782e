//! Lambda entry point for the scheduled reconciliation: billing wiring and settings built once
//! per cold start ([`reconcile::App::from_env`]).
// The pass → heal → settle → Wellflow future nests deeply.
#![recursion_limit = "256"]

use adapters::config::ProcessEnv;
use lambda_runtime::{service_fn, Error, LambdaEvent};

// One thread: a Lambda process serves one event at a time (the referrers a pass reconciles
// concurrently are futures, not threads), and a current-thread runtime starts faster.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    adapters::telemetry::init();
    let sdk = adapters::aws::sdk_config().await;
    let app = reconcile::App::from_env(&ProcessEnv, &sdk).await?;
    let app = &app;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| async move {
        let deadline = reconcile::work_deadline(event.context.deadline);
        app.handle(event.payload, deadline).await
    }))
    .await
}
