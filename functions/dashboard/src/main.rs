//! Lambda entry point for the dashboard: secrets, store, JWT verifier and config built once.

use adapters::auth::JwtVerifier;
use adapters::config::{self, ProcessEnv};
use adapters::secrets::{self, Secret};
use adapters::store::DynamoStore;
use dashboard::{DashboardApi, DashboardConfig};
use lambda_http::{service_fn, Error, Request};

/// Read from Secrets Manager at cold start (`<NAME>_SECRET_ARN` in the environment). The HS256
/// token secret only exists locally / in tests (`JWT_ALLOW_HS256`); AWS uses the JWKS.
const SECRETS: &[Secret] = &[Secret::text("LEADERBOARD_SECRET"), Secret::text("JWT_HS256_SECRET").optional()];

// One thread: a Lambda process serves one event at a time, and a current-thread runtime starts
// faster (no worker threads to spawn) — cold-start figures in BENCHMARKS.md.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    adapters::telemetry::init();
    let secrets = secrets::plan(&ProcessEnv, SECRETS)?;
    let sdk = adapters::aws::sdk_config().await;
    let env = secrets.fetch(&adapters::aws::secretsmanager(&sdk), &ProcessEnv).await?;
    let api = DashboardApi {
        store: DynamoStore::new(adapters::aws::dynamodb(&sdk), config::table_name(&env)?),
        jwt: JwtVerifier::from_env(&env)?,
        cfg: DashboardConfig::from_env(&env)?,
    };
    let api = &api;
    lambda_http::run(service_fn(move |req: Request| async move { Ok::<_, Error>(dashboard::handle(api, &req).await) }))
        .await
}
