//! The referrer's partner webhook endpoint and its delivery log (the user is the JWT's `sub`):
//!
//! * `GET    /referrals/webhook` → `{url, events, created_at, updated_at}` (never the secret)
//! * `PUT    /referrals/webhook` `{"url", "events": [...]}` → the endpoint; `secret` (`whsec_…`)
//!   only when it is created — a later PUT keeps the secret
//! * `POST   /referrals/webhook/rotate-secret` → the endpoint with its new `secret`; the old
//!   one stops signing at once
//! * `DELETE /referrals/webhook` → 204 (also when there was none); queued events are dropped
//! * `GET    /referrals/webhook/deliveries?limit=&cursor=` → delivery attempts, newest first
//!
//! URLs must pass [`UrlPolicy::validate`] (https on 443 to a public host; `http://127.0.0.1`
//! only when `WEBHOOK_ALLOW_HTTP_LOOPBACK=true` in local and test runs).

use adapters::domain::partner_webhook::{new_secret, MAX_URL_LEN};
use adapters::domain::PartnerEventType;
use adapters::http::{Json, Response, Router};
use adapters::store::{DeliveryRecord, SaveOutcome, WebhookEndpoint};
use adapters::ApiError;
use axum::extract::State;
use axum::routing::{get, post};
use lambda_http::http::{StatusCode, Uri};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::principal::Session;
use crate::DashboardStore;

const MAX_BODY_BYTES: usize = 8 * 1024;

/// The signed-in user only (JWT): the endpoint decides who receives the user's events.
pub fn router<S: DashboardStore>() -> Router<crate::State<S>> {
    Router::new()
        .route("/referrals/webhook", get(get_endpoint::<S>).put(put::<S>).delete(delete::<S>))
        .route("/referrals/webhook/rotate-secret", post(rotate::<S>))
        .route("/referrals/webhook/deliveries", get(deliveries::<S>))
}

fn view(endpoint: &WebhookEndpoint, with_secret: bool) -> Value {
    let mut v = json!({
        "url": endpoint.url,
        "events": endpoint.events,
        "created_at": endpoint.created_at,
        "updated_at": endpoint.updated_at,
    });
    if with_secret {
        v["secret"] = json!(endpoint.secret);
    }
    v
}

fn delivery_view(d: &DeliveryRecord) -> Value {
    json!({
        "event_id": d.event_id,
        "type": d.event_type,
        "payment_id": d.payment_id,
        "attempt": d.attempt,
        "at": d.at,
        "delivered": d.delivered,
        "status_code": d.status_code,
        "error": d.error,
        "duration_ms": d.duration_ms,
    })
}

fn conflict() -> ApiError {
    ApiError::conflict("concurrent_update", "the webhook changed while saving; read it and try again")
}

fn not_registered() -> ApiError {
    ApiError::not_found("webhook_not_found", "no partner webhook is registered; PUT /referrals/webhook first")
}

