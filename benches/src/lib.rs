//! The benchmark crate's library: the in-process bench double ([`CountingCodes`]), the fixed
//! inputs every benchmark uses ([`fixtures`]), the cold-start proxy ([`coldstart`]), the
//! statistics ([`stats`]), the docs/BENCHMARKS.md generator ([`report`]) and a stdout filter for
//! benchmarks of code that prints ([`stdout_filter`]).
//!
//! Nothing here is used by the functions or their tests: tests run the real DynamoDB store
//! against moto; the double below exists only so the redirect benchmark measures our code
//! and not a network round trip.

pub mod coldstart;
pub mod cost;
pub mod fixtures;
pub mod report;
pub mod stats;
pub mod stdout_filter;

use std::sync::atomic::{AtomicU64, Ordering};

use adapters::domain::RefCode;
use adapters::store::{ClickOutcome, CodeRecord, Codes, StoreError};

/// Bench-only [`Codes`]: every code exists, every click is counted in memory (no I/O).
#[derive(Debug, Default, Clone)]
pub struct CountingCodes {
    clicks: std::sync::Arc<AtomicU64>,
}

impl CountingCodes {
    /// Clicks recorded so far (lets a benchmark check the handler really went through the store).
    pub fn clicks(&self) -> u64 {
        self.clicks.load(Ordering::Relaxed)
    }
}

impl Codes for CountingCodes {
    async fn record_click(&self, _code: &RefCode) -> Result<ClickOutcome, StoreError> {
        self.clicks.fetch_add(1, Ordering::Relaxed);
        Ok(ClickOutcome::Counted)
    }

    async fn code(&self, _code: &RefCode) -> Result<Option<CodeRecord>, StoreError> {
        Ok(None)
    }
}
