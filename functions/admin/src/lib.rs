//! Admin moderation Lambda. Every route needs a bearer JWT whose claims carry the `admin`
//! role (401 without a valid token, 403 for a valid non-admin token).
//!
//! * `GET  /admin/bonuses?status=pending|failed&cursor=&limit=` — moderation queue
//! * `POST /admin/bonuses/{payment_id}/approve` `{"note"?}` — credit through Wellflow
//! * `POST /admin/bonuses/{payment_id}/reject` `{"reason", "note"?}` — → `reversed`
//! * `POST /admin/bonuses/bulk` `{"action": "approve"|"reject", "payment_ids": [..≤100], "reason"?, "note"?}`
//! * `PUT  /admin/referrers/{user_id}/rate` `{"rate": "0.08" | null}` — 0 < rate ≤ 0.5
//! * `POST /admin/attributions/{user_id}` `{"referrer_id", "note"}` — audited re-attribution
//! * `GET|PUT|DELETE /admin/rate-tiers` — the monthly-volume rate table (`rate_tiers.rs`)
//! * `GET /admin/reconciliation`, `POST /admin/reconciliation/{finding_id}/resolve` — the
//!   findings of the reconciliation with Wellflow (`reconciliation.rs`)
//! * `GET /admin` — the admin console page (no token: it holds no data), and the console's
//!   reads `GET /admin/bonuses/{payment_id}`, `GET /admin/referrers/{user_id}` (`console.rs`)
//!
//! Every decision is recorded with the admin's subject as actor (`admin:<sub>`).

pub mod console;
mod rate_tiers;
mod reconciliation;
mod views;

use adapters::auth::JwtVerifier;
use adapters::billing::Billing;
use adapters::clock;
use adapters::domain::{BonusStatus, PaymentId, Rate, UserId};
use adapters::store::{
    AdminChange, AdminViews, BonusQueries, QueryError, RateTierConfigs, ReattributeOutcome, ReferrerAdmin, Users,
};
use adapters::ApiError;
use futures::StreamExt;
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use referral_core::ports::Ledger;
use referral_core::store::{Findings, Payments};
use referral_core::usecases::moderation::{approve, reject, ModerationOutcome};
use serde::Deserialize;
use serde_json::json;

pub const MAX_BODY_BYTES: usize = 64 * 1024;
pub const MAX_BULK: usize = 100;
const BULK_CONCURRENCY: usize = 8;

pub struct Admin<S, L> {
    pub billing: Billing<S, L>,
    pub jwt: JwtVerifier,
    /// The console page's API prefix and sign-in link (`PUBLIC_BASE_PATH`, `SIGN_IN_URL`).
    pub console: adapters::web::PageConfig,
}

pub async fn handle<S, L>(admin: &Admin<S, L>, req: &Request) -> Response<Body>
where
    S: Payments + BonusQueries + ReferrerAdmin + Users + RateTierConfigs + Findings + AdminViews,
    L: Ledger,
{
    adapters::http::respond(route(admin, req).await)
}

fn json_response(status: u16, value: &serde_json::Value) -> Response<Body> {
    adapters::http::json(StatusCode::from_u16(status).unwrap_or(StatusCode::OK), value)
}

fn unavailable(err: impl std::fmt::Display) -> ApiError {
    tracing::error!(error = %err, "admin request failed on storage");
    ApiError::unavailable("storage is unavailable; retry")
}

fn payment(raw: &str) -> Result<PaymentId, ApiError> {
    PaymentId::parse(raw).map_err(|e| ApiError::bad_request("invalid_payment_id", e.to_string()))
}

fn user(raw: &str) -> Result<UserId, ApiError> {
    UserId::parse(raw).map_err(|e| ApiError::bad_request("invalid_user_id", e.to_string()))
}

fn note_ok(note: &Option<String>) -> Result<(), ApiError> {
    match note {
        Some(n) if n.chars().count() > 500 => {
            Err(ApiError::bad_request("invalid_note", "note must be at most 500 characters"))
        }
        _ => Ok(()),
    }
}

fn reason_ok(reason: &str) -> Result<(), ApiError> {
    let valid = !reason.is_empty() && reason.len() <= 64 && reason.chars().all(|c| c.is_ascii_lowercase() || c == '_');
    if valid {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "invalid_reason",
            "reason must be a snake_case code such as fraud or duplicate_account",
        ))
    }
}