async fn get_endpoint<S: DashboardStore>(
    Session(principal): Session,
    State(api): State<crate::State<S>>,
) -> Result<Response, ApiError> {
    let endpoint = api.store.webhook_endpoint(&principal.user).await?.ok_or_else(not_registered)?;
    Ok(adapters::http::json(StatusCode::OK, &view(&endpoint, false)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PutBody {
    url: String,
    events: Vec<String>,
}

fn parse_events(raw: &[String]) -> Result<Vec<PartnerEventType>, ApiError> {
    let invalid = || {
        let all: Vec<&str> = PartnerEventType::ALL.iter().map(|t| t.as_str()).collect();
        ApiError::bad_request("invalid_events", format!("events must be a non-empty list of: {}", all.join(", ")))
    };
    if raw.is_empty() || raw.len() > PartnerEventType::ALL.len() * 4 {
        return Err(invalid());
    }
    let mut events = raw.iter().map(|e| PartnerEventType::parse(e)).collect::<Option<Vec<_>>>().ok_or_else(invalid)?;
    events.sort();
    events.dedup();
    Ok(events)
}

async fn put<S: DashboardStore>(
    Session(principal): Session,
    State(api): State<crate::State<S>>,
    Json(body): Json<PutBody, MAX_BODY_BYTES>,
) -> Result<Response, ApiError> {
    let (store, user) = (&api.store, &principal.user);
    let url = api.cfg.webhook_urls.validate(&body.url)?;
    let url = url.to_string();
    if url.len() > MAX_URL_LEN {
        return Err(ApiError::bad_request("invalid_url", format!("url must be at most {MAX_URL_LEN} characters")));
    }
    let events = parse_events(&body.events)?;
    let now = adapters::clock::rfc3339(adapters::clock::now());
    let existing = store.webhook_endpoint(user).await?;
    let created = existing.is_none();
    let (endpoint, expected) = match existing {
        None => (
            WebhookEndpoint {
                user_id: user.clone(),
                url,
                events,
                secret: new_secret(),
                created_at: now.clone(),
                updated_at: now,
                version: 1,
            },
            None,
        ),
        Some(old) => {
            let read = old.version;
            (WebhookEndpoint { url, events, updated_at: now, version: read + 1, ..old }, Some(read))
        }
    };
    match store.save_webhook_endpoint(&endpoint, expected).await? {
        SaveOutcome::Saved => {}
        SaveOutcome::Conflict => return Err(conflict()),
    }
    tracing::info!(user_id = %user, created, events = ?endpoint.events, outcome = "webhook_saved", "partner webhook saved");
    Ok(adapters::http::json(StatusCode::OK, &view(&endpoint, created)))
}

async fn rotate<S: DashboardStore>(
    Session(principal): Session,
    State(api): State<crate::State<S>>,
) -> Result<Response, ApiError> {
    let (store, user) = (&api.store, &principal.user);
    let old = store.webhook_endpoint(user).await?.ok_or_else(not_registered)?;
    let read = old.version;
    let endpoint = WebhookEndpoint {
        secret: new_secret(),
        updated_at: adapters::clock::rfc3339(adapters::clock::now()),
        version: read + 1,
        ..old
    };
    match store.save_webhook_endpoint(&endpoint, Some(read)).await? {
        SaveOutcome::Saved => {}
        SaveOutcome::Conflict => return Err(conflict()),
    }
    tracing::info!(user_id = %user, outcome = "webhook_secret_rotated", "partner webhook secret rotated");
    Ok(adapters::http::json(StatusCode::OK, &view(&endpoint, true)))
}

async fn delete<S: DashboardStore>(
    Session(principal): Session,
    State(api): State<crate::State<S>>,
) -> Result<Response, ApiError> {
    let user = &principal.user;
    let deleted = api.store.delete_webhook_endpoint(user).await?;
    tracing::info!(user_id = %user, deleted, outcome = "webhook_deleted", "partner webhook deleted");
    Ok(adapters::http::no_content())
}

async fn deliveries<S: DashboardStore>(
    Session(principal): Session,
    State(api): State<crate::State<S>>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let limit = adapters::http::limit_param(&uri, 20)?;
    let cursor = adapters::http::query_param(&uri, "cursor");
    let page = api.store.list_deliveries(&principal.user, limit, cursor.as_deref()).await?;
    let items: Vec<Value> = page.items.iter().map(delivery_view).collect();
    Ok(adapters::http::json(StatusCode::OK, &json!({ "items": items, "next_cursor": page.next_cursor })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_validated_sorted_and_deduplicated() {
        let raw = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            parse_events(&raw(&["bonus.reversed", "bonus.created", "bonus.created"])).unwrap(),
            vec![PartnerEventType::BonusCreated, PartnerEventType::BonusReversed]
        );
        assert!(parse_events(&raw(&[])).is_err());
        assert!(parse_events(&raw(&["bonus.created", "payout.sent"])).is_err());
    }
}
