//! A referrer's rate override (`PUT /admin/referrers/{user_id}/rate`) and the audited
//! re-attribution of a referred user (`POST /admin/attributions/{user_id}`).

use adapters::clock;
use adapters::domain::{Rate, UserId};
use adapters::http::{Json, PathId, Response, Router};
use adapters::store::{AdminChange, ReattributeOutcome};
use adapters::ApiError;
use axum::extract::State;
use axum::routing::{post, put};
use lambda_http::http::StatusCode;
use serde::Deserialize;
use serde_json::json;

use crate::{note_ok, AdminCaller, AdminLedger, AdminStore, MAX_BODY_BYTES};

pub fn router<S: AdminStore, L: AdminLedger>() -> Router<crate::State<S, L>> {
    Router::new()
        .route("/admin/referrers/{user_id}/rate", put(set_rate::<S, L>))
        .route("/admin/attributions/{user_id}", post(reattribute::<S, L>))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RateBody {
    rate: Option<String>,
    note: Option<String>,
}

async fn set_rate<S: AdminStore, L: AdminLedger>(
    AdminCaller { actor }: AdminCaller,
    State(admin): State<crate::State<S, L>>,
    PathId(referrer): PathId<UserId>,
    Json(body): Json<RateBody, MAX_BODY_BYTES>,
) -> Result<Response, ApiError> {
    note_ok(body.note.as_deref())?;
    let rate = match body.rate.as_deref() {
        None => None,
        Some(raw) => Some(Rate::parse(raw)?),
    };
    let change = AdminChange { actor: actor.clone(), at: clock::rfc3339(clock::now()), note: body.note };
    if !admin.billing.store.set_rate_override(&referrer, rate, &change).await? {
        return Err(ApiError::not_found("user_not_found", format!("no user {referrer}")));
    }
    tracing::info!(referrer_id = %referrer, actor, rate = rate.map(|r| r.to_string()), "rate override changed");
    Ok(adapters::http::json(StatusCode::OK, &json!({ "referrer_id": referrer, "rate_override": rate })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReattributeBody {
    referrer_id: String,
    note: String,
}

async fn reattribute<S: AdminStore, L: AdminLedger>(
    AdminCaller { actor }: AdminCaller,
    State(admin): State<crate::State<S, L>>,
    PathId(referred): PathId<UserId>,
    Json(body): Json<ReattributeBody, MAX_BODY_BYTES>,
) -> Result<Response, ApiError> {
    let to = UserId::parse(&body.referrer_id)?;
    note_ok(Some(&body.note))?;
    if to == referred {
        return Err(ApiError::unprocessable("self_referral", "a user cannot be attributed to themselves"));
    }
    let store = &admin.billing.store;
    let code = store
        .user(&to)
        .await?
        .and_then(|p| p.code)
        .ok_or_else(|| ApiError::unprocessable("referrer_has_no_code", format!("{to} has no referral code yet")))?;
    let change = AdminChange { actor: actor.clone(), at: clock::rfc3339(clock::now()), note: Some(body.note) };
    match store.reattribute(&referred, &to, code, &change).await? {
        ReattributeOutcome::Reattributed { from } => {
            tracing::info!(user_id = %referred, from = from.as_ref().map(|f| f.to_string()), to = %to, actor, "user re-attributed");
            Ok(adapters::http::json(StatusCode::OK, &json!({ "user_id": referred, "from": from, "to": to })))
        }
        ReattributeOutcome::UnknownUser => Err(ApiError::not_found("user_not_found", format!("no user {referred}"))),
        ReattributeOutcome::Conflict => {
            Err(ApiError::conflict("attribution_changed", "the attribution changed meanwhile; reload and retry"))
        }
    }
}
