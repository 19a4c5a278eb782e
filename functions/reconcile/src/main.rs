//! Lambda entry point for the scheduled reconciliation: billing wiring and settings built once.
// The pass → heal → settle → Wellflow future nests deeply.
#![recursion_limit = "256"]

use adapters::billing::settings;
use adapters::config::ProcessEnv;
use adapters::secrets;
use lambda_runtime::{service_fn, Error, LambdaEvent};

// One thread: a Lambda process serves one event at a time (the referrers a pass reconciles
// concurrently are futures, not threads), and a current-thread runtime starts faster.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    adapters::telemetry::init();
    let secrets = secrets::plan(&ProcessEnv, reconcile::SECRETS)?;
    let sdk = adapters::aws::sdk_config().await;
    let env = secrets.fetch(&adapters::aws::secretsmanager(&sdk), &ProcessEnv).await?;
    let billing = settings::billing_from_env(&env, &sdk)?;
    let cfg = reconcile::config_from_env(&env)?;
    let (billing, cfg) = (&billing, &cfg);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| async move {
        let deadline = reconcile::work_deadline(event.context.deadline);
        Ok::<_, Error>(reconcile::run(billing, cfg, event.payload, deadline).await?)
    }))
    .await
}
