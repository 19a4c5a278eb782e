//! Domain rules in plain Rust (no AWS types): codes, money, ids, and the referral rules.

pub mod api_key;
pub mod campaign;
pub mod code;
pub mod history_csv;
pub mod history_filter;
pub mod ids;
pub mod ip;
pub mod leaderboard;
pub mod money;
pub mod partner_webhook;
pub mod signature;
pub mod stats;
pub mod tiers;

pub use crate::bonus::{BonusPolicy, BonusStatus, Decision, HoldReason, TopupContext, MAX_HOLDING_DAYS};
pub use api_key::{ApiKeyId, Scope, Scopes};
pub use campaign::CampaignName;
pub use code::{RefCode, RefCodeError};
pub use ids::{IdError, PaymentId, UserId};
pub use money::{MoneyError, Rate, Usd};
pub use partner_webhook::PartnerEventType;
pub use tiers::{month_of, RateTier, RateTiers, TierError, VolumeBand};
