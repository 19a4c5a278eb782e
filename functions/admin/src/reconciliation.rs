//! `/admin/reconciliation`: the findings of the reconciliation with Wellflow
//! (`referral_core::bonus::reconcile`), for an admin to look at and close.
//!
//! * `GET /admin/reconciliation?status=open|resolved&cursor=&limit=` — newest first (open: by
//!   first sighting; resolved: by resolution), `limit` 1..100 (default 50)
//! * `POST /admin/reconciliation/{finding_id}/resolve` `{"note"}` — closes an open finding;
//!   audited (actor `admin:<sub>`, time and note in the finding's history). 409 if resolved.
//!
//! Resolving records the admin's decision only: it moves no money (fixes in Wellflow's books
//! are made there, with a key outside our `ref:auto:` prefix — RUNBOOK.md).

use adapters::clock;
use adapters::ApiError;
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use referral_core::bonus::reconcile::{is_finding_id, Finding, FindingStatus};
use referral_core::store::{Findings, QueryError};
use referral_core::usecases::reconcile::{resolve_finding, ResolveOutcome};
use serde::Deserialize;
use serde_json::{json, Value};

/// The routes under `/admin/reconciliation` (`rest` = the path segments after it).
pub async fn route<S: Findings>(
    store: &S,
    method: &Method,
    rest: &[&str],
    req: &Request,
    actor: &str,
    body: &[u8],
) -> Result<Response<Body>, ApiError> {
    match (method, rest) {
        (&Method::GET, []) => list(store, req).await,
        (&Method::POST, [id, "resolve"]) => resolve(store, id, actor, body).await,
        (_, [] | [_, "resolve"]) => Err(ApiError::method_not_allowed("the method documented for this route")),
        _ => Err(ApiError::not_found("route_not_found", format!("no admin route {}", req.uri().path()))),
    }
}

async fn list<S: Findings>(store: &S, req: &Request) -> Result<Response<Body>, ApiError> {
    let param = |name: &str| adapters::http::query_param(req, name);
    let status = match param("status").as_deref() {
        None => FindingStatus::Open,
        Some(raw) => FindingStatus::parse(raw)
            .ok_or_else(|| ApiError::bad_request("invalid_status", "status must be open or resolved"))?,
    };
    let limit = adapters::http::limit_param(req, 50)?;
    let page = store.list_findings(status, limit, param("cursor").as_deref()).await.map_err(|e| match e {
        QueryError::Cursor(c) => ApiError::bad_request("invalid_cursor", c.to_string()),
        QueryError::Store(s) => unavailable(s),
    })?;
    let items: Vec<Value> = page.items.iter().map(view).collect();
    Ok(adapters::http::json(
        StatusCode::OK,
        &json!({ "status": status.as_str(), "items": items, "next_cursor": page.next_cursor }),
    ))
}

async fn resolve<S: Findings>(store: &S, id: &str, actor: &str, body: &[u8]) -> Result<Response<Body>, ApiError> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct ResolveBody {
        note: String,
    }
    if !is_finding_id(id) {
        return Err(ApiError::bad_request("invalid_finding_id", "a finding id looks like rf_ and 24 hex digits"));
    }
    let parsed: ResolveBody = adapters::http::parse_json(body)?;
    let note = parsed.note.trim();
    if note.is_empty() || note.chars().count() > 500 {
        return Err(ApiError::bad_request("invalid_note", "note must be 1 to 500 characters: what was done, and why"));
    }
    let now = clock::rfc3339(clock::now());
    match resolve_finding(store, id, actor, note, &now).await.map_err(unavailable)? {
        ResolveOutcome::Resolved(finding) => {
            Ok(adapters::http::json(StatusCode::OK, &json!({ "outcome": "resolved", "finding": view(&finding) })))
        }
        ResolveOutcome::NotFound => Err(ApiError::not_found("finding_not_found", format!("no finding {id}"))),
        ResolveOutcome::AlreadyResolved(finding) => Err(ApiError::conflict(
            "already_resolved",
            format!(
                "finding {id} was resolved by {} at {}",
                finding.resolved_by.as_deref().unwrap_or("?"),
                finding.resolved_at.as_deref().unwrap_or("?")
            ),
        )),
    }
}

fn unavailable(err: impl std::fmt::Display) -> ApiError {
    tracing::error!(error = %err, "reconciliation admin request failed on storage");
    ApiError::unavailable("storage is unavailable; retry")
}

/// A finding as an admin sees it.
fn view(f: &Finding) -> Value {
    json!({
        "finding_id": f.finding_id,
        "referrer_id": f.referrer_id,
        "payment_id": f.payment_id,
        "idempotency_key": f.idempotency_key,
        "kind": f.kind,
        "expected": f.expected,
        "actual": f.actual,
        "our_state": f.our_state,
        "detail": f.detail,
        "status": f.status,
        "first_seen_at": f.first_seen_at,
        "last_seen_at": f.last_seen_at,
        "seen_count": f.seen_count,
        "heal_attempts": f.heal_attempts,
        "resolved_by": f.resolved_by,
        "resolved_at": f.resolved_at,
        "resolution_note": f.resolution_note,
        "history": f.history,
    })
}
