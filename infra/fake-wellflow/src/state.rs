//! Shared server state: the API key, the ledger behind one mutex, the current fault mode and
//! the `/v1` request counter.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::faults::Fault;
use crate::ledger::{EditError, Ledger, LedgerEdit, Stats, Transaction};

/// Cheap-to-clone handle on everything the handlers share.
#[derive(Clone)]
pub(crate) struct AppState(Arc<Inner>);

struct Inner {
    api_key: String,
    ledger: Mutex<Ledger>,
    fault: Mutex<Fault>,
    requests: AtomicU64,
}

impl AppState {
    pub(crate) fn new(api_key: String) -> Self {
        Self(Arc::new(Inner {
            api_key,
            ledger: Mutex::new(Ledger::default()),
            fault: Mutex::new(Fault::Ok),
            requests: AtomicU64::new(0),
        }))
    }

    pub(crate) fn api_key(&self) -> &str {
        &self.0.api_key
    }

    /// Locks the ledger; hold the guard across check-and-apply for exactly-once semantics.
    pub(crate) fn ledger(&self) -> MutexGuard<'_, Ledger> {
        self.0.ledger.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn fault(&self) -> Fault {
        *self.0.fault.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn set_fault(&self, fault: Fault) {
        *self.0.fault.lock().unwrap_or_else(PoisonError::into_inner) = fault;
    }

    pub(crate) fn count_request(&self) {
        self.0.requests.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn stats(&self) -> Stats {
        self.ledger().stats(self.0.requests.load(Ordering::Relaxed))
    }

    pub(crate) fn edit(&self, edit: &LedgerEdit) -> Result<Transaction, EditError> {
        self.ledger().edit(edit)
    }

    /// Clears balances, transactions, idempotency keys, counters and the fault mode.
    pub(crate) fn reset(&self) {
        let mut ledger = self.ledger();
        ledger.reset();
        self.0.requests.store(0, Ordering::Relaxed);
        self.set_fault(Fault::Ok);
    }
}
