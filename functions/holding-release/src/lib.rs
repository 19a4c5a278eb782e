//! Scheduled release of held bonuses (EventBridge, every 15 minutes): every bonus whose
//! holding period has passed (`release_at <= now`) is credited through Wellflow, at most
//! `HOLDING_RELEASE_MAX_ROWS` per run (default 200; the next run continues). The logic is
//! `referral_core::usecases::holding`; "now" is a parameter so tests never sleep.

use adapters::billing::{Billing, BillingError};
use adapters::config::{self, ConfigError, Source};
use referral_core::ports::Ledger;
use referral_core::store::{HoldingQueries, Payments};
use referral_core::usecases::holding::{self, ReleaseReport};
use time::OffsetDateTime;

/// Hard cap of `HOLDING_RELEASE_MAX_ROWS`: one run must finish well inside its timeout.
pub const MAX_ROWS_LIMIT: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReleaseConfig {
    pub max_rows: usize,
}

impl ReleaseConfig {
    pub fn from_env(src: &dyn Source) -> Result<Self, ConfigError> {
        let max_rows: usize = config::parsed_or(src, "HOLDING_RELEASE_MAX_ROWS", holding::DEFAULT_MAX_ROWS)?;
        if max_rows == 0 || max_rows > MAX_ROWS_LIMIT {
            return Err(ConfigError::Invalid {
                key: "HOLDING_RELEASE_MAX_ROWS",
                reason: format!("must be 1 to {MAX_ROWS_LIMIT}, got {max_rows}"),
            });
        }
        Ok(Self { max_rows })
    }
}

/// One scheduled run at `now`; the JSON is the invocation's result (also logged).
pub async fn run<S, L>(
    billing: &Billing<S, L>,
    cfg: &ReleaseConfig,
    now: OffsetDateTime,
) -> Result<serde_json::Value, BillingError>
where
    S: Payments + HoldingQueries,
    L: Ledger,
{
    let ReleaseReport { due_seen, credited, credit_failed, skipped, more_due } =
        Box::pin(holding::release_due(billing, now, cfg.max_rows)).await?;
    Ok(serde_json::json!({
        "due_seen": due_seen,
        "credited": credited,
        "credit_failed": credit_failed,
        "skipped": skipped,
        "more_due": more_due,
    }))
}

/// Read from Secrets Manager at cold start (`WELLFLOW_API_KEY_SECRET_ARN` in the environment).
pub const SECRETS: &[adapters::secrets::Secret] = &[adapters::secrets::Secret::text("WELLFLOW_API_KEY")];

/// What a cold start builds: billing (store + Wellflow) and the release settings.
pub struct App {
    pub billing: adapters::billing::LiveBilling,
    pub cfg: ReleaseConfig,
}

impl App {
    /// Everything `main` builds, from the environment and the SDK config (secrets read first).
    pub async fn from_env(env: &dyn Source, sdk: &adapters::aws::SdkConfig) -> Result<Self, config::InitError> {
        let env = adapters::secrets::load(&adapters::aws::secretsmanager(sdk), env, SECRETS).await?;
        Ok(Self {
            billing: adapters::billing::settings::billing_from_env(&env, sdk)?,
            cfg: ReleaseConfig::from_env(&env)?,
        })
    }

    /// One scheduled run at `now`.
    pub async fn handle(&self, now: OffsetDateTime) -> Result<serde_json::Value, BillingError> {
        run(&self.billing, &self.cfg, now).await
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn max_rows_is_bounded() {
        let env = |v: &'static str| HashMap::from([("HOLDING_RELEASE_MAX_ROWS", v)]);
        assert_eq!(ReleaseConfig::from_env(&HashMap::<&str, &str>::new()).unwrap().max_rows, 200);
        assert_eq!(ReleaseConfig::from_env(&env("50")).unwrap().max_rows, 50);
        assert!(ReleaseConfig::from_env(&env("0")).is_err());
        assert!(ReleaseConfig::from_env(&env("1001")).is_err());
    }
}
