//! The records the store reads and writes (serde ↔ DynamoDB items via `serde_dynamo`).
//! Money is stored as exact decimal strings; key attributes are added by the store.

use serde::{Deserialize, Serialize};

use crate::domain::{PartnerEventType, PaymentId, Rate, RefCode, Usd, UserId};

/// A user as the referral program knows them — as a referrer and as a referred user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserProfile {
    pub user_id: UserId,
    /// RFC 3339 creation time of this record.
    pub created_at: String,
    /// The user's own referral code, once created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<RefCode>,

    // --- as a referred user -------------------------------------------------------------
    /// Who referred this user (permanent; only an audited admin re-attribution changes it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referrer_id: Option<UserId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referrer_code: Option<RefCode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attributed_at: Option<String>,
    /// Signed up from the referrer's own IP: every bonus for this user is held for review.
    #[serde(default)]
    pub same_ip: bool,
    /// Keyed hash of the signup IP (never the IP itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signup_ip_hash: Option<String>,
    /// The payment that was this user's first bonus-earning top-up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_topup_payment_id: Option<PaymentId>,
    /// UTC day (`yyyy-mm-dd`) of this user's latest bonus-earning top-up, and the referrer
    /// whose "active referred users" counter it was booked to (see `keys` / KPIs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_topup_day: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_for: Option<UserId>,

    // --- as a referrer ------------------------------------------------------------------
    /// Individual rate set by an admin; wins over the default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_override: Option<Rate>,
    /// Unix seconds of recent first-time top-ups of this referrer's users (velocity window).
    #[serde(default)]
    pub first_topups: Vec<i64>,
    /// Optimistic-concurrency version of `first_topups`.
    #[serde(default)]
    pub velocity_version: u64,
    /// Opt-in name shown on the leaderboard (`domain::leaderboard::PublicName`); absent =
    /// a masked pseudonym is shown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_name: Option<String>,
    /// Partner webhook events this referrer subscribed to (mirrors the `WEBHOOK` item,
    /// written in the same transaction), so the top-up path knows without another read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub webhook_events: Vec<PartnerEventType>,
    /// Version of what a top-up needs from this referrer (`rate_override`, `webhook_events`):
    /// bumped by every change of either, so a copy of them elsewhere can be checked.
    #[serde(default)]
    pub ctx_version: u64,

    // --- as a referred user, again: a copy of the referrer's context --------------------
    /// What the last top-up learnt about the referrer (see [`ReferrerCtx`]). A repeat top-up
    /// uses it instead of reading the referrer, and its transaction checks the referrer's
    /// `ctx_version` still matches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referrer_ctx: Option<ReferrerCtx>,
}

impl UserProfile {
    /// A profile with nothing known yet but its user and creation time.
    pub fn new(user_id: UserId, created_at: String) -> Self {
        Self {
            user_id,
            created_at,
            code: None,
            referrer_id: None,
            referrer_code: None,
            attributed_at: None,
            same_ip: false,
            signup_ip_hash: None,
            first_topup_payment_id: None,
            last_topup_day: None,
            active_for: None,
            rate_override: None,
            first_topups: Vec::new(),
            velocity_version: 0,
            public_name: None,
            webhook_events: Vec::new(),
            ctx_version: 0,
            referrer_ctx: None,
        }
    }
}

/// A referred user's copy of what a top-up needs from their referrer. Only what changes
/// rarely (rate override and partner subscriptions, guarded by `ctx_version`), plus the tier
/// band the referrer's month volume was last seen in (guarded by the band condition on the
/// volume). The velocity window is not copied: a first top-up always reads the referrer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReferrerCtx {
    pub referrer_id: UserId,
    pub ctx_version: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_override: Option<Rate>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub webhook_events: Vec<PartnerEventType>,
    /// `yyyy-mm` and the lower bound of the tier band the month's volume was last seen in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub band_month: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub band_from: Option<Usd>,
}

/// A referral code row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CodeRecord {
    pub code: RefCode,
    pub owner_id: UserId,
    /// Clicks on the link: the sum of the code's click shards (`keys::CLICK_SHARDS`), filled
    /// in on read. Not stored on the code row (`claim_code` leaves it out).
    #[serde(default)]
    pub clicks: u64,
    pub created_at: String,
}

/// A referrer's partner webhook endpoint (`USER#<id>` / `WEBHOOK`). The secret signs every
/// delivery, so it is stored (DynamoDB encrypts at rest) and only shown when created or rotated.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookEndpoint {
    pub user_id: UserId,
    pub url: String,
    pub events: Vec<PartnerEventType>,
    pub secret: String,
    pub created_at: String,
    pub updated_at: String,
    /// Optimistic-concurrency version, +1 per save.
    #[serde(default)]
    pub version: u64,
}

impl std::fmt::Debug for WebhookEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookEndpoint")
            .field("user_id", &self.user_id)
            .field("url", &self.url)
            .field("events", &self.events)
            .field("secret", &"redacted")
            .field("version", &self.version)
            .finish()
    }
}

/// One delivery attempt of a partner event (`USER#<id>` / `WEBHOOK#DELIVERY#…`, TTL `expires_at`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryRecord {
    pub event_id: String,
    pub event_type: PartnerEventType,
    pub payment_id: PaymentId,
    /// 1 for the first attempt.
    pub attempt: u32,
    pub at: String,
    /// The endpoint answered 2xx.
    pub delivered: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_code: Option<u16>,
    /// Transport error (timeout, connection refused, …) when there is no status code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub duration_ms: u64,
    /// Unix seconds; DynamoDB TTL deletes the row after that.
    pub expires_at: i64,
}
