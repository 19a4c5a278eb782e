//! Redirect Lambda: `GET /?ref=CODE[&…]` → `302` to the same path on the site origin with
//! `ref` removed, the referral cookie set (first-touch by default) and one click counted.
//!
//! A bad or unknown code never breaks the landing page: the visitor is still redirected,
//! just without a cookie. If DynamoDB is unreachable, a syntactically valid code still
//! gets its cookie (attribution is re-validated at signup) and the click goes uncounted.
//! A valid `utm_campaign` also counts the click for that campaign if it is registered.

pub mod plan;

use adapters::config::{self, ConfigError, Source};
use adapters::domain::RefCode;
use adapters::store::{ClickOutcome, Codes};
use std::sync::Arc;

use adapters::http::{Response, Router};
use adapters::ApiError;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::get;
use http::header::{CACHE_CONTROL, COOKIE, LOCATION, SET_COOKIE};
use http::{HeaderMap, Uri};
use lambda_http::{http, Body, Request};
use url::Url;

pub use plan::{plan, Plan, RefParam, Touch};

/// Cookie lifetime: 400 days, the maximum browsers honour.
pub const COOKIE_MAX_AGE_SECS: i64 = 400 * 24 * 60 * 60;

#[derive(Debug, Clone)]
pub struct RedirectConfig {
    pub site_origin: Url,
    /// Optional `Domain=` for the cookie (e.g. `example.com` when links live on `go.example.com`).
    pub cookie_domain: Option<String>,
    pub touch: Touch,
}

impl RedirectConfig {
    pub fn from_env(src: &dyn Source) -> Result<Self, ConfigError> {
        let site_origin =
            config::origin(src, "SITE_ORIGIN", "the public site visitors land on, e.g. https://www.example.com")?;
        let touch = match config::optional(src, "ATTRIBUTION_MODEL").as_deref() {
            None | Some("first_touch") => Touch::First,
            Some("last_touch") => Touch::Last,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    key: "ATTRIBUTION_MODEL",
                    reason: format!("expected first_touch or last_touch, got {other:?}"),
                })
            }
        };
        Ok(Self { site_origin, cookie_domain: config::optional(src, "COOKIE_DOMAIN"), touch })
    }
}

/// The `Set-Cookie` value for a referral code.
///
/// Not `HttpOnly` on purpose: the attribution snippet (ref.js) must read it to mirror the
/// code into localStorage and restore it after cookies are cleared or an OAuth hop. The
/// code is public (it is printed in the link), so script access exposes nothing secret.
pub fn referral_cookie(code: RefCode, domain: Option<&str>) -> String {
    let mut builder = cookie::Cookie::build(("ref", code.to_string()))
        .max_age(cookie::time::Duration::seconds(COOKIE_MAX_AGE_SECS))
        .path("/")
        .secure(true)
        .same_site(cookie::SameSite::Lax);
    if let Some(domain) = domain {
        builder = builder.domain(domain.to_string());
    }
    builder.build().to_string()
}

/// The redirect API: its store and configuration.
#[derive(Clone)]
pub struct Redirect<S> {
    pub store: S,
    pub cfg: RedirectConfig,
}

/// What the redirect's store must be to serve requests.
pub trait RedirectStore: Codes + Clone + Send + Sync + 'static {}
impl<T: Codes + Clone + Send + Sync + 'static> RedirectStore for T {}

/// Every route of the function (what main runs through lambda_http): `GET|HEAD` on any path
/// of the link domain (the path is kept in the `Location`); other methods 405.
pub fn router<S: RedirectStore>(app: Arc<Redirect<S>>) -> Router {
    adapters::http::finish(
        Router::new().route("/", get(redirect::<S>)).route("/{*path}", get(redirect::<S>)).with_state(app),
    )
}

/// One request through [`router`], in-process (tests).
pub async fn handle<S: RedirectStore>(store: &S, cfg: &RedirectConfig, req: &Request) -> lambda_http::Response<Body> {
    adapters::http::call(router(Arc::new(Redirect { store: store.clone(), cfg: cfg.clone() })), req).await
}

