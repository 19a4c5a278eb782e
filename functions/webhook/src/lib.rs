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

use std::sync::Arc;

use adapters::billing::Billing;
use adapters::config::{self, ConfigError, Source};
use adapters::domain::signature;
use adapters::http::{RawBody, Response, Router};
use adapters::ApiError;
use axum::extract::State;
use axum::routing::post;
use lambda_http::http::{HeaderMap, StatusCode};
use lambda_http::{Body, Request};
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
pub type App = Webhook<adapters::store::DynamoStore, adapters::wellflow::WellflowClient>;

impl App {
    /// Everything `main` builds, from the environment and the SDK config (secrets read first).
    pub async fn from_env(env: &dyn Source, sdk: &adapters::aws::SdkConfig) -> Result<Self, config::InitError> {
        let env = adapters::secrets::load(&adapters::aws::secretsmanager(sdk), env, SECRETS).await?;
        Ok(Self {
            cfg: WebhookConfig::from_env(&env)?,
            billing: adapters::billing::settings::billing_from_env(&env, sdk)?,
        })
    }

    pub async fn handle(&self, req: &Request) -> lambda_http::Response<Body> {
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

/// The webhook API: the billing wiring and the endpoints' configuration.
#[derive(Clone)]
pub struct Webhook<S, L> {
    pub billing: Billing<S, L>,
    pub cfg: WebhookConfig,
}

/// What the webhook's store and ledger must be to serve requests.
pub trait WebhookStore: Payments + Clone + Send + Sync + 'static {}
impl<T: Payments + Clone + Send + Sync + 'static> WebhookStore for T {}
pub trait WebhookLedger: Ledger + Clone + Send + Sync + 'static {}
impl<T: Ledger + Clone + Send + Sync + 'static> WebhookLedger for T {}

/// Every route of the function (what main runs through lambda_http):
/// `POST /webhooks/payments` (our contract) and `POST /webhooks/stripe` (404 when this
/// deployment has no Stripe secret).
pub fn router<S: WebhookStore, L: WebhookLedger>(app: Arc<Webhook<S, L>>) -> Router {
    adapters::http::finish(
        Router::new()
            .route("/webhooks/payments", post(payments::<S, L>))
            .route("/webhooks/stripe", post(stripe_event::<S, L>))
            .with_state(app),
    )
}

/// One request through [`router`], in-process (tests).
pub async fn handle<S: WebhookStore, L: WebhookLedger>(
    billing: &Billing<S, L>,
    cfg: &WebhookConfig,
    req: &Request,
) -> lambda_http::Response<Body> {
    adapters::http::call(router(Arc::new(Webhook { billing: billing.clone(), cfg: cfg.clone() })), req).await
}

/// `POST /webhooks/payments`: `X-Signature` on the raw body, then our contract (`event.rs`).
async fn payments<S: WebhookStore, L: WebhookLedger>(
    State(app): State<Arc<Webhook<S, L>>>,
    headers: HeaderMap,
    RawBody(body): RawBody<MAX_BODY_BYTES>,
) -> Result<Response, ApiError> {
    adapters::auth::verify_signed(&headers, &body, &app.cfg.secrets, app.cfg.tolerance_secs)?;
    adapters::http::require_json_content_type(&headers)?;
    let event = parse(&body)?;
    process(&app.billing, &event).await
}

/// `POST /webhooks/stripe`: `Stripe-Signature` on the raw body, then Stripe's event into the
/// core's `PaymentEvent` (or an ignored one).
async fn stripe_event<S: WebhookStore, L: WebhookLedger>(
    State(app): State<Arc<Webhook<S, L>>>,
    headers: HeaderMap,
    RawBody(body): RawBody<{ stripe::MAX_BODY_BYTES }>,
) -> Result<Response, ApiError> {
    let Some(stripe_cfg) = app.cfg.stripe.as_ref() else {
        return Err(ApiError::not_found(
            "stripe_not_configured",
            "this deployment has no Stripe endpoint (STRIPE_WEBHOOK_SECRETS)",
        ));
    };
    stripe::verify_request(&headers, &body, stripe_cfg)?;
    adapters::http::require_json_content_type(&headers)?;
    match stripe::parse(&body, stripe_cfg)? {
        stripe::StripeOutcome::Event(event) => process(&app.billing, &event).await,
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
pub async fn process<S, L>(billing: &Billing<S, L>, event: &PaymentEvent) -> Result<Response, ApiError>
where
    S: Payments,
    L: Ledger,
{
    // Boxed: the money flow's future is large; keep it off the (2 MiB) worker stack.
    let outcome = Box::pin(handle_payment_event(billing, event)).await.inspect_err(|err| {
        tracing::error!(payment_id = %event.payment_id, error = %err, outcome = "unavailable", "webhook not processed; provider will retry");
    })?;
    Ok(adapters::http::json(StatusCode::OK, &outcome_json(&outcome)))
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