async fn route<S, L>(admin: &Admin<S, L>, req: &Request) -> Result<Response<Body>, ApiError>
where
    S: Payments + BonusQueries + ReferrerAdmin + Users + RateTierConfigs + Findings + AdminViews,
    L: Ledger,
{
    if let Some(file) = console::static_route(&admin.console, req) {
        return file;
    }
    let claims = admin.jwt.verify(req).await?;
    if !claims.is_admin() {
        return Err(ApiError::forbidden("this endpoint needs the admin role"));
    }
    let actor = format!("admin:{}", claims.sub);
    let body = adapters::http::body_bytes(req, MAX_BODY_BYTES)?;
    let path = req.uri().path().trim_end_matches('/');
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let method = req.method().clone();
    match (method, segments.as_slice()) {
        (Method::GET, ["admin", "bonuses"]) => list(admin, req).await,
        (Method::POST, ["admin", "bonuses", "bulk"]) => bulk(admin, &actor, body).await,
        (Method::GET, ["admin", "bonuses", id]) => console::bonus(&admin.billing.store, id).await,
        (Method::GET, ["admin", "referrers", id]) => console::referrer(&admin.billing.store, req, id).await,
        (Method::POST, ["admin", "bonuses", id, "approve"]) => {
            #[derive(Deserialize, Default)]
            #[serde(deny_unknown_fields)]
            struct Body {
                note: Option<String>,
            }
            let parsed: Body = if body.is_empty() { Body::default() } else { adapters::http::parse_json(body)? };
            note_ok(&parsed.note)?;
            let outcome = Box::pin(approve(&admin.billing, &payment(id)?, &actor, parsed.note.as_deref()))
                .await
                .map_err(unavailable)?;
            let (_, status, value) = views::outcome(&outcome);
            Ok(json_response(status, &value))
        }
        (Method::POST, ["admin", "bonuses", id, "reject"]) => {
            #[derive(Deserialize)]
            #[serde(deny_unknown_fields)]
            struct Body {
                reason: String,
                note: Option<String>,
            }
            let parsed: Body = adapters::http::parse_json(body)?;
            reason_ok(&parsed.reason)?;
            note_ok(&parsed.note)?;
            let outcome =
                Box::pin(reject(&admin.billing, &payment(id)?, &actor, &parsed.reason, parsed.note.as_deref()))
                    .await
                    .map_err(unavailable)?;
            let (_, status, value) = views::outcome(&outcome);
            Ok(json_response(status, &value))
        }
        (Method::PUT, ["admin", "referrers", id, "rate"]) => set_rate(admin, &actor, &user(id)?, body).await,
        (Method::POST, ["admin", "attributions", id]) => reattribute(admin, &actor, &user(id)?, body).await,
        (Method::GET, ["admin", "rate-tiers"]) => rate_tiers::get(&admin.billing).await,
        (Method::PUT, ["admin", "rate-tiers"]) => rate_tiers::put(&admin.billing, &actor, body).await,
        (Method::DELETE, ["admin", "rate-tiers"]) => rate_tiers::delete(&admin.billing, &actor, req).await,
        (_, ["admin", "rate-tiers"]) => Err(ApiError::method_not_allowed("GET, PUT, DELETE")),
        (method, ["admin", "reconciliation", rest @ ..]) => {
            reconciliation::route(&admin.billing.store, &method, rest, req, &actor, body).await
        }
        (_, ["admin", "bonuses"] | ["admin", "bonuses", _] | ["admin", "bonuses", _, "approve" | "reject"])
        | (_, ["admin", "referrers", _] | ["admin", "referrers", _, "rate"] | ["admin", "attributions", _]) => {
            Err(ApiError::method_not_allowed("the method documented for this route"))
        }
        _ => Err(ApiError::not_found("route_not_found", format!("no admin route {path}"))),
    }
}

async fn list<S, L>(admin: &Admin<S, L>, req: &Request) -> Result<Response<Body>, ApiError>
where
    S: BonusQueries,
{
    let param = |name: &str| adapters::http::query_param(req, name);
    let status = match param("status").as_deref() {
        Some("pending") | None => BonusStatus::Pending,
        Some("failed") => BonusStatus::Failed,
        Some(_) => return Err(ApiError::bad_request("invalid_status", "status must be pending or failed")),
    };
    let limit = adapters::http::limit_param(req, 50)?;
    let page =
        admin.billing.store.list_by_status(status, limit, param("cursor").as_deref()).await.map_err(|e| match e {
            QueryError::Cursor(c) => ApiError::bad_request("invalid_cursor", c.to_string()),
            QueryError::Store(s) => unavailable(s),
        })?;
    let items: Vec<_> = page.items.iter().map(views::bonus).collect();
    Ok(json_response(200, &json!({ "status": status, "items": items, "next_cursor": page.next_cursor })))
}

async fn bulk<S, L>(admin: &Admin<S, L>, actor: &str, body: &[u8]) -> Result<Response<Body>, ApiError>
where
    S: Payments,
    L: Ledger,
{
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Bulk {
        action: String,
        payment_ids: Vec<String>,
        reason: Option<String>,
        note: Option<String>,
    }
    let parsed: Bulk = adapters::http::parse_json(body)?;
    note_ok(&parsed.note)?;
    if parsed.payment_ids.is_empty() || parsed.payment_ids.len() > MAX_BULK {
        return Err(ApiError::bad_request("invalid_payment_ids", format!("payment_ids must hold 1 to {MAX_BULK} ids")));
    }
    let mut unique = parsed.payment_ids.clone();
    unique.sort();
    unique.dedup();
    if unique.len() != parsed.payment_ids.len() {
        return Err(ApiError::bad_request("duplicate_payment_ids", "each payment id may appear once"));
    }
    let reject_reason = match parsed.action.as_str() {
        "approve" => None,
        "reject" => {
            let reason = parsed
                .reason
                .clone()
                .ok_or_else(|| ApiError::bad_request("invalid_reason", "reject needs a reason"))?;
            reason_ok(&reason)?;
            Some(reason)
        }
        _ => return Err(ApiError::bad_request("invalid_action", "action must be approve or reject")),
    };
    let note = parsed.note.as_deref();
    let results: Vec<serde_json::Value> = futures::stream::iter(parsed.payment_ids.clone())
        .map(|raw| decide_one(admin, actor, raw, reject_reason.as_deref(), note))
        .buffered(BULK_CONCURRENCY)
        .collect()
        .await;
    Ok(json_response(200, &json!({ "action": parsed.action, "results": results })))
}

