//! Client for Wellflow, the external billing service (not ours) that keeps each user's credit
//! balance in USD: credits, debits, balance look-ups and the transaction listing over HTTP.
//!
//! The contract this client assumes is written down (and implemented) in the
//! `infra/fake-wellflow` crate. In short: `Authorization: Bearer <WELLFLOW_API_KEY>` on every
//! request; `POST /v1/accounts/{account_id}/credits|debits` with
//! `{"amount":"2.50","currency":"USD","description":"..."}` and an `Idempotency-Key` header
//! (a repeat with the same key answers 200 with the original body and
//! `Idempotent-Replayed: true`); `GET /v1/accounts/{account_id}` → `{"balance":"12.50"}`;
//! errors as `{"error":{"code":"...","message":"..."}}`.
//!
//! **Transaction listing** (reconciliation, [`WellflowClient::transactions`]) — the shape we
//! assume; map the real endpoint onto it here if it differs:
//!
//! ```text
//! GET /v1/accounts/{account_id}/transactions?from=<RFC 3339>&to=<RFC 3339>&limit=<1..500>&cursor=<opaque>
//! 200 {"account_id": "...",
//!      "transactions": [{"transaction_id": "wf_tx_42", "kind": "credit" | "debit", "amount": "2.50",
//!                        "idempotency_key": "ref:auto:pay_1" | null, "created_at": "2026-11-25T09:00:00.123Z"}, ...],
//!      "next_cursor": "<opaque>" | null}
//! ```
//!
//! * every transaction applied to the account with `from <= created_at < to` (Wellflow's
//!   clock), oldest first (ties by transaction id), each exactly once across the pages of one
//!   walk (`cursor` = the previous page's `next_cursor`; the walk is stable while new
//!   transactions arrive);
//! * `idempotency_key` is the key the transaction was applied with, `null` when it was made
//!   without one (e.g. by hand in Wellflow's console);
//! * an account Wellflow has never seen lists nothing (200, empty), like its balance is 0.00;
//! * a malformed `from`/`to`/`limit`/`cursor` is a 400.
//!
//! We ask for [`LIST_PAGE_LIMIT`] transactions a page, which keeps each answer well inside
//! the 64 KiB we read.
//!
//! Retrying: a credit or debit that failed with a retryable error
//! ([`WellflowError::is_retryable`]: timeout, connection failure, 5xx) may or may not have
//! been applied. Retry it with the **same** idempotency key; Wellflow applies it at most once.
//!
//! Secrets: the API key is only ever sent in the `Authorization` header. It is never logged,
//! never part of `Debug` output, and scrubbed from every error message.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::{HeaderValue, AUTHORIZATION};
use reqwest::{RequestBuilder, Response, StatusCode};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use url::Url;

/// Upper bound of the connect timeout (the overall timeout applies when it is shorter).
const MAX_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// Response bodies quoted in errors are cut to this many characters.
const MAX_QUOTED_BODY_CHARS: usize = 200;
/// Larger response bodies are refused rather than buffered.
const MAX_RESPONSE_BYTES: usize = 64 * 1024;
/// Longest `Idempotency-Key` Wellflow accepts.
const MAX_IDEMPOTENCY_KEY_CHARS: usize = 255;
const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";
/// Transactions asked for per listing page (each is ~300 bytes at most: 30 KiB a page).
pub const LIST_PAGE_LIMIT: u32 = 100;
const REPLAYED_HEADER: &str = "idempotent-replayed";

/// A credit or debit as Wellflow recorded it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transfer {
    /// Wellflow's id, e.g. `wf_tx_42`.
    pub transaction_id: String,
    pub amount: Decimal,
    /// The account's balance right after this transfer (for a replay: after the original).
    pub balance: Decimal,
    /// True when Wellflow had already applied this idempotency key and replayed its answer.
    pub replayed: bool,
}

