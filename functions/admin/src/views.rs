//! JSON views of bonuses for the admin API (everything an admin needs to decide).

use adapters::billing::moderation::ModerationOutcome;
use adapters::store::BonusRecord;
use serde_json::{json, Value};

pub fn bonus(record: &BonusRecord) -> Value {
    json!({
        "payment_id": record.source_payment_id,
        "bonus_key": record.bonus_key,
        "referrer_id": record.referrer_id,
        "referred_user_id": record.referred_user_id,
        "topup_amount": record.topup_amount,
        "rate": record.rate,
        "bonus_amount": record.bonus_amount,
        "status": record.status,
        "reason": record.reason,
        "last_error": record.last_error,
        "attempts": record.attempts,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
        "history": record.history,
    })
}

/// `(outcome label, HTTP status, body)` for one moderation decision.
pub fn outcome(outcome: &ModerationOutcome) -> (&'static str, u16, Value) {
    match outcome {
        ModerationOutcome::Credited(r) => ("credited", 200, json!({ "outcome": "credited", "bonus": bonus(r) })),
        ModerationOutcome::CreditFailed { record, error, retry_scheduled } => (
            "credit_failed",
            200,
            json!({
                "outcome": "credit_failed",
                "message": "approved, but Wellflow failed; the bonus is failed again and will be retried",
                "error": error,
                "retry_scheduled": retry_scheduled,
                "bonus": bonus(record),
            }),
        ),
        ModerationOutcome::Rejected(r) => ("rejected", 200, json!({ "outcome": "rejected", "bonus": bonus(r) })),
        ModerationOutcome::NotFound => (
            "not_found",
            404,
            json!({ "error": { "code": "bonus_not_found", "message": "no bonus for this payment id" } }),
        ),
        ModerationOutcome::NotOpen(r) => (
            "not_open",
            409,
            json!({
                "error": { "code": "already_decided", "message": format!("bonus is already {}; nothing changed", r.status) },
                "bonus": bonus(r),
            }),
        ),
    }
}
