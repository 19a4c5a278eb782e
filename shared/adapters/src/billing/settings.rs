//! Billing configuration from the environment: the bonus policy, the Wellflow client, the
//! retry queue, and the whole `Billing` wiring the money-moving functions share.

use std::time::Duration;

use crate::billing::{Billing, LiveBilling, SqsEventQueue, SqsRetryQueue};
use crate::config::{self, ConfigError, Source};
use crate::domain::{BonusPolicy, Rate, Usd, MAX_HOLDING_DAYS};
use crate::store::DynamoStore;
use crate::wellflow::WellflowClient;

/// `MIN_TOPUP_USD` (5.00), `DEFAULT_RATE` (0.05), `VELOCITY_MAX` (5), `VELOCITY_WINDOW_HOURS`
/// (24), `MANUAL_REVIEW_THRESHOLD_USD` (unset = no review by amount), `HOLDING_DAYS` (0..=90,
/// default 0 = instant credit).
pub fn policy_from_env(src: &dyn Source) -> Result<BonusPolicy, ConfigError> {
    let defaults = BonusPolicy::default();
    let usd = |key: &'static str| -> Result<Option<Usd>, ConfigError> {
        config::optional(src, key)
            .map(|raw| Usd::parse_positive(&raw).map_err(|e| ConfigError::Invalid { key, reason: e.to_string() }))
            .transpose()
    };
    let default_rate = match config::optional(src, "DEFAULT_RATE") {
        None => defaults.default_rate,
        Some(raw) => {
            Rate::parse(&raw).map_err(|e| ConfigError::Invalid { key: "DEFAULT_RATE", reason: e.to_string() })?
        }
    };
    let window_hours: i64 = config::parsed_or(src, "VELOCITY_WINDOW_HOURS", 24)?;
    let holding_days: u32 = config::parsed_or(src, "HOLDING_DAYS", defaults.holding_days)?;
    if holding_days > MAX_HOLDING_DAYS {
        return Err(ConfigError::Invalid {
            key: "HOLDING_DAYS",
            reason: format!("must be 0 to {MAX_HOLDING_DAYS} days, got {holding_days}"),
        });
    }
    Ok(BonusPolicy {
        min_topup: usd("MIN_TOPUP_USD")?.unwrap_or(defaults.min_topup),
        default_rate,
        velocity_max: config::parsed_or(src, "VELOCITY_MAX", defaults.velocity_max)?,
        velocity_window_secs: window_hours * 3600,
        review_threshold: usd("MANUAL_REVIEW_THRESHOLD_USD")?,
        holding_days,
    })
}

/// `WELLFLOW_BASE_URL`, `WELLFLOW_API_KEY`, `WELLFLOW_TIMEOUT_MS` (default 2500).
pub fn wellflow_from_env(src: &dyn Source) -> Result<WellflowClient, ConfigError> {
    let base =
        config::required(src, "WELLFLOW_BASE_URL", "the Wellflow API base URL, e.g. https://api.wellflow.example")?;
    let key = config::required(src, "WELLFLOW_API_KEY", "the Wellflow API key (template parameter WellflowApiKey)")?;
    let timeout_ms: u64 = config::parsed_or(src, "WELLFLOW_TIMEOUT_MS", 2500)?;
    WellflowClient::new(&base, key, Duration::from_millis(timeout_ms))
        .map_err(|e| ConfigError::Invalid { key: "WELLFLOW_BASE_URL", reason: e.to_string() })
}

/// The retry queue: `CREDIT_RETRY_QUEUE_URL`, `RETRY_BASE_DELAY_SECS` (default 30).
pub fn retry_queue_from_env(src: &dyn Source, sdk: &aws_config::SdkConfig) -> Result<SqsRetryQueue, ConfigError> {
    Ok(SqsRetryQueue::new(
        crate::aws::sqs(sdk),
        config::required(src, "CREDIT_RETRY_QUEUE_URL", "the credit retry queue (!Ref CreditRetryQueue)")?,
        config::parsed_or(src, "RETRY_BASE_DELAY_SECS", SqsRetryQueue::DEFAULT_BASE_DELAY_SECS)?,
    ))
}

/// Everything a money-moving function needs (webhook, credit-retry, admin, holding-release),
/// built once: the store, the Wellflow client and the bonus policy.
pub fn billing_from_env(src: &dyn Source, sdk: &aws_config::SdkConfig) -> Result<LiveBilling, ConfigError> {
    Ok(Billing::new(
        DynamoStore::new(crate::aws::dynamodb(sdk), config::table_name(src)?),
        wellflow_from_env(src)?,
        policy_from_env(src)?,
    ))
}

/// `PARTNER_WEBHOOK_QUEUE_URL`: where the outbox dispatcher sends partner events.
pub fn event_queue_from_env(src: &dyn Source, sdk: &aws_config::SdkConfig) -> Result<SqsEventQueue, ConfigError> {
    Ok(SqsEventQueue::new(
        crate::aws::sqs(sdk),
        config::required(src, "PARTNER_WEBHOOK_QUEUE_URL", "the partner webhook queue (!Ref PartnerWebhookQueue)")?,
    ))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::policy_from_env;

    #[test]
    fn holding_days_default_zero_and_bounded() {
        let env = |v: &'static str| HashMap::from([("HOLDING_DAYS", v)]);
        assert_eq!(policy_from_env(&HashMap::<&str, &str>::new()).unwrap().holding_days, 0);
        assert_eq!(policy_from_env(&env("3")).unwrap().holding_days, 3);
        assert_eq!(policy_from_env(&env("90")).unwrap().holding_days, 90);
        for bad in ["91", "-1", "three"] {
            let err = policy_from_env(&env(bad)).unwrap_err().to_string();
            assert!(err.contains("HOLDING_DAYS"), "{bad}: {err}");
        }
    }
}
