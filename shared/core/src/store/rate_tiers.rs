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

impl ReferrerSnapshot {
    /// The copy a referred user keeps of this snapshot (see `ReferrerCtx`).
    /// `band`: the tier band the month's volume was in (when the tiers decided the rate).
    pub fn ctx(
        &self,
        referrer: &crate::domain::UserId,
        month: &str,
        band: Option<crate::domain::VolumeBand>,
    ) -> crate::store::ReferrerCtx {
        let profile = self.profile.as_ref();
        crate::store::ReferrerCtx {
            referrer_id: referrer.clone(),
            ctx_version: profile.map(|p| p.ctx_version).unwrap_or(0),
            rate_override: profile.and_then(|p| p.rate_override),
            webhook_events: profile.map(|p| p.webhook_events.clone()).unwrap_or_default(),
            band_month: band.map(|_| month.to_string()),
            band_from: band.and_then(|b| b.from),
        }
    }

    /// The snapshot a repeat top-up may use instead of reading the referrer: the payer's
    /// copy (`ReferrerCtx`), if it is about `referrer`. Its month volume is only a guess (the
    /// low end of the band last seen this month): the band condition of the write checks it.
    pub fn from_ctx(ctx: &crate::store::ReferrerCtx, referrer: &crate::domain::UserId, month: &str) -> Option<Self> {
        if &ctx.referrer_id != referrer {
            return None;
        }
        let profile = crate::store::UserProfile {
            rate_override: ctx.rate_override,
            webhook_events: ctx.webhook_events.clone(),
            ctx_version: ctx.ctx_version,
            ..crate::store::UserProfile::new(referrer.clone(), String::new())
        };
        let month_volume = match ctx.band_month.as_deref() {
            Some(m) if m == month => ctx.band_from.unwrap_or(Usd::ZERO),
            _ => Usd::ZERO,
        };
        Some(Self { profile: Some(profile), month_volume })
    }
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
