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
use adapters::http::{PathId, Response, Router};
use adapters::store::AuditEntry;
use adapters::web;
use adapters::ApiError;
use axum::extract::State;
use axum::routing::get;
use lambda_http::http::{StatusCode, Uri};
use serde_json::{json, Value};

use crate::{AdminCaller, AdminLedger, AdminStore};

const PAGE_HTML: &str = include_str!("../../../infra/web/admin.html");
const PAGE_JS: &str = include_str!("../../../infra/web/admin.js");
const PAGE_CSS: &str = include_str!("../../../infra/web/admin.css");

pub fn router<S: AdminStore, L: AdminLedger>() -> Router<crate::State<S, L>> {
    Router::new()
        .route("/admin", get(page::<S, L>))
        .route("/admin/", get(to_page))
        .route(
            "/admin/console.js",
            get(|| async { web::static_file("text/javascript; charset=utf-8", PAGE_JS.into(), "public, max-age=300") }),
        )
        .route(
            "/admin/console.css",
            get(|| async { web::static_file("text/css; charset=utf-8", PAGE_CSS.into(), "public, max-age=300") }),
        )
        .route("/admin/bonuses/{payment_id}", get(bonus::<S, L>))
        .route("/admin/referrers/{user_id}", get(referrer::<S, L>))
}

async fn page<S: AdminStore, L: AdminLedger>(State(admin): State<crate::State<S, L>>) -> Response {
    web::page(PAGE_HTML, &admin.console)
}

/// `GET /admin/` → 308 to `../admin`, i.e. `/admin` under whatever prefix the function is
/// reachable at (the page's relative assets resolve from there; the browser keeps the
/// `#token=…` fragment).
async fn to_page() -> Response {
    use axum::response::IntoResponse;
    use lambda_http::http::header;
    (StatusCode::PERMANENT_REDIRECT, [(header::LOCATION, "../admin"), (header::CACHE_CONTROL, "no-cache")])
        .into_response()
}

/// `GET /admin/bonuses/{payment_id}`.
async fn bonus<S: AdminStore, L: AdminLedger>(
    _: AdminCaller,
    State(admin): State<crate::State<S, L>>,
    PathId(payment): PathId<PaymentId>,
) -> Result<Response, ApiError> {
    match admin.billing.store.bonus(&payment).await? {
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
async fn referrer<S: AdminStore, L: AdminLedger>(
    _: AdminCaller,
    State(admin): State<crate::State<S, L>>,
    PathId(user): PathId<UserId>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let store = &admin.billing.store;
    let limit = adapters::http::limit_param(&uri, 20)?;
    let cursor = adapters::http::query_param(&uri, "cursor");
    let (view, bonuses) =
        tokio::join!(store.user_admin_view(&user), store.list_by_referrer(&user, limit, cursor.as_deref()));
    let Some(view) = view? else {
        return Err(ApiError::not_found("user_not_found", format!("no user {user}")));
    };
    let bonuses = bonuses?;
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
