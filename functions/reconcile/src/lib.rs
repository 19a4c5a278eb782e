//! Scheduled reconciliation with Wellflow (EventBridge Scheduler): `{"pass": "hourly"}` every
//! hour, `{"pass": "daily"}` once a day. Each invocation runs (or continues) its pass within
//! the Lambda deadline; an hourly invocation with time left also continues an unfinished daily
//! pass, so a daily pass too long for one invocation finishes within a few hours. The rules
//! are `referral_core::bonus::reconcile` and `referral_core::usecases::reconcile`; "now" and
//! the deadline are parameters so tests never sleep.
//!
//! Configuration (all optional): `RECONCILE_HOURLY_WINDOW_HOURS` (3), `RECONCILE_DAILY_WINDOW_DAYS`
//! (35), `RECONCILE_LAG_MINUTES` (5), `RECONCILE_SKEW_MINUTES` (2),
//! `RECONCILE_CONFIRM_CREDIT_MINUTES` (60), `RECONCILE_PAGE_SIZE` (50 referrers),
//! `RECONCILE_CONCURRENCY` (8 referrers at a time).

use adapters::billing::Billing;
use adapters::config::{self, ConfigError, Source};
use referral_core::ports::{Ledger, LedgerHistory};
use referral_core::store::{Findings, PassKind, Payments, Reconciliation};
use referral_core::usecases::reconcile::{run_pass, Budget, PassReport, ReconcileConfig, ReconcileError};
use serde::Deserialize;
use serde_json::{json, Value};
use time::OffsetDateTime;

/// Read from Secrets Manager at cold start (`WELLFLOW_API_KEY_SECRET_ARN` in the environment).
pub const SECRETS: &[adapters::secrets::Secret] = &[adapters::secrets::Secret::text("WELLFLOW_API_KEY")];

/// Time kept free before the Lambda deadline: one page of referrers (50, 8 at a time) with
/// slow Wellflow answers must still finish and save its cursor.
pub const DEADLINE_MARGIN: time::Duration = time::Duration::seconds(60);

/// The passes' settings from the environment, validated (a bad value fails the cold start).
pub fn config_from_env(src: &dyn Source) -> Result<ReconcileConfig, ConfigError> {
    let defaults = ReconcileConfig::default();
    let bounded = |key: &'static str, default: i64, min: i64, max: i64| -> Result<i64, ConfigError> {
        let value: i64 = config::parsed_or(src, key, default)?;
        if (min..=max).contains(&value) {
            Ok(value)
        } else {
            Err(ConfigError::Invalid { key, reason: format!("must be {min} to {max}, got {value}") })
        }
    };
    Ok(ReconcileConfig {
        hourly_window: time::Duration::hours(bounded("RECONCILE_HOURLY_WINDOW_HOURS", 3, 1, 48)?),
        daily_window: time::Duration::days(bounded("RECONCILE_DAILY_WINDOW_DAYS", 35, 1, 400)?),
        lag: time::Duration::minutes(bounded("RECONCILE_LAG_MINUTES", defaults.lag.whole_minutes(), 0, 120)?),
        skew: time::Duration::minutes(bounded("RECONCILE_SKEW_MINUTES", defaults.skew.whole_minutes(), 0, 60)?),
        confirm_credit_after: time::Duration::minutes(bounded(
            "RECONCILE_CONFIRM_CREDIT_MINUTES",
            defaults.confirm_credit_after.whole_minutes(),
            0,
            7 * 24 * 60,
        )?),
        referrers_per_page: bounded("RECONCILE_PAGE_SIZE", i64::from(defaults.referrers_per_page), 1, 500)? as i32,
        concurrency: bounded("RECONCILE_CONCURRENCY", defaults.concurrency as i64, 1, 32)? as usize,
    })
}

