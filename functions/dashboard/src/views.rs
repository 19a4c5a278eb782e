//! JSON bodies of the dashboard API. Money is always a decimal string in USD.

use adapters::store::ReferrerKpis;
use referral_core::bonus::Bonus;
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
/// `bonus_amount` is the bonus as computed on the top-up; `net_amount` what it is worth now
/// (after refunds and disputes; 0 when reversed) and `paid_amount` what Wellflow holds (summed
/// over all rows: the KPI total earned). `credited_at` is the day the earnings are booked to;
/// `release_at` when a bonus in its holding period is released.
pub fn history_item(bonus: &Bonus) -> Value {
    json!({
        "payment_id": bonus.source_payment_id,
        "created_at": bonus.created_at,
        "topup_amount": bonus.topup_amount,
        "rate": bonus.rate,
        "bonus_amount": bonus.bonus_amount,
        "net_amount": bonus.net_amount,
        "paid_amount": bonus.paid_amount,
        "refunded_amount": bonus.refunded_amount,
        "status": bonus.status,
        "reason": bonus.reason,
        "credited_at": bonus.credited_at,
        "release_at": bonus.release_at,
    })
}
