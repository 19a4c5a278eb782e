//! Lambda entry point for the payment webhook: config, store, Wellflow client and retry
//! queue are built once per cold start; requests go to `webhook::handle`.

use lambda_http::{service_fn, Error, Request};
use shared::billing::{settings, Billing, SqsRetryQueue};
use shared::config::{self, ProcessEnv};
use shared::store::DynamoStore;
use webhook::WebhookConfig;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let cfg = WebhookConfig::from_env(&ProcessEnv)?;
    let sdk = shared::aws::sdk_config().await;
    let billing = Billing {
        store: DynamoStore::new(shared::aws::dynamodb(&sdk), config::table_name(&ProcessEnv)?),
        wellflow: settings::wellflow_from_env(&ProcessEnv)?,
        retry: SqsRetryQueue::new(
            shared::aws::sqs(&sdk),
            config::required(&ProcessEnv, "CREDIT_RETRY_QUEUE_URL", "the credit retry queue (!Ref CreditRetryQueue)")?,
            config::parsed_or(&ProcessEnv, "RETRY_BASE_DELAY_SECS", SqsRetryQueue::DEFAULT_BASE_DELAY_SECS)?,
        ),
        policy: settings::policy_from_env(&ProcessEnv)?,
    };
    let (billing, cfg) = (&billing, &cfg);
    lambda_http::run(service_fn(move |req: Request| async move {
        Ok::<_, Error>(webhook::handle(billing, cfg, &req).await)
    }))
    .await
}
