//! The ports the use cases need besides the store (`crate::store`): Wellflow as a ledger (and
//! its transaction history, for reconciliation), the retry queue and the partner event queue.
//! Adapters implement them (`adapters::wellflow`, `adapters::queues`); the simulation
//! implements them in memory with fault injection.

use std::future::Future;

use crate::bonus::{FailureKind, MoveFailure, MoveKind};
use crate::domain::{PartnerEventType, PaymentId, Usd, UserId};

/// One credit or debit on a referrer's Wellflow balance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferRequest<'a> {
    pub kind: MoveKind,
    /// The Wellflow account: the referrer's user id.
    pub account: &'a UserId,
    pub amount: Usd,
    /// Deterministic per move (`bonus::move_key`); a repeat is applied at most once.
    pub idempotency_key: &'a str,
    pub description: String,
}

/// Wellflow's answer to an applied (or replayed) transfer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    pub transaction_id: String,
    /// Wellflow had applied this key before and answered with the original transfer.
    pub replayed: bool,
}

/// Why a transfer failed, classified by what it means for the money.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerError {
    /// `Unknown`: it may have been applied (timeout, connection lost, 5xx) — retry with the
    /// same key. `Refused`: Wellflow said no (4xx), nothing was applied.
    pub kind: FailureKind,
    /// Machine-readable code (`wellflow_timeout`, `wellflow_5xx`, `wellflow_rejected`, …).
    pub code: String,
    pub message: String,
}

impl LedgerError {
    pub fn failure(&self, at: &str) -> MoveFailure {
        MoveFailure { kind: self.kind, code: self.code.clone(), message: self.message.clone(), at: at.to_string() }
    }
}

impl std::fmt::Display for LedgerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

/// Wellflow, as the rules see it.
pub trait Ledger: Send + Sync {
    fn transfer(&self, request: &TransferRequest<'_>) -> impl Future<Output = Result<Transfer, LedgerError>> + Send;
}

/// One transaction on a referrer's Wellflow account, as Wellflow lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    pub transaction_id: String,
    /// The `Idempotency-Key` it was applied with; `None` for a transaction made without one
    /// (e.g. by hand in Wellflow's console).
    pub idempotency_key: Option<String>,
    pub kind: MoveKind,
    pub amount: Usd,
    /// When Wellflow applied it (RFC 3339, Wellflow's clock).
    pub at: String,
}

/// One page of an account's transactions, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LedgerPage {
    pub entries: Vec<LedgerEntry>,
    /// Opaque; absent on the last page.
    pub next_cursor: Option<String>,
}

/// Wellflow's books, as reconciliation reads them (`usecases::reconcile`).
pub trait LedgerHistory: Send + Sync {
    /// The transactions Wellflow applied on `account` in `[from, to)` (RFC 3339), oldest first,
    /// one page at a time (`cursor` = the previous page's `next_cursor`).
    fn transactions(
        &self,
        account: &UserId,
        from: &str,
        to: &str,
        cursor: Option<&str>,
    ) -> impl Future<Output = Result<LedgerPage, LedgerError>> + Send;
}

/// Where another Wellflow attempt for a bonus is scheduled (after a backoff that grows with
/// `attempts`). The message names the payment only: the bonus row is the source of truth.
pub trait RetryQueue: Send + Sync {
    fn schedule(&self, payment: &PaymentId, attempts: u32) -> impl Future<Output = Result<(), String>> + Send;
}

/// A partner event to deliver (ids only: the deliverer re-reads the bonus row).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PartnerEventMessage {
    pub event_id: String,
    #[serde(rename = "type")]
    pub kind: PartnerEventType,
    pub referrer_id: UserId,
    pub payment_id: PaymentId,
    /// The bonus version the event describes (its history entry says when it happened).
    pub bonus_version: u64,
}

/// Where partner events go to be delivered.
pub trait EventQueue: Send + Sync {
    fn publish(&self, message: &PartnerEventMessage) -> impl Future<Output = Result<(), String>> + Send;
}
