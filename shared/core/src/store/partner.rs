//! Storage of the partner API: API keys (hashed at rest, revocable, rate-limited per key) and
//! campaign links with their click counts. DynamoDB implementation in
//! `dynamo/api_keys.rs` and `dynamo/campaigns.rs`; key layout in [`super::keys`].

use std::future::Future;

use serde::{Deserialize, Serialize};

use super::StoreError;
use crate::domain::{ApiKeyId, CampaignName, RefCode, UserId};

/// A stored API key. Holds the SHA-256 of the secret, never the secret itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiKeyRecord {
    pub key_id: ApiKeyId,
    pub owner_id: UserId,
    pub name: String,
    /// Scope names (`read`, `campaigns`); validated with `domain::Scopes` on use.
    pub scopes: Vec<String>,
    /// Hex SHA-256 of the secret (`domain::api_key::hash_secret`).
    pub secret_hash: String,
    /// `rk_live_<id>_abcd…` for listings.
    pub hint: String,
    pub created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
}

/// A key as its owner's listing shows it (the listing row stores exactly this: no hash).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiKeySummary {
    pub key_id: ApiKeyId,
    pub name: String,
    pub scopes: Vec<String>,
    pub hint: String,
    pub created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
}

impl ApiKeyRecord {
    pub fn summary(&self) -> ApiKeySummary {
        ApiKeySummary {
            key_id: self.key_id.clone(),
            name: self.name.clone(),
            scopes: self.scopes.clone(),
            hint: self.hint.clone(),
            created_at: self.created_at.clone(),
            revoked_at: self.revoked_at.clone(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreateKeyOutcome {
    Created,
    /// The user already has the maximum number of active keys: nothing written.
    LimitReached,
    /// The generated key id exists already (astronomically unlikely): draw again.
    IdTaken,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevokeOutcome {
    Revoked,
    /// Revoked before: nothing changed (revocation is idempotent).
    AlreadyRevoked,
    /// No such key, or it belongs to another user (indistinguishable on purpose).
    NotFound,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateOutcome {
    Allowed,
    /// The key used up its window's limit.
    Limited,
}

/// Partner API keys.
pub trait ApiKeys: Send + Sync {
    /// Stores a new key: the key item and the owner's listing row, in one transaction with
    /// the owner's active-key counter (conditional on fewer than `max_active`).
    fn create_api_key(
        &self,
        record: &ApiKeyRecord,
        max_active: u32,
    ) -> impl Future<Output = Result<CreateKeyOutcome, StoreError>> + Send;

    /// The key item (one strongly consistent `GetItem`), if it exists.
    fn api_key(&self, id: &ApiKeyId) -> impl Future<Output = Result<Option<ApiKeyRecord>, StoreError>> + Send;

    /// The user's keys, revoked ones included, ordered by key id.
    fn api_keys(&self, user: &UserId) -> impl Future<Output = Result<Vec<ApiKeySummary>, StoreError>> + Send;

    /// Revokes `user`'s key `id` at `at` (key item, listing row and counter in one transaction).
    fn revoke_api_key(
        &self,
        user: &UserId,
        id: &ApiKeyId,
        at: &str,
    ) -> impl Future<Output = Result<RevokeOutcome, StoreError>> + Send;

    /// Counts one request in the key's fixed window `minute`, refused once `limit` were counted.
    fn count_key_request(
        &self,
        id: &ApiKeyId,
        minute: i64,
        limit: u32,
        expires_at: i64,
    ) -> impl Future<Output = Result<RateOutcome, StoreError>> + Send;
}

/// A campaign link and its clicks.
#[derive(Debug, Clone, PartialEq)]
pub struct CampaignStats {
    pub name: CampaignName,
    pub created_at: String,
    pub clicks: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CampaignOutcome {
    Created,
    /// The code already has a campaign of that name: nothing written.
    Exists,
    /// The code has the maximum number of campaigns: nothing written.
    LimitReached,
}

/// Campaign links of a referral code.
pub trait Campaigns: Send + Sync {
    /// Registers `name` for `user`'s `code`: the listing row and a zero counter on every
    /// click shard, in one transaction with the code's campaign count (≤ `max`).
    fn create_campaign(
        &self,
        user: &UserId,
        code: &RefCode,
        name: &CampaignName,
        at: &str,
        max: u32,
    ) -> impl Future<Output = Result<CampaignOutcome, StoreError>> + Send;

    /// The user's campaigns with their clicks summed over the code's shards, by name.
    fn campaigns(
        &self,
        user: &UserId,
        code: &RefCode,
    ) -> impl Future<Output = Result<Vec<CampaignStats>, StoreError>> + Send;
}
