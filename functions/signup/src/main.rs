//! Lambda entry point for signup attribution: config and store built once per cold start.

use lambda_http::{service_fn, Error, Request};
use shared::config::{self, ProcessEnv};
use shared::store::DynamoStore;
use signup::SignupConfig;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let cfg = SignupConfig::from_env(&ProcessEnv)?;
    let sdk = shared::aws::sdk_config().await;
    let store = DynamoStore::new(shared::aws::dynamodb(&sdk), config::table_name(&ProcessEnv)?);
    let (store, cfg) = (&store, &cfg);
    lambda_http::run(service_fn(
        move |req: Request| async move { Ok::<_, Error>(signup::handle(store, cfg, &req).await) },
    ))
    .await
}
