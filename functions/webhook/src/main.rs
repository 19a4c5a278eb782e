//! Lambda entry point for the payment webhook: config, store, Wellflow client and retry
//! queue are built once per cold start; requests go to `webhook::handle`.

use lambda_http::{service_fn, Error, Request};
use shared::billing::settings;
use shared::config::ProcessEnv;
use webhook::WebhookConfig;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let cfg = WebhookConfig::from_env(&ProcessEnv)?;
    let sdk = shared::aws::sdk_config().await;
    let billing = settings::billing_from_env(&ProcessEnv, &sdk)?;
    let (billing, cfg) = (&billing, &cfg);
    lambda_http::run(service_fn(move |req: Request| async move {
        Ok::<_, Error>(webhook::handle(billing, cfg, &req).await)
    }))
    .await
}
