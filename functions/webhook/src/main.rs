//! Lambda entry point for the payment webhook: secrets, config, store and Wellflow client are
//! built once per cold start ([`webhook::App::from_env`]).

use adapters::config::ProcessEnv;
use lambda_http::Error;

// One thread: a Lambda process serves one event at a time, and a current-thread runtime starts
// faster (no worker threads to spawn) — cold-start figures in docs/BENCHMARKS.md.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    adapters::telemetry::init();
    let sdk = adapters::aws::sdk_config().await;
    let app = webhook::App::from_env(&ProcessEnv, &sdk).await?;
    // The function's one Router, run as the runtime's http-axum example does.
    lambda_http::run(webhook::router(std::sync::Arc::new(app))).await
}
