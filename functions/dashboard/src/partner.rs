//! The partner API's own routes:
//!
//! * `POST /referrals/api-keys` `{"name", "scopes": ["read", "campaigns"]}` → 201 with the
//!   full key (shown this once; only its SHA-256 is stored); `GET` lists keys without
//!   secrets; `DELETE /referrals/api-keys/{key_id}` revokes at once (204; another user's → 404).
//!   Session token (JWT) only: an API key can never create or revoke keys.
//! * `POST /referrals/campaigns` `{"campaign": "spring-sale"}` → 201 with the campaign link
//!   `<link_base>/?ref=CODE&utm_campaign=spring-sale`; `GET` lists campaigns with their
//!   clicks. JWT or an API key with the `campaigns` scope.

use adapters::domain::api_key::{self, GeneratedKey};
use adapters::domain::campaign::{CampaignName, MAX_CAMPAIGNS};
use adapters::domain::{ApiKeyId, Scopes};
use adapters::http::{Json, PathId, Response, Router};
use adapters::store::partner::{ApiKeyRecord, ApiKeySummary, CampaignOutcome, CreateKeyOutcome, RevokeOutcome};
use adapters::ApiError;
use axum::extract::State;
use axum::routing::{delete, get};
use lambda_http::http::StatusCode;
use serde::Deserialize;
use serde_json::json;

use crate::principal::{CampaignManager, Session};
use crate::DashboardStore;

pub const API_KEYS_PATH: &str = "/referrals/api-keys";
pub const CAMPAIGNS_PATH: &str = "/referrals/campaigns";
/// Request bodies here are tiny.
const MAX_BODY_BYTES: usize = 4 * 1024;

