//! `/admin/reconciliation`: the findings of the reconciliation with Wellflow
//! (`referral_core::bonus::reconcile`), for an admin to look at and close.
//!
//! * `GET /admin/reconciliation?status=open|resolved&cursor=&limit=` — newest first (open: by
//!   first sighting; resolved: by resolution), `limit` 1..100 (default 50)
//! * `POST /admin/reconciliation/{finding_id}/resolve` `{"note"}` — closes an open finding;
//!   audited (actor `admin:<sub>`, time and note in the finding's history). 409 if resolved.
//!
//! Resolving records the admin's decision only: it moves no money (fixes in Wellflow's books
//! are made there, with a key outside our `ref:auto:` prefix — docs/RUNBOOK.md).

use adapters::clock;
use adapters::http::{Json, PathId, PathValue, Response, Router};
use adapters::ApiError;
use axum::extract::State;
use axum::routing::{get, post};
use lambda_http::http::{StatusCode, Uri};
use referral_core::bonus::reconcile::{is_finding_id, Finding, FindingStatus};
use referral_core::usecases::reconcile::{resolve_finding, ResolveOutcome};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::{AdminCaller, AdminLedger, AdminStore, MAX_BODY_BYTES};

pub fn router<S: AdminStore, L: AdminLedger>() -> Router<crate::State<S, L>> {
    Router::new()
        .route("/admin/reconciliation", get(list::<S, L>))
        .route("/admin/reconciliation/{finding_id}/resolve", post(resolve::<S, L>))
}

/// A finding id from the path (`rf_` and 24 hex digits).
pub struct FindingId(String);

impl PathValue for FindingId {
    const NAME: &'static str = "finding_id";
    const CODE: &'static str = "invalid_finding_id";
    fn parse_path(raw: &str) -> Result<Self, String> {
        if is_finding_id(raw) {
            Ok(FindingId(raw.to_string()))
        } else {
            Err("a finding id looks like rf_ and 24 hex digits".into())
        }
    }
}

async fn list<S: AdminStore, L: AdminLedger>(
    _: AdminCaller,
    State(admin): State<crate::State<S, L>>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let param = |name: &str| adapters::http::query_param(&uri, name);
    let status = match param("status").as_deref() {
        None => FindingStatus::Open,
        Some(raw) => FindingStatus::parse(raw)
            .ok_or_else(|| ApiError::bad_request("invalid_status", "status must be open or resolved"))?,
    };
    let limit = adapters::http::limit_param(&uri, 50)?;
    let page = admin.billing.store.list_findings(status, limit, param("cursor").as_deref()).await?;
    let items: Vec<Value> = page.items.iter().map(view).collect();
    Ok(adapters::http::json(
        StatusCode::OK,
        &json!({ "status": status.as_str(), "items": items, "next_cursor": page.next_cursor }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResolveBody {
    note: String,
}

async fn resolve<S: AdminStore, L: AdminLedger>(
    AdminCaller { actor }: AdminCaller,
    State(admin): State<crate::State<S, L>>,
    PathId(FindingId(id)): PathId<FindingId>,
    Json(parsed): Json<ResolveBody, MAX_BODY_BYTES>,
) -> Result<Response, ApiError> {
    let note = parsed.note.trim();
    if note.is_empty() || note.chars().count() > 500 {
        return Err(ApiError::bad_request("invalid_note", "note must be 1 to 500 characters: what was done, and why"));
    }
    let now = clock::rfc3339(clock::now());
    match resolve_finding(&admin.billing.store, &id, &actor, note, &now).await? {
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
