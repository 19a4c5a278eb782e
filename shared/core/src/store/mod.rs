//! Storage: the traits the functions depend on, the records they exchange, and the errors.
//!
//! The production implementation is `adapters::store::DynamoStore` (DynamoDB, single
//! table); the end-to-end tests run it against moto server.

pub mod admin_views;
pub mod insights;
pub mod partner;
pub mod payments;
pub mod rate_tiers;
pub mod reconcile;
pub mod records;

use std::future::Future;

use crate::bonus::Bonus;
use crate::domain::{BonusStatus, Rate, RefCode, UserId};

pub use admin_views::{AdminViews, AuditEntry, ReferrerTotals, UserAdminView};
pub use insights::{HistoryQueries, StatsQueries, StatsReadout, MAX_HISTORY_PAGE};
pub use partner::{ApiKeys, Campaigns};
pub use payments::{Commit, CommitOutcome, PaymentSnapshot, Payments, UnsettledQueries};
pub use rate_tiers::{HoldingQueries, PutTiersOutcome, RateTierConfig, RateTierConfigs, ReferrerSnapshot};
pub use reconcile::{ActiveReferrer, Findings, PassKind, PassState, Reconciliation};
pub use records::{CodeRecord, DeliveryRecord, ReferrerCtx, UserProfile, WebhookEndpoint};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Network failure, throttling or a DynamoDB 5xx: the whole operation is safe to retry.
    #[error("DynamoDB unavailable ({0}); nothing was half-written, retry the operation")]
    Unavailable(String),
    /// DynamoDB refused the request itself (validation, missing table, access denied):
    /// a bug or wrong configuration (TABLE_NAME, IAM policy), not worth retrying blindly.
    #[error("DynamoDB rejected the request ({0}); check TABLE_NAME and the function's IAM policy")]
    Rejected(String),
    /// An item that does not match the schema this code expects (a bug or a bad migration).
    #[error("stored item {key} is malformed: {reason}")]
    Corrupt { key: String, reason: String },
    /// Code generation kept colliding: the code space is nearly full (alert, widen codes).
    #[error("no free referral code after {0} attempts; the code space may be nearly full")]
    CodeSpaceExhausted(u32),
}

/// The result of counting a click on a referral link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClickOutcome {
    /// The code exists and its click counter was incremented.
    Counted,
    /// No such code: nothing was written.
    UnknownCode,
}

/// The result of trying to give a user a specific code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimOutcome {
    Claimed,
    /// Another user owns this code already.
    CodeTaken,
    /// The user already has a code (returned); codes never change.
    UserHasCode(RefCode),
}

/// Referral codes and their click counters.
pub trait Codes: Send + Sync {
    /// Counts one click if the code exists: a single conditional `UpdateItem` on one of the
    /// code's click shards (`keys::CLICK_SHARDS`).
    fn record_click(&self, code: &RefCode) -> impl Future<Output = Result<ClickOutcome, StoreError>> + Send;

    /// Counts one click for `code` and, if the campaign is registered for the code, for
    /// `campaign` too (one conditional `UpdateItem` on DynamoDB). An unregistered campaign
    /// still counts the click, without a campaign. Stores without campaigns count the click.
    fn record_campaign_click(
        &self,
        code: &RefCode,
        campaign: &crate::domain::CampaignName,
    ) -> impl Future<Output = Result<ClickOutcome, StoreError>> + Send {
        let _ = campaign;
        self.record_click(code)
    }

    /// The code row with `clicks` summed over its shards, if the code exists.
    fn code(&self, code: &RefCode) -> impl Future<Output = Result<Option<CodeRecord>, StoreError>> + Send;

    /// Who owns the code, if it exists — without reading the click shards (signup
    /// attribution needs the owner only: one `GetItem` on DynamoDB).
    fn code_owner(&self, code: &RefCode) -> impl Future<Output = Result<Option<UserId>, StoreError>> + Send {
        async move { Ok(self.code(code).await?.map(|record| record.owner_id)) }
    }
}

