//! Payment webhook Lambda: `POST /webhooks/payments` from the payment provider.
//!
//! Signature first (`X-Signature: t=…,v1=…`, over the raw body), then validation into the
//! core's `PaymentEvent`, then `referral_core::usecases::payment_events`. Answers: 200 for
//! every event we took responsibility for (including duplicates, events that change nothing,
//! and a Wellflow failure — the row is `failed` and retried by us; the provider must not
//! retry our internal failure); 4xx for the caller's mistakes, nothing written; 503 when
//! DynamoDB is unavailable, so the provider retries.

pub mod event;
pub mod stripe;

use adapters::billing::{Billing, BillingError};
use adapters::config::{self, ConfigError, Source};
use adapters::domain::signature;
use adapters::ApiError;
use lambda_http::http::StatusCode;
use lambda_http::{http, Body, Request, Response};
use referral_core::bonus::{Bonus, BonusStatus, FailureKind, MoveKind};
use referral_core::ports::Ledger;
use referral_core::store::Payments;
use referral_core::usecases::payment_events::{handle_payment_event, EventOutcome};
use serde_json::json;

pub use event::{parse, PaymentEvent};

/// Largest body we read: provider events are ~300 bytes.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

#[derive(Clone)]
pub struct WebhookConfig {
    pub secrets: Vec<String>,
    pub tolerance_secs: i64,
}

impl std::fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "WebhookConfig {{ secrets: [{} redacted], tolerance_secs: {} }}",
            self.secrets.len(),
            self.tolerance_secs
        )
    }
}

impl WebhookConfig {
    pub fn from_env(src: &dyn Source) -> Result<Self, ConfigError> {
        Ok(Self {
            secrets: config::secrets(
                src,
                "WEBHOOK_SECRETS",
                "the payment provider's signing secret(s), comma-separated during rotation",
            )?,
            tolerance_secs: config::parsed_or(src, "WEBHOOK_TOLERANCE_SECS", signature::DEFAULT_TOLERANCE_SECS)?,
        })
    }
}

pub async fn handle<S, L>(billing: &Billing<S, L>, cfg: &WebhookConfig, req: &Request) -> Response<Body>
where
    S: Payments,
    L: Ledger,
{
    adapters::http::respond(handle_inner(billing, cfg, req).await)
}

async fn handle_inner<S, L>(
    billing: &Billing<S, L>,
    cfg: &WebhookConfig,
    req: &Request,
) -> Result<Response<Body>, ApiError>
where
    S: Payments,
    L: Ledger,
{
    if req.method() != http::Method::POST {
        return Err(ApiError::method_not_allowed("POST"));
    }
    let body = adapters::http::body_bytes(req, MAX_BODY_BYTES)?;
    adapters::auth::verify_signed(req, body, &cfg.secrets, cfg.tolerance_secs)?;
    let event = parse(body)?;
    process(billing, &event).await
}

/// Runs a validated event through the core and renders the answer (shared by every provider
/// adapter of this function).
pub async fn process<S, L>(billing: &Billing<S, L>, event: &PaymentEvent) -> Result<Response<Body>, ApiError>
where
    S: Payments,
    L: Ledger,
{
    match handle_payment_event(billing, event).await {
        Ok(outcome) => Ok(adapters::http::json(StatusCode::OK, &outcome_json(&outcome))),
        Err(err) => {
            tracing::error!(payment_id = %event.payment_id, error = %err, outcome = "unavailable", "webhook not processed; provider will retry");
            Err(match err {
                BillingError::Store(_) => ApiError::unavailable("storage is unavailable; retry later"),
                BillingError::Contended(_) => ApiError::unavailable("the bonus is busy; retry later"),
            })
        }
    }
}

/// The bonus as the provider's answer shows it.
pub fn bonus_json(bonus: &Bonus) -> serde_json::Value {
    json!({
        "bonus_key": bonus.bonus_key,
        "status": bonus.status,
        "reason": bonus.reason,
        "amount": bonus.net_amount,
        "paid_amount": bonus.paid_amount,
        "bonus_amount": bonus.bonus_amount,
        "rate": bonus.rate,
        "refunded_amount": bonus.refunded_amount,
        "disputed_amount": bonus.disputed_amount,
    })
}

/// What happened, in one word: `credited`, `held`, `reversed`, `credit_failed` /
/// `debit_failed` (retried by us), `pending`, `recorded` (a refund or dispute before its
/// success), `duplicate` (nothing new), `not_referred`, `below_minimum`.
pub fn outcome_json(outcome: &EventOutcome) -> serde_json::Value {
    match outcome {
        EventOutcome::BelowMinimum => json!({ "outcome": "below_minimum" }),
        EventOutcome::NotReferred => json!({ "outcome": "not_referred" }),
        EventOutcome::Recorded => json!({ "outcome": "recorded" }),
        EventOutcome::Unchanged { why, bonus, .. } => {
            json!({ "outcome": "duplicate", "why": why.as_str(), "bonus": bonus.as_deref().map(bonus_json) })
        }
        EventOutcome::Bonus { created, bonus, .. } => {
            let step = bonus.ledger.in_flight();
            let label = match bonus.status {
                BonusStatus::Credited => "credited",
                BonusStatus::Reversed => "reversed",
                BonusStatus::Pending if step.is_none() => "held",
                BonusStatus::Pending => "pending",
                BonusStatus::Failed if step.is_some_and(|m| m.kind == MoveKind::Debit) => "debit_failed",
                BonusStatus::Failed => "credit_failed",
            };
            let retry_scheduled = step.and_then(|m| m.last_failure.as_ref()).map(|f| f.kind == FailureKind::Unknown);
            json!({
                "outcome": label,
                "created": created,
                "retry_scheduled": retry_scheduled,
                "bonus": bonus_json(bonus),
            })
        }
    }
}
