//! Lambda entry point for the payment webhook: config, store and Wellflow client are built
//! once per cold start; requests go to `webhook::handle`.

use adapters::billing::settings;
use adapters::config::ProcessEnv;
use lambda_http::{service_fn, Error, Request};
use webhook::WebhookConfig;

// One thread: a Lambda process serves one event at a time, and a current-thread runtime starts
// faster (no worker threads to spawn) — cold-start figures in BENCHMARKS.md.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    adapters::telemetry::init();
    let cfg = WebhookConfig::from_env(&ProcessEnv)?;
    let sdk = adapters::aws::sdk_config().await;
    let billing = settings::billing_from_env(&ProcessEnv, &sdk)?;
    let (billing, cfg) = (&billing, &cfg);
    lambda_http::run(service_fn(move |req: Request| async move {
        Ok::<_, Error>(webhook::handle(billing, cfg, &req).await)
    }))
    .await
}