/// Users and their own referral code.
pub trait Users: Send + Sync {
    fn user(&self, user: &UserId) -> impl Future<Output = Result<Option<UserProfile>, StoreError>> + Send;

    /// Gives `user` exactly `code` (seeding, vanity codes). Conditional on both sides:
    /// the code must be free and the user must not have a code yet.
    fn claim_code(&self, user: &UserId, code: RefCode)
        -> impl Future<Output = Result<ClaimOutcome, StoreError>> + Send;

    /// The user's referral code, created on the first call and the same forever after.
    /// Code uniqueness is a conditional put on the code row; collisions are retried.
    fn ensure_code(&self, user: &UserId) -> impl Future<Output = Result<RefCode, StoreError>> + Send;
}

/// A signup to attribute to a referrer.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAttribution {
    pub user: UserId,
    pub referrer: UserId,
    pub code: RefCode,
    pub same_ip: bool,
    pub signup_ip_hash: String,
    pub at: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum AttributionOutcome {
    Attributed,
    /// The user was attributed before (maybe to someone else); attribution never changes.
    AlreadyAttributed(Box<UserProfile>),
}

/// Signup attribution.
pub trait Attributions: Send + Sync {
    /// Records who referred `user`: conditional on no referrer yet; counts the signup.
    fn attribute(&self, new: &NewAttribution) -> impl Future<Output = Result<AttributionOutcome, StoreError>> + Send;

    /// Remembers a signup without referral (its IP hash feeds the `same_ip` rule later).
    fn record_signup(
        &self,
        user: &UserId,
        signup_ip_hash: &str,
        at: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// One page of a listing, newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Opaque; absent on the last page.
    pub next_cursor: Option<String>,
}

/// Bonus listings: the moderation queue (by status) and a referrer's history.
pub trait BonusQueries: Send + Sync {
    /// Bonuses with `status` (`pending` awaiting moderation, or `failed`), newest first.
    fn list_by_status(
        &self,
        status: BonusStatus,
        limit: i32,
        cursor: Option<&str>,
    ) -> impl Future<Output = Result<Page<Bonus>, QueryError>> + Send;

