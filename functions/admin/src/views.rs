//! JSON views of bonuses for the admin API (everything an admin needs to decide).

use referral_core::bonus::Bonus;
use referral_core::usecases::moderation::ModerationOutcome;
use serde_json::{json, Value};

/// Everything an admin needs to decide, including the Wellflow moves with their keys.
pub fn bonus(b: &Bonus) -> Value {
    json!({
        "payment_id": b.source_payment_id,
        "bonus_key": b.bonus_key,
        "referrer_id": b.referrer_id,
        "referred_user_id": b.referred_user_id,
        "topup_amount": b.topup_amount,
        "rate": b.rate,
        "bonus_amount": b.bonus_amount,
        "net_amount": b.net_amount,
        "paid_amount": b.paid_amount,
        "refunded_amount": b.refunded_amount,
        "disputed_amount": b.disputed_amount,
        "status": b.status,
        "reason": b.reason,
        "review": b.review,
        "last_error": b.last_error,
        "attempts": b.attempts,
        "created_at": b.created_at,
        "updated_at": b.updated_at,
        "credited_at": b.credited_at,
        "release_at": b.release_at,
        "moves": b.ledger.moves(),
        "history": b.history,
    })
}

/// `(outcome label, HTTP status, body)` for one moderation decision.
pub fn outcome(outcome: &ModerationOutcome) -> (&'static str, u16, Value) {
    match outcome {
        ModerationOutcome::Approved(b) => {
            let label = if b.status == referral_core::bonus::BonusStatus::Credited { "credited" } else { "settled" };
            (label, 200, json!({ "outcome": label, "bonus": bonus(b) }))
        }
        ModerationOutcome::ApprovedButFailed { bonus: b, error } => {
            let retry_scheduled = b.next_move().is_some();
            (
                "credit_failed",
                200,
                json!({
                    "outcome": "credit_failed",
                    "message": "approved, but Wellflow failed; the bonus is failed and will be retried",
                    "error": error,
                    "retry_scheduled": retry_scheduled,
                    "bonus": bonus(b),
                }),
            )
        }
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
