//! Lambda entry point for the scheduled sweep of unsettled bonuses (EventBridge, every 15
//! minutes): moves in flight or failed for longer than `SWEEP_REQUEUE_AFTER_MINUTES` get a
//! fresh retry message. The logic lives in `referral_core::usecases::sweep`.

use adapters::billing::settings;
use adapters::config::{self, ProcessEnv};
use adapters::store::DynamoStore;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use referral_core::usecases::sweep;

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
        let report = sweep::sweep_unsettled(store, retry, adapters::clock::now(), requeue_after).await?;
        Ok::<_, Error>(serde_json::json!({
            "unsettled_seen": report.unsettled_seen,
            "requeued": report.requeued,
            "awaiting_admin": report.awaiting_admin,
            "older_than_1h": report.older_than_1h,
        }))
    }))
    .await
}