/// Why a Wellflow call failed.
#[derive(Debug, thiserror::Error)]
pub enum WellflowError {
    /// No complete answer within the configured timeout; the transfer may have been applied.
    #[error("Wellflow did not answer in time")]
    Timeout,
    /// Could not connect (connect timeouts included), or the connection broke before a
    /// complete answer (then the transfer may have been applied).
    #[error("Wellflow is unreachable: {0}")]
    Unreachable(String),
    /// Wellflow answered 5xx.
    #[error("Wellflow server error (HTTP {status}): {message}")]
    Server { status: u16, message: String },
    /// Wellflow refused the request (4xx other than 401/403), e.g. `idempotency_conflict`.
    #[error("Wellflow rejected the request (HTTP {status}, {code}): {message}")]
    Rejected { status: u16, code: String, message: String },
    /// Wellflow answered 401 or 403.
    #[error("Wellflow refused our credentials (HTTP 401/403): check the WELLFLOW_API_KEY setting")]
    Unauthorized,
    /// The answer did not follow the contract (bad JSON, wrong fields, unexpected status).
    #[error("unexpected response from Wellflow: {0}")]
    InvalidResponse(String),
    /// The client could not be built (base URL, API key, timeout).
    #[error("invalid Wellflow client configuration: {0}")]
    InvalidConfig(String),
    /// The arguments of a call were refused before sending anything (account id, amount, key).
    #[error("invalid Wellflow request: {0}")]
    InvalidInput(String),
}

impl WellflowError {
    /// True when the same call (same idempotency key) may succeed later: timeouts, connection
    /// failures and 5xx.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Timeout | Self::Unreachable(_) | Self::Server { .. })
    }

    /// Short machine-readable code, for logs, metrics and API error bodies.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Timeout => "wellflow_timeout",
            Self::Unreachable(_) => "wellflow_unreachable",
            Self::Server { .. } => "wellflow_5xx",
            Self::Rejected { .. } => "wellflow_rejected",
            Self::Unauthorized => "wellflow_unauthorized",
            Self::InvalidResponse(_) => "wellflow_bad_response",
            Self::InvalidConfig(_) => "wellflow_config",
            Self::InvalidInput(_) => "wellflow_invalid_input",
        }
    }
}

/// HTTP client for Wellflow. Cheap to clone: clones share the connection pool.
#[derive(Clone)]
pub struct WellflowClient {
    http: reqwest::Client,
    inner: Arc<Inner>,
}

struct Inner {
    base_url: Url,
    /// `Bearer <api_key>`, marked sensitive.
    authorization: HeaderValue,
    /// Kept only to scrub it from error messages.
    api_key: String,
    timeout: Duration,
}

impl fmt::Debug for WellflowClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WellflowClient")
            .field("base_url", &self.inner.base_url.as_str())
            .field("timeout", &self.inner.timeout)
            .field("api_key", &"[redacted]")
            .finish()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TransferKind {
    Credit,
    Debit,
}

impl TransferKind {
    /// Name in the JSON body and in logs.
    fn name(self) -> &'static str {
        match self {
            Self::Credit => "credit",
            Self::Debit => "debit",
        }
    }

    /// Last path segment of the endpoint.
    fn path(self) -> &'static str {
        match self {
            Self::Credit => "credits",
            Self::Debit => "debits",
        }
    }
}

#[derive(Serialize)]
struct TransferRequestBody<'a> {
    amount: &'a str,
    currency: &'static str,
    #[serde(skip_serializing_if = "str::is_empty")]
    description: &'a str,
}

#[derive(Deserialize)]
struct TransferResponseBody {
    transaction_id: String,
    account_id: String,
    kind: String,
    amount: String,
    balance: String,
}

/// One transaction of an account, as Wellflow lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedTransaction {
    pub transaction_id: String,
    /// `credit` or `debit`.
    pub kind: referral_core::bonus::MoveKind,
    pub amount: Decimal,
    /// `None` for a transaction made without a key.
    pub idempotency_key: Option<String>,
    /// RFC 3339, Wellflow's clock.
    pub created_at: String,
}

