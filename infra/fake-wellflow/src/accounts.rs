//! The `/v1/accounts` endpoints: credits, debits and balance look-ups.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use crate::api_error::ApiError;
use crate::ledger::{Kind, LedgerError, Outcome, TransferRequest};
use crate::money::{format_money, parse_amount};
use crate::state::AppState;

const IDEMPOTENCY_KEY: &str = "idempotency-key";
const MAX_IDEMPOTENCY_KEY_CHARS: usize = 255;

/// Body of `POST .../credits` and `POST .../debits`.
#[derive(Deserialize)]
struct TransferBody {
    amount: String,
    currency: String,
    #[serde(default)]
    description: Option<String>,
}

/// `GET /v1/accounts/{account_id}` → `{"account_id":"...","balance":"0.00"}`.
pub(crate) async fn get_account(State(state): State<AppState>, Path(account_id): Path<String>) -> Response {
    let balance = format_money(state.ledger().balance(&account_id));
    Json(json!({ "account_id": account_id, "balance": balance })).into_response()
}

/// Largest `limit` of a transaction listing page (default 100).
const MAX_LIST_LIMIT: usize = 500;

/// `GET /v1/accounts/{account_id}/transactions?from=&to=&limit=&cursor=`: the account's
/// transactions with `from <= created_at < to` (RFC 3339), oldest first, a page at a time.
pub(crate) async fn list_transactions(
    State(state): State<AppState>,
    Path(account_id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    list(&state, &account_id, query.as_deref().unwrap_or("")).unwrap_or_else(IntoResponse::into_response)
}

fn list(state: &AppState, account_id: &str, query: &str) -> Result<Response, ApiError> {
    let params: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    let param = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let time = |name: &str| {
        let raw = param(name).ok_or_else(|| ApiError::bad_request("invalid_window", format!("{name} is required")))?;
        time::OffsetDateTime::parse(raw, &time::format_description::well_known::Rfc3339)
            .map_err(|_| ApiError::bad_request("invalid_window", format!("{name} must be an RFC 3339 time")))
    };
    let (from, to) = (time("from")?, time("to")?);
    if from > to {
        return Err(ApiError::bad_request("invalid_window", "from must not be after to"));
    }
    let limit =
        match param("limit") {
            None => 100,
            Some(raw) => raw.parse::<usize>().ok().filter(|l| (1..=MAX_LIST_LIMIT).contains(l)).ok_or_else(|| {
                ApiError::bad_request("invalid_limit", format!("limit must be 1 to {MAX_LIST_LIMIT}"))
            })?,
        };
    let cursor = param("cursor")
        .map(|raw| {
            raw.split_once('.')
                .and_then(|(t, n)| Some((t.parse::<i128>().ok()?, n.parse::<u64>().ok()?)))
                .ok_or_else(|| ApiError::bad_request("invalid_cursor", "pass back next_cursor unchanged"))
        })
        .transpose()?;
    let page = state.ledger().list(account_id, from, to, limit, cursor);
    Ok(Json(page).into_response())
}

/// `POST /v1/accounts/{account_id}/credits`.
pub(crate) async fn post_credit(
    State(state): State<AppState>,
    Path(account_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    transfer(&state, Kind::Credit, &account_id, &headers, &body).unwrap_or_else(IntoResponse::into_response)
}

/// `POST /v1/accounts/{account_id}/debits`.
pub(crate) async fn post_debit(
    State(state): State<AppState>,
    Path(account_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    transfer(&state, Kind::Debit, &account_id, &headers, &body).unwrap_or_else(IntoResponse::into_response)
}

fn transfer(
    state: &AppState,
    kind: Kind,
    account_id: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, ApiError> {
    let idempotency_key = idempotency_key(headers)?;
    let request: TransferBody = serde_json::from_slice(body)
        .map_err(|err| ApiError::unprocessable("invalid_request", format!("invalid transfer body: {err}")))?;
    let amount = parse_amount(&request.amount).map_err(|msg| ApiError::unprocessable("invalid_amount", msg))?;
    if request.currency != "USD" {
        return Err(ApiError::unprocessable("unsupported_currency", "currency must be \"USD\""));
    }

    let transfer = TransferRequest { kind, account_id, amount, idempotency_key };
    // The guard lives for the whole statement: check and apply happen under one lock.
    let outcome = state.ledger().apply(&transfer);
    match outcome {
        Ok(Outcome::Applied(body)) => {
            tracing::info!(
                account_id,
                idempotency_key,
                kind = kind.as_str(),
                amount = %body.amount,
                balance = %body.balance,
                transaction_id = %body.transaction_id,
                description = request.description.as_deref().unwrap_or(""),
                "transfer applied"
            );
            Ok((StatusCode::CREATED, Json(body)).into_response())
        }
        Ok(Outcome::Replayed(body)) => {
            tracing::info!(account_id, idempotency_key, transaction_id = %body.transaction_id, "transfer replayed");
            Ok((StatusCode::OK, [("idempotent-replayed", "true")], Json(body)).into_response())
        }
        Err(LedgerError::IdempotencyConflict) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "idempotency_conflict",
            "this Idempotency-Key was already used for a different kind, account or amount",
        )),
        Err(LedgerError::Overflow) => Err(ApiError::unprocessable("balance_overflow", "the balance would overflow")),
    }
}

/// The required `Idempotency-Key` header: present, non-empty, at most 255 characters.
fn idempotency_key(headers: &HeaderMap) -> Result<&str, ApiError> {
    let Some(value) = headers.get(IDEMPOTENCY_KEY) else {
        return Err(ApiError::bad_request("missing_idempotency_key", "the Idempotency-Key header is required"));
    };
    let key = value
        .to_str()
        .map_err(|_| ApiError::bad_request("invalid_idempotency_key", "Idempotency-Key must be visible ASCII"))?;
    if key.is_empty() {
        return Err(ApiError::bad_request("missing_idempotency_key", "the Idempotency-Key header is empty"));
    }
    if key.chars().count() > MAX_IDEMPOTENCY_KEY_CHARS {
        return Err(ApiError::bad_request("invalid_idempotency_key", "Idempotency-Key is longer than 255 characters"));
    }
    Ok(key)
}