/// One id of a bulk call, decided independently of the others.
async fn decide_one<S, L>(
    admin: &Admin<S, L>,
    actor: &str,
    raw: String,
    reject_reason: Option<&str>,
    note: Option<&str>,
) -> serde_json::Value
where
    S: Payments,
    L: Ledger,
{
    let Ok(pid) = PaymentId::parse(&raw) else {
        return json!({ "payment_id": raw, "outcome": "invalid_payment_id" });
    };
    let decided = match reject_reason {
        None => Box::pin(approve(&admin.billing, &pid, actor, note)).await,
        Some(reason) => Box::pin(reject(&admin.billing, &pid, actor, reason, note)).await,
    };
    match decided {
        Ok(outcome) => {
            let (label, _, _) = views::outcome(&outcome);
            let status = match &outcome {
                ModerationOutcome::Approved(b) | ModerationOutcome::Rejected(b) | ModerationOutcome::NotOpen(b) => {
                    Some(b.status)
                }
                ModerationOutcome::ApprovedButFailed { bonus, .. } => Some(bonus.status),
                ModerationOutcome::NotFound => None,
            };
            json!({ "payment_id": raw, "outcome": label, "status": status })
        }
        Err(err) => {
            tracing::error!(payment_id = %pid, error = %err, "bulk decision failed");
            json!({ "payment_id": raw, "outcome": "unavailable" })
        }
    }
}

async fn set_rate<S, L>(
    admin: &Admin<S, L>,
    actor: &str,
    referrer: &UserId,
    body: &[u8],
) -> Result<Response<Body>, ApiError>
where
    S: ReferrerAdmin,
{
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Body {
        rate: Option<String>,
        note: Option<String>,
    }
    let parsed: Body = adapters::http::parse_json(body)?;
    note_ok(&parsed.note)?;
    let rate = parsed
        .rate
        .as_deref()
        .map(Rate::parse)
        .transpose()
        .map_err(|e| ApiError::bad_request("invalid_rate", e.to_string()))?;
    let change = AdminChange { actor: actor.into(), at: clock::rfc3339(clock::now()), note: parsed.note };
    if !admin.billing.store.set_rate_override(referrer, rate, &change).await.map_err(unavailable)? {
        return Err(ApiError::not_found("user_not_found", format!("no user {referrer}")));
    }
    tracing::info!(referrer_id = %referrer, actor, rate = rate.map(|r| r.to_string()), "rate override changed");
    Ok(json_response(200, &json!({ "referrer_id": referrer, "rate_override": rate })))
}

async fn reattribute<S, L>(
    admin: &Admin<S, L>,
    actor: &str,
    referred: &UserId,
    body: &[u8],
) -> Result<Response<Body>, ApiError>
where
    S: ReferrerAdmin + Users,
{
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Body {
        referrer_id: String,
        note: String,
    }
    let parsed: Body = adapters::http::parse_json(body)?;
    let to = user(&parsed.referrer_id)?;
    let note = Some(parsed.note);
    note_ok(&note)?;
    if &to == referred {
        return Err(ApiError::unprocessable("self_referral", "a user cannot be attributed to themselves"));
    }
    let store = &admin.billing.store;
    let code = store
        .user(&to)
        .await
        .map_err(unavailable)?
        .and_then(|p| p.code)
        .ok_or_else(|| ApiError::unprocessable("referrer_has_no_code", format!("{to} has no referral code yet")))?;
    let change = AdminChange { actor: actor.into(), at: clock::rfc3339(clock::now()), note };
    match store.reattribute(referred, &to, code, &change).await.map_err(unavailable)? {
        ReattributeOutcome::Reattributed { from } => {
            tracing::info!(user_id = %referred, from = from.as_ref().map(|f| f.to_string()), to = %to, actor, "user re-attributed");
            Ok(json_response(200, &json!({ "user_id": referred, "from": from, "to": to })))
        }
        ReattributeOutcome::UnknownUser => Err(ApiError::not_found("user_not_found", format!("no user {referred}"))),
        ReattributeOutcome::Conflict => {
            Err(ApiError::conflict("attribution_changed", "the attribution changed meanwhile; reload and retry"))
        }
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
            console: adapters::web::PageConfig::from_env(&env)?,
        })
    }
}
