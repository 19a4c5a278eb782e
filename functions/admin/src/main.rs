//! Lambda entry point for the admin API: billing wiring and the JWT verifier built once.

use adapters::auth::JwtVerifier;
use adapters::billing::settings;
use adapters::config::ProcessEnv;
use admin::Admin;
use lambda_http::{service_fn, Error, Request};

// One thread: a Lambda process serves one event at a time, and a current-thread runtime starts
// faster (no worker threads to spawn) — cold-start figures in BENCHMARKS.md.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    adapters::telemetry::init();
    let sdk = adapters::aws::sdk_config().await;
    let admin =
        Admin { billing: settings::billing_from_env(&ProcessEnv, &sdk)?, jwt: JwtVerifier::from_env(&ProcessEnv)? };
    let admin = &admin;
    lambda_http::run(service_fn(move |req: Request| async move { Ok::<_, Error>(admin::handle(admin, &req).await) }))
        .await
}