/// One page of an account's transactions, oldest first.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct TransactionPage {
    pub transactions: Vec<ListedTransaction>,
    pub next_cursor: Option<String>,
}

#[derive(Deserialize)]
struct TransactionsResponseBody {
    transactions: Vec<ListedTransactionBody>,
    #[serde(default)]
    next_cursor: Option<String>,
}

#[derive(Deserialize)]
struct ListedTransactionBody {
    transaction_id: String,
    kind: String,
    amount: String,
    #[serde(default)]
    idempotency_key: Option<String>,
    created_at: String,
}

#[derive(Deserialize)]
struct BalanceResponseBody {
    balance: String,
}

#[derive(Deserialize)]
struct ErrorResponseBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

/// A 2xx answer, body read.
struct Success {
    replayed: bool,
    body: Vec<u8>,
}

impl WellflowClient {
    /// Builds a client for `base_url` (e.g. `https://api.wellflow.example`; a path prefix is
    /// kept). `timeout` bounds each whole call; connecting gets at most 1 s of it.
    pub fn new(base_url: &str, api_key: String, timeout: Duration) -> Result<Self, WellflowError> {
        let base_url = parse_base_url(base_url)?;
        if timeout.is_zero() {
            return Err(WellflowError::InvalidConfig("the timeout must be greater than zero".into()));
        }
        let api_key = api_key.trim().to_owned();
        if api_key.is_empty() {
            return Err(WellflowError::InvalidConfig("the WELLFLOW_API_KEY is empty".into()));
        }
        let mut authorization = HeaderValue::from_str(&format!("Bearer {api_key}")).map_err(|_| {
            WellflowError::InvalidConfig(
                "the WELLFLOW_API_KEY contains characters not allowed in an HTTP header".into(),
            )
        })?;
        authorization.set_sensitive(true);

        // The process's one root store and rustls config (crate::tls), not a trust store of its own.
        let http = crate::tls::shared()
            .reqwest_builder()
            .connect_timeout(timeout.min(MAX_CONNECT_TIMEOUT))
            .timeout(timeout)
            // An API answer is never a redirect we should follow with our credentials.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("referral-backend/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|err| WellflowError::InvalidConfig(scrub(&describe(&err), &api_key)))?;

        Ok(Self { http, inner: Arc::new(Inner { base_url, authorization, api_key, timeout }) })
    }

    /// The validated base URL.
    pub fn base_url(&self) -> &str {
        self.inner.base_url.as_str()
    }

    /// Adds `amount` (USD, > 0, at most 2 decimals) to the account. Retry with the same
    /// `idempotency_key`; a repeat returns the original transfer with `replayed: true`.
    pub async fn credit(
        &self,
        account_id: &str,
        amount: Decimal,
        idempotency_key: &str,
        description: &str,
    ) -> Result<Transfer, WellflowError> {
        self.transfer(TransferKind::Credit, account_id, amount, idempotency_key, description).await
    }

    /// Takes `amount` (USD, > 0, at most 2 decimals) from the account; the balance may go
    /// negative. Same idempotency rules as [`WellflowClient::credit`].
    pub async fn debit(
        &self,
        account_id: &str,
        amount: Decimal,
        idempotency_key: &str,
        description: &str,
    ) -> Result<Transfer, WellflowError> {
        self.transfer(TransferKind::Debit, account_id, amount, idempotency_key, description).await
    }

    /// Current balance of the account (0 for an account Wellflow has never seen).
    pub async fn balance(&self, account_id: &str) -> Result<Decimal, WellflowError> {
        let url = self.account_url(account_id, None)?;
        let request = self.http.get(url);
        let success = self.send("balance", account_id, None, request).await?;
        let body: BalanceResponseBody = self.parse_json(&success.body)?;
        parse_money(&body.balance, "balance").map_err(|err| self.log_bad_response("balance", account_id, err))
    }

