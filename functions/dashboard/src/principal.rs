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
use axum::extract::FromRequestParts;
use lambda_http::http::request::Parts;
use lambda_http::http::{HeaderMap, StatusCode};

use crate::{DashboardApi, DashboardStore};

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

/// The caller of every authenticated dashboard route: 401 (no or invalid credentials), 429
/// (an API key over its limit, with `Retry-After`), 503 (the key store is down).
impl<S: DashboardStore> FromRequestParts<crate::State<S>> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, api: &crate::State<S>) -> Result<Self, ApiError> {
        authenticate(api, &parts.headers).await
    }
}

/// A caller whose credentials allow reading the user's own data: a JWT, or an API key with
/// the `read` scope (403 otherwise, before the body is read).
pub struct Reader(pub Principal);
/// A caller allowed to manage campaign links: a JWT, or an API key with the `campaigns` scope.
pub struct CampaignManager(pub Principal);
/// The user's own session (JWT): what changes what others see or receive, and key management.
/// API keys get 403.
pub struct Session(pub Principal);

macro_rules! requirement {
    ($name:ident, $check:expr) => {
        impl<S: DashboardStore> FromRequestParts<crate::State<S>> for $name {
            type Rejection = ApiError;

            async fn from_request_parts(parts: &mut Parts, api: &crate::State<S>) -> Result<Self, ApiError> {
                let principal = authenticate(api, &parts.headers).await?;
                let check: fn(&Principal) -> Result<(), ApiError> = $check;
                check(&principal)?;
                Ok($name(principal))
            }
        }
    };
}
requirement!(Reader, |p| p.require(Scope::Read));
requirement!(CampaignManager, |p| p.require(Scope::Campaigns));
requirement!(Session, Principal::require_jwt);

/// The authenticated caller of a request with these headers.
pub async fn authenticate<S: ApiKeys>(api: &DashboardApi<S>, headers: &HeaderMap) -> Result<Principal, ApiError> {
    let authorization = adapters::http::header(headers, "authorization");
    let bearer = authorization.and_then(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")));
    let key_header = adapters::http::header(headers, API_KEY_HEADER);
    if key_header.is_some() && authorization.is_some() {
        return Err(ApiError::unauthorized("send either Authorization or X-Api-Key, not both"));
    }
    let key = match key_header {
        Some(key) => Some(key.trim()),
        None => bearer.map(str::trim).filter(|token| api_key::looks_like_key(token)),
    };
    match key {
        Some(raw) => with_api_key(api, raw).await,
        None => {
            let claims = api.jwt.verify(headers).await?;
            let user = UserId::parse(&claims.sub)
                .map_err(|_| ApiError::unauthorized("token subject is not a valid user id"))?;
            Ok(Principal { user, via: Via::Jwt })
        }
    }
}

async fn with_api_key<S: ApiKeys>(api: &DashboardApi<S>, raw: &str) -> Result<Principal, ApiError> {
    let presented = PresentedKey::parse(raw).map_err(|_| ApiError::unauthorized("malformed API key"))?;
    let key_id = presented.id.clone();
    let limit = api.cfg.api_key_rate_per_minute;
    let window = RateWindow::at(adapters::clock::now().unix_timestamp());
    // One round trip: the key and its rate window are independent items.
    let (record, rate) = tokio::join!(
        api.store.api_key(&key_id),
        api.store.count_key_request(&key_id, window.minute, limit, window.expires_at)
    );
    let Some(record) = record?.filter(|r| presented.matches(&r.secret_hash)) else {
        tracing::info!(api_key_id = %key_id, outcome = "invalid_api_key", "api key refused");
        return Err(ApiError::unauthorized("invalid API key"));
    };
    if record.revoked_at.is_some() {
        tracing::info!(api_key_id = %key_id, outcome = "revoked_api_key", "api key refused");
        return Err(ApiError::unauthorized("this API key was revoked"));
    }
    let scopes = Scopes::parse(&record.scopes).map_err(|e| {
        tracing::error!(api_key_id = %key_id, error = %e, "stored API key has invalid scopes");
        ApiError::internal()
    })?;
    if rate? == RateOutcome::Limited {
        tracing::info!(api_key_id = %key_id, user_id = %record.owner_id, outcome = "rate_limited", "api key refused");
        adapters::metrics::count("ApiKeyRateLimited", &[]);
        return Err(ApiError::too_many_requests(
            format!("this API key may make {limit} requests per minute; retry after {} s", window.retry_after_secs),
            window.retry_after_secs,
        ));
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
}
