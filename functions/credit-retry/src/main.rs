//! Lambda entry point for the credit-retry consumer (SQS event source with
//! `ReportBatchItemFailures`): dependencies built once per cold start.

use adapters::billing::settings;
use adapters::config::{self, ProcessEnv};
use adapters::secrets::{self, Secret};
use aws_lambda_events::event::sqs::SqsEvent;
use credit_retry::Backoff;
use lambda_runtime::{service_fn, Error, LambdaEvent};

/// Read from Secrets Manager at cold start (`WELLFLOW_API_KEY_SECRET_ARN` in the environment).
const SECRETS: &[Secret] = &[Secret::text("WELLFLOW_API_KEY")];

// One thread: a Lambda process serves one event at a time, and a current-thread runtime starts
// faster (no worker threads to spawn) — cold-start figures in BENCHMARKS.md.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    adapters::telemetry::init();
    let secrets = secrets::plan(&ProcessEnv, SECRETS)?;
    let sdk = adapters::aws::sdk_config().await;
    let env = secrets.fetch(&adapters::aws::secretsmanager(&sdk), &ProcessEnv).await?;
    let billing = settings::billing_from_env(&env, &sdk)?;
    let backoff = Backoff {
        sqs: adapters::aws::sqs(&sdk),
        queue_url: config::required(&env, "CREDIT_RETRY_QUEUE_URL", "the credit retry queue (!Ref CreditRetryQueue)")?,
        base_delay_secs: config::parsed_or(
            &env,
            "RETRY_BASE_DELAY_SECS",
            adapters::billing::SqsRetryQueue::DEFAULT_BASE_DELAY_SECS,
        )?,
    };
    let (billing, backoff) = (&billing, &backoff);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, Error>(credit_retry::handle_batch(billing, backoff, event.payload).await)
    }))
    .await
}
