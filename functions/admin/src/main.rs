//! Lambda entry point for the admin API: billing wiring and the JWT verifier built once.

use admin::Admin;
use lambda_http::{service_fn, Error, Request};
use shared::auth::JwtVerifier;
use shared::billing::{settings, Billing, SqsRetryQueue};
use shared::config::{self, ProcessEnv};
use shared::store::DynamoStore;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let sdk = shared::aws::sdk_config().await;
    let admin = Admin {
        billing: Billing {
            store: DynamoStore::new(shared::aws::dynamodb(&sdk), config::table_name(&ProcessEnv)?),
            wellflow: settings::wellflow_from_env(&ProcessEnv)?,
            retry: SqsRetryQueue::new(
                shared::aws::sqs(&sdk),
                config::required(
                    &ProcessEnv,
                    "CREDIT_RETRY_QUEUE_URL",
                    "the credit retry queue (!Ref CreditRetryQueue)",
                )?,
                config::parsed_or(&ProcessEnv, "RETRY_BASE_DELAY_SECS", SqsRetryQueue::DEFAULT_BASE_DELAY_SECS)?,
            ),
            policy: settings::policy_from_env(&ProcessEnv)?,
        },
        jwt: JwtVerifier::from_env(&ProcessEnv)?,
    };
    let admin = &admin;
    lambda_http::run(service_fn(move |req: Request| async move { Ok::<_, Error>(admin::handle(admin, &req).await) }))
        .await
}
