//! Storage contracts of the rate-tier table (admin-edited config item), the per-referrer
//! month volume it is keyed by, and the holding-period queue.

use std::future::Future;

use serde::{Deserialize, Serialize};

use crate::bonus::Bonus;
use crate::domain::{RateTiers, Usd};
use crate::store::{Page, QueryError, StoreError, UserProfile};

/// The stored rate-tier item (`PK=CONFIG, SK=RATE_TIERS`). The item is never deleted:
/// "back to the flat default" removes `tiers` and bumps `version`, so versions only grow
/// and a stale `expected_version` can never match again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RateTierConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tiers: Option<RateTiers>,
    pub version: u64,
    pub updated_by: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum PutTiersOutcome {
    Stored(RateTierConfig),
    /// `expected_version` did not match; `current` is the version stored now (0 = none).
    VersionConflict {
        current: u64,
    },
}

/// The referrer as a top-up sees them: profile + the month's referred volume so far.
#[derive(Debug, Clone, PartialEq)]
pub struct ReferrerSnapshot {
    pub profile: Option<UserProfile>,
    pub month_volume: Usd,
}

/// The admin-edited rate-tier table.
pub trait RateTierConfigs: Send + Sync {
    /// The stored item (with or without tiers), if it was ever written.
    fn rate_tier_config(&self) -> impl Future<Output = Result<Option<RateTierConfig>, StoreError>> + Send;

    /// Stores `tiers` (`None` = back to the flat default), bumping the version. With
    /// `expected_version` the write is conditional on it (0 = never written).
    fn put_rate_tiers(
        &self,
        tiers: Option<&RateTiers>,
        expected_version: Option<u64>,
        actor: &str,
        at: &str,
    ) -> impl Future<Output = Result<PutTiersOutcome, StoreError>> + Send;
}

/// Bonuses waiting out their holding period (sparse GSI1 partition `HOLDING`).
pub trait HoldingQueries: Send + Sync {
    /// Holding bonuses with `release_at <= due_by`, oldest release first.
    fn list_due_holding(
        &self,
        due_by: &str,
        limit: i32,
        cursor: Option<&str>,
    ) -> impl Future<Output = Result<Page<Bonus>, QueryError>> + Send;
}