    /// The account's transactions applied in `[from, to)` (RFC 3339), one page (see the module
    /// doc for the assumed endpoint). Read-only: safe to retry.
    pub async fn transactions(
        &self,
        account_id: &str,
        from: &str,
        to: &str,
        cursor: Option<&str>,
    ) -> Result<TransactionPage, WellflowError> {
        let mut url = self.account_url(account_id, Some("transactions"))?;
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("from", from).append_pair("to", to).append_pair("limit", &LIST_PAGE_LIMIT.to_string());
            if let Some(cursor) = cursor {
                query.append_pair("cursor", cursor);
            }
        }
        let success = self.send("transactions", account_id, None, self.http.get(url)).await?;
        let body: TransactionsResponseBody = self.parse_json(&success.body)?;
        let transactions = body
            .transactions
            .into_iter()
            .map(check_listed)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|err| self.log_bad_response("transactions", account_id, err))?;
        Ok(TransactionPage { transactions, next_cursor: body.next_cursor.filter(|c| !c.is_empty()) })
    }

    async fn transfer(
        &self,
        kind: TransferKind,
        account_id: &str,
        amount: Decimal,
        idempotency_key: &str,
        description: &str,
    ) -> Result<Transfer, WellflowError> {
        let url = self.account_url(account_id, Some(kind.path()))?;
        validate_idempotency_key(idempotency_key)?;
        let amount_text = format_amount(amount)?;
        let body = TransferRequestBody { amount: &amount_text, currency: "USD", description };
        let request = self.http.post(url).header(IDEMPOTENCY_KEY_HEADER, idempotency_key).json(&body);

        let success = self.send(kind.name(), account_id, Some(idempotency_key), request).await?;
        let response: TransferResponseBody = self.parse_json(&success.body)?;
        let transfer = check_transfer(response, kind, account_id, amount, success.replayed)
            .map_err(|err| self.log_bad_response(kind.name(), account_id, err))?;
        tracing::debug!(
            operation = kind.name(),
            account_id,
            idempotency_key,
            transaction_id = %transfer.transaction_id,
            balance = %transfer.balance,
            replayed = transfer.replayed,
            "wellflow transfer recorded"
        );
        Ok(transfer)
    }

    /// `{base}/v1/accounts/{account_id}[/{action}]`, the account id percent-encoded.
    fn account_url(&self, account_id: &str, action: Option<&str>) -> Result<Url, WellflowError> {
        validate_account_id(account_id)?;
        let mut url = self.inner.base_url.clone();
        {
            let mut segments = url
                .path_segments_mut()
                .map_err(|()| WellflowError::InvalidConfig("the base URL cannot have a path".into()))?;
            segments.pop_if_empty().extend(["v1", "accounts", account_id]);
            if let Some(action) = action {
                segments.push(action);
            }
        }
        Ok(url)
    }

    /// Sends with the API key, reads the body, logs status and latency, maps failures.
    async fn send(
        &self,
        operation: &'static str,
        account_id: &str,
        idempotency_key: Option<&str>,
        request: RequestBuilder,
    ) -> Result<Success, WellflowError> {
        let started = Instant::now();
        tracing::debug!(operation, account_id, idempotency_key, "wellflow request");
        let request = request.header(AUTHORIZATION, self.inner.authorization.clone());

        let result = match request.send().await {
            Ok(response) => self.read_response(response).await,
            Err(err) => Err((None, self.transport_error(&err))),
        };
        let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        match &result {
            Ok((status, success)) => tracing::info!(
                operation,
                account_id,
                idempotency_key,
                status,
                latency_ms,
                replayed = success.replayed,
                "wellflow call succeeded"
            ),
            Err((status, err)) => tracing::warn!(
                operation,
                account_id,
                idempotency_key,
                status = *status,
                latency_ms,
                error_code = err.code(),
                error = %err,
                "wellflow call failed"
            ),
        }
        result.map(|(_, success)| success).map_err(|(_, err)| err)
    }

    /// Classifies an HTTP answer; the status (if any) rides along for logging.
    async fn read_response(&self, response: Response) -> Result<(u16, Success), (Option<u16>, WellflowError)> {
        let status = response.status();
        let code = status.as_u16();
        let replayed = response
            .headers()
            .get(REPLAYED_HEADER)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.trim().eq_ignore_ascii_case("true"));
        let body = read_body(response).await;

        if status.is_success() {
            return match body {
                Ok(body) => Ok((code, Success { replayed, body })),
                Err(BodyError::TooLarge) => Err((Some(code), WellflowError::InvalidResponse(too_large()))),
                Err(BodyError::Transport(err)) => Err((Some(code), self.transport_error(&err))),
            };
        }
        // For an error answer, an unreadable body just means a less detailed message.
        let body = body.unwrap_or_default();
        Err((Some(code), self.status_error(status, &body)))
    }

    fn status_error(&self, status: StatusCode, body: &[u8]) -> WellflowError {
        let code = status.as_u16();
        if matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
            return WellflowError::Unauthorized;
        }
        let detail = serde_json::from_slice::<ErrorResponseBody>(body).ok().map(|parsed| parsed.error);
        let message = detail
            .as_ref()
            .and_then(|detail| detail.message.as_deref())
            .map_or_else(|| self.quote(&String::from_utf8_lossy(body)), |message| self.quote(message));
        if status.is_client_error() {
            let error_code = detail
                .and_then(|detail| detail.code)
                .map_or_else(|| format!("http_{code}"), |error_code| self.quote(&error_code));
            WellflowError::Rejected { status: code, code: error_code, message }
        } else if status.is_server_error() {
            WellflowError::Server { status: code, message }
        } else {
            WellflowError::InvalidResponse(format!("unexpected HTTP status {code}"))
        }
    }

    fn transport_error(&self, err: &reqwest::Error) -> WellflowError {
        let message = || scrub(&describe(err), &self.inner.api_key);
        if err.is_connect() {
            // Includes connect timeouts: nothing reached Wellflow.
            WellflowError::Unreachable(message())
        } else if err.is_timeout() {
            WellflowError::Timeout
        } else if err.is_builder() {
            WellflowError::InvalidConfig(message())
        } else if err.is_decode() {
            WellflowError::InvalidResponse(message())
        } else {
            // Request sent but the connection closed or reset before a complete answer.
            WellflowError::Unreachable(message())
        }
    }

    fn parse_json<T: for<'de> Deserialize<'de>>(&self, body: &[u8]) -> Result<T, WellflowError> {
        serde_json::from_slice(body).map_err(|err| {
            WellflowError::InvalidResponse(format!("{err} in body {}", self.quote(&String::from_utf8_lossy(body))))
        })
    }

    fn log_bad_response(&self, operation: &'static str, account_id: &str, err: WellflowError) -> WellflowError {
        tracing::warn!(operation, account_id, error_code = err.code(), error = %err, "wellflow answer unusable");
        err
    }

    /// Scrubbed of the API key and cut to 200 characters, for quoting in errors.
    fn quote(&self, text: &str) -> String {
        truncate(&scrub(text, &self.inner.api_key), MAX_QUOTED_BODY_CHARS)
    }
}

