//! The scheduled sweep of unsettled bonuses (EventBridge, every 15 minutes): moves in flight or
//! failed for longer than `SWEEP_REQUEUE_AFTER_MINUTES` get a fresh retry message. The logic
//! lives in `referral_core::usecases::sweep`; this crate is its wiring.

use adapters::billing::{settings, SqsRetryQueue};
use adapters::config::{self, InitError, Source};
use adapters::store::DynamoStore;
use referral_core::usecases::sweep::{self, SweepReport};

/// What a cold start builds: store, retry queue and the idle threshold.
pub struct App {
    pub store: DynamoStore,
    pub retry: SqsRetryQueue,
    pub requeue_after: time::Duration,
}

impl App {
    /// Everything `main` builds, from the environment and the SDK config.
    pub fn from_env(env: &dyn Source, sdk: &adapters::aws::SdkConfig) -> Result<Self, InitError> {
        Ok(Self {
            store: DynamoStore::new(adapters::aws::dynamodb(sdk), config::table_name(env)?),
            retry: settings::retry_queue_from_env(env, sdk)?,
            requeue_after: time::Duration::minutes(config::parsed_or(env, "SWEEP_REQUEUE_AFTER_MINUTES", 15)?),
        })
    }

    /// One scheduled run at `now`, reported as the function's JSON answer.
    pub async fn handle(&self, now: time::OffsetDateTime) -> Result<serde_json::Value, InitError> {
        let report: SweepReport = sweep::sweep_unsettled(&self.store, &self.retry, now, self.requeue_after).await?;
        Ok(serde_json::json!({
            "unsettled_seen": report.unsettled_seen,
            "requeued": report.requeued,
            "awaiting_admin": report.awaiting_admin,
            "older_than_1h": report.older_than_1h,
        }))
    }
}
