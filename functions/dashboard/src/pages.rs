//! The public, unauthenticated routes: the Referrals page (`GET /referrals`, its script and
//! style sheet) and the OpenAPI document (`GET /openapi.json`). `GET /referrals/` redirects to
//! `/referrals`: the page's relative `referrals.js` / `referrals.css` would otherwise resolve
//! under `/referrals/` (API routes that answer 401).

use adapters::http::{Response, Router};
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::get;
use lambda_http::http::{header, StatusCode};

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
    adapters::web::static_file(content_type, body, "public, max-age=300")
}

async fn page<S: DashboardStore>(State(api): State<crate::State<S>>) -> Response {
    adapters::web::page(PAGE_HTML, &api.cfg.page)
}

/// `GET /referrals/` → 308 to the page (under the function's public prefix; the browser keeps
/// the `#token=…` fragment).
async fn to_page<S: DashboardStore>(State(api): State<crate::State<S>>) -> Response {
    let location = format!("{}/referrals", api.cfg.page.public_base_path);
    (StatusCode::PERMANENT_REDIRECT, [(header::LOCATION, location.as_str()), (header::CACHE_CONTROL, "no-cache")])
        .into_response()
}
