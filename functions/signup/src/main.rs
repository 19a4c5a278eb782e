//! Lambda entry point for signup attribution: secrets, config and store built once per cold start.

use adapters::config::{self, ProcessEnv};
use adapters::secrets::{self, Secret};
use adapters::store::DynamoStore;
use lambda_http::{service_fn, Error, Request};
use signup::SignupConfig;

/// Read from Secrets Manager at cold start (`<NAME>_SECRET_ARN` in the environment).
const SECRETS: &[Secret] = &[Secret::text("SIGNUP_SECRETS"), Secret::text("IP_HASH_KEY")];

// One thread: a Lambda process serves one event at a time, and a current-thread runtime starts
// faster (no worker threads to spawn) — cold-start figures in BENCHMARKS.md.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    adapters::telemetry::init();
    let secrets = secrets::plan(&ProcessEnv, SECRETS)?;
    let sdk = adapters::aws::sdk_config().await;
    let env = secrets.fetch(&adapters::aws::secretsmanager(&sdk), &ProcessEnv).await?;
    let cfg = SignupConfig::from_env(&env)?;
    let store = DynamoStore::new(adapters::aws::dynamodb(&sdk), config::table_name(&env)?);
    let (store, cfg) = (&store, &cfg);
    lambda_http::run(service_fn(
        move |req: Request| async move { Ok::<_, Error>(signup::handle(store, cfg, &req).await) },
    ))
    .await
}
