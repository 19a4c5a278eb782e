//! Payment webhook Lambda: `POST /webhooks/payments` (our generic contract, `event.rs`) and
//! `POST /webhooks/stripe` (Stripe's own events, `stripe/`).
//!
//! Signature first (`X-Signature: t=…,v1=…`, or `Stripe-Signature`, over the raw body), then
//! validation into the core's `PaymentEvent`, then `referral_core::usecases::payment_events`.
//! A Stripe event that means nothing to us (another type, another currency, test mode on the
//! live endpoint, no user id) is answered 200 `{"outcome":"ignored","reason"}` and writes
//! nothing: Stripe retries anything else for three days. Answers: 200 for
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

/// Read from Secrets Manager at cold start (`<NAME>_SECRET_ARN` in the environment). The Stripe
/// endpoint exists only where its secret is configured (template parameter StripeEnabled).
pub const SECRETS: &[adapters::secrets::Secret] = &[
    adapters::secrets::Secret::text("WEBHOOK_SECRETS"),
    adapters::secrets::Secret::text("WELLFLOW_API_KEY"),
    adapters::secrets::Secret::text("STRIPE_WEBHOOK_SECRETS").optional(),
];

/// What a cold start builds: secrets, config, store and Wellflow client.
pub struct App {
    pub billing: adapters::billing::LiveBilling,
    pub cfg: WebhookConfig,
}

impl App {
    /// Everything `main` builds, from the environment and the SDK config (secrets read first).
    pub async fn from_env(env: &dyn Source, sdk: &adapters::aws::SdkConfig) -> Result<Self, config::InitError> {
        let env = adapters::secrets::load(&adapters::aws::secretsmanager(sdk), env, SECRETS).await?;
        Ok(Self {
            cfg: WebhookConfig::from_env(&env)?,
            billing: adapters::billing::settings::billing_from_env(&env, sdk)?,
        })
    }

    pub async fn handle(&self, req: &Request) -> Response<Body> {
        handle(&self.billing, &self.cfg, req).await
    }
}

/// Largest body we read: provider events are ~300 bytes.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

#[derive(Clone)]
pub struct WebhookConfig {
    pub secrets: Vec<String>,
    pub tolerance_secs: i64,
    /// `/webhooks/stripe`, when `STRIPE_WEBHOOK_SECRETS` is set (else that route is 404).
    pub stripe: Option<stripe::StripeConfig>,
}

impl std::fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "WebhookConfig {{ secrets: [{} redacted], tolerance_secs: {}, stripe: {:?} }}",
            self.secrets.len(),
            self.tolerance_secs,
            self.stripe
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
            stripe: match config::optional(src, stripe::StripeConfig::SECRETS_VAR) {
                Some(_) => Some(stripe::StripeConfig::from_env(src)?),
                None => None,
            },
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
    let stripe_route = req.uri().path().trim_end_matches('/').ends_with("/webhooks/stripe");
    if req.method() != http::Method::POST {
        return Err(ApiError::method_not_allowed("POST"));
    }
    if stripe_route {
        return handle_stripe(billing, cfg, req).await;
    }
    let body = adapters::http::body_bytes(req, MAX_BODY_BYTES)?;
    adapters::auth::verify_signed(req, body, &cfg.secrets, cfg.tolerance_secs)?;
    let event = parse(body)?;
    process(billing, &event).await
}

/// `POST /webhooks/stripe`: `Stripe-Signature` on the raw body, then Stripe's event into the
/// core's `PaymentEvent` (or an ignored one).
async fn handle_stripe<S, L>(
    billing: &Billing<S, L>,
    cfg: &WebhookConfig,
    req: &Request,
) -> Result<Response<Body>, ApiError>
where
    S: Payments,
    L: Ledger,
{
    let Some(stripe_cfg) = cfg.stripe.as_ref() else {
        return Err(ApiError::not_found(
            "stripe_not_configured",
            "this deployment has no Stripe endpoint (STRIPE_WEBHOOK_SECRETS)",
        ));
    };
    let body = adapters::http::body_bytes(req, stripe::MAX_BODY_BYTES)?;
    stripe::verify_request(req, body, stripe_cfg)?;
    match stripe::parse(body, stripe_cfg)? {
        stripe::StripeOutcome::Event(event) => process(billing, &event).await,
        stripe::StripeOutcome::Ignored { reason, event_id, event_type } => {
            if stripe::reason::WARN.contains(&reason) {
                tracing::warn!(event_id = %event_id, event_type = %event_type, reason, outcome = "ignored", "Stripe event ignored");
            } else {
                tracing::info!(event_id = %event_id, event_type = %event_type, reason, outcome = "ignored", "Stripe event ignored");
            }
            adapters::metrics::count("StripeEventsIgnored", &[("event_id", event_id.as_str()), ("reason", reason)]);
            Ok(adapters::http::json(
                StatusCode::OK,
                &json!({ "outcome": "ignored", "reason": reason, "event_id": event_id, "event_type": event_type }),
            ))
        }
    }
}

/// Runs a validated event through the core and renders the answer (shared by every provider
/// adapter of this function).
pub async fn process<S, L>(billing: &Billing<S, L>, event: &PaymentEvent) -> Result<Response<Body>, ApiError>
where
    S: Payments,
    L: Ledger,
{
    // Boxed: the money flow's future is large; keep it off the (2 MiB) worker stack.
    match Box::pin(handle_payment_event(billing, event)).await {
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
