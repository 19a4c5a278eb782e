//! **The bonus state machine** — the one place that says what a payment's events, Wellflow's
//! answers and admins' decisions may do to its bonus.
//!
//! A bonus exists for a payment once its success has been recorded for a referred payer at
//! or above the minimum top-up (one per payment, keyed `ref:auto:<payment_id>`). It carries:
//! * the **basis** (succeeded, refunded total, disputed amount: a copy of the payment record),
//! * the **review** (credited without review, held, approved, rejected),
//! * the **ledger** of Wellflow moves (`ledger.rs`).
//!
//! Its **target** — what Wellflow must hold for it — is `due(rate, basis)` (`due.rs`) when the
//! bonus is payable (not held, not rejected), else zero. Every change goes through
//! [`Bonus::finish`], which plans the ledger toward the target (write-ahead), derives the
//! public status, appends the history entry, bumps the version and lists the
//! [`Effect`]s (earnings, volume, partner events, retries) that must commit atomically with
//! the row. Nothing outside this module changes a bonus.

mod due;
mod effects;
mod ledger;
mod policy;
pub mod reconcile;
mod status;

use serde::{Deserialize, Serialize};

pub use due::{bonus_due, Basis};
pub use effects::{
    Activity, EarningsMove, Effect, OutboxMessage, PayerTopup, ReferrerGuard, VelocityWindow, VolumeMove,
    ACTIVITY_RETENTION_DAYS,
};
pub use ledger::{move_key, payment_of_key, FailureKind, Ledger, Move, MoveFailure, MoveKind, MoveState, Plan};
pub use policy::{BonusPolicy, Decision, HoldReason, TopupContext, MAX_HOLDING_DAYS};
pub use status::BonusStatus;

use crate::domain::partner_webhook::event_id;
use crate::domain::{PartnerEventType, PaymentId, Rate, Usd, UserId, VolumeBand};
use crate::payment::PaymentRecord;

/// Wellflow attempts after which a failing move is no longer retried automatically (the
/// `FailedBonusesOlderThan1h` alarm has long fired; an admin takes over).
pub const MAX_AUTO_ATTEMPTS: u32 = 200;

/// How long after Wellflow refused a move it may be dropped (when the target no longer needs
/// it). Longer than any invocation that read the move before the refusal can still be
/// running (Lambda's maximum is 15 minutes) plus a margin for Wellflow applying a request
/// late: until then a concurrent sender may still get it applied.
pub const VOID_AFTER: time::Duration = time::Duration::hours(1);

/// What every Wellflow idempotency key of ours starts with (`bonus_key`, `move_key`).
pub const KEY_PREFIX: &str = "ref:auto:";

/// The bonus key of a payment (row key and the first credit's Wellflow idempotency key).
/// Built here and nowhere else.
pub fn bonus_key(payment: &PaymentId) -> String {
    format!("{KEY_PREFIX}{payment}")
}

/// Whether the bonus may be paid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Review {
    /// No review needed: paid as soon as it is due.
    Auto,
    /// Waiting for an admin (`same_ip`, `velocity_cap`, `amount_review`) or for the end of the
    /// holding period (`holding`, released by `holding-release` at `release_at`).
    Held { reason: HoldReason },
    /// Released from a hold (by an admin, or by the holding period's end).
    Approved { by: String, at: String },
    /// Rejected by an admin: due nothing, whatever the payment does.
    Rejected { by: String, at: String, reason: String },
}

