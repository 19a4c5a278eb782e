//! Lambda entry point for the dashboard: store, JWT verifier and config built once.

use adapters::auth::JwtVerifier;
use adapters::config::{self, ProcessEnv};
use adapters::store::DynamoStore;
use dashboard::{DashboardApi, DashboardConfig};
use lambda_http::{service_fn, Error, Request};

// One thread: a Lambda process serves one event at a time, and a current-thread runtime starts
// faster (no worker threads to spawn) — cold-start figures in BENCHMARKS.md.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    adapters::telemetry::init();
    let sdk = adapters::aws::sdk_config().await;
    let api = DashboardApi {
        store: DynamoStore::new(adapters::aws::dynamodb(&sdk), config::table_name(&ProcessEnv)?),
        jwt: JwtVerifier::from_env(&ProcessEnv)?,
        cfg: DashboardConfig::from_env(&ProcessEnv)?,
    };
    let api = &api;
    lambda_http::run(service_fn(move |req: Request| async move { Ok::<_, Error>(dashboard::handle(api, &req).await) }))
        .await
}
