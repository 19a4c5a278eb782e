//! Who is calling the dashboard API: the user behind a bearer JWT, or a partner's API key
//! (`Authorization: Bearer rk_live_…` or `X-Api-Key: rk_live_…`) acting for its owner with
//! its scopes, rate-limited per key.
//!
//! A key call costs one round trip before the route's own work: the key's `GetItem` and its
//! rate-window `UpdateItem` run concurrently. The key itself is never logged (its id is).

use adapters::domain::api_key::{self, PresentedKey, RateWindow};
use adapters::domain::{ApiKeyId, Scope, Scopes, UserId};
use adapters::store::partner::RateOutcome;
use adapters::store::ApiKeys;
use adapters::ApiError;
use lambda_http::http::{header, StatusCode};
use lambda_http::{Body, Request, Response};

use crate::DashboardApi;

/// The header partners may use instead of `Authorization: Bearer`.
pub const API_KEY_HEADER: &str = "x-api-key";

/// How the caller authenticated.
#[derive(Debug, Clone, PartialEq)]
pub enum Via {
    /// The user's own session token: every dashboard operation.
    Jwt,
    /// A partner API key: only what its scopes allow, never key management.
    ApiKey { key_id: ApiKeyId, scopes: Scopes },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Principal {
    pub user: UserId,
    pub via: Via,
}

impl Principal {
    /// 403 unless the caller may use `scope` (a JWT may do everything an API key may).
    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        match &self.via {
            Via::Jwt => Ok(()),
            Via::ApiKey { scopes, .. } if scopes.contains(scope) => Ok(()),
            Via::ApiKey { .. } => Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "insufficient_scope",
                format!("this API key lacks the {scope} scope"),
            )),
        }
    }

    /// 403 for API keys: managing keys needs the user's own session.
    pub fn require_jwt(&self) -> Result<(), ApiError> {
        match self.via {
            Via::Jwt => Ok(()),
            Via::ApiKey { .. } => Err(ApiError::forbidden("API keys are managed with the user's session token only")),
        }
    }
}

/// Why a request was not let in.
#[derive(Debug)]
pub enum Refusal {
    Error(ApiError),
    /// The key used up this minute's requests.
    RateLimited {
        retry_after_secs: i64,
        limit: u32,
    },
}

impl From<ApiError> for Refusal {
    fn from(err: ApiError) -> Self {
        Refusal::Error(err)
    }
}

impl Refusal {
    pub fn into_response(self) -> Response<Body> {
        match self {
            Refusal::Error(err) => err.into_response(),
            Refusal::RateLimited { retry_after_secs, limit } => {
                let mut resp = ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limited",
                    format!("this API key may make {limit} requests per minute; retry after {retry_after_secs} s"),
                )
                .into_response();
                resp.headers_mut().insert(header::RETRY_AFTER, retry_after_secs.into());
                resp
            }
        }
    }
}

/// The authenticated caller, or 401 (no/invalid credentials), 429 (key over its limit), 503.
pub async fn authenticate<S: ApiKeys>(api: &DashboardApi<S>, req: &Request) -> Result<Principal, Refusal> {
    let authorization = adapters::http::header(req, "authorization");
    let bearer = authorization.and_then(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")));
    let key_header = adapters::http::header(req, API_KEY_HEADER);
    if key_header.is_some() && authorization.is_some() {
        return Err(ApiError::unauthorized("send either Authorization or X-Api-Key, not both").into());
    }
    let key = match key_header {
        Some(key) => Some(key.trim()),
        None => bearer.map(str::trim).filter(|token| api_key::looks_like_key(token)),
    };
    match key {
        Some(raw) => with_api_key(api, raw).await,
        None => {
            let claims = api.jwt.verify(req).await?;
            let user = UserId::parse(&claims.sub)
                .map_err(|_| ApiError::unauthorized("token subject is not a valid user id"))?;
            Ok(Principal { user, via: Via::Jwt })
        }
    }
}

async fn with_api_key<S: ApiKeys>(api: &DashboardApi<S>, raw: &str) -> Result<Principal, Refusal> {
    let presented = PresentedKey::parse(raw).map_err(|_| ApiError::unauthorized("malformed API key"))?;
    let key_id = presented.id.clone();
    let limit = api.cfg.api_key_rate_per_minute;
    let window = RateWindow::at(adapters::clock::now().unix_timestamp());
    // One round trip: the key and its rate window are independent items.
    let (record, rate) = tokio::join!(
        api.store.api_key(&key_id),
        api.store.count_key_request(&key_id, window.minute, limit, window.expires_at)
    );
    let record = record.map_err(crate::unavailable)?;
    let Some(record) = record.filter(|r| presented.matches(&r.secret_hash)) else {
        tracing::info!(api_key_id = %key_id, outcome = "invalid_api_key", "api key refused");
        return Err(ApiError::unauthorized("invalid API key").into());
    };
    if record.revoked_at.is_some() {
        tracing::info!(api_key_id = %key_id, outcome = "revoked_api_key", "api key refused");
        return Err(ApiError::unauthorized("this API key was revoked").into());
    }
    let scopes = Scopes::parse(&record.scopes).map_err(|e| {
        tracing::error!(api_key_id = %key_id, error = %e, "stored API key has invalid scopes");
        ApiError::internal()
    })?;
    if rate.map_err(crate::unavailable)? == RateOutcome::Limited {
        tracing::info!(api_key_id = %key_id, user_id = %record.owner_id, outcome = "rate_limited", "api key refused");
        adapters::metrics::count("ApiKeyRateLimited", &[]);
        return Err(Refusal::RateLimited { retry_after_secs: window.retry_after_secs, limit });
    }
    tracing::info!(api_key_id = %key_id, user_id = %record.owner_id, "api key accepted");
    Ok(Principal { user: record.owner_id, via: Via::ApiKey { key_id, scopes } })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_principal(scopes: &[&str]) -> Principal {
        Principal {
            user: UserId::parse("alice").unwrap(),
            via: Via::ApiKey {
                key_id: ApiKeyId::parse("abcdefghijkl").unwrap(),
                scopes: Scopes::parse(scopes).unwrap(),
            },
        }
    }

    #[test]
    fn scopes_gate_api_keys_and_sessions_pass() {
        let session = Principal { user: UserId::parse("alice").unwrap(), via: Via::Jwt };
        assert!(session.require(Scope::Read).is_ok() && session.require(Scope::Campaigns).is_ok());
        assert!(session.require_jwt().is_ok());
        let read = key_principal(&["read"]);
        assert!(read.require(Scope::Read).is_ok());
        let err = read.require(Scope::Campaigns).unwrap_err();
        assert_eq!((err.status.as_u16(), err.code), (403, "insufficient_scope"));
        assert_eq!(read.require_jwt().unwrap_err().status.as_u16(), 403);
    }

    #[test]
    fn rate_limited_refusals_carry_retry_after() {
        let resp = Refusal::RateLimited { retry_after_secs: 17, limit: 3 }.into_response();
        assert_eq!(resp.status(), 429);
        assert_eq!(resp.headers()["retry-after"], "17");
        assert_eq!(resp.headers()["content-type"], "application/json");
    }
}