/// One entry of a bonus's audit trail; every change appends exactly one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub at: String,
    /// The public status after the change.
    pub status: BonusStatus,
    /// `webhook`, `retry`, `holding-release`, `sweeper`, or `admin:<subject>`.
    pub actor: String,
    /// The status before (absent for creation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<BonusStatus>,
    /// What happened: `created`, `refunded`, `disputed`, `dispute_won`, `dispute_lost`,
    /// `approved`, `rejected`, `released`, `replanned`, `credit_applied`, `debit_applied`,
    /// `credit_failed`, `debit_failed`, `reissued` (reconciliation found an applied move
    /// missing from Wellflow's books and sends it again).
    #[serde(default)]
    pub change: String,
    /// What the bonus is worth after the change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub net_amount: Option<Usd>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One bonus per payment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bonus {
    /// `ref:auto:<payment_id>` ([`bonus_key`]).
    pub bonus_key: String,
    pub source_payment_id: PaymentId,
    pub referrer_id: UserId,
    pub referred_user_id: UserId,
    /// What the payer paid (the succeeded amount).
    pub topup_amount: Usd,
    /// Decided when the top-up succeeded (override > tier > default), then fixed.
    pub rate: Rate,
    /// `rate × topup_amount`: the bonus before any refund or dispute.
    pub bonus_amount: Usd,
    /// The payment's refunded total and disputed amount (copied from its record).
    #[serde(default)]
    pub refunded_amount: Usd,
    #[serde(default)]
    pub disputed_amount: Usd,
    pub review: Review,
    #[serde(default)]
    pub ledger: Ledger,

    // ---- derived by `refresh` (stored for queries and views; never set elsewhere) ----
    pub status: BonusStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What Wellflow must hold for it now (0 when held, rejected or fully refunded).
    pub net_amount: Usd,
    /// What Wellflow holds for it (applied credits − applied debits).
    pub paid_amount: Usd,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Wellflow calls made for it so far.
    #[serde(default)]
    pub attempts: u32,

    pub created_at: String,
    pub updated_at: String,
    /// When the payment provider says the top-up happened.
    pub topup_occurred_at: String,
    /// When Wellflow first confirmed a credit (earnings are booked to this day).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credited_at: Option<String>,
    /// Wellflow's id of the latest applied move.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wellflow_transaction_id: Option<String>,
    #[serde(default)]
    pub history: Vec<HistoryEntry>,
    /// The partner events the referrer subscribed to when the bonus was created: those
    /// changes are announced (the deliverer re-checks the endpoint's current subscription).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub partner_events: Vec<PartnerEventType>,
    /// Holding bonuses only: when `holding-release` releases it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_at: Option<String>,
    /// The month (`yyyy-mm`) whose referred volume this payment counts toward.
    pub volume_month: String,
    /// Optimistic-concurrency version (1 on creation; +1 per change).
    #[serde(default)]
    pub version: u64,
}

/// A change of a bonus: the row as it must be written and what must commit with it.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// `None` for a creation, else the version that was read (the write is conditional on it).
    pub expected_version: Option<u64>,
    pub bonus: Bonus,
    pub effects: Vec<Effect>,
}

/// Why an admin or release decision does not apply.
#[derive(Debug, Clone, PartialEq)]
pub enum NotOpen {
    /// The bonus is already credited, reversed or rejected: nothing changes.
    Decided(Box<Bonus>),
}

/// Everything that is decided when the top-up succeeds (`usecases::topup`).
#[derive(Debug, Clone, PartialEq)]
pub struct NewBonus {
    pub payment_id: PaymentId,
    pub referrer_id: UserId,
    pub referred_user_id: UserId,
    pub topup_amount: Usd,
    pub rate: Rate,
    pub hold: Option<HoldReason>,
    pub release_at: Option<String>,
    pub topup_occurred_at: String,
    pub volume_month: String,
    /// The band that decided a tiered rate (guards the volume write).
    pub volume_guard: Option<VolumeBand>,
    /// The referrer's partner webhook subscriptions now (`UserProfile::webhook_events`).
    pub partner_events: Vec<PartnerEventType>,
}