pub fn router<S: DashboardStore>() -> Router<crate::State<S>> {
    Router::new()
        .route(API_KEYS_PATH, get(list_keys::<S>).post(create_key::<S>))
        .route("/referrals/api-keys/{key_id}", delete(revoke_key::<S>))
        .route(CAMPAIGNS_PATH, get(list_campaigns::<S>).post(create_campaign::<S>))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewKey {
    name: String,
    scopes: Vec<String>,
}

fn key_view(key: &ApiKeySummary) -> serde_json::Value {
    json!({
        "key_id": key.key_id,
        "name": key.name,
        "scopes": key.scopes,
        "hint": key.hint,
        "created_at": key.created_at,
        "revoked_at": key.revoked_at,
    })
}

async fn create_key<S: DashboardStore>(
    Session(principal): Session,
    State(api): State<crate::State<S>>,
    Json(body): Json<NewKey, MAX_BODY_BYTES>,
) -> Result<Response, ApiError> {
    let name = api_key::validate_name(&body.name)?;
    let scopes = Scopes::parse(&body.scopes)?;
    let created_at = adapters::clock::rfc3339(adapters::clock::now());
    // A key id collision (62 bits) is astronomically unlikely; draw again a couple of times.
    for _ in 0..3 {
        let key = GeneratedKey::random();
        let record = ApiKeyRecord {
            key_id: key.id.clone(),
            owner_id: principal.user.clone(),
            name: name.clone(),
            scopes: scopes.names().into_iter().map(String::from).collect(),
            secret_hash: key.secret_hash(),
            hint: key.hint(),
            created_at: created_at.clone(),
            revoked_at: None,
        };
        match api.store.create_api_key(&record, api_key::MAX_ACTIVE_KEYS).await? {
            CreateKeyOutcome::Created => {
                tracing::info!(user_id = %principal.user, api_key_id = %key.id, scopes = ?scopes.names(), "api key created");
                let mut view = key_view(&record.summary());
                view["key"] = json!(key.reveal());
                return Ok(adapters::http::json(StatusCode::CREATED, &view));
            }
            CreateKeyOutcome::LimitReached => {
                return Err(ApiError::conflict(
                    "api_key_limit",
                    format!("at most {} active API keys; revoke one first", api_key::MAX_ACTIVE_KEYS),
                ))
            }
            CreateKeyOutcome::IdTaken => tracing::warn!(api_key_id = %key.id, "api key id collision, drawing again"),
        }
    }
    Err(ApiError::internal())
}

async fn list_keys<S: DashboardStore>(
    Session(principal): Session,
    State(api): State<crate::State<S>>,
) -> Result<Response, ApiError> {
    let keys = api.store.api_keys(&principal.user).await?;
    let items: Vec<_> = keys.iter().map(key_view).collect();
    Ok(adapters::http::json(StatusCode::OK, &json!({ "items": items })))
}

async fn revoke_key<S: DashboardStore>(
    Session(principal): Session,
    State(api): State<crate::State<S>>,
    PathId(key_id): PathId<ApiKeyId>,
) -> Result<Response, ApiError> {
    let at = adapters::clock::rfc3339(adapters::clock::now());
    match api.store.revoke_api_key(&principal.user, &key_id, &at).await? {
        outcome @ (RevokeOutcome::Revoked | RevokeOutcome::AlreadyRevoked) => {
            tracing::info!(user_id = %principal.user, api_key_id = %key_id, outcome = ?outcome, "api key revoked");
            Ok(adapters::http::no_content())
        }
        RevokeOutcome::NotFound => Err(ApiError::not_found("api_key_not_found", "no such API key")),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewCampaign {
    campaign: String,
}

async fn create_campaign<S: DashboardStore>(
    CampaignManager(principal): CampaignManager,
    State(api): State<crate::State<S>>,
    Json(body): Json<NewCampaign, MAX_BODY_BYTES>,
) -> Result<Response, ApiError> {
    let name = CampaignName::parse(&body.campaign)?;
    let code = api.store.ensure_code(&principal.user).await?;
    let at = adapters::clock::rfc3339(adapters::clock::now());
    match api.store.create_campaign(&principal.user, &code, &name, &at, MAX_CAMPAIGNS).await? {
        CampaignOutcome::Created => Ok(adapters::http::json(
            StatusCode::CREATED,
            &json!({
                "campaign": name.as_str(),
                "url": api.cfg.campaign_link(code.as_str(), name.as_str()),
                "clicks": 0,
                "created_at": at,
            }),
        )),
        CampaignOutcome::Exists => {
            Err(ApiError::conflict("campaign_exists", format!("campaign {name} exists already")))
        }
        CampaignOutcome::LimitReached => {
            Err(ApiError::conflict("campaign_limit", format!("at most {MAX_CAMPAIGNS} campaigns per referral link")))
        }
    }
}

async fn list_campaigns<S: DashboardStore>(
    CampaignManager(principal): CampaignManager,
    State(api): State<crate::State<S>>,
) -> Result<Response, ApiError> {
    let code = api.store.ensure_code(&principal.user).await?;
    let campaigns = api.store.campaigns(&principal.user, &code).await?;
    let items: Vec<_> = campaigns
        .iter()
        .map(|c| {
            json!({
                "campaign": c.name.as_str(),
                "url": api.cfg.campaign_link(code.as_str(), c.name.as_str()),
                "clicks": c.clicks,
                "created_at": c.created_at,
            })
        })
        .collect();
    Ok(adapters::http::json(StatusCode::OK, &json!({ "items": items })))
}

#[cfg(test)]
mod tests {
    use crate::DashboardConfig;

    #[test]
    fn config_reads_the_rate_and_builds_campaign_links() {
        const SECRET: &str = "a-leaderboard-secret-of-32-chars-at-least";
        let env: std::collections::HashMap<&str, &str> = [
            ("LINK_BASE_URL", "https://go.example.com"),
            ("LEADERBOARD_SECRET", SECRET),
            ("API_KEY_RATE_PER_MINUTE", "30"),
        ]
        .into();
        let cfg = DashboardConfig::from_env(&env).unwrap();
        assert_eq!(cfg.api_key_rate_per_minute, 30);
        assert_eq!(
            cfg.campaign_link("K7M2XQ", "spring-sale"),
            "https://go.example.com/?ref=K7M2XQ&utm_campaign=spring-sale"
        );
        // Without LINK_BASE_URL the dashboard refuses to start (no silent fallback to the site,
        // whose links would bypass the redirect).
        let site_only: std::collections::HashMap<&str, &str> =
            [("SITE_ORIGIN", "https://www.example.com"), ("LEADERBOARD_SECRET", SECRET)].into();
        let err = DashboardConfig::from_env(&site_only).unwrap_err().to_string();
        assert!(err.contains("LINK_BASE_URL"), "{err}");
        // A path prefix (the redirect under cargo lambda watch) is kept; queries are refused.
        let local: std::collections::HashMap<&str, &str> =
            [("LINK_BASE_URL", "http://127.0.0.1:9000/lambda-url/redirect"), ("LEADERBOARD_SECRET", SECRET)].into();
        assert_eq!(
            DashboardConfig::from_env(&local).unwrap().link("K7M2XQ"),
            "http://127.0.0.1:9000/lambda-url/redirect/?ref=K7M2XQ"
        );
        for bad in
            ["https://go.example.com/?x=1", "ftp://go.example.com", "go.example.com", "https://u:p@go.example.com"]
        {
            let env: std::collections::HashMap<&str, &str> =
                [("LINK_BASE_URL", bad), ("LEADERBOARD_SECRET", SECRET)].into();
            assert!(DashboardConfig::from_env(&env).is_err(), "{bad}");
        }
        let default: std::collections::HashMap<&str, &str> =
            [("LINK_BASE_URL", "https://go.example.com"), ("LEADERBOARD_SECRET", SECRET)].into();
        assert_eq!(DashboardConfig::from_env(&default).unwrap().api_key_rate_per_minute, 120);
        for bad in ["0", "-1", "many"] {
            let env: std::collections::HashMap<&str, &str> = [
                ("LINK_BASE_URL", "https://go.example.com"),
                ("LEADERBOARD_SECRET", SECRET),
                ("API_KEY_RATE_PER_MINUTE", bad),
            ]
            .into();
            assert!(DashboardConfig::from_env(&env).is_err(), "{bad}");
        }
    }
}
