//! The one error shape every HTTP function answers with:
//! `{"error": {"code": "...", "message": "..."}}` plus the right 4xx/5xx status.
//!
//! Caller mistakes are 4xx with a message that says what to fix; our own failures are 5xx
//! with a generic message (details go to the logs, never to the caller). Handlers return
//! `Result<_, ApiError>` and use `?`: the `From` conversions below turn every store, query,
//! billing and configuration error into its answer (and log it) in one place.

use axum::response::{IntoResponse, Response};
use http::{header, HeaderValue, StatusCode};
use referral_core::payment::EventTimeError;
use referral_core::store::{CursorError, QueryError, StoreError};
use referral_core::usecases::BillingError;
use serde::Serialize;

use crate::config::ConfigError;
use crate::domain::api_key::ApiKeyError;
use crate::domain::campaign::CampaignError;
use crate::domain::leaderboard::LeaderboardError;
use crate::domain::partner_webhook::UrlError;
use crate::domain::{IdError, MoneyError, TierError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// `Retry-After` seconds (429, and 503 where we know when to come back).
    pub retry_after: Option<i64>,
    /// `Allow` (405): the methods this path accepts.
    pub allow: Option<String>,
}

#[derive(Serialize)]
struct Envelope<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    code: &'a str,
    message: &'a str,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), retry_after: None, allow: None }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    /// 405 with `Allow: <allowed>` (e.g. `"GET,HEAD"`).
    pub fn method_not_allowed(allowed: &str) -> Self {
        let mut err = Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            format!("this endpoint accepts {}", allowed.replace(',', ", ")),
        );
        err.allow = Some(allowed.to_string());
        err
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("request body must be at most {limit} bytes"),
        )
    }

    pub fn unsupported_media_type(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", message)
    }

    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    pub fn too_many_requests(message: impl Into<String>, retry_after_secs: i64) -> Self {
        let mut err = Self::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", message);
        err.retry_after = Some(retry_after_secs);
        err
    }

    /// Our dependency is down: the caller should retry later (payment providers do).
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable", message)
    }

    /// A bug or an unexpected failure on our side; the details belong in the logs.
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "unexpected error; it has been logged, retry later",
        )
    }

    pub fn body(&self) -> String {
        serde_json::to_string(&Envelope { error: Inner { code: self.code, message: &self.message } })
            .expect("error envelope serialises")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = (self.status, self.body()).into_response();
        let headers = resp.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, secs.into());
        }
        if let Some(allow) = self.allow.as_deref().and_then(|a| HeaderValue::from_str(a).ok()) {
            headers.insert(header::ALLOW, allow);
        }
        resp
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.message)
    }
}

impl std::error::Error for ApiError {}

/// DynamoDB failed (or holds an item we cannot read): 503, the caller retries; details logged.
impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        tracing::error!(error = %err, outcome = "unavailable", "request failed on storage");
        ApiError::unavailable("storage is unavailable; retry later")
    }
}

/// A listing's cursor that we did not hand out: 400 (the caller's mistake); a store failure: 503.
impl From<QueryError> for ApiError {
    fn from(err: QueryError) -> Self {
        match err {
            QueryError::Cursor(c) => c.into(),
            QueryError::Store(s) => s.into(),
        }
    }
}

impl From<CursorError> for ApiError {
    fn from(err: CursorError) -> Self {
        ApiError::bad_request("invalid_cursor", err.to_string())
    }
}

/// The money flow could not finish: 503 so that the provider (or admin) retries; nothing was
/// half-written (every write is one atomic commit).
impl From<BillingError> for ApiError {
    fn from(err: BillingError) -> Self {
        match err {
            BillingError::Store(s) => s.into(),
            BillingError::Contended(payment) => {
                tracing::error!(payment_id = %payment, outcome = "unavailable", "bonus kept changing under us");
                ApiError::unavailable("the bonus is busy; retry later")
            }
        }
    }
}

/// A setting read at request time is wrong: our bug, not the caller's (500, logged).
impl From<ConfigError> for ApiError {
    fn from(err: ConfigError) -> Self {
        tracing::error!(error = %err, "configuration error while serving a request");
        ApiError::internal()
    }
}

// Domain validation errors know which field they are about: each becomes a 400 whose code
// names that field, with the domain's own message (what is wrong, what is expected).

