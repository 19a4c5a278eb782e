//! What a bonus change implies beyond the bonus row itself. The state machine returns these;
//! a store writes them in the **same** atomic transaction as the row (DynamoDB:
//! one `TransactWriteItems`), so aggregates, indexes and the outbox can never disagree with
//! the money. A store turns each effect into writes and decides nothing.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::domain::{PartnerEventType, PaymentId, UserId, VolumeBand};

#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Earnings(EarningsMove),
    Volume(VolumeMove),
    Payer(PayerTopup),
    Velocity(VelocityWindow),
    /// The referrer context a top-up used from the payer's copy must still be current.
    ReferrerGuard(ReferrerGuard),
    Outbox(OutboxMessage),
    Activity(Activity),
}

/// The write fails unless the referrer's `ctx_version` is still `ctx_version` (rate override
/// and partner subscriptions unchanged since the payer's copy was taken).
#[derive(Debug, Clone, PartialEq)]
pub struct ReferrerGuard {
    pub referrer: UserId,
    pub ctx_version: u64,
}

/// Confirmed money moved on the referrer's Wellflow balance. Booked to the UTC day and month
/// the bonus was first credited (so "earned in the last 30 days" stays about credits in the
/// window, and a later reversal subtracts where it was earned); moves the leaderboard scores
/// (all time and that month) by the same amount.
#[derive(Debug, Clone, PartialEq)]
pub struct EarningsMove {
    pub referrer: UserId,
    /// `yyyy-mm-dd`
    pub day: String,
    /// `yyyy-mm`
    pub month: String,
    /// Signed: + for a credit, − for a debit.
    pub amount: Decimal,
    /// +1 when the bonus went from nothing paid to something paid (−1 never happens).
    pub credited: i64,
    /// +1 when it went from something paid back to nothing paid.
    pub reversed: i64,
}

/// The referrer's referred volume of `month` (the tier basis) moved by `delta`.
#[derive(Debug, Clone, PartialEq)]
pub struct VolumeMove {
    pub referrer: UserId,
    pub month: String,
    pub delta: Decimal,
    /// When the tiers decided the rate: the band the volume must still be in (the write
    /// fails, and the top-up is decided again, if a concurrent top-up crossed a threshold).
    pub guard: Option<VolumeBand>,
}

/// The payer's profile after a bonus-earning top-up: their latest top-up day (booked to the
/// bonus's referrer for "active referred users"), and the first-top-up marker.
#[derive(Debug, Clone, PartialEq)]
pub struct PayerTopup {
    pub payer: UserId,
    pub referrer: UserId,
    /// `yyyy-mm-dd` of this top-up.
    pub day: String,
    /// `(referrer, day)` as read; the write fails if it changed meanwhile.
    pub previous: Option<(UserId, String)>,
    /// This is the payer's first bonus-earning top-up (`first_topup_payment_id` is set, and
    /// the write fails if another one got there first).
    pub first_topup: Option<PaymentId>,
    /// The payer's copy of the referrer context to store (`None`: leave it as it is).
    pub referrer_ctx: Option<crate::store::ReferrerCtx>,
}

impl PayerTopup {
    /// The "active referred users" bucket moves: +1 on the new day, −1 on the previous one
    /// (each payer counts once, on the day of their latest top-up). Empty if unchanged.
    pub fn active_moves(&self) -> Vec<(UserId, String, i64)> {
        let current = (self.referrer.clone(), self.day.clone());
        if self.previous.as_ref() == Some(&current) {
            return Vec::new();
        }
        let mut moves = vec![(current.0, current.1, 1)];
        if let Some((referrer, day)) = &self.previous {
            moves.push((referrer.clone(), day.clone(), -1));
        }
        moves
    }
}

/// A first-time top-up recorded in the referrer's velocity window (optimistic: the write
/// fails if `read_version` moved).
#[derive(Debug, Clone, PartialEq)]
pub struct VelocityWindow {
    pub referrer: UserId,
    pub window: Vec<i64>,
    pub read_version: u64,
}

/// A new Wellflow move was planned for one of the referrer's bonuses: their Wellflow account
/// is about to change. The store keeps one small marker per referrer with the latest such
/// instant (overwritten, expiring after `ACTIVITY_RETENTION_DAYS`): the referrers that
/// reconciliation passes walk (`usecases::reconcile`), read without a scan.
#[derive(Debug, Clone, PartialEq)]
pub struct Activity {
    pub referrer: UserId,
    /// RFC 3339: when the move was planned.
    pub at: String,
}

/// How long an activity marker outlives the referrer's last planned move: longer than the
/// daily reconciliation pass looks back (35 days).
pub const ACTIVITY_RETENTION_DAYS: i64 = 40;

/// Something that must follow the money, delivered at least once after the transaction
/// commits (transactional outbox).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OutboxMessage {
    /// A partner webhook event for the bonus of `payment`, produced by the change that made
    /// the bonus's version `bonus_version`.
    PartnerEvent {
        event_id: String,
        event_type: PartnerEventType,
        referrer_id: UserId,
        payment_id: PaymentId,
        bonus_version: u64,
    },
    /// Another Wellflow attempt for the bonus of `payment` (the `attempts`-th failed).
    Retry { payment_id: PaymentId, attempts: u32 },
}

impl OutboxMessage {
    /// Deterministic id: the same message from a re-run transaction has the same id.
    pub fn id(&self) -> String {
        match self {
            OutboxMessage::PartnerEvent { event_id, .. } => event_id.clone(),
            OutboxMessage::Retry { payment_id, attempts } => format!("retry:{payment_id}:{attempts}"),
        }
    }

    pub fn payment_id(&self) -> &PaymentId {
        match self {
            OutboxMessage::PartnerEvent { payment_id, .. } | OutboxMessage::Retry { payment_id, .. } => payment_id,
        }
    }
}
