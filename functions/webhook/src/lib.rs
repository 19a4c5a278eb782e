//! Payment webhook Lambda: `POST /webhooks/payments` from the payment provider.
//!
//! Signature first (`X-Signature: t=…,v1=…`, over the raw body), then validation, then the
//! billing flow. Answers: 200 for every event we took responsibility for (including
//! duplicates and a Wellflow failure — the row is `failed` and retried by us, the provider
//! must not retry our internal failure); 4xx for the caller's mistakes, nothing written;
//! 503 when DynamoDB (or, for refunds, Wellflow) is unavailable, so the provider retries.

pub mod event;
pub mod stripe;

use adapters::billing::{
    process_refund, process_topup, Billing, BillingError, CreditOutcome, RefundOutcome, RetryQueue, TopupOutcome,
};
use adapters::config::{self, ConfigError, Source};
use adapters::domain::signature;
use adapters::store::{BonusRecord, Bonuses, Users};
use adapters::ApiError;
use lambda_http::http::StatusCode;
use lambda_http::{http, Body, Request, Response};
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

pub async fn handle<S, Q>(billing: &Billing<S, Q>, cfg: &WebhookConfig, req: &Request) -> Response<Body>
where
    S: Bonuses + Users,
    Q: RetryQueue,
{
    adapters::http::respond(handle_inner(billing, cfg, req).await)
}

async fn handle_inner<S, Q>(
    billing: &Billing<S, Q>,
    cfg: &WebhookConfig,
    req: &Request,
) -> Result<Response<Body>, ApiError>
where
    S: Bonuses + Users,
    Q: RetryQueue,
{
    if req.method() != http::Method::POST {
        return Err(ApiError::method_not_allowed("POST"));
    }
    let body = adapters::http::body_bytes(req, MAX_BODY_BYTES)?;
    adapters::auth::verify_signed(req, body, &cfg.secrets, cfg.tolerance_secs)?;
    let event = parse(body)?;
    let payment_id = event.payment_id().clone();
    let result = match &event {
        PaymentEvent::Succeeded(topup) => process_topup(billing, topup).await.map(topup_response),
        PaymentEvent::Refunded { payment_id, .. } => process_refund(billing, payment_id).await.map(refund_response),
    };
    result.map(|value| adapters::http::json(StatusCode::OK, &value)).map_err(|err| {
        tracing::error!(payment_id = %payment_id, error = %err, outcome = "unavailable", "webhook not processed; provider will retry");
        match err {
            BillingError::Wellflow(_) => ApiError::unavailable("the billing service is unavailable; retry later"),
            _ => ApiError::unavailable("storage is unavailable; retry later"),
        }
    })
}

fn bonus_json(record: &BonusRecord) -> serde_json::Value {
    json!({
        "bonus_key": record.bonus_key,
        "status": record.status,
        "amount": record.bonus_amount,
        "rate": record.rate,
        "reason": record.reason,
    })
}

fn topup_response(outcome: TopupOutcome) -> serde_json::Value {
    match outcome {
        TopupOutcome::BelowMinimum => json!({ "outcome": "below_minimum" }),
        TopupOutcome::NotReferred => json!({ "outcome": "not_referred" }),
        TopupOutcome::Duplicate(r) => json!({ "outcome": "duplicate", "bonus": bonus_json(&r) }),
        TopupOutcome::Held(r) => json!({ "outcome": "held", "bonus": bonus_json(&r) }),
        TopupOutcome::Credit(CreditOutcome::Credited(r)) => json!({ "outcome": "credited", "bonus": bonus_json(&r) }),
        TopupOutcome::Credit(CreditOutcome::Failed { record, retry_scheduled, .. }) => {
            json!({ "outcome": "credit_failed", "retry_scheduled": retry_scheduled, "bonus": bonus_json(&record) })
        }
        TopupOutcome::Credit(CreditOutcome::AlreadyDecided(r)) => {
            json!({ "outcome": "duplicate", "bonus": bonus_json(&r) })
        }
    }
}

fn refund_response(outcome: RefundOutcome) -> serde_json::Value {
    match outcome {
        RefundOutcome::NoBonus => json!({ "outcome": "no_bonus" }),
        RefundOutcome::AlreadyReversed(r) => json!({ "outcome": "already_reversed", "bonus": bonus_json(&r) }),
        RefundOutcome::Reversed { record, debited } => {
            json!({ "outcome": "reversed", "debited": debited, "bonus": bonus_json(&record) })
        }
    }
}
