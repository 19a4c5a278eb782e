//! The admin console (`GET /admin`, a static page from `infra/web/admin.*`) and the two reads it
//! needs besides the moderation routes:
//!
//! * `GET /admin` — the page; `GET /admin/console.js`, `GET /admin/console.css` — its assets.
//!   No token needed for these (they hold no data); the page calls the API below with the
//!   admin's bearer JWT, like every other admin route. Strict CSP (`adapters::web::CSP`).
//! * `GET /admin/bonuses/{payment_id}` → one bonus with its full history and Wellflow moves.
//! * `GET /admin/referrers/{user_id}?limit=&cursor=` → the user's profile as an admin needs it
//!   (code, rate override and its audit trail, who referred them and the re-attribution
//!   trail, public name), the referrer's all-time totals, and their latest bonuses.
//!
//! Every change the console makes goes through the existing admin routes (approve, reject,
//! bulk, rate, attribution, rate tiers, reconciliation).

use adapters::domain::{PaymentId, UserId};
use adapters::store::{AdminViews, AuditEntry, BonusQueries, QueryError};
use adapters::web::{self, PageConfig};
use adapters::ApiError;
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use referral_core::store::Payments;
use serde_json::{json, Value};

const PAGE_HTML: &str = include_str!("../../../infra/web/admin.html");
const PAGE_JS: &str = include_str!("../../../infra/web/admin.js");
const PAGE_CSS: &str = include_str!("../../../infra/web/admin.css");

/// The console's static files, served without a token (`None`: not one of them).
pub fn static_route(cfg: &PageConfig, req: &Request) -> Option<Result<Response<Body>, ApiError>> {
    let path = req.uri().path();
    let file = match path {
        "/admin" => return Some(get_only(req).map(|()| web::page(PAGE_HTML, cfg))),
        "/admin/console.js" => ("text/javascript; charset=utf-8", PAGE_JS),
        "/admin/console.css" => ("text/css; charset=utf-8", PAGE_CSS),
        _ => return None,
    };
    Some(get_only(req).map(|()| web::static_file(file.0, file.1.into(), "public, max-age=300")))
}

fn get_only(req: &Request) -> Result<(), ApiError> {
    if req.method() == Method::GET || req.method() == Method::HEAD {
        Ok(())
    } else {
        Err(ApiError::method_not_allowed("GET"))
    }
}

fn unavailable(err: impl std::fmt::Display) -> ApiError {
    tracing::error!(error = %err, "admin console read failed on storage");
    ApiError::unavailable("storage is unavailable; retry")
}

/// `GET /admin/bonuses/{payment_id}`.
pub async fn bonus<S: Payments>(store: &S, raw_id: &str) -> Result<Response<Body>, ApiError> {
    let payment = PaymentId::parse(raw_id).map_err(|e| ApiError::bad_request("invalid_payment_id", e.to_string()))?;
    match store.bonus(&payment).await.map_err(unavailable)? {
        Some(b) => Ok(adapters::http::json(StatusCode::OK, &json!({ "bonus": crate::views::bonus(&b) }))),
        None => Err(ApiError::not_found("bonus_not_found", format!("no bonus for payment {payment}"))),
    }
}

fn audit(entries: &[AuditEntry]) -> Vec<Value> {
    entries
        .iter()
        .map(|e| {
            let mut v = json!({ "at": e.at, "actor": e.actor, "note": e.note });
            for (k, value) in &e.changed {
                v[k] = json!(value);
            }
            v
        })
        .collect()
}

/// `GET /admin/referrers/{user_id}`.
pub async fn referrer<S: AdminViews + BonusQueries>(
    store: &S,
    req: &Request,
    raw_id: &str,
) -> Result<Response<Body>, ApiError> {
    let user = UserId::parse(raw_id).map_err(|e| ApiError::bad_request("invalid_user_id", e.to_string()))?;
    let limit = adapters::http::limit_param(req, 20)?;
    let cursor = adapters::http::query_param(req, "cursor");
    let (view, bonuses) =
        tokio::join!(store.user_admin_view(&user), store.list_by_referrer(&user, limit, cursor.as_deref()));
    let Some(view) = view.map_err(unavailable)? else {
        return Err(ApiError::not_found("user_not_found", format!("no user {user}")));
    };
    let bonuses = bonuses.map_err(|e| match e {
        QueryError::Cursor(c) => ApiError::bad_request("invalid_cursor", c.to_string()),
        QueryError::Store(s) => unavailable(s),
    })?;
    let p = &view.profile;
    Ok(adapters::http::json(
        StatusCode::OK,
        &json!({
            "user_id": p.user_id,
            "created_at": p.created_at,
            "code": p.code,
            "rate_override": p.rate_override,
            "public_name": p.public_name,
            "referrer_id": p.referrer_id,
            "attributed_at": p.attributed_at,
            "same_ip": p.same_ip,
            "rate_history": audit(&view.rate_history),
            "attribution_history": audit(&view.attribution_history),
            "totals": {
                "earned_total": view.totals.earned_total.to_string(),
                "signups": view.totals.signups,
                "credited_count": view.totals.credited_count,
                "reversed_count": view.totals.reversed_count,
            },
            "bonuses": {
                "items": bonuses.items.iter().map(crate::views::bonus).collect::<Vec<_>>(),
                "next_cursor": bonuses.next_cursor,
            },
        }),
    ))
}