/// Wellflow as the core's ledger port: credits and debits with the move's idempotency key.
impl referral_core::ports::Ledger for WellflowClient {
    async fn transfer(
        &self,
        request: &referral_core::ports::TransferRequest<'_>,
    ) -> Result<referral_core::ports::Transfer, referral_core::ports::LedgerError> {
        use referral_core::bonus::MoveKind;
        let account = request.account.as_str();
        let amount = request.amount.decimal();
        let result = match request.kind {
            MoveKind::Credit => self.credit(account, amount, request.idempotency_key, &request.description).await,
            MoveKind::Debit => self.debit(account, amount, request.idempotency_key, &request.description).await,
        };
        result
            .map(|t| referral_core::ports::Transfer { transaction_id: t.transaction_id, replayed: t.replayed })
            .map_err(|err| referral_core::ports::LedgerError {
                kind: err.failure_kind(),
                code: err.code().to_string(),
                message: err.to_string(),
            })
    }
}

/// Wellflow's books as the core's reconciliation reads them.
impl referral_core::ports::LedgerHistory for WellflowClient {
    async fn transactions(
        &self,
        account: &referral_core::domain::UserId,
        from: &str,
        to: &str,
        cursor: Option<&str>,
    ) -> Result<referral_core::ports::LedgerPage, referral_core::ports::LedgerError> {
        let page = WellflowClient::transactions(self, account.as_str(), from, to, cursor).await.map_err(|err| {
            referral_core::ports::LedgerError {
                kind: err.failure_kind(),
                code: err.code().to_string(),
                message: err.to_string(),
            }
        })?;
        Ok(referral_core::ports::LedgerPage {
            entries: page
                .transactions
                .into_iter()
                .map(|t| referral_core::ports::LedgerEntry {
                    transaction_id: t.transaction_id,
                    idempotency_key: t.idempotency_key,
                    kind: t.kind,
                    amount: crate::domain::Usd::from_decimal_exact(t.amount),
                    at: t.created_at,
                })
                .collect(),
            next_cursor: page.next_cursor,
        })
    }
}