impl Bonus {
    /// The bonus for a payment whose success was just recorded in `record`.
    pub fn create(new: NewBonus, record: &PaymentRecord, now: &str) -> Change {
        let review = match new.hold {
            Some(reason) => Review::Held { reason },
            None => Review::Auto,
        };
        let bonus = Bonus {
            bonus_key: bonus_key(&new.payment_id),
            bonus_amount: new.rate.apply(new.topup_amount),
            source_payment_id: new.payment_id,
            referrer_id: new.referrer_id,
            referred_user_id: new.referred_user_id,
            topup_amount: new.topup_amount,
            rate: new.rate,
            refunded_amount: record.refunded,
            disputed_amount: record.disputed(),
            review,
            ledger: Ledger::default(),
            status: BonusStatus::Pending,
            reason: None,
            net_amount: Usd::ZERO,
            paid_amount: Usd::ZERO,
            last_error: None,
            attempts: 0,
            created_at: now.to_string(),
            updated_at: now.to_string(),
            topup_occurred_at: new.topup_occurred_at,
            credited_at: None,
            wellflow_transaction_id: None,
            history: Vec::new(),
            partner_events: new.partner_events,
            release_at: new.release_at,
            volume_month: new.volume_month,
            version: 0,
        };
        let before = bonus.clone();
        let mut change = bonus.finish(Some(&before), Step::new("webhook", now, "created"));
        change.expected_version = None;
        // The whole standing amount joins the month volume (nothing was booked before), guarded
        // by the tier band that decided the rate.
        let mut effects = vec![Effect::Volume(VolumeMove {
            referrer: change.bonus.referrer_id.clone(),
            month: change.bonus.volume_month.clone(),
            delta: change.bonus.volume_contribution().decimal(),
            guard: new.volume_guard,
        })];
        effects.extend(change.bonus.partner_event(PartnerEventType::BonusCreated));
        effects.extend(change.effects.drain(..).filter(|e| !matches!(e, Effect::Volume(_))));
        change.effects = effects;
        change
    }

    // ---------------------------------------------------------------- derived views ----

    /// The payment facts this bonus is computed on.
    pub fn basis(&self) -> Basis {
        Basis { succeeded: self.topup_amount, refunded: self.refunded_amount, disputed: self.disputed_amount }
    }

    /// What the bonus is worth now if it is (or gets) paid: `due(rate, basis)`.
    pub fn due(&self) -> Usd {
        bonus_due(self.rate, self.basis())
    }

    /// What Wellflow must hold for it now.
    pub fn target(&self) -> Usd {
        match self.review {
            Review::Auto | Review::Approved { .. } => self.due(),
            Review::Held { .. } | Review::Rejected { .. } => Usd::ZERO,
        }
    }

    /// What counts toward the referrer's month volume: what still stands of the payment,
    /// unless an admin rejected the bonus.
    pub fn volume_contribution(&self) -> Usd {
        match self.review {
            Review::Rejected { .. } => Usd::ZERO,
            _ => self.basis().standing(),
        }
    }

    /// The move to send to Wellflow now, if any: the one in flight, unless Wellflow refused
    /// it (then only an admin's approval re-issues it) or it failed too often.
    pub fn next_move(&self) -> Option<&Move> {
        self.ledger.in_flight().filter(|m| !m.refused() && m.attempts < MAX_AUTO_ATTEMPTS)
    }

    /// Nothing in flight: Wellflow holds exactly the target.
    pub fn is_settled(&self) -> bool {
        self.ledger.in_flight().is_none()
    }

    /// Still in an admin's hands: `pending` (held or being credited) or `failed`.
    pub fn is_open(&self) -> bool {
        matches!(self.status, BonusStatus::Pending | BonusStatus::Failed)
    }

    /// Still waiting out the holding period (with something to release).
    pub fn is_holding(&self) -> bool {
        self.status == BonusStatus::Pending && matches!(self.review, Review::Held { reason: HoldReason::Holding })
    }

    /// Held for an admin (not the holding period), with something to decide.
    pub fn awaits_moderation(&self) -> bool {
        self.status == BonusStatus::Pending
            && matches!(self.review, Review::Held { reason } if reason != HoldReason::Holding)
    }

    // ------------------------------------------------------------------ transitions ----

    /// The payment's record changed (refund, dispute, dispute won/lost): the bonus follows.
    /// `None` if nothing this bonus depends on changed.
    pub fn on_payment(&self, record: &PaymentRecord, actor: &str, now: &str, change: &str) -> Option<Change> {
        if record.refunded == self.refunded_amount && record.disputed() == self.disputed_amount {
            return None;
        }
        let mut next = self.clone();
        next.refunded_amount = record.refunded;
        next.disputed_amount = record.disputed();
        Some(next.finish(Some(self), Step::new(actor, now, change)))
    }

