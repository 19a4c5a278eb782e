//! JSON views of bonuses for the admin API (everything an admin needs to decide).

use adapters::http::Response;
use adapters::ApiError;
use axum::response::IntoResponse;
use lambda_http::http::StatusCode;
use referral_core::bonus::{Bonus, BonusStatus};
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

/// What one moderation decision came to (the `outcome` of the answer and of a bulk result).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Credited,
    /// Approved and settled without a credit (nothing left to pay after refunds).
    Settled,
    CreditFailed,
    Rejected,
    NotFound,
    NotOpen,
}

impl Outcome {
    pub fn of(outcome: &ModerationOutcome) -> Self {
        match outcome {
            ModerationOutcome::Approved(b) if b.status == BonusStatus::Credited => Outcome::Credited,
            ModerationOutcome::Approved(_) => Outcome::Settled,
            ModerationOutcome::ApprovedButFailed { .. } => Outcome::CreditFailed,
            ModerationOutcome::Rejected(_) => Outcome::Rejected,
            ModerationOutcome::NotFound => Outcome::NotFound,
            ModerationOutcome::NotOpen(_) => Outcome::NotOpen,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Credited => "credited",
            Outcome::Settled => "settled",
            Outcome::CreditFailed => "credit_failed",
            Outcome::Rejected => "rejected",
            Outcome::NotFound => "not_found",
            Outcome::NotOpen => "not_open",
        }
    }
}

/// The answer to one decision: 200 with the bonus; 404 (`bonus_not_found`) and 409
/// (`already_decided`, with the bonus as it stands) in the error envelope.
pub fn decision(outcome: &ModerationOutcome) -> Response {
    let label = Outcome::of(outcome).as_str();
    match outcome {
        ModerationOutcome::Approved(b) | ModerationOutcome::Rejected(b) => {
            adapters::http::json(StatusCode::OK, &json!({ "outcome": label, "bonus": bonus(b) }))
        }
        ModerationOutcome::ApprovedButFailed { bonus: b, error } => adapters::http::json(
            StatusCode::OK,
            &json!({
                "outcome": label,
                "message": "approved, but Wellflow failed; the bonus is failed and will be retried",
                "error": error,
                "retry_scheduled": b.next_move().is_some(),
                "bonus": bonus(b),
            }),
        ),
        ModerationOutcome::NotFound => {
            ApiError::not_found("bonus_not_found", "no bonus for this payment id").into_response()
        }
        ModerationOutcome::NotOpen(r) => adapters::http::json(
            StatusCode::CONFLICT,
            &json!({
                "error": { "code": "already_decided", "message": format!("bonus is already {}; nothing changed", r.status) },
                "bonus": bonus(r),
            }),
        ),
    }
}