impl From<IdError> for ApiError {
    fn from(err: IdError) -> Self {
        let kind = match &err {
            IdError::Length { kind } | IdError::Character { kind, .. } => *kind,
        };
        let code = match kind {
            "payment_id" => "invalid_payment_id",
            "user_id" => "invalid_user_id",
            _ => "invalid_id",
        };
        ApiError::bad_request(code, err.to_string())
    }
}

impl From<MoneyError> for ApiError {
    fn from(err: MoneyError) -> Self {
        let code = match err {
            MoneyError::RateOutOfRange { .. } => "invalid_rate",
            _ => "invalid_amount",
        };
        ApiError::bad_request(code, err.to_string())
    }
}

impl From<EventTimeError> for ApiError {
    fn from(err: EventTimeError) -> Self {
        ApiError::bad_request("invalid_occurred_at", err.to_string())
    }
}

impl From<TierError> for ApiError {
    fn from(err: TierError) -> Self {
        ApiError::bad_request(err.code(), err.to_string())
    }
}

impl From<LeaderboardError> for ApiError {
    fn from(err: LeaderboardError) -> Self {
        let code = match err {
            LeaderboardError::Period => "invalid_period",
            LeaderboardError::Cursor => "invalid_cursor",
            LeaderboardError::NameLength | LeaderboardError::NameCharacter(_) => "invalid_public_name",
        };
        ApiError::bad_request(code, err.to_string())
    }
}

/// Creating a key (name, scopes); a presented key that is malformed is refused as 401 where
/// it is read ([`crate::auth`] callers), not here.
impl From<ApiKeyError> for ApiError {
    fn from(err: ApiKeyError) -> Self {
        let code = match err {
            ApiKeyError::Name => "invalid_name",
            ApiKeyError::UnknownScope(_) | ApiKeyError::NoScopes => "invalid_scopes",
            ApiKeyError::Malformed => "invalid_api_key",
            ApiKeyError::MalformedId => "invalid_key_id",
        };
        ApiError::bad_request(code, err.to_string())
    }
}

impl From<CampaignError> for ApiError {
    fn from(err: CampaignError) -> Self {
        ApiError::bad_request("invalid_campaign", err.to_string())
    }
}

impl From<UrlError> for ApiError {
    fn from(err: UrlError) -> Self {
        ApiError::bad_request("invalid_url", err.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_of(resp: Response) -> serde_json::Value {
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 16).await.unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn renders_the_envelope_with_its_headers() {
        let resp = ApiError::bad_request("invalid_json", "body is not \"JSON\"").into_response();
        assert_eq!(resp.status(), 400);
        assert_eq!(resp.headers()["content-type"], "application/json");
        assert_eq!(resp.headers()["cache-control"], "no-store");
        let v = body_of(resp).await;
        assert_eq!(v["error"]["code"], "invalid_json");
        assert_eq!(v["error"]["message"], "body is not \"JSON\"");

        let resp = ApiError::method_not_allowed("GET,HEAD").into_response();
        assert_eq!((resp.status().as_u16(), &resp.headers()["allow"]), (405, &HeaderValue::from_static("GET,HEAD")));
        assert_eq!(body_of(resp).await["error"]["message"], "this endpoint accepts GET, HEAD");
        let resp = ApiError::too_many_requests("slow down", 17).into_response();
        assert_eq!(resp.headers()["retry-after"], "17");
        assert_eq!(ApiError::unauthorized("no").into_response().headers()["www-authenticate"], "Bearer");
    }

    #[test]
    fn store_query_and_billing_errors_convert() {
        let store = || StoreError::Unavailable("timeout".into());
        assert_eq!(ApiError::from(store()).status, 503);
        assert_eq!(ApiError::from(QueryError::Store(store())).status, 503);
        let cursor = ApiError::from(QueryError::Cursor(CursorError));
        assert_eq!((cursor.status.as_u16(), cursor.code), (400, "invalid_cursor"));
        assert_eq!(ApiError::from(BillingError::Contended("p1".into())).code, "temporarily_unavailable");
        assert_eq!(ApiError::from(BillingError::Store(store())).status, 503);
        let config = ConfigError::Missing { key: "X", hint: "y" };
        assert_eq!(ApiError::from(config).status, 500);
    }
}
