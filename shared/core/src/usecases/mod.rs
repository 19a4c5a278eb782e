//! The use cases: every flow that changes the referral program's state. Each one reads
//! through a store port, lets the bonus state machine (`crate::bonus`) decide, commits the
//! change atomically, and only then talks to Wellflow (`settle`).
//!
//! | use case | entry point | who calls it |
//! |---|---|---|
//! | payment events (top-up, refund, dispute) | [`payment_events::handle_payment_event`] | webhook (generic and Stripe) |
//! | credit / debit through Wellflow | [`settle::settle`], [`settle::settle_payment`] | every flow above; credit-retry |
//! | moderation | [`moderation::approve`], [`moderation::reject`] | admin |
//! | holding release | [`holding::release_due`] | holding-release (scheduled) |
//! | sweep | [`sweep::sweep_unsettled`] | failed-sweeper (scheduled) |
//! | reconciliation with Wellflow | [`reconcile::run_pass`], [`reconcile::resolve_finding`] | reconcile (scheduled); admin |
//! | outbox delivery | [`outbox::dispatch`] | outbox dispatcher (DynamoDB stream) |
//! | attribution | [`attribution::attribute_signup`] | signup |

pub mod attribution;
pub mod holding;
pub mod moderation;
pub mod outbox;
pub mod payment_events;
pub mod reconcile;
pub mod settle;
pub mod sweep;
mod topup;

use std::sync::Arc;

use time::OffsetDateTime;

use crate::bonus::BonusPolicy;
use crate::clock::{self, Clock};
use crate::store::StoreError;

/// What the money-moving use cases need, built once per process.
#[derive(Clone)]
pub struct Billing<S, L> {
    pub store: S,
    pub ledger: L,
    pub policy: BonusPolicy,
    pub clock: Arc<dyn Clock>,
}

impl<S, L> Billing<S, L> {
    pub fn new(store: S, ledger: L, policy: BonusPolicy) -> Self {
        Self { store, ledger, policy, clock: Arc::new(clock::SystemClock) }
    }

    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    /// Now, as the RFC 3339 string stored everywhere.
    pub fn now_str(&self) -> String {
        clock::rfc3339(self.clock.now())
    }
}

/// The store failed (retry later: nothing was half-written), or a bonus kept changing under
/// us for longer than is plausible.
#[derive(Debug, thiserror::Error)]
pub enum BillingError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("bonus of payment {0} kept changing under us; retry")]
    Contended(String),
}
