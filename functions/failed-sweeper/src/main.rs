//! Lambda entry point for the scheduled failed-bonus sweep (EventBridge, every 15 minutes);
//! the logic lives in `adapters::billing::sweep`.

use adapters::billing::{settings, sweep};
use adapters::config::{self, ProcessEnv};
use adapters::store::DynamoStore;
use lambda_runtime::{service_fn, Error, LambdaEvent};

// One thread: a Lambda process serves one event at a time, and a current-thread runtime starts
// faster (no worker threads to spawn) — cold-start figures in BENCHMARKS.md.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    adapters::telemetry::init();
    let sdk = adapters::aws::sdk_config().await;
    let store = DynamoStore::new(adapters::aws::dynamodb(&sdk), config::table_name(&ProcessEnv)?);
    let retry = settings::retry_queue_from_env(&ProcessEnv, &sdk)?;
    let requeue_after = time::Duration::minutes(config::parsed_or(&ProcessEnv, "SWEEP_REQUEUE_AFTER_MINUTES", 15)?);
    let (store, retry) = (&store, &retry);
    lambda_runtime::run(service_fn(move |_: LambdaEvent<serde_json::Value>| async move {
        let report = sweep::sweep_failed(store, retry, adapters::clock::now(), requeue_after).await?;
        Ok::<_, Error>(serde_json::json!({
            "failed_seen": report.failed_seen,
            "requeued": report.requeued,
            "older_than_1h": report.older_than_1h,
        }))
    }))
    .await
}
