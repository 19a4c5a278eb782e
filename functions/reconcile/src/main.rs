//! Lambda entry point for the scheduled reconciliation: billing wiring and settings built once.
// The pass → heal → settle → Wellflow future nests deeply.
#![recursion_limit = "256"]

use adapters::billing::settings;
use adapters::config::ProcessEnv;
use lambda_runtime::{service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    adapters::telemetry::init();
    let sdk = adapters::aws::sdk_config().await;
    let billing = settings::billing_from_env(&ProcessEnv, &sdk)?;
    let cfg = reconcile::config_from_env(&ProcessEnv)?;
    let (billing, cfg) = (&billing, &cfg);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| async move {
        let deadline = reconcile::work_deadline(event.context.deadline);
        Ok::<_, Error>(reconcile::run(billing, cfg, event.payload, deadline).await?)
    }))
    .await
}