/// The scheduler's input.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Event {
    pass: String,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("bad event: {0} (expected {{\"pass\": \"hourly\"}} or {{\"pass\": \"daily\"}})")]
    BadEvent(String),
    #[error(transparent)]
    Reconcile(#[from] ReconcileError),
}

/// One scheduled invocation at `now` that must stop working by `deadline`; the JSON is the
/// invocation's result (also logged by the core).
pub async fn run<S, L>(
    billing: &Billing<S, L>,
    cfg: &ReconcileConfig,
    event: Value,
    deadline: OffsetDateTime,
) -> Result<Value, RunError>
where
    S: Payments + Reconciliation + Findings,
    L: Ledger + LedgerHistory,
{
    let event: Event = serde_json::from_value(event).map_err(|e| RunError::BadEvent(e.to_string()))?;
    let kind =
        PassKind::parse(&event.pass).ok_or_else(|| RunError::BadEvent(format!("unknown pass {:?}", event.pass)))?;
    let budget = Budget { deadline, max_pages: usize::MAX };
    let first = Box::pin(run_pass(billing, cfg, kind, true, budget)).await?;
    let mut result = json!({ kind.as_str(): view(&first) });
    if kind == PassKind::Hourly && first.done {
        let daily = Box::pin(run_pass(billing, cfg, PassKind::Daily, false, budget)).await?;
        if daily.run_id.is_some() {
            result["daily"] = view(&daily);
        }
    }
    Ok(result)
}

fn view(r: &PassReport) -> Value {
    serde_json::to_value(r).unwrap_or_else(|e| json!({ "error": e.to_string() }))
}

/// The instant an invocation must stop working: the Lambda deadline minus [`DEADLINE_MARGIN`].
pub fn work_deadline(lambda_deadline_ms: u64) -> OffsetDateTime {
    let deadline = OffsetDateTime::from_unix_timestamp_nanos(i128::from(lambda_deadline_ms) * 1_000_000)
        .unwrap_or_else(|_| adapters::clock::now());
    deadline - DEADLINE_MARGIN
}

/// What a cold start builds: billing (store + Wellflow, its key from Secrets Manager) and the
/// pass settings.
pub struct App {
    pub billing: adapters::billing::LiveBilling,
    pub cfg: ReconcileConfig,
}

impl App {
    /// Everything `main` builds, from the environment and the SDK config (secrets read first).
    pub async fn from_env(env: &dyn Source, sdk: &adapters::aws::SdkConfig) -> Result<Self, config::InitError> {
        let env = adapters::secrets::load(&adapters::aws::secretsmanager(sdk), env, SECRETS).await?;
        Ok(Self { billing: adapters::billing::settings::billing_from_env(&env, sdk)?, cfg: config_from_env(&env)? })
    }

    /// One scheduled invocation (`{"pass": "hourly" | "daily"}`) that stops before `deadline`.
    pub async fn handle(&self, event: Value, deadline: OffsetDateTime) -> Result<Value, config::InitError> {
        Ok(run(&self.billing, &self.cfg, event, deadline).await?)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn config_defaults_and_bounds() {
        let none = HashMap::<&str, &str>::new();
        assert_eq!(config_from_env(&none).unwrap(), ReconcileConfig::default());
        let env = |k: &'static str, v: &'static str| HashMap::from([(k, v)]);
        assert_eq!(config_from_env(&env("RECONCILE_LAG_MINUTES", "0")).unwrap().lag, time::Duration::ZERO);
        for (k, v) in
            [("RECONCILE_CONCURRENCY", "0"), ("RECONCILE_DAILY_WINDOW_DAYS", "401"), ("RECONCILE_PAGE_SIZE", "x")]
        {
            let err = config_from_env(&env(k, v)).unwrap_err().to_string();
            assert!(err.contains(k), "{err}");
        }
    }

    #[test]
    fn the_deadline_keeps_a_margin() {
        let d = work_deadline(1_764_000_000_000);
        assert_eq!(d.unix_timestamp(), 1_764_000_000 - 60);
    }
}
