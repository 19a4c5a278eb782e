//! Admin moderation Lambda. Every route needs a bearer JWT whose claims carry the `admin`
//! role (401 without a valid token, 403 for a valid non-admin token) — the [`AdminCaller`]
//! extractor, first argument of every handler.
//!
//! * `GET  /admin/bonuses?status=pending|failed&cursor=&limit=` — moderation queue
//! * `POST /admin/bonuses/{payment_id}/approve` `{"note"?}` — credit through Wellflow
//! * `POST /admin/bonuses/{payment_id}/reject` `{"reason", "note"?}` — → `reversed`
//! * `POST /admin/bonuses/bulk` `{"action": "approve"|"reject", "payment_ids": [..≤100], "reason"?, "note"?}`
//!   ([`bonuses`])
//! * `PUT  /admin/referrers/{user_id}/rate` `{"rate": "0.08" | null}` — 0 < rate ≤ 0.5
//! * `POST /admin/attributions/{user_id}` `{"referrer_id", "note"}` — audited re-attribution
//!   ([`referrers`])
//! * `GET|PUT|DELETE /admin/rate-tiers` — the monthly-volume rate table ([`rate_tiers`])
//! * `GET /admin/reconciliation`, `POST /admin/reconciliation/{finding_id}/resolve` — the
//!   findings of the reconciliation with Wellflow ([`reconciliation`])
//! * `GET /admin` — the admin console page (no token: it holds no data), and the console's
//!   reads `GET /admin/bonuses/{payment_id}`, `GET /admin/referrers/{user_id}` ([`console`])
//!
//! Every decision is recorded with the admin's subject as actor (`admin:<sub>`). Order of
//! answers on every route (docs/api/input-policy.md): 404 unknown path, 405 other method,
//! 401/403, then the body (413, 415, 400), then the decision.

pub mod bonuses;
pub mod console;
pub mod rate_tiers;
pub mod reconciliation;
pub mod referrers;
mod views;

use std::sync::Arc;

use adapters::auth::JwtVerifier;
use adapters::billing::Billing;
use adapters::http::Router;
use adapters::store::{AdminViews, BonusQueries, RateTierConfigs, ReferrerAdmin, Users};
use adapters::ApiError;
use axum::extract::FromRequestParts;
use lambda_http::http::request::Parts;
use lambda_http::{Body, Request};
use referral_core::ports::Ledger;
use referral_core::store::{Findings, Payments};

/// Largest admin request body (a bulk decision of 100 ids with a note).
pub const MAX_BODY_BYTES: usize = 64 * 1024;
pub use bonuses::MAX_BULK;

/// The admin API: the billing wiring and the JWT verifier.
#[derive(Clone)]
pub struct Admin<S, L> {
    pub billing: Billing<S, L>,
    pub jwt: JwtVerifier,
    /// The console page's sign-in link (`SIGN_IN_URL`; its API prefix is its own address).
    pub console: adapters::web::PageConfig,
}

/// What the admin API's store must do.
pub trait AdminStore:
    Payments
    + BonusQueries
    + ReferrerAdmin
    + Users
    + RateTierConfigs
    + Findings
    + AdminViews
    + Clone
    + Send
    + Sync
    + 'static
{
}
impl<T> AdminStore for T where
    T: Payments
        + BonusQueries
        + ReferrerAdmin
        + Users
        + RateTierConfigs
        + Findings
        + AdminViews
        + Clone
        + Send
        + Sync
        + 'static
{
}
/// What the admin API's ledger (Wellflow) must be.
pub trait AdminLedger: Ledger + Clone + Send + Sync + 'static {}
impl<T: Ledger + Clone + Send + Sync + 'static> AdminLedger for T {}

/// The state every admin route sees.
pub type State<S, L> = Arc<Admin<S, L>>;

/// Every route of the function, one router per resource module (what main runs through
/// lambda_http).
pub fn router<S: AdminStore, L: AdminLedger>(admin: State<S, L>) -> Router {
    adapters::http::finish(
        Router::new()
            .merge(console::router())
            .merge(bonuses::router())
            .merge(referrers::router())
            .merge(rate_tiers::router())
            .merge(reconciliation::router())
            .with_state(admin),
    )
}

/// One request through [`router`], in-process (tests).
pub async fn handle<S: AdminStore, L: AdminLedger>(admin: &Admin<S, L>, req: &Request) -> lambda_http::Response<Body> {
    adapters::http::call(router(Arc::new(admin.clone())), req).await
}

/// The verified admin behind the request's bearer JWT: 401 without a valid token, 403 without
/// the admin role.
#[derive(Debug, Clone)]
pub struct AdminCaller {
    /// `admin:<sub>`: recorded on every decision.
    pub actor: String,
}

impl<S: AdminStore, L: AdminLedger> FromRequestParts<State<S, L>> for AdminCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, admin: &State<S, L>) -> Result<Self, ApiError> {
        let claims = admin.jwt.verify(&parts.headers).await?;
        if !claims.is_admin() {
            return Err(ApiError::forbidden("this endpoint needs the admin role"));
        }
        Ok(AdminCaller { actor: format!("admin:{}", claims.sub) })
    }
}

/// A free-text note: at most 500 characters.
pub(crate) fn note_ok(note: Option<&str>) -> Result<(), ApiError> {
    match note {
        Some(n) if n.chars().count() > 500 => {
            Err(ApiError::bad_request("invalid_note", "note must be at most 500 characters"))
        }
        _ => Ok(()),
    }
}

/// Read from Secrets Manager at cold start (`<NAME>_SECRET_ARN` in the environment). The HS256
/// token secret only exists locally / in tests (`JWT_ALLOW_HS256`); AWS uses the JWKS.
pub const SECRETS: &[adapters::secrets::Secret] = &[
    adapters::secrets::Secret::text("WELLFLOW_API_KEY"),
    adapters::secrets::Secret::text("JWT_HS256_SECRET").optional(),
];

/// What a cold start builds.
pub type App = Admin<adapters::store::DynamoStore, adapters::wellflow::WellflowClient>;

impl App {
    /// Everything `main` builds, from the environment and the SDK config (secrets read first).
    pub async fn from_env(
        env: &dyn adapters::config::Source,
        sdk: &adapters::aws::SdkConfig,
    ) -> Result<Self, adapters::config::InitError> {
        let env = adapters::secrets::load(&adapters::aws::secretsmanager(sdk), env, SECRETS).await?;
        Ok(Self {
            billing: adapters::billing::settings::billing_from_env(&env, sdk)?,
            jwt: JwtVerifier::from_env(&env)?,
            // The console finds its API from its own address (the same function serves both), so
            // PUBLIC_BASE_PATH — the dashboard's, shared by every function under `make dev` — is
            // not used here; SIGN_IN_URL is.
            console: adapters::web::PageConfig {
                public_base_path: String::new(),
                ..adapters::web::PageConfig::from_env(&env)?
            },
        })
    }
}
