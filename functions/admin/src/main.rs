//! Lambda entry point for the admin API: secrets, billing wiring and the JWT verifier built once.

use adapters::auth::JwtVerifier;
use adapters::billing::settings;
use adapters::config::ProcessEnv;
use adapters::secrets::{self, Secret};
use admin::Admin;
use lambda_http::{service_fn, Error, Request};

/// Read from Secrets Manager at cold start (`<NAME>_SECRET_ARN` in the environment). The HS256
/// token secret only exists locally / in tests (`JWT_ALLOW_HS256`); AWS uses the JWKS.
const SECRETS: &[Secret] = &[Secret::text("WELLFLOW_API_KEY"), Secret::text("JWT_HS256_SECRET").optional()];

// One thread: a Lambda process serves one event at a time, and a current-thread runtime starts
// faster (no worker threads to spawn) — cold-start figures in BENCHMARKS.md.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    adapters::telemetry::init();
    let secrets = secrets::plan(&ProcessEnv, SECRETS)?;
    let sdk = adapters::aws::sdk_config().await;
    let env = secrets.fetch(&adapters::aws::secretsmanager(&sdk), &ProcessEnv).await?;
    let admin = Admin { billing: settings::billing_from_env(&env, &sdk)?, jwt: JwtVerifier::from_env(&env)? };
    let admin = &admin;
    lambda_http::run(service_fn(move |req: Request| async move { Ok::<_, Error>(admin::handle(admin, &req).await) }))
        .await
}
