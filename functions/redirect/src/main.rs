//! Lambda entry point for the redirect function: builds config and the store once per
//! cold start, then serves requests with `redirect::handle`.

use adapters::config::{self, ProcessEnv};
use adapters::store::DynamoStore;
use lambda_http::{service_fn, Error, Request};
use redirect::RedirectConfig;

// One thread: a Lambda process serves one event at a time, and a current-thread runtime starts
// faster (no worker threads to spawn) — cold-start figures in BENCHMARKS.md.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    adapters::telemetry::init();
    let cfg = RedirectConfig::from_env(&ProcessEnv)?;
    let sdk = adapters::aws::sdk_config().await;
    let store = DynamoStore::new(adapters::aws::dynamodb(&sdk), config::table_name(&ProcessEnv)?);
    let (store, cfg) = (&store, &cfg);
    lambda_http::run(service_fn(
        move |req: Request| async move { Ok::<_, Error>(redirect::handle(store, cfg, &req).await) },
    ))
    .await
}
