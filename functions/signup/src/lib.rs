//! Signup attribution Lambda: `POST /signups`, called by our auth service after every
//! signup, signed like the payment webhook (`X-Signature`, secret `SIGNUP_SECRETS`).
//!
//! Body: `{"user_id": "...", "ref_code": "K7M2XQ" | null, "signup_ip": "203.0.113.7",
//! "user_agent": "..."}`. Always 200 for a well-formed call: `attributed: true` with the
//! referrer, or `attributed: false` with a reason (`no_code`, `invalid_code`,
//! `unknown_code`, `self_referral`). A repeated call returns the stored attribution.

use std::sync::Arc;

use adapters::attribution::{attribute_signup, SignupOutcome};
use adapters::config::{self, ConfigError, Source};
use adapters::domain::ip;
use adapters::domain::signature;
use adapters::domain::UserId;
use adapters::http::{RawBody, Response, Router};
use adapters::store::{Attributions, Codes, Users};
use adapters::ApiError;
use axum::extract::State;
use axum::routing::post;
use lambda_http::http::{HeaderMap, StatusCode};
use lambda_http::{Body, Request};
use serde::Deserialize;
use serde_json::json;

pub const MAX_BODY_BYTES: usize = 4 * 1024;

#[derive(Clone)]
pub struct SignupConfig {
    pub secrets: Vec<String>,
    pub tolerance_secs: i64,
    /// Key for the IP fingerprints (HMAC); rotating it resets `same_ip` history.
    pub ip_hash_key: String,
}

impl std::fmt::Debug for SignupConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SignupConfig {{ secrets: [{} redacted], ip_hash_key: redacted }}", self.secrets.len())
    }
}

impl SignupConfig {
    pub fn from_env(src: &dyn Source) -> Result<Self, ConfigError> {
        Ok(Self {
            secrets: config::secrets(src, "SIGNUP_SECRETS", "the secret(s) the auth service signs signup calls with")?,
            tolerance_secs: config::parsed_or(src, "SIGNUP_TOLERANCE_SECS", signature::DEFAULT_TOLERANCE_SECS)?,
            ip_hash_key: config::secrets(src, "IP_HASH_KEY", "a random secret (≥16 chars) keying the IP fingerprints")?
                .remove(0),
        })
    }
}

/// The body. Server-to-server (our auth service): unknown fields are accepted and ignored
/// (docs/api/input-policy.md), so the auth service can add fields before we read them.
#[derive(Debug, Deserialize)]
struct SignupBody {
    user_id: String,
    #[serde(default)]
    ref_code: Option<String>,
    signup_ip: String,
    #[serde(default)]
    user_agent: Option<String>,
}

/// The signup API: its store and configuration.
#[derive(Clone)]
pub struct Signup<S> {
    pub store: S,
    pub cfg: SignupConfig,
}

/// What a signup store must do.
pub trait SignupStore: Codes + Users + Attributions + Clone + Send + Sync + 'static {}
impl<T: Codes + Users + Attributions + Clone + Send + Sync + 'static> SignupStore for T {}

/// Every route of the function: `POST /signups` (what main runs through lambda_http).
pub fn router<S: SignupStore>(app: Arc<Signup<S>>) -> Router {
    adapters::http::finish(Router::new().route("/signups", post(signup::<S>)).with_state(app))
}

/// One request through [`router`], in-process (tests).
pub async fn handle<S: SignupStore>(store: &S, cfg: &SignupConfig, req: &Request) -> lambda_http::Response<Body> {
    adapters::http::call(router(Arc::new(Signup { store: store.clone(), cfg: cfg.clone() })), req).await
}

async fn signup<S: SignupStore>(
    State(app): State<Arc<Signup<S>>>,
    headers: HeaderMap,
    RawBody(body): RawBody<MAX_BODY_BYTES>,
) -> Result<Response, ApiError> {
    let cfg = &app.cfg;
    adapters::auth::verify_signed(&headers, &body, &cfg.secrets, cfg.tolerance_secs)?;
    let parsed: SignupBody = adapters::http::parse_json_body(&headers, &body)?;
    let user = UserId::parse(&parsed.user_id)?;
    let ip = ip::canonical(&parsed.signup_ip)
        .ok_or_else(|| ApiError::bad_request("invalid_signup_ip", "signup_ip must be an IPv4 or IPv6 address"))?;
    if parsed.user_agent.as_ref().is_some_and(|ua| ua.len() > 1024) {
        return Err(ApiError::bad_request("invalid_user_agent", "user_agent must be at most 1024 bytes"));
    }
    if parsed.ref_code.as_ref().is_some_and(|c| c.len() > 64) {
        return Err(ApiError::bad_request("invalid_ref_code", "ref_code must be at most 64 bytes"));
    }
    let signup = adapters::attribution::Signup { user, ref_code: parsed.ref_code, ip };
    let outcome = attribute_signup(&app.store, &cfg.ip_hash_key, &signup).await?;
    let value = match outcome {
        SignupOutcome::Attributed { referrer, code, same_ip } => {
            json!({ "attributed": true, "already_attributed": false, "referrer_id": referrer, "code": code, "same_ip": same_ip })
        }
        SignupOutcome::AlreadyAttributed { referrer, code, same_ip } => {
            json!({ "attributed": true, "already_attributed": true, "referrer_id": referrer, "code": code, "same_ip": same_ip })
        }
        SignupOutcome::NotAttributed { reason } => json!({ "attributed": false, "reason": reason }),
    };
    Ok(adapters::http::json(StatusCode::OK, &value))
}

/// Read from Secrets Manager at cold start (`<NAME>_SECRET_ARN` in the environment).
pub const SECRETS: &[adapters::secrets::Secret] =
    &[adapters::secrets::Secret::text("SIGNUP_SECRETS"), adapters::secrets::Secret::text("IP_HASH_KEY")];

/// What a cold start builds: secrets, config and store.
pub type App = Signup<adapters::store::DynamoStore>;

impl App {
    /// Everything `main` builds, from the environment and the SDK config (secrets read first).
    pub async fn from_env(env: &dyn Source, sdk: &adapters::aws::SdkConfig) -> Result<Self, config::InitError> {
        let env = adapters::secrets::load(&adapters::aws::secretsmanager(sdk), env, SECRETS).await?;
        Ok(Self {
            cfg: SignupConfig::from_env(&env)?,
            store: adapters::store::DynamoStore::new(adapters::aws::dynamodb(sdk), config::table_name(&env)?),
        })
    }

    pub async fn handle(&self, req: &Request) -> lambda_http::Response<Body> {
        handle(&self.store, &self.cfg, req).await
    }
}
