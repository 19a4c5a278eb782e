//! The single-table key layout — the one place that knows how items are addressed.
//!
//! | item                      | PK                          | SK              | GSI1 (moderation)                | GSI2 (history)                      |
//! |---------------------------|-----------------------------|-----------------|----------------------------------|-------------------------------------|
//! | referral code             | `CODE#<code>`               | `CODE`          |                                  |                                     |
//! | user profile              | `USER#<user_id>`            | `PROFILE`       |                                  |                                     |
//! | referrer aggregates       | `USER#<user_id>`            | `STATS`         |                                  |                                     |
//! | referrer earnings per day | `USER#<user_id>`            | `DAY#<yyyy-mm-dd>` |                               |                                     |
//! | bonus (one per payment)   | `BONUS#ref:auto:<payment>`  | `BONUS`         | `STATUS#<pending/failed>`, `<created_at>#<payment>` | `REFERRER#<id>`, `<created_at>#<payment>` |
//! | payment uniqueness        | `PAYMENT#<payment>`         | `PAYMENT`       |                                  |                                     |
//!
//! GSI1 is sparse: only bonuses a human may need to act on (`pending`, `failed`) carry its
//! keys, so the moderation list never wades through credited history.

use crate::domain::{BonusStatus, PaymentId, RefCode, UserId};

pub const PK: &str = "PK";
pub const SK: &str = "SK";
pub const GSI1: &str = "GSI1";
pub const GSI1PK: &str = "GSI1PK";
pub const GSI1SK: &str = "GSI1SK";
pub const GSI2: &str = "GSI2";
pub const GSI2PK: &str = "GSI2PK";
pub const GSI2SK: &str = "GSI2SK";

pub const SK_CODE: &str = "CODE";
pub const SK_PROFILE: &str = "PROFILE";
pub const SK_STATS: &str = "STATS";
pub const SK_BONUS: &str = "BONUS";
pub const SK_PAYMENT: &str = "PAYMENT";

pub fn code_pk(code: &RefCode) -> String {
    format!("CODE#{code}")
}

pub fn user_pk(user: &UserId) -> String {
    format!("USER#{user}")
}

/// `DAY#2026-11-25` — `day` is the date part of an RFC 3339 timestamp.
pub fn day_sk(day: &str) -> String {
    format!("DAY#{day}")
}

pub fn bonus_pk(payment: &PaymentId) -> String {
    format!("BONUS#ref:auto:{payment}")
}

pub fn payment_pk(payment: &PaymentId) -> String {
    format!("PAYMENT#{payment}")
}

pub fn status_gsi_pk(status: BonusStatus) -> String {
    format!("STATUS#{status}")
}

pub fn referrer_gsi_pk(referrer: &UserId) -> String {
    format!("REFERRER#{referrer}")
}

/// Sort key shared by both bonus indexes: time first, payment id to break ties.
pub fn bonus_gsi_sk(created_at: &str, payment: &PaymentId) -> String {
    format!("{created_at}#{payment}")
}