/// `GET /<path>?ref=CODE…`. Never fails: every path ends in a redirect.
async fn redirect<S: RedirectStore>(State(app): State<Arc<Redirect<S>>>, uri: Uri, headers: HeaderMap) -> Response {
    let (store, cfg) = (&app.store, &app.cfg);
    let cookies = headers.get_all(COOKIE).iter().filter_map(|v| v.to_str().ok());
    let plan = plan(&cfg.site_origin, uri.path(), uri.query(), cookies);

    let (outcome, cookie_for) = match plan.ref_param {
        RefParam::Absent => ("no_ref", None),
        RefParam::Malformed => ("malformed_code", None),
        RefParam::Valid(code) => match click(store, code, plan.campaign).await {
            Ok(ClickOutcome::Counted) => {
                adapters::metrics::count("Clicks", &[("code", code.as_str())]);
                ("counted", Some(code))
            }
            Ok(ClickOutcome::UnknownCode) => ("unknown_code", None),
            Err(err) => {
                tracing::warn!(code = %code, error = %err, "click not counted; setting cookie anyway");
                ("store_unavailable", Some(code))
            }
        },
    };
    let set_cookie = cookie_for.filter(|code| plan.should_set_cookie(cfg.touch, *code));
    tracing::info!(
        outcome,
        code = cookie_for.map(|c| c.to_string()),
        campaign = plan.campaign.as_ref().map(|c| c.as_str()),
        cookie_set = set_cookie.is_some(),
        "referral redirect"
    );

    let mut builder = http::Response::builder()
        .status(http::StatusCode::FOUND)
        .header(LOCATION, plan.location.as_str())
        .header(CACHE_CONTROL, "no-store");
    if let Some(code) = set_cookie {
        builder = builder.header(SET_COOKIE, referral_cookie(code, cfg.cookie_domain.as_deref()));
    }
    builder.body(axum::body::Body::empty()).unwrap_or_else(|err| {
        tracing::error!(error = %err, "redirect response could not be built");
        ApiError::internal().into_response()
    })
}

/// Counts the click, with its campaign when the link carries a valid `utm_campaign`.
async fn click<S: Codes>(
    store: &S,
    code: RefCode,
    campaign: Option<adapters::domain::CampaignName>,
) -> Result<ClickOutcome, adapters::store::StoreError> {
    match campaign {
        Some(campaign) => store.record_campaign_click(&code, &campaign).await,
        None => store.record_click(&code).await,
    }
}

/// What a cold start builds: config and store (no secrets).
pub type App = Redirect<adapters::store::DynamoStore>;

impl App {
    /// Everything `main` builds, from the environment and the SDK config.
    pub fn from_env(env: &dyn Source, sdk: &adapters::aws::SdkConfig) -> Result<Self, config::InitError> {
        Ok(Self {
            cfg: RedirectConfig::from_env(env)?,
            store: adapters::store::DynamoStore::new(adapters::aws::dynamodb(sdk), config::table_name(env)?),
        })
    }

    pub async fn handle(&self, req: &Request) -> lambda_http::Response<Body> {
        handle(&self.store, &self.cfg, req).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_has_the_exact_attributes() {
        let c = referral_cookie(RefCode::parse("K7M2XQ").unwrap(), None);
        let parsed = cookie::Cookie::parse(c.clone()).unwrap();
        assert_eq!(parsed.value(), "K7M2XQ");
        assert_eq!(parsed.max_age(), Some(cookie::time::Duration::seconds(34_560_000)));
        assert_eq!(parsed.path(), Some("/"));
        assert_eq!(parsed.secure(), Some(true));
        assert_eq!(parsed.same_site(), Some(cookie::SameSite::Lax));
        assert_eq!(parsed.http_only(), None);
        assert!(c.starts_with("ref=K7M2XQ;"));
    }

    #[test]
    fn config_validates_the_model() {
        let env: std::collections::HashMap<&str, &str> =
            [("SITE_ORIGIN", "https://www.example.com"), ("ATTRIBUTION_MODEL", "last_touch")].into();
        assert_eq!(RedirectConfig::from_env(&env).unwrap().touch, Touch::Last);
        let bad: std::collections::HashMap<&str, &str> =
            [("SITE_ORIGIN", "https://www.example.com"), ("ATTRIBUTION_MODEL", "middle")].into();
        assert!(RedirectConfig::from_env(&bad).is_err());
        assert!(RedirectConfig::from_env(&std::collections::HashMap::<&str, &str>::new()).is_err());
    }
}
