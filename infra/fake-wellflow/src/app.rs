//! The axum router: `/v1` API behind the fault gate and API-key check, plus the `/__` controls.

use axum::http::StatusCode;
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::api_error::ApiError;
use crate::state::AppState;
use crate::{accounts, auth, control, faults};

pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/accounts/{account_id}", get(accounts::get_account))
        .route("/v1/accounts/{account_id}/credits", post(accounts::post_credit))
        .route("/v1/accounts/{account_id}/debits", post(accounts::post_debit))
        .route("/v1/accounts/{account_id}/transactions", get(accounts::list_transactions))
        .route("/__fault", post(control::set_fault).get(control::get_fault))
        .route("/__stats", get(control::stats))
        .route("/__reset", post(control::reset))
        .route("/__ledger", post(control::edit_ledger))
        .fallback(not_found)
        // Outermost last: the fault gate sees (and counts) a request before the key check.
        .layer(from_fn_with_state(state.clone(), auth::require_api_key))
        .layer(from_fn_with_state(state.clone(), faults::fault_gate))
        .with_state(state)
}

async fn not_found() -> Response {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint").into_response()
}
