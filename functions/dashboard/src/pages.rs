//! The public, unauthenticated routes: the Referrals page (`GET /referrals`, its script and
//! style sheet) and the OpenAPI document (`GET /openapi.json`). `GET /referrals/` redirects to
//! `/referrals`: the page's relative `referrals.js` / `referrals.css` would otherwise resolve
//! under `/referrals/` (API routes that answer 401).

use adapters::http::{Response, Router};
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::get;
use lambda_http::http::{header, HeaderValue, StatusCode};

use crate::DashboardStore;

const PAGE_HTML: &str = include_str!("../../../infra/web/referrals.html");
const PAGE_JS: &str = include_str!("../../../infra/web/referrals.js");
const PAGE_CSS: &str = include_str!("../../../infra/web/referrals.css");
const OPENAPI_JSON: &str = include_str!(concat!(env!("OUT_DIR"), "/openapi.json"));

pub fn router<S: DashboardStore>() -> Router<crate::State<S>> {
    Router::new()
        .route("/referrals", get(page::<S>))
        .route("/referrals/", get(to_page::<S>))
        .route("/referrals.js", get(|| async { static_file("text/javascript; charset=utf-8", PAGE_JS.into()) }))
        .route("/referrals.css", get(|| async { static_file("text/css; charset=utf-8", PAGE_CSS.into()) }))
        .route("/openapi.json", get(|| async { static_file("application/json", OPENAPI_JSON.into()) }))
}

fn static_file(content_type: &'static str, body: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=300"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

async fn page<S: DashboardStore>(State(api): State<crate::State<S>>) -> Response {
    let html = PAGE_HTML.replacen("data-api-base=\"\"", &format!("data-api-base=\"{}\"", api.cfg.public_base_path), 1);
    let mut resp = static_file("text/html; charset=utf-8", html);
    let headers = resp.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; \
             connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        ),
    );
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    resp
}

/// `GET /referrals/` → 308 to the page (under the function's public prefix; the browser keeps
/// the `#token=…` fragment).
async fn to_page<S: DashboardStore>(State(api): State<crate::State<S>>) -> Response {
    let location = format!("{}/referrals", api.cfg.public_base_path);
    (StatusCode::PERMANENT_REDIRECT, [(header::LOCATION, location.as_str()), (header::CACHE_CONTROL, "no-cache")])
        .into_response()
}
