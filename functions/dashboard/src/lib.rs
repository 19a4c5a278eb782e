//! Dashboard Lambda: what a referrer sees, over HTTPS, for their own data only (the user is
//! the JWT's `sub`; there is no user parameter to tamper with).
//!
//! * `GET /referrals` — the Referrals page (static HTML/JS/CSS from `infra/web/`)
//! * `GET /referrals/link` → `{code, url}` (the code is created on the first call)
//! * `GET /referrals/qr.svg`, `GET /referrals/qr.png?size=128..1024` — with `ETag`
//! * `GET /referrals/kpis` — from write-time aggregates: constant cost at any history size
//! * `GET /referrals/history?limit=&cursor=&status=&from=&to=` — every bonus, newest first, and
//!   `GET /referrals/history.csv` — the same rows as CSV ([`history`])
//! * `GET /referrals/stats?granularity=day|month&from=&to=` — clicks, signups, earnings per day
//!   or month from write-time buckets ([`stats`])
//! * `GET /referrals/leaderboard?period=month|all`, `PUT /referrals/profile` — see [`leaderboard`]
//! * `GET|PUT|DELETE /referrals/webhook`, `POST /referrals/webhook/rotate-secret`,
//!   `GET /referrals/webhook/deliveries` — the partner webhook endpoint ([`webhooks`])
//! * `GET /openapi.json` — the OpenAPI 3.1 document of every HTTP endpoint (`infra/openapi.yaml`)
//! * partner API keys and campaign links (`partner.rs`); the read routes above also accept an
//!   API key with the `read` scope (`principal.rs`)
//!
//! KPI definitions: *total earned* = credited bonuses minus reversed credits, all time;
//! *earned in the last 30 days* = the same for credits booked on the last 30 UTC days
//! (today included; a reversal subtracts from the day of the credit it reverses);
//! *signups* = users attributed to the referrer; *active referred users* = referred users
//! whose latest bonus-earning top-up (≥ $5) falls in those 30 days; *clicks* = link clicks.

pub mod history;
pub mod leaderboard;
pub mod partner;
pub mod principal;
pub mod qr;
pub mod stats;
pub mod views;
pub mod webhooks;

