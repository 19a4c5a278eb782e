//! Lambda entry point for signup attribution: config and store built once per cold start.

use adapters::config::{self, ProcessEnv};
use adapters::store::DynamoStore;
use lambda_http::{service_fn, Error, Request};
use signup::SignupConfig;

// One thread: a Lambda process serves one event at a time, and a current-thread runtime starts
// faster (no worker threads to spawn) — cold-start figures in BENCHMARKS.md.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    adapters::telemetry::init();
    let cfg = SignupConfig::from_env(&ProcessEnv)?;
    let sdk = adapters::aws::sdk_config().await;
    let store = DynamoStore::new(adapters::aws::dynamodb(&sdk), config::table_name(&ProcessEnv)?);
    let (store, cfg) = (&store, &cfg);
    lambda_http::run(service_fn(
        move |req: Request| async move { Ok::<_, Error>(signup::handle(store, cfg, &req).await) },
    ))
    .await
}
