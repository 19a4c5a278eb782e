//! What we told Wellflow about one payment's bonus: an ordered list of **moves** (credits and
//! debits), each with its own deterministic idempotency key and a fixed amount.
//!
//! The rules, all enforced here:
//! * **Write-ahead.** A move is recorded (`pending`) in the bonus row *before* Wellflow is
//!   called, so a crash at any point leaves a row that says exactly which call may be in
//!   flight.
//! * **One move in flight at a time.** While a move is pending, nothing new is planned: the
//!   pending move is first re-issued with the *same key and amount* (Wellflow answers with the
//!   existing transfer, or applies it now) — an unknown outcome is settled only through
//!   idempotent calls, never by assuming that nothing was paid.
//! * **A key is bound to one amount forever.** A new move always gets the next sequence
//!   number, hence a new key; a key is never reused for another amount or direction.
//! * **Converge to the target.** When nothing is in flight, `booked` (applied credits minus
//!   applied debits) must equal the bonus's target; otherwise the difference is planned as
//!   one credit or one debit.
//! * A move that Wellflow *refused* (4xx: that attempt was not applied) may be dropped (`void`)
//!   when the target no longer needs it — but only once its refusal is older than
//!   `bonus::VOID_AFTER`: an invocation that read the move before the refusal may still be
//!   sending it, and invocations are bounded in time (Lambda's maximum is 15 minutes). A move
//!   whose outcome is unknown is never dropped. Should a dropped move turn out applied after
//!   all (a late sender reports it), it is recorded as applied and the difference is planned.

use serde::{Deserialize, Serialize};

use crate::domain::{PaymentId, Usd};

/// Direction of a move on the referrer's Wellflow balance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MoveKind {
    Credit,
    Debit,
}

impl MoveKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MoveKind::Credit => "credit",
            MoveKind::Debit => "debit",
        }
    }
}

/// Where a move stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MoveState {
    /// Planned; Wellflow may or may not have applied it yet.
    Pending,
    /// Wellflow confirmed it.
    Applied,
    /// Never applied (Wellflow refused it) and no longer needed.
    Void,
}

impl MoveState {
    pub fn as_str(self) -> &'static str {
        match self {
            MoveState::Pending => "pending",
            MoveState::Applied => "applied",
            MoveState::Void => "void",
        }
    }
}

/// How a failed Wellflow call left the move.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// Timeout, connection lost, 5xx: it may have been applied. Retried with the same key.
    Unknown,
    /// Wellflow refused it (4xx): definitely not applied. Retrying will not help until
    /// someone fixes the cause; an admin re-issues it.
    Refused,
}

/// The last failed attempt of a move.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MoveFailure {
    pub kind: FailureKind,
    /// Machine-readable code, e.g. `wellflow_timeout`.
    pub code: String,
    pub message: String,
    pub at: String,
}

impl MoveFailure {
    /// `code: message`, as shown to admins.
    pub fn describe(&self) -> String {
        format!("{}: {}", self.code, self.message)
    }
}

/// One credit or debit for this payment's bonus.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Move {
    /// 1-based; the first move is always the credit with the bonus's own key.
    pub seq: u32,
    pub kind: MoveKind,
    pub amount: Usd,
    /// The Wellflow idempotency key ([`move_key`]), stored for audits and reconciliation.
    pub key: String,
    pub state: MoveState,
    /// Wellflow calls made for this move.
    #[serde(default)]
    pub attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_failure: Option<MoveFailure>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
    pub planned_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settled_at: Option<String>,
}

impl Move {
    /// The signed effect on the referrer's balance once applied.
    pub fn signed(&self) -> rust_decimal::Decimal {
        match self.kind {
            MoveKind::Credit => self.amount.decimal(),
            MoveKind::Debit => -self.amount.decimal(),
        }
    }

    /// Wellflow refused the move's last attempt (that attempt was not applied).
    pub fn refused(&self) -> bool {
        self.last_failure.as_ref().is_some_and(|f| f.kind == FailureKind::Refused)
    }