    /// An admin approves: a held bonus becomes payable; a failed or stuck one has its Wellflow
    /// call re-issued by the caller (same key), including one Wellflow refused. Approving never
    /// un-rejects: on a rejected bonus whose reversal failed, it re-sends the reversal.
    pub fn approve(&self, actor: &str, note: Option<&str>, now: &str) -> Result<Change, NotOpen> {
        if !self.is_open() {
            return Err(NotOpen::Decided(Box::new(self.clone())));
        }
        let mut next = self.clone();
        if let Review::Held { .. } = next.review {
            next.review = Review::Approved { by: actor.to_string(), at: now.to_string() };
        }
        // A move Wellflow refused is sent again (same key): from now on it is an ordinary
        // move in flight, never dropped.
        if let Some(seq) = next.ledger.in_flight().filter(|m| m.refused()).map(|m| m.seq) {
            next.ledger.reissue(seq);
        }
        Ok(next.finish(Some(self), Step::new(actor, now, "approved").note(note)))
    }

    /// An admin rejects: due nothing from now on; whatever Wellflow may hold is taken back.
    pub fn reject(&self, actor: &str, reason: &str, note: Option<&str>, now: &str) -> Result<Change, NotOpen> {
        if !self.is_open() || matches!(self.review, Review::Rejected { .. }) {
            return Err(NotOpen::Decided(Box::new(self.clone())));
        }
        let mut next = self.clone();
        next.review = Review::Rejected { by: actor.to_string(), at: now.to_string(), reason: reason.to_string() };
        Ok(next.finish(Some(self), Step::new(actor, now, "rejected").note(note)))
    }

    /// The holding period is over: the bonus becomes payable.
    pub fn release(&self, actor: &str, now: &str) -> Result<Change, NotOpen> {
        if !self.is_holding() {
            return Err(NotOpen::Decided(Box::new(self.clone())));
        }
        let mut next = self.clone();
        next.review = Review::Approved { by: actor.to_string(), at: now.to_string() };
        Ok(next.finish(Some(self), Step::new(actor, now, "released")))
    }

    /// A move Wellflow refused long enough ago (see [`VOID_AFTER`]) that the target no longer
    /// needs is dropped and the difference planned. `None` if there is nothing to drop.
    ///
    /// Only after Wellflow refused the move's key once more (the settler's probe, see
    /// `usecases::settle`): a sender that read the row before the refusal was recorded may
    /// have had the key applied and died before recording it, and only Wellflow knows — the
    /// probe gets that transfer back as a replay, never a refusal.
    pub fn replan(&self, actor: &str, now: &str) -> Option<Change> {
        let void_before = void_before(now);
        if !self.ledger.voidable(self.target(), &void_before) {
            return None;
        }
        let mut next = self.clone();
        next.ledger.plan(&self.source_payment_id, self.target(), now, &void_before);
        Some(next.finish(Some(self), Step::new(actor, now, "replanned")))
    }

    /// Whether [`Bonus::replan`] would change something at `now`.
    pub fn needs_replan(&self, now: &str) -> bool {
        self.ledger.voidable(self.target(), &void_before(now))
    }

    /// Wellflow applied move `seq` (or replayed it) — also a move dropped earlier that a late
    /// sender got applied after all. `None` if it is already recorded: nothing to write.
    pub fn record_applied(&self, seq: u32, transaction_id: &str, actor: &str, now: &str) -> Option<Change> {
        let mut next = self.clone();
        let kind = next.ledger.applied(seq, transaction_id, now)?.kind;
        next.wellflow_transaction_id = Some(transaction_id.to_string());
        if kind == MoveKind::Credit && next.credited_at.is_none() {
            next.credited_at = Some(now.to_string());
        }
        let label = match kind {
            MoveKind::Credit => "credit_applied",
            MoveKind::Debit => "debit_applied",
        };
        Some(next.finish(Some(self), Step::new(actor, now, label)))
    }

