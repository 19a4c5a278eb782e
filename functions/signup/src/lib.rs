//! Signup attribution Lambda: `POST /signups`, called by our auth service after every
//! signup, signed like the payment webhook (`X-Signature`, secret `SIGNUP_SECRETS`).
//!
//! Body: `{"user_id": "...", "ref_code": "K7M2XQ" | null, "signup_ip": "203.0.113.7",
//! "user_agent": "..."}`. Always 200 for a well-formed call: `attributed: true` with the
//! referrer, or `attributed: false` with a reason (`no_code`, `invalid_code`,
//! `unknown_code`, `self_referral`). A repeated call returns the stored attribution.

use adapters::attribution::{attribute_signup, Signup, SignupOutcome};
use adapters::config::{self, ConfigError, Source};
use adapters::domain::ip;
use adapters::domain::signature;
use adapters::domain::UserId;
use adapters::store::{Attributions, Codes, Users};
use adapters::ApiError;
use lambda_http::http::StatusCode;
use lambda_http::{http, Body, Request, Response};
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

#[derive(Debug, Deserialize)]
struct SignupBody {
    user_id: String,
    #[serde(default)]
    ref_code: Option<String>,
    signup_ip: String,
    #[serde(default)]
    user_agent: Option<String>,
}

pub async fn handle<S>(store: &S, cfg: &SignupConfig, req: &Request) -> Response<Body>
where
    S: Codes + Users + Attributions,
{
    adapters::http::respond(handle_inner(store, cfg, req).await)
}

async fn handle_inner<S>(store: &S, cfg: &SignupConfig, req: &Request) -> Result<Response<Body>, ApiError>
where
    S: Codes + Users + Attributions,
{
    if req.method() != http::Method::POST {
        return Err(ApiError::method_not_allowed("POST"));
    }
    let body = adapters::http::body_bytes(req, MAX_BODY_BYTES)?;
    adapters::auth::verify_signed(req, body, &cfg.secrets, cfg.tolerance_secs)?;
    let parsed: SignupBody = adapters::http::parse_json(body)?;
    let user = UserId::parse(&parsed.user_id).map_err(|e| ApiError::bad_request("invalid_user_id", e.to_string()))?;
    let ip = ip::canonical(&parsed.signup_ip)
        .ok_or_else(|| ApiError::bad_request("invalid_signup_ip", "signup_ip must be an IPv4 or IPv6 address"))?;
    if parsed.user_agent.as_ref().is_some_and(|ua| ua.len() > 1024) {
        return Err(ApiError::bad_request("invalid_user_agent", "user_agent must be at most 1024 bytes"));
    }
    if parsed.ref_code.as_ref().is_some_and(|c| c.len() > 64) {
        return Err(ApiError::bad_request("invalid_ref_code", "ref_code must be at most 64 bytes"));
    }
    let signup = Signup { user, ref_code: parsed.ref_code, ip };
    let outcome = attribute_signup(store, &cfg.ip_hash_key, &signup).await.map_err(|err| {
        tracing::error!(user_id = %signup.user, error = %err, "signup attribution failed");
        ApiError::unavailable("storage is unavailable; retry the call")
    })?;
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
pub struct App {
    pub store: adapters::store::DynamoStore,
    pub cfg: SignupConfig,
}

impl App {
    /// Everything `main` builds, from the environment and the SDK config (secrets read first).
    pub async fn from_env(env: &dyn Source, sdk: &adapters::aws::SdkConfig) -> Result<Self, config::InitError> {
        let env = adapters::secrets::load(&adapters::aws::secretsmanager(sdk), env, SECRETS).await?;
        Ok(Self {
            cfg: SignupConfig::from_env(&env)?,
            store: adapters::store::DynamoStore::new(adapters::aws::dynamodb(sdk), config::table_name(&env)?),
        })
    }

    pub async fn handle(&self, req: &Request) -> Response<Body> {
        handle(&self.store, &self.cfg, req).await
    }
}
