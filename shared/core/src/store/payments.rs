//! The store port of the money path: read everything a payment event needs in one round
//! trip, and commit a payment record + bonus change + its effects atomically.
//!
//! A store implements [`Payments::commit`] as one atomic write (DynamoDB: one
//! `TransactWriteItems`): the payment record conditional on the version that was read, the
//! bonus row conditional on its version (or on not existing, for a creation), and every
//! effect of the change (`bonus::Effect`). If any condition fails, nothing is written and the
//! answer is [`CommitOutcome::Conflict`]: the caller re-reads and decides again. A store
//! decides nothing: every rule is in `referral_core::bonus`.

use std::future::Future;

use crate::bonus::{Bonus, Change};
use crate::domain::{PaymentId, RateTiers, UserId};
use crate::payment::PaymentRecord;
use crate::store::{Page, QueryError, ReferrerSnapshot, StoreError, UserProfile};

/// Everything a payment event needs, read together.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PaymentSnapshot {
    /// What the provider told us so far (`None`: nothing yet).
    pub record: Option<PaymentRecord>,
    pub bonus: Option<Bonus>,
    /// The payer's profile, when the event names the payer.
    pub payer: Option<UserProfile>,
    /// The rate-tier table (`None` = flat default).
    pub rate_tiers: Option<RateTiers>,
}

/// One atomic write.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Commit {
    /// The payment record to store; written if its stored version is `version - 1` (or, for
    /// version 1, if there is none).
    pub payment: Option<PaymentRecord>,
    /// The bonus row and the effects of its change.
    pub bonus: Option<Change>,
}

impl Commit {
    pub fn bonus(change: Change) -> Self {
        Self { payment: None, bonus: Some(change) }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitOutcome {
    Committed,
    /// Something read changed meanwhile (another delivery, a retry, an admin, a concurrent
    /// top-up crossing a tier threshold): nothing was written; read again and decide again.
    Conflict,
}

/// The money path's storage.
pub trait Payments: Send + Sync {
    /// The payment's record and bonus, the payer's profile (when `payer` is given) and the
    /// rate tiers — one round trip.
    fn payment_snapshot(
        &self,
        payment: &PaymentId,
        payer: Option<&UserId>,
    ) -> impl Future<Output = Result<PaymentSnapshot, StoreError>> + Send;

    /// The referrer's profile and referred volume of `month` (`yyyy-mm`) — one round trip.
    fn referrer_snapshot(
        &self,
        referrer: &UserId,
        month: &str,
    ) -> impl Future<Output = Result<ReferrerSnapshot, StoreError>> + Send;

    /// The bonus of a payment, read consistently.
    fn bonus(&self, payment: &PaymentId) -> impl Future<Output = Result<Option<Bonus>, StoreError>> + Send;

    /// Writes `commit` atomically, or nothing.
    fn commit(&self, commit: &Commit) -> impl Future<Output = Result<CommitOutcome, StoreError>> + Send;
}

/// Bonuses with a Wellflow move in flight (being credited, failing, or reversing): what the
/// sweeper re-queues when they have been idle too long.
pub trait UnsettledQueries: Send + Sync {
    /// Unsettled bonuses last changed before `idle_before` (RFC 3339), oldest first.
    fn list_unsettled(
        &self,
        idle_before: &str,
        limit: i32,
        cursor: Option<&str>,
    ) -> impl Future<Output = Result<Page<Bonus>, QueryError>> + Send;
}