    /// Reconciliation found that Wellflow does not hold move `seq`, which we recorded as
    /// applied: it goes back in flight with its own key and amount (`Ledger::lost`) and is
    /// sent again by the caller — Wellflow applies it now, or answers with the original if it
    /// had it after all, so it is never paid twice. `None` if `seq` is not applied or another
    /// move is in flight (one at a time: try again once that one is settled).
    pub fn reissue_lost(&self, seq: u32, actor: &str, now: &str, note: &str) -> Option<Change> {
        let mut next = self.clone();
        next.ledger.lost(seq)?;
        Some(next.finish(Some(self), Step::new(actor, now, "reissued").note(Some(note))))
    }

    /// A Wellflow call for move `seq` failed. The move stays in flight; an unknown outcome
    /// schedules a retry (outbox). `None` if it is no longer in flight.
    pub fn record_failed(&self, seq: u32, failure: MoveFailure, actor: &str, now: &str) -> Option<Change> {
        let mut next = self.clone();
        let error = failure.describe();
        let (kind, attempts, retry) = {
            let m = next.ledger.failed(seq, failure)?;
            let retry = !m.refused() && m.attempts < MAX_AUTO_ATTEMPTS;
            (m.kind, m.attempts, retry)
        };
        let label = match kind {
            MoveKind::Credit => "credit_failed",
            MoveKind::Debit => "debit_failed",
        };
        let mut change = next.finish(Some(self), Step::new(actor, now, label).error(error));
        if retry {
            change.effects.push(Effect::Outbox(OutboxMessage::Retry {
                payment_id: change.bonus.source_payment_id.clone(),
                attempts,
            }));
        }
        Some(change)
    }

    // -------------------------------------------------------------------- internals ----

    /// Completes a change: plans the ledger toward the target, derives status and amounts,
    /// appends history, bumps the version, and lists the effects of `before → self`.
    fn finish(mut self, before: Option<&Bonus>, step: Step<'_>) -> Change {
        let target = self.target();
        // Never drops a refused move: that is `replan`'s, after a probe.
        self.ledger.plan(&self.source_payment_id, target, step.now, "");
        self.refresh();
        self.updated_at = step.now.to_string();
        self.version += 1;
        let from = before.filter(|b| b.version > 0).map(|b| b.status);
        self.history.push(HistoryEntry {
            at: step.now.to_string(),
            status: self.status,
            actor: step.actor.to_string(),
            from,
            change: step.change.to_string(),
            net_amount: Some(self.net_amount),
            reason: self.reason.clone(),
            note: step.note.map(str::to_string),
            error: step.error,
        });
        let effects = match before {
            Some(before) => self.effects_since(before),
            None => Vec::new(),
        };
        Change { expected_version: before.map(|b| b.version), bonus: self, effects }
    }

    /// Derives status, reason, amounts and error from the state. The only writer of them.
    fn refresh(&mut self) {
        let target = self.target();
        let paid = self.ledger.booked();
        let reduced = self.due() < self.bonus_amount;
        let reduction = || {
            if self.refunded_amount > Usd::ZERO {
                Some("refunded".to_string())
            } else {
                Some("disputed".to_string())
            }
        };
        let reversal_reason = match &self.review {
            Review::Rejected { reason, .. } => Some(reason.clone()),
            _ if reduced => reduction(),
            _ => None,
        };
        let (status, reason) = match (self.ledger.in_flight(), &self.review) {
            (Some(m), _) if m.last_failure.is_some() => (BonusStatus::Failed, reversal_reason.clone()),
            (Some(m), _) if m.kind == MoveKind::Credit => (BonusStatus::Pending, Some("crediting".to_string())),
            (Some(_), _) if target.is_zero() => (BonusStatus::Reversed, reversal_reason.clone()),
            (Some(_), _) => (BonusStatus::Credited, reduction()),
            // Held, and there is something to decide (a fully refunded one is simply reversed).
            (None, Review::Held { reason }) if self.due() > Usd::ZERO => {
                (BonusStatus::Pending, Some(reason.as_str().to_string()))
            }
            (None, _) if paid > Usd::ZERO => (BonusStatus::Credited, if reduced { reduction() } else { None }),
            (None, _) => (BonusStatus::Reversed, reversal_reason.clone()),
        };
        self.status = status;
        self.reason = reason;
        self.net_amount = target;
        self.paid_amount = paid;
        self.last_error = self.ledger.in_flight().and_then(|m| m.last_failure.as_ref()).map(MoveFailure::describe);
        self.attempts = self.ledger.attempts();
    }