impl WellflowError {
    /// What the failure means for the money: `Refused` only when Wellflow (or this client,
    /// before sending) definitely did not apply it and retrying will not help by itself;
    /// everything that may have been applied, or may succeed later (timeouts, 5xx, 401/403
    /// while a key is being fixed, 408/429), is `Unknown` and retried with the same key.
    pub fn failure_kind(&self) -> referral_core::bonus::FailureKind {
        use referral_core::bonus::FailureKind;
        match self {
            Self::Rejected { status: 408 | 429, .. } => FailureKind::Unknown,
            Self::Rejected { .. } | Self::InvalidInput(_) | Self::InvalidConfig(_) => FailureKind::Refused,
            Self::Timeout
            | Self::Unreachable(_)
            | Self::Server { .. }
            | Self::Unauthorized
            | Self::InvalidResponse(_) => FailureKind::Unknown,
        }
    }
}

fn parse_base_url(raw: &str) -> Result<Url, WellflowError> {
    let invalid = |why: &str| WellflowError::InvalidConfig(format!("invalid Wellflow base URL: {why}"));
    let url = Url::parse(raw.trim()).map_err(|err| invalid(&err.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("the scheme must be http or https"));
    }
    if url.host().is_none() || url.cannot_be_a_base() {
        return Err(invalid("a host is required"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("credentials in the URL are not allowed; use WELLFLOW_API_KEY"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("a query or fragment is not allowed"));
    }
    Ok(url)
}

fn validate_account_id(account_id: &str) -> Result<(), WellflowError> {
    // `url` skips "." and ".." segments and drops tabs/newlines: refuse them rather than
    // address a different account.
    if account_id.is_empty() || account_id == "." || account_id == ".." {
        return Err(WellflowError::InvalidInput(format!("invalid account id {account_id:?}")));
    }
    if account_id.chars().any(char::is_control) {
        return Err(WellflowError::InvalidInput("the account id contains control characters".into()));
    }
    Ok(())
}

fn validate_idempotency_key(key: &str) -> Result<(), WellflowError> {
    if key.is_empty() || key.len() > MAX_IDEMPOTENCY_KEY_CHARS {
        return Err(WellflowError::InvalidInput(format!(
            "the idempotency key must be 1 to {MAX_IDEMPOTENCY_KEY_CHARS} characters"
        )));
    }
    if !key.bytes().all(|byte| byte.is_ascii_graphic()) {
        return Err(WellflowError::InvalidInput("the idempotency key must be printable ASCII without spaces".into()));
    }
    Ok(())
}

/// `"2.50"`: exactly two decimals; amounts must be > 0 with at most two decimals (never rounded).
fn format_amount(amount: Decimal) -> Result<String, WellflowError> {
    if amount <= Decimal::ZERO {
        return Err(WellflowError::InvalidInput(format!("the amount must be greater than 0, got {amount}")));
    }
    let mut amount = amount.normalize();
    if amount.scale() > 2 {
        return Err(WellflowError::InvalidInput(format!("the amount {amount} has more than 2 decimal places")));
    }
    amount.rescale(2);
    if amount.scale() != 2 {
        return Err(WellflowError::InvalidInput("the amount is too large".into()));
    }
    Ok(amount.to_string())
}

fn parse_money(text: &str, field: &str) -> Result<Decimal, WellflowError> {
    text.trim()
        .parse::<Decimal>()
        .map_err(|_| WellflowError::InvalidResponse(format!("{field} is not a decimal: {:?}", truncate(text, 40))))
}

/// Checks that Wellflow's answer is about the transfer we asked for.
fn check_transfer(
    response: TransferResponseBody,
    kind: TransferKind,
    account_id: &str,
    amount: Decimal,
    replayed: bool,
) -> Result<Transfer, WellflowError> {
    let recorded_amount = parse_money(&response.amount, "amount")?;
    let balance = parse_money(&response.balance, "balance")?;
    if response.transaction_id.is_empty() {
        return Err(WellflowError::InvalidResponse("empty transaction_id".into()));
    }
    if response.kind != kind.name() || response.account_id != account_id || recorded_amount != amount {
        return Err(WellflowError::InvalidResponse(format!(
            "answer is for a different transfer ({} of {} on account {:?})",
            truncate(&response.kind, 20),
            recorded_amount,
            truncate(&response.account_id, 60),
        )));
    }
    Ok(Transfer { transaction_id: response.transaction_id, amount: recorded_amount, balance, replayed })
}

/// Checks one listed transaction: a known kind, an amount > 0 with at most two decimals.
fn check_listed(t: ListedTransactionBody) -> Result<ListedTransaction, WellflowError> {
    use referral_core::bonus::MoveKind;
    let kind = match t.kind.as_str() {
        "credit" => MoveKind::Credit,
        "debit" => MoveKind::Debit,
        other => return Err(WellflowError::InvalidResponse(format!("unknown kind {:?}", truncate(other, 20)))),
    };
    let amount = parse_money(&t.amount, "amount")?;
    if amount <= Decimal::ZERO || amount.normalize().scale() > 2 {
        return Err(WellflowError::InvalidResponse(format!("listed amount {amount} is not a positive cent amount")));
    }
    if t.transaction_id.is_empty() || t.created_at.is_empty() {
        return Err(WellflowError::InvalidResponse("listed transaction without id or time".into()));
    }
    Ok(ListedTransaction {
        transaction_id: t.transaction_id,
        kind,
        amount,
        idempotency_key: t.idempotency_key,
        created_at: t.created_at,
    })
}

enum BodyError {
    TooLarge,
    Transport(reqwest::Error),
}

/// Reads the whole body, refusing more than `MAX_RESPONSE_BYTES`.
async fn read_body(mut response: Response) -> Result<Vec<u8>, BodyError> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Transport)? {
        if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn too_large() -> String {
    format!("response body larger than {} KiB", MAX_RESPONSE_BYTES / 1024)
}

/// The error and its causes, without the URL: `error sending request: ...: connection refused`.
fn describe(err: &reqwest::Error) -> String {
    let mut message = err.to_string();
    if let Some(url) = err.url() {
        message = message.replace(&format!(" for url ({url})"), "");
    }
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !message.contains(&cause_text) {
            message.push_str(": ");
            message.push_str(&cause_text);
        }
        source = cause.source();
    }
    message
}

fn scrub(text: &str, api_key: &str) -> String {
    if api_key.is_empty() {
        text.to_owned()
    } else {
        text.replace(api_key, "[redacted]")
    }
}

fn truncate(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(base_url: &str) -> WellflowClient {
        WellflowClient::new(base_url, "secret-key".into(), Duration::from_secs(2)).unwrap()
    }

    #[test]
    fn account_ids_are_one_encoded_path_segment() {
        let client = client("https://wf.example/billing/");
        let url = client.account_url("user/1 ?#%2e", Some("credits")).unwrap();
        assert_eq!(url.as_str(), "https://wf.example/billing/v1/accounts/user%2F1%20%3F%23%252e/credits");
        let url = client.account_url("acc-1", None).unwrap();
        assert_eq!(url.as_str(), "https://wf.example/billing/v1/accounts/acc-1");
        for bad in ["", ".", "..", "a\tb", "a\nb"] {
            assert!(matches!(client.account_url(bad, None), Err(WellflowError::InvalidInput(_))), "{bad:?}");
        }
    }

    #[test]
    fn amounts_have_exactly_two_decimals() {
        assert_eq!(format_amount(Decimal::new(25, 1)).unwrap(), "2.50");
        assert_eq!(format_amount(Decimal::new(7, 0)).unwrap(), "7.00");
        assert_eq!(format_amount(Decimal::new(12_3000, 4)).unwrap(), "12.30");
        assert!(format_amount(Decimal::ZERO).is_err());
        assert!(format_amount(Decimal::new(-1, 0)).is_err());
        assert!(format_amount(Decimal::new(1001, 3)).is_err());
    }

    #[test]
    fn config_is_validated() {
        let new = |url: &str, key: &str, ms: u64| WellflowClient::new(url, key.into(), Duration::from_millis(ms));
        assert!(new("http://127.0.0.1:9100", "k", 100).is_ok());
        for url in ["", "not a url", "ftp://x", "mailto:a@b", "http://u:p@x", "http://x/?q=1"] {
            assert!(matches!(new(url, "k", 100), Err(WellflowError::InvalidConfig(_))), "{url}");
        }
        assert!(matches!(new("http://x", "", 100), Err(WellflowError::InvalidConfig(_))));
        assert!(matches!(new("http://x", "k", 0), Err(WellflowError::InvalidConfig(_))));
        let err = new("http://x", "bad\u{7f}key", 100).unwrap_err();
        assert!(!err.to_string().contains("bad\u{7f}key"));
    }

    #[test]
    fn debug_and_errors_never_show_the_key() {
        let client = client("http://127.0.0.1:1");
        assert!(!format!("{client:?}").contains("secret-key"));
        let err = client
            .status_error(StatusCode::BAD_REQUEST, br#"{"error":{"code":"bad","message":"you sent secret-key"}}"#);
        assert!(!err.to_string().contains("secret-key"), "{err}");
        let long = client.status_error(StatusCode::BAD_GATEWAY, "x".repeat(1000).as_bytes());
        let WellflowError::Server { message, .. } = long else { panic!("not a server error") };
        assert_eq!(message.chars().count(), MAX_QUOTED_BODY_CHARS + 1);
    }

    #[test]
    fn codes_and_retryability() {
        let server = WellflowError::Server { status: 503, message: String::new() };
        let rejected = WellflowError::Rejected { status: 409, code: "c".into(), message: String::new() };
        assert!(WellflowError::Timeout.is_retryable() && server.is_retryable());
        assert!(WellflowError::Unreachable(String::new()).is_retryable());
        assert!(!rejected.is_retryable() && !WellflowError::Unauthorized.is_retryable());
        assert_eq!(server.code(), "wellflow_5xx");
        assert_eq!(WellflowError::Unauthorized.code(), "wellflow_unauthorized");
        assert!(WellflowError::Unauthorized.to_string().contains("WELLFLOW_API_KEY"));
    }
}
