//! Lambda entry point for the dashboard: store, JWT verifier and config built once.

use dashboard::{DashboardApi, DashboardConfig};
use lambda_http::{service_fn, Error, Request};
use shared::auth::JwtVerifier;
use shared::config::{self, ProcessEnv};
use shared::store::DynamoStore;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let sdk = shared::aws::sdk_config().await;
    let api = DashboardApi {
        store: DynamoStore::new(shared::aws::dynamodb(&sdk), config::table_name(&ProcessEnv)?),
        jwt: JwtVerifier::from_env(&ProcessEnv)?,
        cfg: DashboardConfig::from_env(&ProcessEnv)?,
    };
    let api = &api;
    lambda_http::run(service_fn(move |req: Request| async move { Ok::<_, Error>(dashboard::handle(api, &req).await) }))
        .await
}