    /// The effects of going from `before` to `self`.
    fn effects_since(&self, before: &Bonus) -> Vec<Effect> {
        let mut effects = Vec::new();
        if self.ledger.moves().len() > before.ledger.moves().len() {
            effects
                .push(Effect::Activity(Activity { referrer: self.referrer_id.clone(), at: self.updated_at.clone() }));
        }
        let paid_delta = self.paid_amount.decimal() - before.paid_amount.decimal();
        if !paid_delta.is_zero() {
            let credited_at = self.credited_at.as_deref().unwrap_or(&self.updated_at);
            let was_paid = before.paid_amount > Usd::ZERO;
            let is_paid = self.paid_amount > Usd::ZERO;
            effects.push(Effect::Earnings(EarningsMove {
                referrer: self.referrer_id.clone(),
                day: crate::clock::day_of(credited_at).to_string(),
                month: crate::clock::month_of(credited_at).to_string(),
                amount: paid_delta,
                credited: i64::from(!was_paid && is_paid),
                reversed: i64::from(was_paid && !is_paid),
            }));
        }
        let volume_delta = self.volume_contribution().decimal() - before.volume_contribution().decimal();
        if !volume_delta.is_zero() {
            effects.push(Effect::Volume(VolumeMove {
                referrer: self.referrer_id.clone(),
                month: self.volume_month.clone(),
                delta: volume_delta,
                guard: None,
            }));
        }
        {
            let event = match (before.status, self.status) {
                (from, BonusStatus::Credited) if from != BonusStatus::Credited => Some(PartnerEventType::BonusCredited),
                (from, BonusStatus::Reversed) if from != BonusStatus::Reversed => Some(PartnerEventType::BonusReversed),
                (BonusStatus::Credited, BonusStatus::Credited) if self.net_amount != before.net_amount => {
                    Some(PartnerEventType::BonusAdjusted)
                }
                _ => None,
            };
            effects.extend(event.and_then(|kind| self.partner_event(kind)));
        }
        effects
    }

    /// The outbox message announcing `kind`, if the referrer subscribed to it.
    fn partner_event(&self, kind: PartnerEventType) -> Option<Effect> {
        if !self.partner_events.contains(&kind) {
            return None;
        }
        Some(Effect::Outbox(OutboxMessage::PartnerEvent {
            event_id: event_id(&self.source_payment_id, kind, self.version),
            event_type: kind,
            referrer_id: self.referrer_id.clone(),
            payment_id: self.source_payment_id.clone(),
            bonus_version: self.version,
        }))
    }
}

/// Refusals at or before this instant are old enough to drop the refused move.
fn void_before(now: &str) -> String {
    match crate::clock::parse_rfc3339(now) {
        Some(now) => crate::clock::rfc3339(now - VOID_AFTER),
        // Not one of our timestamps: never drop anything.
        None => String::new(),
    }
}

/// Who changed the bonus, when, and why (one history entry).
struct Step<'a> {
    actor: &'a str,
    now: &'a str,
    change: &'a str,
    note: Option<&'a str>,
    error: Option<String>,
}

impl<'a> Step<'a> {
    fn new(actor: &'a str, now: &'a str, change: &'a str) -> Self {
        Self { actor, now, change, note: None, error: None }
    }

    fn note(mut self, note: Option<&'a str>) -> Self {
        self.note = note;
        self
    }

    fn error(mut self, error: String) -> Self {
        self.error = Some(error);
        self
    }
}

#[cfg(test)]
mod tests;
