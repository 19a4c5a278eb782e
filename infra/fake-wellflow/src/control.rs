//! Test controls, no auth, working in every fault mode: `POST/GET /__fault`, `GET /__stats`,
//! `POST /__reset`, `POST /__ledger`.

use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::api_error::ApiError;
use crate::faults::Fault;
use crate::ledger::{EditError, LedgerEdit};
use crate::state::AppState;

/// Body of `POST /__fault`.
#[derive(Deserialize)]
struct FaultRequest {
    mode: String,
    #[serde(default)]
    delay_ms: Option<u64>,
}

/// `POST /__fault` `{"mode":"ok"|"down"|"5xx"|"slow","delay_ms":5000}` → the mode now in force.
pub(crate) async fn set_fault(State(state): State<AppState>, body: Bytes) -> Response {
    let parsed = serde_json::from_slice::<FaultRequest>(&body)
        .map_err(|err| err.to_string())
        .and_then(|request| Fault::from_mode(&request.mode, request.delay_ms));
    match parsed {
        Ok(fault) => {
            state.set_fault(fault);
            tracing::info!(fault = ?fault, "fault mode changed");
            Json(fault.to_json()).into_response()
        }
        Err(message) => ApiError::unprocessable("invalid_fault", message).into_response(),
    }
}

/// `GET /__fault` → the mode in force.
pub(crate) async fn get_fault(State(state): State<AppState>) -> Json<Value> {
    Json(state.fault().to_json())
}

/// `GET /__stats` → counters and every applied transaction.
pub(crate) async fn stats(State(state): State<AppState>) -> Response {
    Json(state.stats()).into_response()
}

/// `POST /__ledger` `{"op": "insert"|"remove"|"set_amount", ...}` (`ledger::LedgerEdit`) → the
/// transaction as it is now (removed: as it was); 404 `not_found`, 409 `key_in_use`, 422.
pub(crate) async fn edit_ledger(State(state): State<AppState>, body: Bytes) -> Response {
    let edit = match serde_json::from_slice::<LedgerEdit>(&body) {
        Ok(edit) => edit,
        Err(err) => return ApiError::unprocessable("invalid_edit", err.to_string()).into_response(),
    };
    match state.edit(&edit) {
        Ok(tx) => {
            tracing::info!(edit = ?edit, transaction_id = %tx.transaction_id, "ledger edited");
            Json(tx).into_response()
        }
        Err(EditError::NotFound) => {
            ApiError::new(axum::http::StatusCode::NOT_FOUND, "not_found", "no transaction with that idempotency key")
                .into_response()
        }
        Err(EditError::KeyInUse) => {
            ApiError::new(axum::http::StatusCode::CONFLICT, "key_in_use", "that idempotency key is taken")
                .into_response()
        }
        Err(EditError::Invalid(message)) => ApiError::unprocessable("invalid_edit", message).into_response(),
    }
}

/// `POST /__reset` → balances, transactions, keys, counters and fault mode cleared.
pub(crate) async fn reset(State(state): State<AppState>) -> Json<Value> {
    state.reset();
    tracing::info!("state reset");
    Json(json!({ "reset": true }))
}
