//! Lambda entry point for the payment webhook: secrets, config, store and Wellflow client are
//! built once per cold start; requests go to `webhook::handle`.

use adapters::billing::settings;
use adapters::config::ProcessEnv;
use adapters::secrets::{self, Secret};
use lambda_http::{service_fn, Error, Request};
use webhook::WebhookConfig;

/// Read from Secrets Manager at cold start (`<NAME>_SECRET_ARN` in the environment). The Stripe
/// endpoint exists only where its secret is configured (template parameter StripeEnabled).
const SECRETS: &[Secret] = &[
    Secret::text("WEBHOOK_SECRETS"),
    Secret::text("WELLFLOW_API_KEY"),
    Secret::text("STRIPE_WEBHOOK_SECRETS").optional(),
];

// One thread: a Lambda process serves one event at a time, and a current-thread runtime starts
// faster (no worker threads to spawn) — cold-start figures in BENCHMARKS.md.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    adapters::telemetry::init();
    let secrets = secrets::plan(&ProcessEnv, SECRETS)?;
    let sdk = adapters::aws::sdk_config().await;
    let env = secrets.fetch(&adapters::aws::secretsmanager(&sdk), &ProcessEnv).await?;
    let cfg = WebhookConfig::from_env(&env)?;
    let billing = settings::billing_from_env(&env, &sdk)?;
    let (billing, cfg) = (&billing, &cfg);
    lambda_http::run(service_fn(move |req: Request| async move {
        Ok::<_, Error>(webhook::handle(billing, cfg, &req).await)
    }))
    .await
}
