//! The caller's own link, QR codes and KPIs (JWT, or an API key with the `read`
//! scope):
//!
//! * `GET /referrals/link` → `{code, url}` (the code is created on the first call)
//! * `GET /referrals/qr.svg`, `GET /referrals/qr.png?size=128..1024` — with `ETag`
//! * `GET /referrals/kpis` — from write-time aggregates: constant cost at any history size
//! * the history and the stats: [`crate::history`], [`crate::stats`]

use adapters::http::{Response, Router};
use adapters::ApiError;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::get;
use lambda_http::http::{header, HeaderMap, StatusCode, Uri};
use serde_json::json;

use crate::principal::{Principal, Reader};
use crate::{qr, views, DashboardStore};

const WINDOW_DAYS: i64 = 30;

pub fn router<S: DashboardStore>() -> Router<crate::State<S>> {
    Router::new()
        .route("/referrals/link", get(link::<S>))
        .route("/referrals/qr.svg", get(qr_svg::<S>))
        .route("/referrals/qr.png", get(qr_png::<S>))
        .route("/referrals/kpis", get(kpis::<S>))
}

async fn link<S: DashboardStore>(
    Reader(principal): Reader,
    State(api): State<crate::State<S>>,
) -> Result<Response, ApiError> {
    let code = api.store.ensure_code(&principal.user).await?;
    Ok(adapters::http::json(StatusCode::OK, &json!({ "code": code, "url": api.cfg.link(code.as_str()) })))
}

async fn kpis<S: DashboardStore>(
    Reader(principal): Reader,
    State(api): State<crate::State<S>>,
) -> Result<Response, ApiError> {
    let user = principal.user;
    let today = adapters::clock::now().date();
    let start = today - time::Duration::days(WINDOW_DAYS - 1);
    let kpis = api.store.referrer_kpis(&user, &start.to_string(), &today.to_string()).await?;
    tracing::info!(user_id = %user, items_read = kpis.items_read, "kpis served");
    Ok(adapters::http::json(StatusCode::OK, &views::kpis_body(&kpis)))
}

async fn qr_svg<S: DashboardStore>(
    Reader(principal): Reader,
    State(api): State<crate::State<S>>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    qr_response(&api, &principal, &uri, &headers, false).await
}

async fn qr_png<S: DashboardStore>(
    Reader(principal): Reader,
    State(api): State<crate::State<S>>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    qr_response(&api, &principal, &uri, &headers, true).await
}

async fn qr_response<S: DashboardStore>(
    api: &crate::DashboardApi<S>,
    principal: &Principal,
    uri: &Uri,
    headers: &HeaderMap,
    png: bool,
) -> Result<Response, ApiError> {
    let size = match adapters::http::query_param(uri, "size") {
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
    let code = api.store.ensure_code(&principal.user).await?;
    let url = api.cfg.link(code.as_str());
    let etag = {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(format!("{}|{size}|{url}", if png { "png" } else { "svg" }));
        format!("\"{}\"", hex::encode(&digest[..12]))
    };
    let cache = "private, max-age=86400";
    if adapters::http::header(headers, "if-none-match").is_some_and(|v| v.split(',').any(|t| t.trim() == etag)) {
        return Ok(
            (StatusCode::NOT_MODIFIED, [(header::ETAG, etag.as_str()), (header::CACHE_CONTROL, cache)]).into_response()
        );
    }
    let render_failed = |e: String| {
        tracing::error!(error = %e, "QR code rendering failed");
        ApiError::internal()
    };
    let ok = |content_type: &'static str, body: axum::body::Body| {
        ([(header::CONTENT_TYPE, content_type), (header::ETAG, etag.as_str()), (header::CACHE_CONTROL, cache)], body)
            .into_response()
    };
    Ok(if png {
        ok("image/png", qr::png(&url, size).map_err(render_failed)?.into())
    } else {
        ok("image/svg+xml", qr::svg(&url).map_err(render_failed)?.into())
    })
}
