//! The single-table key layout — the one place that knows how items are addressed.
//!
//! | item                | PK                     | SK              | notes                                  |
//! |---------------------|------------------------|-----------------|----------------------------------------|
//! | referral code       | `CODE#<code>`          | `CODE`          | owner, `clicks` counter                |
//! | user profile        | `USER#<user_id>`       | `PROFILE`       | own code, attribution, rate override   |
//!
//! Later items (bonuses, payment uniqueness, aggregates) add their rows here too.
//! Attribute names used in expressions are constants below, so a typo cannot drift.

use crate::domain::{RefCode, UserId};

pub const PK: &str = "PK";
pub const SK: &str = "SK";

pub const SK_CODE: &str = "CODE";
pub const SK_PROFILE: &str = "PROFILE";

pub fn code_pk(code: &RefCode) -> String {
    format!("CODE#{code}")
}

pub fn user_pk(user: &UserId) -> String {
    format!("USER#{user}")
}
