//! Dashboard Lambda: what a referrer sees, over HTTPS, for their own data only (the user is
//! the JWT's `sub`; there is no user parameter to tamper with).
//!
//! * `GET /referrals` — the Referrals page (static HTML/JS/CSS from `infra/web/`)
//! * `GET /referrals/link` → `{code, url}` (the code is created on the first call)
//! * `GET /referrals/qr.svg`, `GET /referrals/qr.png?size=128..1024` — with `ETag`
//! * `GET /referrals/kpis` — from write-time aggregates: constant cost at any history size
//! * `GET /referrals/history?limit=&cursor=&status=&from=&to=`, `GET /referrals/history.csv` —
//!   every bonus, newest first, filtered ([`history`])
//! * `GET /referrals/stats?granularity=day|month&from=&to=` — the earnings chart ([`stats`])
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
pub mod mine;
pub mod pages;
pub mod partner;
pub mod principal;
pub mod qr;
pub mod stats;
pub mod views;
pub mod webhooks;

use std::sync::Arc;

use adapters::auth::JwtVerifier;
use adapters::config::{self, ConfigError, Source};
use adapters::domain::leaderboard::LeaderboardKeys;
use adapters::domain::partner_webhook::UrlPolicy;
use adapters::http::Router;
use adapters::store::{
    ApiKeys, BonusQueries, Campaigns, Dashboard, HistoryQueries, Leaderboard, PartnerWebhooks, StatsQueries, Users,
};
use lambda_http::{Body, Request};
use url::Url;

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

/// The dashboard API: its store, the JWT verifier and the configuration.
#[derive(Clone)]
pub struct DashboardApi<S> {
    pub store: S,
    pub jwt: JwtVerifier,
    pub cfg: DashboardConfig,
}

/// What the dashboard's store must do.
pub trait DashboardStore:
    Users
    + Dashboard
    + BonusQueries
    + HistoryQueries
    + StatsQueries
    + Leaderboard
    + PartnerWebhooks
    + ApiKeys
    + Campaigns
    + Clone
    + Send
    + Sync
    + 'static
{
}
impl<T> DashboardStore for T where
    T: Users
        + Dashboard
        + BonusQueries
        + HistoryQueries
        + StatsQueries
        + Leaderboard
        + PartnerWebhooks
        + ApiKeys
        + Campaigns
        + Clone
        + Send
        + Sync
        + 'static
{
}

/// The state every dashboard route sees.
pub type State<S> = Arc<DashboardApi<S>>;

/// Every route of the function, one router per resource module (what main runs through
/// lambda_http). Order of answers on every route (docs/api/input-policy.md): 404 unknown path,
/// 405 other method (with `Allow`), then 401/429 ([`principal::Principal`]), 403 (scope), then
/// the body and the route's own answers.
pub fn router<S: DashboardStore>(api: State<S>) -> Router {
    adapters::http::finish(
        Router::new()
            .merge(pages::router())
            .merge(mine::router())
            .merge(history::router())
            .merge(stats::router())
            .merge(leaderboard::router())
            .merge(webhooks::router())
            .merge(partner::router())
            .with_state(api),
    )
}

/// One request through [`router`], in-process (tests).
pub async fn handle<S: DashboardStore>(api: &DashboardApi<S>, req: &Request) -> lambda_http::Response<Body> {
    adapters::http::call(router(Arc::new(api.clone())), req).await
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
