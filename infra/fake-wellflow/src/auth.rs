//! API-key check (`Authorization: Bearer <api_key>`) in front of every `/v1` request.

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::api_error::ApiError;
use crate::faults::is_api_path;
use crate::state::AppState;

/// Middleware: 401 `unauthorized` unless a `/v1` request carries the right bearer token.
pub(crate) async fn require_api_key(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if !is_api_path(request.uri().path()) {
        return next.run(request).await;
    }
    let presented = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    if presented == Some(state.api_key()) {
        next.run(request).await
    } else {
        ApiError::unauthorized().into_response()
    }
}
