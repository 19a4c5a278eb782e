//! Fake Wellflow: an in-memory stand-in for the external Wellflow billing API (per-user USD
//! credit balances), with switchable faults, for local runs and tests.
//!
//! # Contract (what our client assumes of the real Wellflow)
//!
//! * **Auth**: every `/v1` request needs `Authorization: Bearer <api_key>`; wrong or missing →
//!   401 `{"error":{"code":"unauthorized","message":"..."}}`. Every error body has this shape.
//! * `POST /v1/accounts/{account_id}/credits` and `POST /v1/accounts/{account_id}/debits`, body
//!   `{"amount":"2.50","currency":"USD","description":"optional text"}`, header
//!   `Idempotency-Key` required (missing → 400, longer than 255 characters → 400).
//!   `amount` is a decimal string, > 0, at most 2 decimal places; `currency` must be `"USD"`;
//!   otherwise 422.
//!   * Success: 201 `{"transaction_id":"wf_tx_<n>","account_id":"...","kind":"credit"|"debit",
//!     "amount":"2.50","balance":"12.50"}` (balance after; debits may make it negative).
//!   * Same `Idempotency-Key` with the same kind, account and amount: 200 with the original
//!     body and header `Idempotent-Replayed: true`; nothing changes.
//!   * Same key with a different kind, account or amount: 409 `idempotency_conflict`.
//!   * Concurrent requests with the same key apply exactly once.
//! * `GET /v1/accounts/{account_id}` → 200 `{"account_id":"...","balance":"0.00"}`; unknown
//!   accounts have balance `0.00`. Money is always formatted with exactly 2 decimals.
//! * `GET /v1/accounts/{account_id}/transactions?from=<RFC 3339>&to=<RFC 3339>&limit=<1..500,
//!   default 100>&cursor=<opaque>` → 200 `{"account_id","transactions":[{"transaction_id",
//!   "kind","amount","idempotency_key" (null without one),"created_at"}],"next_cursor"|null}`:
//!   the account's transactions with `from <= created_at < to`, oldest first (ties by
//!   transaction number), stable across pages; unknown accounts list nothing; a malformed
//!   window, limit or cursor is 400.
//!
//! # Test controls (no auth; they work in every fault mode)
//!
//! * `POST /__fault` `{"mode":"ok"|"down"|"5xx"|"4xx"|"slow","delay_ms":5000}` (`GET` shows
//!   it): `down` closes the connection of any `/v1` request without an HTTP response; `5xx`
//!   answers 503 `unavailable` and applies nothing; `4xx` answers 422 `account_frozen` and
//!   applies nothing; `slow` sleeps `delay_ms` (default 5000) and then processes (and applies)
//!   the request even if the client gave up; `ok` is normal.
//! * `POST /__ledger` edits the book behind the API's back ([`LedgerEdit`]):
//!   `{"op":"insert","account_id","kind","amount","idempotency_key"?,"created_at"?}` (a manual
//!   adjustment, or a request applied late; a key given is taken),
//!   `{"op":"remove","idempotency_key","forget_key"?: true}` (a lost transaction; with
//!   `forget_key: false` the key is still answered as a replay),
//!   `{"op":"set_amount","idempotency_key","amount"}` (an altered one). Balances follow.
//!   Answers the transaction; 404 `not_found`, 409 `key_in_use`, 422 `invalid_edit`.
//! * `GET /__stats` → `{"credits_applied":n,"debits_applied":n,"requests":n,"transactions":
//!   [{"transaction_id","account_id","kind","amount","idempotency_key","created_at"}...]}`; `requests`
//!   counts every `/v1` request received, including replays, rejected and faulted ones.
//! * `POST /__reset` clears balances, transactions, idempotency keys, counters and the fault
//!   mode (transaction numbers keep increasing, so ids are never reused).
//!
//! Tests in the same process can use [`FakeWellflow::set_fault`], [`FakeWellflow::stats`],
//! [`FakeWellflow::reset`], [`FakeWellflow::edit`] and [`FakeWellflow::balance`] instead of
//! the HTTP controls.

mod accounts;
mod api_error;
mod app;
mod auth;
mod control;
mod faults;
mod ledger;
mod money;
mod server;
mod state;

use std::net::{Ipv4Addr, SocketAddr};

use rust_decimal::Decimal;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use faults::{Fault, DEFAULT_SLOW_DELAY};
pub use ledger::{EditError, Kind, LedgerEdit, Stats, Transaction};
use state::AppState;

/// A running fake on `127.0.0.1:<free port>`; stops when dropped or on [`FakeWellflow::shutdown`].
pub struct FakeWellflow {
    /// `http://127.0.0.1:<port>`, without a trailing slash.
    pub base_url: String,
    pub addr: SocketAddr,
    state: AppState,
    shutdown: Option<watch::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl FakeWellflow {
    /// Binds a free port on 127.0.0.1 and serves in a background tokio task.
    pub async fn start(api_key: &str) -> std::io::Result<FakeWellflow> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let state = AppState::new(api_key.to_owned());
        let (shutdown, shutdown_rx) = watch::channel(());
        let task = tokio::spawn(server::run(listener, app::router(state.clone()), shutdown_rx));
        Ok(FakeWellflow { base_url: format!("http://{addr}"), addr, state, shutdown: Some(shutdown), task: Some(task) })
    }

    /// Sets the fault mode, like `POST /__fault`.
    pub fn set_fault(&self, fault: Fault) {
        self.state.set_fault(fault);
    }

    /// Counters and transactions, like `GET /__stats`.
    pub fn stats(&self) -> Stats {
        self.state.stats()
    }

    /// Changes the book behind the API's back, like `POST /__ledger`.
    pub fn edit(&self, edit: LedgerEdit) -> Result<Transaction, EditError> {
        self.state.edit(&edit)
    }

    /// Clears everything, like `POST /__reset`.
    pub fn reset(&self) {
        self.state.reset();
    }

    /// Current balance of an account (0 if unknown).
    pub fn balance(&self, account_id: &str) -> Decimal {
        self.state.ledger().balance(account_id)
    }

    /// Stops accepting, drops open connections and waits for the accept loop to end.
    pub async fn shutdown(mut self) {
        self.shutdown.take();
        if let Some(task) = self.task.take() {
            // The loop only ends by itself; a JoinError here means it panicked, nothing to do.
            let _ = task.await;
        }
    }
}

impl Drop for FakeWellflow {
    fn drop(&mut self) {
        self.shutdown.take();
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Serves the fake on `listener` with `api_key` until the returned future is dropped.
pub async fn serve(listener: TcpListener, api_key: String) {
    let (_shutdown, shutdown_rx) = watch::channel(());
    server::run(listener, app::router(AppState::new(api_key)), shutdown_rx).await;
}
