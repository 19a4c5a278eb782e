//! Domain rules in plain Rust (no AWS types): codes, money, ids, and the referral rules.

pub mod bonus;
pub mod code;
pub mod ids;
pub mod ip;
pub mod money;
pub mod signature;
pub mod tiers;

pub use bonus::{BonusPolicy, BonusStatus, Decision, HoldReason, TopupContext, MAX_HOLDING_DAYS};
pub use code::{RefCode, RefCodeError};
pub use ids::{IdError, PaymentId, UserId};
pub use money::{MoneyError, Rate, Usd};
pub use tiers::{month_of, RateTier, RateTiers, TierError, VolumeBand};
