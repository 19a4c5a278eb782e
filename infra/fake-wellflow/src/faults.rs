//! Switchable failure modes (`ok`, `down`, `5xx`, `4xx`, `slow`) and the middleware that applies them
//! to `/v1` requests. It also counts every `/v1` request for `/__stats`.

use std::future;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{self, Body};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use tokio::sync::Notify;

use crate::api_error::ApiError;
use crate::state::AppState;

/// Delay used by `slow` when `/__fault` gives no `delay_ms`.
pub const DEFAULT_SLOW_DELAY: Duration = Duration::from_millis(5000);

/// Largest request body buffered in `slow` mode.
const MAX_BUFFERED_BODY: usize = 64 * 1024;

/// How the fake misbehaves on `/v1` requests (the `/__` controls always work).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Normal service.
    Ok,
    /// Mode `down`: the connection is closed without any HTTP response.
    Down,
    /// Mode `5xx`: 503 `unavailable`, nothing applied.
    Unavailable,
    /// Mode `4xx`: 422 `account_frozen`, nothing applied (a refusal: retrying will not help).
    Refuse,
    /// Mode `slow`: sleep, then process (and apply) the request normally.
    Slow(Duration),
}

impl Fault {
    /// Parses the `/__fault` body fields.
    pub(crate) fn from_mode(mode: &str, delay_ms: Option<u64>) -> Result<Self, String> {
        match mode {
            "ok" => Ok(Self::Ok),
            "down" => Ok(Self::Down),
            "5xx" => Ok(Self::Unavailable),
            "4xx" => Ok(Self::Refuse),
            "slow" => Ok(Self::Slow(delay_ms.map_or(DEFAULT_SLOW_DELAY, Duration::from_millis))),
            other => Err(format!("unknown mode {other:?}; expected ok, down, 5xx, 4xx or slow")),
        }
    }

    /// JSON echoed by `/__fault`: `{"mode":"slow","delay_ms":300}`.
    pub(crate) fn to_json(self) -> Value {
        match self {
            Self::Ok => json!({ "mode": "ok" }),
            Self::Down => json!({ "mode": "down" }),
            Self::Unavailable => json!({ "mode": "5xx" }),
            Self::Refuse => json!({ "mode": "4xx" }),
            Self::Slow(delay) => json!({ "mode": "slow", "delay_ms": delay.as_millis() }),
        }
    }
}

/// Per-connection switch, put in each request's extensions by the accept loop; triggering it
/// makes the loop drop the connection without writing a response.
#[derive(Clone, Default)]
pub(crate) struct ConnectionKill(Arc<Notify>);

impl ConnectionKill {
    pub(crate) fn trigger(&self) {
        self.0.notify_one();
    }

    pub(crate) async fn triggered(&self) {
        self.0.notified().await;
    }
}

/// True for the API paths the faults and the API key apply to.
pub(crate) fn is_api_path(path: &str) -> bool {
    path == "/v1" || path.starts_with("/v1/")
}

/// Middleware: counts `/v1` requests and applies the current fault mode to them.
pub(crate) async fn fault_gate(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if !is_api_path(request.uri().path()) {
        return next.run(request).await;
    }
    state.count_request();
    match state.fault() {
        Fault::Ok => next.run(request).await,
        Fault::Unavailable => ApiError::unavailable().into_response(),
        Fault::Refuse => {
            ApiError::unprocessable("account_frozen", "the account is frozen (injected fault)").into_response()
        }
        Fault::Down => match request.extensions().get::<ConnectionKill>() {
            Some(kill) => {
                tracing::info!(path = request.uri().path(), "fault down: closing the connection");
                kill.trigger();
                future::pending().await
            }
            // Served without our accept loop: nothing to close, so answer like `5xx`.
            None => ApiError::unavailable().into_response(),
        },
        Fault::Slow(delay) => slow(request, next, delay).await,
    }
}

/// Like a real slow server: the work is done after the delay even if the client has given up.
/// The body is buffered first and the rest runs in its own task, so a client hanging up (which
/// drops this future) does not cancel it.
async fn slow(request: Request, next: Next, delay: Duration) -> Response {
    let (parts, body) = request.into_parts();
    let bytes = match body::to_bytes(body, MAX_BUFFERED_BODY).await {
        Ok(bytes) => bytes,
        Err(err) => return ApiError::bad_request("unreadable_body", err.to_string()).into_response(),
    };
    let request = Request::from_parts(parts, Body::from(bytes));
    let work = tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        next.run(request).await
    });
    work.await.unwrap_or_else(|err| ApiError::internal(err.to_string()).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_modes() {
        assert_eq!(Fault::from_mode("ok", None), Ok(Fault::Ok));
        assert_eq!(Fault::from_mode("down", Some(1)), Ok(Fault::Down));
        assert_eq!(Fault::from_mode("5xx", None), Ok(Fault::Unavailable));
        assert_eq!(Fault::from_mode("4xx", None), Ok(Fault::Refuse));
        assert_eq!(Fault::from_mode("slow", None), Ok(Fault::Slow(DEFAULT_SLOW_DELAY)));
        assert_eq!(Fault::from_mode("slow", Some(300)), Ok(Fault::Slow(Duration::from_millis(300))));
        assert!(Fault::from_mode("broken", None).is_err());
    }

    #[test]
    fn api_paths() {
        assert!(is_api_path("/v1/accounts/a"));
        assert!(!is_api_path("/v10"));
        assert!(!is_api_path("/__stats"));
    }
}