use adapters::auth::JwtVerifier;
use adapters::config::{self, ConfigError, Source};
use adapters::domain::leaderboard::LeaderboardKeys;
use adapters::domain::partner_webhook::UrlPolicy;
use adapters::domain::{Scope, UserId};
use adapters::store::{
    ApiKeys, Campaigns, Dashboard, HistoryQueries, Leaderboard, PartnerWebhooks, StatsQueries, Users,
};
use adapters::ApiError;
use lambda_http::http::{header, Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde_json::json;
use url::Url;

const PAGE_HTML: &str = include_str!("../../../infra/web/referrals.html");
const PAGE_JS: &str = include_str!("../../../infra/web/referrals.js");
const PAGE_CSS: &str = include_str!("../../../infra/web/referrals.css");
const OPENAPI_JSON: &str = include_str!(concat!(env!("OUT_DIR"), "/openapi.json"));
const WINDOW_DAYS: i64 = 30;
/// The routes an API key with the `read` scope may call (besides the JWT).
const READ_ROUTES: [&str; 7] = [
    "/referrals/link",
    "/referrals/qr.svg",
    "/referrals/qr.png",
    "/referrals/kpis",
    "/referrals/history",
    "/referrals/history.csv",
    "/referrals/stats",
];
/// Default requests per minute per API key (`API_KEY_RATE_PER_MINUTE`).
pub const DEFAULT_API_KEY_RATE_PER_MINUTE: u32 = 120;

#[derive(Debug, Clone)]
pub struct DashboardConfig {
    /// Origin of referral links (`<link_base>/?ref=CODE`).
    pub link_base: Url,
    /// The Referrals page's API prefix and sign-in link (`PUBLIC_BASE_PATH`, `SIGN_IN_URL`).
    pub page: adapters::web::PageConfig,
    /// Pseudonyms and sealed cursors of the leaderboard (`LEADERBOARD_SECRET`).
    pub leaderboard: LeaderboardKeys,
    /// Which partner webhook URLs may be registered (`WEBHOOK_ALLOW_HTTP_LOOPBACK`).
    pub webhook_urls: UrlPolicy,
    /// Requests per minute one API key may make (fixed window); JWT callers are not limited.
    pub api_key_rate_per_minute: u32,
    /// Rows per `history.csv` response (`history_csv::MAX_ROWS_PER_FILE`; tests lower it to
    /// see the continuation with a small history).
    pub csv_rows_per_file: usize,
}

impl DashboardConfig {
    pub fn from_env(src: &dyn Source) -> Result<Self, ConfigError> {
        // No fallback to the site: a link on the site's own host would bypass the redirect
        // (no click counted, no cookie set). template.yaml passes the link host; locally it
        // is the redirect's cargo-lambda URL, a path prefix included.
        let raw = config::required(
            src,
            "LINK_BASE_URL",
            "where the redirect function serves referral links (template.yaml: the link domain or the LinkApi URL)",
        )?;
        let link_base =
            parse_link_base(&raw).map_err(|reason| ConfigError::Invalid { key: "LINK_BASE_URL", reason })?;
        let page = adapters::web::PageConfig::from_env(src)?;
        let leaderboard = LeaderboardKeys::new(&config::required(
            src,
            "LEADERBOARD_SECRET",
            "key of the leaderboard's pseudonyms and cursors",
        )?)
        .ok_or(ConfigError::Invalid { key: "LEADERBOARD_SECRET", reason: "must be at least 32 characters".into() })?;
        let webhook_urls =
            UrlPolicy { allow_http_loopback: config::parsed_or(src, "WEBHOOK_ALLOW_HTTP_LOOPBACK", false)? };
        let api_key_rate_per_minute =
            config::parsed_or(src, "API_KEY_RATE_PER_MINUTE", DEFAULT_API_KEY_RATE_PER_MINUTE)?;
        if api_key_rate_per_minute == 0 {
            return Err(ConfigError::Invalid { key: "API_KEY_RATE_PER_MINUTE", reason: "must be at least 1".into() });
        }
        Ok(Self {
            link_base,
            page,
            leaderboard,
            webhook_urls,
            api_key_rate_per_minute,
            csv_rows_per_file: adapters::domain::history_csv::MAX_ROWS_PER_FILE,
        })
    }

    /// `<link_base>/?ref=CODE`.
    pub fn link(&self, code: &str) -> String {
        let mut url = self.link_base.clone();
        url.query_pairs_mut().clear().append_pair("ref", code);
        url.into()
    }

    /// `<link_base>/?ref=CODE&utm_campaign=<campaign>`.
    pub fn campaign_link(&self, code: &str, campaign: &str) -> String {
        let mut url = self.link_base.clone();
        url.query_pairs_mut().clear().append_pair("ref", code).append_pair("utm_campaign", campaign);
        url.into()
    }
}

/// An http(s) origin, optionally with a path prefix (`http://127.0.0.1:9000/lambda-url/redirect`
/// locally), normalised to end in `/`; no query, fragment or credentials.
fn parse_link_base(raw: &str) -> Result<Url, String> {
    let mut url = Url::parse(raw).map_err(|e| format!("{e} (got {raw:?})"))?;
    if !matches!(url.scheme(), "https" | "http") || url.host_str().is_none() {
        return Err(format!("must be an http(s) URL such as https://go.example.com, got {raw:?}"));
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
        return Err(format!("must have no query, fragment or credentials, got {raw:?}"));
    }
    let path = format!("{}/", url.path().trim_end_matches('/'));
    url.set_path(&path);
    Ok(url)
}

pub struct DashboardApi<S> {
    pub store: S,
    pub jwt: JwtVerifier,
    pub cfg: DashboardConfig,
}

pub async fn handle<S>(api: &DashboardApi<S>, req: &Request) -> Response<Body>
where
    S: Users + Dashboard + HistoryQueries + StatsQueries + Leaderboard + PartnerWebhooks + ApiKeys + Campaigns,
{
    adapters::http::respond(route(api, req).await)
}

async fn route<S>(api: &DashboardApi<S>, req: &Request) -> Result<Response<Body>, ApiError>
where
    S: Users + Dashboard + HistoryQueries + StatsQueries + Leaderboard + PartnerWebhooks + ApiKeys + Campaigns,
{
    let path = req.uri().path().trim_end_matches('/');
    // The webhook routes answer 405 themselves (their methods differ per path).
    if !webhooks::owns(path) {
        let allowed = match path {
            "/referrals/profile" => "PUT",
            _ => partner::allowed_methods(path).unwrap_or("GET"),
        };
        let method_ok = allowed.split(", ").any(|m| m == req.method().as_str())
            || (req.method() == Method::HEAD && allowed.contains("GET"));
        if !method_ok {
            return Err(ApiError::method_not_allowed(allowed));
        }
    }
    match path {
        "/referrals" => return Ok(adapters::web::page(PAGE_HTML, &api.cfg.page)),
        "/referrals.js" => {
            return Ok(adapters::web::static_file(
                "text/javascript; charset=utf-8",
                PAGE_JS.into(),
                "public, max-age=300",
            ))
        }
        "/referrals.css" => {
            return Ok(adapters::web::static_file("text/css; charset=utf-8", PAGE_CSS.into(), "public, max-age=300"))
        }
        "/openapi.json" => {
            return Ok(adapters::web::static_file("application/json", OPENAPI_JSON.into(), "public, max-age=300"))
        }
        _ => {}
    }
    let principal = match principal::authenticate(api, req).await {
        Ok(principal) => principal,
        Err(refusal) => return Ok(refusal.into_response()),
    };
    if let Some(result) = partner::route(api, req, &principal, path).await {
        return result;
    }
    // The public name and the webhook endpoint change what others see or receive: the
    // signed-in user only (JWT), like API key management. The leaderboard is a read.
    match path {
        "/referrals/leaderboard" => {
            principal.require(Scope::Read)?;
            return leaderboard::get(api, req, &principal.user).await;
        }
        "/referrals/profile" => {
            principal.require_jwt()?;
            return leaderboard::put_profile(api, req, &principal.user).await;
        }
        p if webhooks::owns(p) => {
            principal.require_jwt()?;
            return webhooks::route(&api.store, api.cfg.webhook_urls, req, &principal.user, p).await;
        }
        _ => {}
    }
    if !READ_ROUTES.contains(&path) {
        return Err(ApiError::not_found("route_not_found", format!("no dashboard route {path}")));
    }
    // The caller's own link, QR codes, KPIs and history: `read` scope for API keys.
    principal.require(Scope::Read)?;
    let user = principal.user;
    match path {
        "/referrals/link" => {
            let code = api.store.ensure_code(&user).await.map_err(unavailable)?;
            Ok(adapters::http::json(StatusCode::OK, &json!({ "code": code, "url": api.cfg.link(code.as_str()) })))
        }
        "/referrals/qr.svg" | "/referrals/qr.png" => qr_response(api, req, &user, path.ends_with(".png")).await,
        "/referrals/kpis" => {
            let today = adapters::clock::now().date();
            let start = today - time::Duration::days(WINDOW_DAYS - 1);
            let kpis =
                api.store.referrer_kpis(&user, &start.to_string(), &today.to_string()).await.map_err(unavailable)?;
            tracing::info!(user_id = %user, items_read = kpis.items_read, "kpis served");
            Ok(adapters::http::json(StatusCode::OK, &views::kpis_body(&kpis)))
        }
        "/referrals/history" => history::page(&api.store, req, &user).await,
        "/referrals/history.csv" => history::csv(&api.store, &api.cfg, req, &user).await,
        "/referrals/stats" => stats::get(&api.store, req, &user).await,
        _ => Err(ApiError::not_found("route_not_found", format!("no dashboard route {path}"))),
    }
}

pub(crate) fn unavailable(err: impl std::fmt::Display) -> ApiError {
    tracing::error!(error = %err, "dashboard request failed on storage");
    ApiError::unavailable("storage is unavailable; retry")
}

async fn qr_response<S>(
    api: &DashboardApi<S>,
    req: &Request,
    user: &UserId,
    png: bool,
) -> Result<Response<Body>, ApiError>
where
    S: Users,
{
    let size = match adapters::http::query_param(req, "size") {
        None => qr::DEFAULT_SIZE,
        Some(raw) => {
            raw.parse::<u32>().ok().filter(|s| (qr::MIN_SIZE..=qr::MAX_SIZE).contains(s)).ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_size",
                    format!("size must be {} to {} pixels", qr::MIN_SIZE, qr::MAX_SIZE),
                )
            })?
        }
    };
    let code = api.store.ensure_code(user).await.map_err(unavailable)?;
    let url = api.cfg.link(code.as_str());
    let etag = {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(format!("{}|{size}|{url}", if png { "png" } else { "svg" }));
        format!("\"{}\"", hex::encode(&digest[..12]))
    };
    let cache = "private, max-age=86400";
    if adapters::http::header(req, "if-none-match").is_some_and(|v| v.split(',').any(|t| t.trim() == etag)) {
        return Ok(Response::builder()
            .status(StatusCode::NOT_MODIFIED)
            .header(header::ETAG, &etag)
            .header(header::CACHE_CONTROL, cache)
            .body(Body::Empty)
            .expect("valid headers"));
    }
    let (content_type, body) = if png {
        ("image/png", Body::Binary(qr::png(&url, size).map_err(|_| ApiError::internal())?))
    } else {
        ("image/svg+xml", Body::Text(qr::svg(&url).map_err(|_| ApiError::internal())?))
    };
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, content_type)
        .header(header::ETAG, &etag)
        .header(header::CACHE_CONTROL, cache)
        .body(body)
        .expect("valid headers"))
}

/// Read from Secrets Manager at cold start (`<NAME>_SECRET_ARN` in the environment). The HS256
/// token secret only exists locally / in tests (`JWT_ALLOW_HS256`); AWS uses the JWKS.
pub const SECRETS: &[adapters::secrets::Secret] = &[
    adapters::secrets::Secret::text("LEADERBOARD_SECRET"),
    adapters::secrets::Secret::text("JWT_HS256_SECRET").optional(),
];

/// What a cold start builds.
pub type App = DashboardApi<adapters::store::DynamoStore>;

impl App {
    /// Everything `main` builds, from the environment and the SDK config (secrets read first).
    pub async fn from_env(env: &dyn Source, sdk: &adapters::aws::SdkConfig) -> Result<Self, config::InitError> {
        let env = adapters::secrets::load(&adapters::aws::secretsmanager(sdk), env, SECRETS).await?;
        Ok(Self {
            store: adapters::store::DynamoStore::new(adapters::aws::dynamodb(sdk), config::table_name(&env)?),
            jwt: JwtVerifier::from_env(&env)?,
            cfg: DashboardConfig::from_env(&env)?,
        })
    }
}
