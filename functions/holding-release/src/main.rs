//! Lambda entry point for the scheduled holding-period release; billing wiring built once.
// The release → settle → Wellflow future nests deeply.
#![recursion_limit = "256"]

use adapters::billing::settings;
use adapters::config::ProcessEnv;
use adapters::secrets::{self, Secret};
use holding_release::ReleaseConfig;
use lambda_runtime::{service_fn, Error, LambdaEvent};

/// Read from Secrets Manager at cold start (`WELLFLOW_API_KEY_SECRET_ARN` in the environment).
const SECRETS: &[Secret] = &[Secret::text("WELLFLOW_API_KEY")];

// One thread: a Lambda process serves one event at a time, and a current-thread runtime starts
// faster (no worker threads to spawn) — cold-start figures in BENCHMARKS.md.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    adapters::telemetry::init();
    let secrets = secrets::plan(&ProcessEnv, SECRETS)?;
    let sdk = adapters::aws::sdk_config().await;
    let env = secrets.fetch(&adapters::aws::secretsmanager(&sdk), &ProcessEnv).await?;
    let billing = settings::billing_from_env(&env, &sdk)?;
    let cfg = ReleaseConfig::from_env(&env)?;
    let (billing, cfg) = (&billing, &cfg);
    lambda_runtime::run(service_fn(move |_: LambdaEvent<serde_json::Value>| async move {
        Ok::<_, Error>(holding_release::run(billing, cfg, adapters::clock::now()).await?)
    }))
    .await
}
