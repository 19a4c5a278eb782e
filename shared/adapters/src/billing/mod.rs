//! Money flows: a top-up becomes a bonus, a bonus gets credited through Wellflow (or held,
//! or retried), a refund reverses it. Orchestrates the domain rules, the store and the
//! Wellflow client; every function that moves money (webhook, retry, admin) goes through here.

mod credit;
pub mod holding;
pub mod moderation;
pub mod partner_events;
mod refund;
mod retry_queue;
pub mod settings;
pub mod sweep;
mod topup;

pub use credit::{credit_bonus, CreditOutcome, OnFailure};
pub use partner_events::{PartnerEventMessage, PartnerEvents};
pub use refund::{process_refund, RefundOutcome};
pub use retry_queue::{backoff_secs, exponential_backoff_secs, RetryQueue, SqsRetryQueue, VisibilityBackoff};
pub use topup::{process_topup, TopupEvent, TopupOutcome};

use crate::domain::BonusPolicy;
use crate::wellflow::WellflowClient;

/// Everything a money flow needs, built once per cold start.
#[derive(Clone)]
pub struct Billing<S, Q> {
    pub store: S,
    pub wellflow: WellflowClient,
    pub retry: Q,
    pub policy: BonusPolicy,
    /// Partner webhook events (`None` when `PARTNER_WEBHOOK_QUEUE_URL` is unset).
    pub events: Option<PartnerEvents>,
}

/// Wellflow or the store failed in a way the caller should surface as "retry later".
#[derive(Debug, thiserror::Error)]
pub enum BillingError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("Wellflow failed: {0}")]
    Wellflow(#[from] crate::wellflow::WellflowError),
    #[error("bonus {0} kept changing under us; retry")]
    Contended(String),
}