    /// May be dropped: refused at or before `void_refused_before`, and not what takes
    /// `booked` to `target`.
    fn voidable(&self, booked: Usd, target: Usd, void_refused_before: &str) -> bool {
        let refused_long_ago = self
            .last_failure
            .as_ref()
            .is_some_and(|f| f.kind == FailureKind::Refused && f.at.as_str() <= void_refused_before);
        let still_needed =
            needed_move(booked, target).is_some_and(|(kind, amount)| kind == self.kind && amount == self.amount);
        refused_long_ago && !still_needed
    }
}

/// The Wellflow idempotency key of the `seq`-th move of `payment`'s bonus. The first credit
/// uses the bonus key itself (`ref:auto:<payment_id>`); later moves append `#credit-<n>` or
/// `#debit-<n>`. `#` never occurs in a payment id, so two payments can never share a key.
pub fn move_key(payment: &PaymentId, seq: u32, kind: MoveKind) -> String {
    let base = super::bonus_key(payment);
    match (seq, kind) {
        (1, MoveKind::Credit) => base,
        (n, kind) => format!("{base}#{}-{n}", kind.as_str()),
    }
}

/// The payment whose bonus a Wellflow idempotency key belongs to: `ref:auto:<payment>` or
/// `ref:auto:<payment>#…` (`#` never occurs in a payment id). `None` for any other key.
pub fn payment_of_key(key: &str) -> Option<&str> {
    let rest = key.strip_prefix(super::KEY_PREFIX)?;
    let payment = rest.split('#').next().unwrap_or(rest);
    (!payment.is_empty()).then_some(payment)
}

/// The moves of one bonus.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Ledger {
    moves: Vec<Move>,
}

/// What planning decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Nothing to do: booked equals the target and nothing is in flight.
    Settled,
    /// A move is in flight and must be resolved first (re-issued with its key).
    Resolve(u32),
    /// A new move was planned (now in flight).
    Planned(u32),
}

impl Ledger {
    pub fn moves(&self) -> &[Move] {
        &self.moves
    }

    /// Applied credits minus applied debits: what Wellflow holds for this payment.
    pub fn booked(&self) -> Usd {
        Usd::from_decimal_exact(self.moves.iter().filter(|m| m.state == MoveState::Applied).map(Move::signed).sum())
    }

    /// The move in flight, if any (at most one, by construction).
    pub fn in_flight(&self) -> Option<&Move> {
        self.moves.iter().find(|m| m.state == MoveState::Pending)
    }

    fn in_flight_mut(&mut self) -> Option<&mut Move> {
        self.moves.iter_mut().find(|m| m.state == MoveState::Pending)
    }

    /// Any credit ever applied (the bonus has been paid at some point).
    pub fn ever_credited(&self) -> bool {
        self.moves.iter().any(|m| m.state == MoveState::Applied && m.kind == MoveKind::Credit)
    }

    /// Brings the ledger toward `target`: resolves a move in flight first, drops a refused
    /// move the target no longer needs (refused at or before `void_refused_before`), plans
    /// the difference otherwise.
    pub fn plan(&mut self, payment: &PaymentId, target: Usd, now: &str, void_refused_before: &str) -> Plan {
        let booked = self.booked();
        if let Some(pending) = self.in_flight_mut() {
            if !pending.voidable(booked, target, void_refused_before) {
                return Plan::Resolve(pending.seq);
            }
            // Refused (never applied) and no longer what the target needs: drop it.
            pending.state = MoveState::Void;
            pending.settled_at = Some(now.to_string());
        }
        let Some((kind, amount)) = needed_move(booked, target) else { return Plan::Settled };
        let seq = self.moves.len() as u32 + 1;
        self.moves.push(Move {
            seq,
            kind,
            amount,
            key: move_key(payment, seq, kind),
            state: MoveState::Pending,
            attempts: 0,
            last_failure: None,
            transaction_id: None,
            planned_at: now.to_string(),
            settled_at: None,
        });
        Plan::Planned(seq)
    }

    /// Whether the move in flight could be dropped now (see [`Move::voidable`]).
    pub fn voidable(&self, target: Usd, void_refused_before: &str) -> bool {
        let booked = self.booked();
        self.in_flight().is_some_and(|m| m.voidable(booked, target, void_refused_before))
    }

