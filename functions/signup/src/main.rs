//! Lambda entry point for signups: secrets, config and store built once per cold start
//! ([`signup::App::from_env`]).

use adapters::config::ProcessEnv;
use lambda_http::{service_fn, Error, Request};

// One thread: a Lambda process serves one event at a time, and a current-thread runtime starts
// faster (no worker threads to spawn) — cold-start figures in BENCHMARKS.md.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    adapters::telemetry::init();
    let sdk = adapters::aws::sdk_config().await;
    let app = signup::App::from_env(&ProcessEnv, &sdk).await?;
    let app = &app;
    lambda_http::run(service_fn(move |req: Request| async move { Ok::<_, Error>(app.handle(&req).await) })).await
}