    /// Every bonus of a referrer, newest first (GSI2).
    fn list_by_referrer(
        &self,
        referrer: &UserId,
        limit: i32,
        cursor: Option<&str>,
    ) -> impl Future<Output = Result<Page<Bonus>, QueryError>> + Send;
}

/// A pagination cursor that this store did not hand out (or that points elsewhere).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid cursor: pass back the next_cursor of the previous page unchanged")]
pub struct CursorError;

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error(transparent)]
    Cursor(#[from] CursorError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// An admin's change to a referrer or a referred user (audited on the profile).
#[derive(Debug, Clone, PartialEq)]
pub struct AdminChange {
    pub actor: String,
    pub at: String,
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ReattributeOutcome {
    Reattributed {
        from: Option<UserId>,
    },
    UnknownUser,
    /// The attribution changed while we were deciding; try again.
    Conflict,
}

/// Admin changes to referrers and attributions.
pub trait ReferrerAdmin: Send + Sync {
    /// Sets (or clears) a referrer's individual rate. `Ok(false)` if the user is unknown.
    fn set_rate_override(
        &self,
        user: &UserId,
        rate: Option<Rate>,
        change: &AdminChange,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Moves a referred user to another referrer; future bonuses follow, past ones stay.
    fn reattribute(
        &self,
        user: &UserId,
        to: &UserId,
        to_code: RefCode,
        change: &AdminChange,
    ) -> impl Future<Output = Result<ReattributeOutcome, StoreError>> + Send;
}

/// A referrer's dashboard numbers, read from write-time aggregates (constant cost).
#[derive(Debug, Clone, PartialEq)]
pub struct ReferrerKpis {
    pub code: Option<RefCode>,
    pub total_earned: rust_decimal::Decimal,
    pub earned_in_window: rust_decimal::Decimal,
    pub signups: i64,
    pub active_referred_users: i64,
    pub clicks: u64,
    /// Items DynamoDB returned for this call (bounded by the window length, never by history).
    pub items_read: usize,
}

/// The dashboard's aggregate reads.
pub trait Dashboard: Send + Sync {
    /// KPIs over the `window_days` UTC days ending with `today` (`yyyy-mm-dd` strings).
    fn referrer_kpis(
        &self,
        user: &UserId,
        window_start: &str,
        today: &str,
    ) -> impl Future<Output = Result<ReferrerKpis, StoreError>> + Send;
}

/// One leaderboard entry as stored: who (never shown as such), the score, the opt-in name.
#[derive(Debug, Clone, PartialEq)]
pub struct LeaderboardEntry {
    pub user: UserId,
    /// Credited minus reversed earnings on this board (> 0).
    pub earned: rust_decimal::Decimal,
    pub public_name: Option<String>,
}

/// A page of a board, best first; `next` = where the following page starts.
#[derive(Debug, Clone, PartialEq)]
pub struct LeaderboardPage {
    pub entries: Vec<LeaderboardEntry>,
    pub next: Option<BoardPosition>,
}

/// Where a listing of a board stands. A board is spread over several index partitions
/// (shards, by referrer); the position says, per shard, after which entry the next page
/// starts (shards not named start from the top).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BoardPosition {
    pub shards: std::collections::BTreeMap<u32, ShardMark>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShardMark {
    /// Continue after this entry (user and score).
    After { user: UserId, score: rust_decimal::Decimal },
    /// Nothing left in this shard.
    Done,
}

/// A referrer's own standing on a board.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Standing {
    pub earned: rust_decimal::Decimal,
    /// 1 + referrers with a strictly higher score; `None` if nothing earned on this board.
    pub rank: Option<u64>,
}

/// The referrer leaderboards (GSI3, maintained at write time by `Bonuses::transition`) and
/// the opt-in public name. `scope` is `all` or a UTC month `yyyy-mm` (`domain::leaderboard::Board`).
pub trait Leaderboard: Send + Sync {
    /// Up to `limit` entries with a positive score, best first, starting at `after` (the
    /// previous page's `next`).
    fn leaderboard_page(
        &self,
        scope: &str,
        limit: i32,
        after: Option<&BoardPosition>,
    ) -> impl Future<Output = Result<LeaderboardPage, StoreError>> + Send;

    /// `user`'s score and rank: one `GetItem` + `Select=COUNT` queries over the referrers above.
    fn standing(&self, scope: &str, user: &UserId) -> impl Future<Output = Result<Standing, StoreError>> + Send;

    /// Sets (`Some`) or removes (`None`) the profile's `public_name`.
    fn set_public_name(&self, user: &UserId, name: Option<&str>)
        -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// The result of writing a partner webhook endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaveOutcome {
    Saved,
    /// Created concurrently, changed since it was read, or deleted meanwhile: re-read.
    Conflict,
}

/// Partner webhooks: the endpoint a referrer registered and its delivery log.
pub trait PartnerWebhooks: Send + Sync {
    fn webhook_endpoint(
        &self,
        user: &UserId,
    ) -> impl Future<Output = Result<Option<WebhookEndpoint>, StoreError>> + Send;

    /// Writes `endpoint` — a create when `expected_version` is `None` (must not exist), else a
    /// replace of the version that was read — and mirrors its events onto the user's profile
    /// (`webhook_events`), in one transaction.
    fn save_webhook_endpoint(
        &self,
        endpoint: &WebhookEndpoint,
        expected_version: Option<u64>,
    ) -> impl Future<Output = Result<SaveOutcome, StoreError>> + Send;

    /// Deletes the endpoint and clears the profile's `webhook_events` in one transaction.
    /// `Ok(false)` if there was none. Delivery rows stay until their TTL.
    fn delete_webhook_endpoint(&self, user: &UserId) -> impl Future<Output = Result<bool, StoreError>> + Send;

    fn record_delivery(
        &self,
        user: &UserId,
        delivery: &DeliveryRecord,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The delivery log, newest first.
    fn list_deliveries(
        &self,
        user: &UserId,
        limit: i32,
        cursor: Option<&str>,
    ) -> impl Future<Output = Result<Page<DeliveryRecord>, QueryError>> + Send;
}