    /// An admin asks for a refused move to be sent again: it counts as an ordinary move in
    /// flight from now on (no longer droppable). `false` if `seq` is not in flight.
    pub fn reissue(&mut self, seq: u32) -> bool {
        match self.in_flight_mut().filter(|m| m.seq == seq) {
            Some(pending) => {
                pending.last_failure = None;
                true
            }
            None => false,
        }
    }

    /// Records that Wellflow applied move `seq` — in flight, or dropped earlier and applied by
    /// a late sender after all. `None` if it is already recorded as applied: nothing changes.
    pub fn applied(&mut self, seq: u32, transaction_id: &str, now: &str) -> Option<&Move> {
        let pending =
            self.moves.iter_mut().find(|m| m.seq == seq && matches!(m.state, MoveState::Pending | MoveState::Void))?;
        pending.state = MoveState::Applied;
        pending.attempts += 1;
        pending.transaction_id = Some(transaction_id.to_string());
        pending.last_failure = None;
        pending.settled_at = Some(now.to_string());
        Some(pending)
    }

    /// Wellflow's books do not hold move `seq`, recorded as applied (reconciliation): it is put
    /// back in flight with its own key and amount, to be sent again. Only when nothing else is
    /// in flight. `None` if `seq` is not applied or another move is in flight.
    pub fn lost(&mut self, seq: u32) -> Option<&Move> {
        if self.in_flight().is_some() {
            return None;
        }
        let lost = self.moves.iter_mut().find(|m| m.seq == seq && m.state == MoveState::Applied)?;
        lost.state = MoveState::Pending;
        lost.transaction_id = None;
        lost.last_failure = None;
        lost.settled_at = None;
        Some(lost)
    }

    /// Records a failed attempt of move `seq` (it stays in flight). `None` if not in flight.
    pub fn failed(&mut self, seq: u32, failure: MoveFailure) -> Option<&Move> {
        let pending = self.in_flight_mut().filter(|m| m.seq == seq)?;
        pending.attempts += 1;
        pending.last_failure = Some(failure);
        Some(pending)
    }

    /// Wellflow calls made so far, all moves together.
    pub fn attempts(&self) -> u32 {
        self.moves.iter().map(|m| m.attempts).sum()
    }
}

