//! The moderation queue: `GET /admin/bonuses`, `POST /admin/bonuses/{payment_id}/approve`,
//! `POST /admin/bonuses/{payment_id}/reject`, `POST /admin/bonuses/bulk`.

use adapters::domain::{BonusStatus, PaymentId};
use adapters::http::{Json, MaybeJson, PathId, Response, Router};
use adapters::ApiError;
use axum::extract::State;
use axum::routing::{get, post};
use futures::StreamExt;
use lambda_http::http::{StatusCode, Uri};
use referral_core::usecases::moderation::{approve as approve_bonus, reject as reject_bonus, ModerationOutcome};
use serde::Deserialize;
use serde_json::json;

use crate::views::{self, Outcome};
use crate::{note_ok, AdminCaller, AdminLedger, AdminStore, MAX_BODY_BYTES};

pub const MAX_BULK: usize = 100;
const BULK_CONCURRENCY: usize = 8;

pub fn router<S: AdminStore, L: AdminLedger>() -> Router<crate::State<S, L>> {
    Router::new()
        .route("/admin/bonuses", get(list::<S, L>))
        .route("/admin/bonuses/bulk", post(bulk::<S, L>))
        .route("/admin/bonuses/{payment_id}/approve", post(approve::<S, L>))
        .route("/admin/bonuses/{payment_id}/reject", post(reject::<S, L>))
}

fn reason_ok(reason: &str) -> Result<(), ApiError> {
    let valid = !reason.is_empty() && reason.len() <= 64 && reason.chars().all(|c| c.is_ascii_lowercase() || c == '_');
    if valid {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "invalid_reason",
            "reason must be a snake_case code such as fraud or duplicate_account",
        ))
    }
}

async fn list<S: AdminStore, L: AdminLedger>(
    _: AdminCaller,
    State(admin): State<crate::State<S, L>>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let param = |name: &str| adapters::http::query_param(&uri, name);
    let status = match param("status").as_deref() {
        Some("pending") | None => BonusStatus::Pending,
        Some("failed") => BonusStatus::Failed,
        Some(_) => return Err(ApiError::bad_request("invalid_status", "status must be pending or failed")),
    };
    let limit = adapters::http::limit_param(&uri, 50)?;
    let page = admin.billing.store.list_by_status(status, limit, param("cursor").as_deref()).await?;
    let items: Vec<_> = page.items.iter().map(views::bonus).collect();
    Ok(adapters::http::json(
        StatusCode::OK,
        &json!({ "status": status, "items": items, "next_cursor": page.next_cursor }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ApproveBody {
    note: Option<String>,
}

async fn approve<S: AdminStore, L: AdminLedger>(
    AdminCaller { actor }: AdminCaller,
    State(admin): State<crate::State<S, L>>,
    PathId(payment): PathId<PaymentId>,
    MaybeJson(body): MaybeJson<ApproveBody, MAX_BODY_BYTES>,
) -> Result<Response, ApiError> {
    let note = body.and_then(|b| b.note);
    note_ok(note.as_deref())?;
    let outcome = Box::pin(approve_bonus(&admin.billing, &payment, &actor, note.as_deref())).await?;
    Ok(views::decision(&outcome))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RejectBody {
    reason: String,
    note: Option<String>,
}

async fn reject<S: AdminStore, L: AdminLedger>(
    AdminCaller { actor }: AdminCaller,
    State(admin): State<crate::State<S, L>>,
    PathId(payment): PathId<PaymentId>,
    Json(body): Json<RejectBody, MAX_BODY_BYTES>,
) -> Result<Response, ApiError> {
    reason_ok(&body.reason)?;
    note_ok(body.note.as_deref())?;
    let outcome = Box::pin(reject_bonus(&admin.billing, &payment, &actor, &body.reason, body.note.as_deref())).await?;
    Ok(views::decision(&outcome))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Bulk {
    action: String,
    payment_ids: Vec<String>,
    reason: Option<String>,
    note: Option<String>,
}

async fn bulk<S: AdminStore, L: AdminLedger>(
    AdminCaller { actor }: AdminCaller,
    State(admin): State<crate::State<S, L>>,
    Json(parsed): Json<Bulk, MAX_BODY_BYTES>,
) -> Result<Response, ApiError> {
    note_ok(parsed.note.as_deref())?;
    if parsed.payment_ids.is_empty() || parsed.payment_ids.len() > MAX_BULK {
        return Err(ApiError::bad_request("invalid_payment_ids", format!("payment_ids must hold 1 to {MAX_BULK} ids")));
    }
    let mut unique = parsed.payment_ids.clone();
    unique.sort();
    unique.dedup();
    if unique.len() != parsed.payment_ids.len() {
        return Err(ApiError::bad_request("duplicate_payment_ids", "each payment id may appear once"));
    }
    let reject_reason = match parsed.action.as_str() {
        "approve" => None,
        "reject" => {
            let reason = parsed
                .reason
                .clone()
                .ok_or_else(|| ApiError::bad_request("invalid_reason", "reject needs a reason"))?;
            reason_ok(&reason)?;
            Some(reason)
        }
        _ => return Err(ApiError::bad_request("invalid_action", "action must be approve or reject")),
    };
    let note = parsed.note.as_deref();
    let results: Vec<serde_json::Value> = futures::stream::iter(parsed.payment_ids.clone())
        .map(|raw| decide_one(&admin, &actor, raw, reject_reason.as_deref(), note))
        .buffered(BULK_CONCURRENCY)
        .collect()
        .await;
    Ok(adapters::http::json(StatusCode::OK, &json!({ "action": parsed.action, "results": results })))
}

/// One id of a bulk call, decided independently of the others.
async fn decide_one<S: AdminStore, L: AdminLedger>(
    admin: &crate::Admin<S, L>,
    actor: &str,
    raw: String,
    reject_reason: Option<&str>,
    note: Option<&str>,
) -> serde_json::Value {
    let Ok(pid) = PaymentId::parse(&raw) else {
        return json!({ "payment_id": raw, "outcome": "invalid_payment_id" });
    };
    let decided = match reject_reason {
        None => Box::pin(approve_bonus(&admin.billing, &pid, actor, note)).await,
        Some(reason) => Box::pin(reject_bonus(&admin.billing, &pid, actor, reason, note)).await,
    };
    match decided {
        Ok(outcome) => {
            let status = match &outcome {
                ModerationOutcome::Approved(b) | ModerationOutcome::Rejected(b) | ModerationOutcome::NotOpen(b) => {
                    Some(b.status)
                }
                ModerationOutcome::ApprovedButFailed { bonus, .. } => Some(bonus.status),
                ModerationOutcome::NotFound => None,
            };
            json!({ "payment_id": raw, "outcome": Outcome::of(&outcome).as_str(), "status": status })
        }
        Err(err) => {
            tracing::error!(payment_id = %pid, error = %err, "bulk decision failed");
            json!({ "payment_id": raw, "outcome": "unavailable" })
        }
    }
}
