//! JSON bodies of the dashboard API. Money is always a decimal string in USD.

use adapters::store::{BonusRecord, ReferrerKpis};
use serde_json::{json, Value};

/// `GET /referrals/kpis`.
pub fn kpis_body(kpis: &ReferrerKpis) -> Value {
    json!({
        "currency": "USD",
        "total_earned": kpis.total_earned.to_string(),
        "earned_last_30_days": kpis.earned_in_window.to_string(),
        "signups": kpis.signups,
        "active_referred_users": kpis.active_referred_users,
        "clicks": kpis.clicks,
    })
}

/// One row of `GET /referrals/history` (what a referrer may see: no referred-user ids).
pub fn history_item(record: &BonusRecord) -> Value {
    json!({
        "payment_id": record.source_payment_id,
        "created_at": record.created_at,
        "topup_amount": record.topup_amount,
        "rate": record.rate,
        "bonus_amount": record.bonus_amount,
        "status": record.status,
        "reason": record.reason,
    })
}
