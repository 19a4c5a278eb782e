//! Billing configuration from the environment: the bonus policy and the Wellflow client.

use std::time::Duration;

use crate::config::{self, ConfigError, Source};
use crate::domain::{BonusPolicy, Rate, Usd};
use crate::wellflow::WellflowClient;

/// `MIN_TOPUP_USD` (5.00), `DEFAULT_RATE` (0.05), `VELOCITY_MAX` (5), `VELOCITY_WINDOW_HOURS`
/// (24), `MANUAL_REVIEW_THRESHOLD_USD` (unset = no review by amount).
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
    Ok(BonusPolicy {
        min_topup: usd("MIN_TOPUP_USD")?.unwrap_or(defaults.min_topup),
        default_rate,
        velocity_max: config::parsed_or(src, "VELOCITY_MAX", defaults.velocity_max)?,
        velocity_window_secs: window_hours * 3600,
        review_threshold: usd("MANUAL_REVIEW_THRESHOLD_USD")?,
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
