//! Lambda entry point for the credit-retry consumer (SQS event source with
//! `ReportBatchItemFailures`): dependencies built once per cold start.

use aws_lambda_events::event::sqs::SqsEvent;
use credit_retry::Backoff;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use shared::billing::{settings, Billing, SqsRetryQueue};
use shared::config::{self, ProcessEnv};
use shared::store::DynamoStore;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let sdk = shared::aws::sdk_config().await;
    let queue_url =
        config::required(&ProcessEnv, "CREDIT_RETRY_QUEUE_URL", "the credit retry queue (!Ref CreditRetryQueue)")?;
    let base_delay_secs =
        config::parsed_or(&ProcessEnv, "RETRY_BASE_DELAY_SECS", SqsRetryQueue::DEFAULT_BASE_DELAY_SECS)?;
    let sqs = shared::aws::sqs(&sdk);
    let billing = Billing {
        store: DynamoStore::new(shared::aws::dynamodb(&sdk), config::table_name(&ProcessEnv)?),
        wellflow: settings::wellflow_from_env(&ProcessEnv)?,
        retry: SqsRetryQueue::new(sqs.clone(), queue_url.clone(), base_delay_secs),
        policy: settings::policy_from_env(&ProcessEnv)?,
    };
    let backoff = Backoff { sqs, queue_url, base_delay_secs };
    let (billing, backoff) = (&billing, &backoff);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, Error>(credit_retry::handle_batch(billing, backoff, event.payload).await)
    }))
    .await
}