/// The one move that takes `booked` to `target`, if they differ.
fn needed_move(booked: Usd, target: Usd) -> Option<(MoveKind, Usd)> {
    if target > booked {
        Some((MoveKind::Credit, target - booked))
    } else if target < booked {
        Some((MoveKind::Debit, booked - target))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pid() -> PaymentId {
        PaymentId::parse("pay_1").unwrap()
    }

    fn refused() -> MoveFailure {
        MoveFailure {
            kind: FailureKind::Refused,
            code: "wellflow_rejected".into(),
            message: "no".into(),
            at: "t".into(),
        }
    }

    fn unknown() -> MoveFailure {
        MoveFailure {
            kind: FailureKind::Unknown,
            code: "wellflow_timeout".into(),
            message: "slow".into(),
            at: "t".into(),
        }
    }

    #[test]
    fn keys_are_deterministic_and_never_shared() {
        assert_eq!(move_key(&pid(), 1, MoveKind::Credit), "ref:auto:pay_1");
        assert_eq!(move_key(&pid(), 2, MoveKind::Debit), "ref:auto:pay_1#debit-2");
        assert_eq!(move_key(&pid(), 3, MoveKind::Credit), "ref:auto:pay_1#credit-3");
        // A payment id can never contain '#', so no other payment produces these keys.
        assert!(PaymentId::parse("pay_1#debit-2").is_err());
    }

    #[test]
    fn converges_by_one_move_at_a_time() {
        let mut l = Ledger::default();
        assert_eq!(l.plan(&pid(), Usd::cents(500), "t1", ""), Plan::Planned(1));
        // In flight: the target moving does not plan anything new.
        assert_eq!(l.plan(&pid(), Usd::cents(300), "t2", ""), Plan::Resolve(1));
        assert!(l.applied(1, "wf_1", "t3").is_some());
        assert!(l.applied(1, "wf_1", "t3").is_none(), "recording twice changes nothing");
        assert_eq!(l.booked(), Usd::cents(500));
        assert_eq!(l.plan(&pid(), Usd::cents(300), "t4", ""), Plan::Planned(2));
        let debit = l.in_flight().unwrap();
        assert_eq!(
            (debit.kind, debit.amount, debit.key.as_str()),
            (MoveKind::Debit, Usd::cents(200), "ref:auto:pay_1#debit-2")
        );
        l.applied(2, "wf_2", "t5");
        assert_eq!(l.booked(), Usd::cents(300));
        assert_eq!(l.plan(&pid(), Usd::cents(300), "t6", ""), Plan::Settled);
    }

    #[test]
    fn unknown_outcomes_are_resolved_never_dropped() {
        let mut l = Ledger::default();
        l.plan(&pid(), Usd::cents(500), "t1", "");
        l.failed(1, unknown());
        // A refund takes the target to zero: the credit may have been applied, so it is
        // re-issued first (same key, same amount), never assumed unpaid.
        assert_eq!(l.plan(&pid(), Usd::ZERO, "t2", "t9"), Plan::Resolve(1));
        assert_eq!(l.in_flight().unwrap().amount, Usd::cents(500));
    }

    #[test]
    fn refused_moves_are_dropped_late_and_recorded_if_applied_after_all() {
        let mut l = Ledger::default();
        l.plan(&pid(), Usd::cents(500), "t1", "");
        l.failed(1, refused()); // refused at "t"
                                // Still needed as is: kept for an admin to re-issue.
        assert_eq!(l.plan(&pid(), Usd::cents(500), "t2", "u"), Plan::Resolve(1));
        // Target changed, but the refusal is recent: a sender that read the move earlier may
        // still be sending it, so it stays.
        assert_eq!(l.plan(&pid(), Usd::cents(300), "t2", "s"), Plan::Resolve(1));
        // Old enough: void; a new key is used.
        assert_eq!(l.plan(&pid(), Usd::cents(300), "t3", "u"), Plan::Planned(2));
        assert_eq!(l.moves()[0].state, MoveState::Void);
        assert_eq!(l.in_flight().unwrap().key, "ref:auto:pay_1#credit-2");
        assert_eq!(l.booked(), Usd::ZERO);
        // A late sender reports the dropped credit applied after all: it counts.
        assert!(l.applied(1, "wf_late", "t4").is_some());
        assert_eq!(l.booked(), Usd::cents(500));
        l.applied(2, "wf_2", "t5");
        assert_eq!(l.plan(&pid(), Usd::cents(300), "t6", "u"), Plan::Planned(3));
        assert_eq!(l.in_flight().unwrap().amount, Usd::cents(500), "debit what is too much");
    }

    #[test]
    fn a_lost_move_goes_back_in_flight_with_its_own_key() {
        let mut l = Ledger::default();
        l.plan(&pid(), Usd::cents(500), "t1", "");
        l.applied(1, "wf_1", "t2");
        l.plan(&pid(), Usd::cents(300), "t3", "");
        assert!(l.lost(1).is_none(), "not while another move is in flight");
        l.applied(2, "wf_2", "t4");
        assert!(l.lost(3).is_none() && l.lost(9).is_none(), "only applied moves");
        let again = l.lost(2).expect("the debit was applied");
        assert_eq!(
            (again.key.as_str(), again.amount, again.state),
            ("ref:auto:pay_1#debit-2", Usd::cents(200), MoveState::Pending)
        );
        assert_eq!(l.booked(), Usd::cents(500));
        assert_eq!(l.plan(&pid(), Usd::cents(300), "t5", ""), Plan::Resolve(2), "re-sent, never re-planned");
        assert_eq!(payment_of_key("ref:auto:pay_1#debit-2"), Some("pay_1"));
        assert_eq!(payment_of_key("ref:auto:a:b"), Some("a:b"));
        assert_eq!((payment_of_key("ref:manual:pay_1"), payment_of_key("ref:auto:")), (None, None));
    }

    #[test]
    fn an_admin_reissue_makes_a_refused_move_ordinary_again() {
        let mut l = Ledger::default();
        l.plan(&pid(), Usd::cents(500), "t1", "");
        l.failed(1, refused());
        assert!(l.reissue(1));
        assert!(!l.in_flight().unwrap().refused());
        assert_eq!(l.plan(&pid(), Usd::ZERO, "t2", "z"), Plan::Resolve(1), "never dropped once re-issued");
    }
}
