//! **Reconciliation** — what our bonus rows say one referrer's Wellflow account must hold,
//! compared idempotency key by idempotency key with what Wellflow's books hold, and what may
//! be done about each difference.
//!
//! Every Wellflow move of ours has its own key (`ledger::move_key`), so the comparison is
//! exact: each **applied** move of the referrer's bonuses must be in Wellflow's books with the
//! same direction and amount, and every transaction in Wellflow's books with our prefix
//! (`ref:auto:`) must be one of our applied moves. The comparison covers a time window of
//! Wellflow's books (`[from, to)`); an applied move is expected in it when it was planned and
//! recorded inside the window (with a margin for the two clocks), because Wellflow applied it
//! between those two instants (write-ahead: planned before the call, recorded after the answer).
//!
//! | drift | what it means | heal |
//! |---|---|---|
//! | `unknown_transaction`, our move pending or void | Wellflow applied a move we still hold as in flight (a timeout, a refusal that was not one, a late sender) | **record it applied** (Wellflow's transaction id as evidence); the ledger then plans and sends whatever the target still needs, with new keys — no money moves twice |
//! | `missing_debit` | a debit we recorded as applied is not in Wellflow's books: the referrer holds money they must not | **re-issue the same key** at once: Wellflow applies it now, or answers with the original if it had it |
//! | `missing_credit` | a credit we recorded as applied is not in Wellflow's books: the referrer lacks money | **re-issue the same key**, but only when a later pass (at least `confirm_after` after the first) sees it again: money leaving us waits for a second look at Wellflow's books |
//! | `unknown_transaction`, a key we never planned | someone moved money with our prefix (a manual adjustment in Wellflow) | admin |
//! | `amount_differs` | Wellflow holds our key with another amount or direction | admin |
//!
//! **Why re-issuing the same key is the only safe automatic heal of a missing move.** A new
//! key would be paid in addition if Wellflow's listing were merely incomplete; the same key is
//! applied at most once by Wellflow, so the worst case of a wrong listing is a replay. Credits
//! and debits differ in what a mistake would cost: a double debit is the referrer's loss, ours
//! to give back (and it shows: the next pass lists the key twice); a double credit is money
//! gone. Debits therefore heal on the first sighting, credits on a confirmed second one. A
//! heal is attempted once per finding: if the drift is still there afterwards (Wellflow
//! replayed the key — it says it has it — but its books do not show it), the finding is
//! reopened for an admin and never healed automatically again.
//!
//! Every heal goes through the bonus state machine (`Bonus::record_applied`,
//! `Bonus::reissue_lost`), the conditional commit and `usecases::settle`, like every other
//! change. The findings themselves (one per drift: the same drift seen again is the same
//! finding, by a deterministic id) follow [`Finding`]'s rules; `usecases::reconcile` runs it.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::{payment_of_key, Bonus, Move, MoveKind, MoveState, KEY_PREFIX};
use crate::clock;
use crate::domain::{PaymentId, Usd, UserId};
use crate::ports::LedgerEntry;

/// The actor of automatic heals and of sightings (history entries, bonus history).
pub const ACTOR: &str = "reconciler";

/// How a difference between our rows and Wellflow's books is classified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftKind {
    /// We recorded a credit as applied; Wellflow's books do not hold it.
    MissingCredit,
    /// We recorded a debit as applied; Wellflow's books do not hold it.
    MissingDebit,
    /// Wellflow holds a transaction with our key prefix that is not one of our applied moves:
    /// a key we never planned, or a move we hold as pending or void.
    UnknownTransaction,
    /// Wellflow holds our key with another amount or direction than we planned.
    AmountDiffers,
}

impl DriftKind {
    pub const ALL: [DriftKind; 4] =
        [Self::MissingCredit, Self::MissingDebit, Self::UnknownTransaction, Self::AmountDiffers];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::MissingCredit => "missing_credit",
            Self::MissingDebit => "missing_debit",
            Self::UnknownTransaction => "unknown_transaction",
            Self::AmountDiffers => "amount_differs",
        }
    }
}

/// One side of a comparison: a credit or debit of an amount.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Side {
    pub kind: MoveKind,
    pub amount: Usd,
    /// Wellflow's transaction id (ours: the one recorded on the move).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
    /// Wellflow: when it applied it; ours: when the move was recorded as applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
}

impl Side {
    fn of_move(m: &Move) -> Self {
        Side { kind: m.kind, amount: m.amount, transaction_id: m.transaction_id.clone(), at: m.settled_at.clone() }
    }

    fn of_entry(e: &LedgerEntry) -> Self {
        Side { kind: e.kind, amount: e.amount, transaction_id: Some(e.transaction_id.clone()), at: Some(e.at.clone()) }
    }

    /// `credit 5.00`: what identifies the side in a finding id.
    fn signature(&self) -> String {
        format!("{} {}", self.kind.as_str(), self.amount)
    }
}

/// What may be done about a drift.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Heal {
    /// Wellflow applied move `seq`, which we hold as pending or void: record it as applied.
    RecordApplied { seq: u32, transaction_id: String },
    /// Wellflow does not hold move `seq`, which we recorded as applied: send it again with its
    /// own key (see the module doc for when).
    Reissue { seq: u32 },
    /// Nothing automatic is safe: an admin looks at it.
    Admin,
}

/// One difference found, classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drift {
    pub kind: DriftKind,
    pub key: String,
    /// The payment the key belongs to (`None` when the key names none).
    pub payment: Option<PaymentId>,
    /// What our rows say Wellflow must hold for the key (`None`: nothing).
    pub expected: Option<Side>,
    /// What Wellflow holds for it (`None`: nothing).
    pub actual: Option<Side>,
    /// The state of our move with this key (`None`: we never planned it).
    pub our_state: Option<MoveState>,
    pub heal: Heal,
    /// One sentence for the admin.
    pub detail: String,
}

impl Drift {
    /// The finding's id: the same drift found again (same referrer, key, kind, expected and
    /// actual) is the same finding.
    pub fn finding_id(&self, referrer: &UserId) -> String {
        let side = |s: &Option<Side>| s.as_ref().map_or_else(|| "-".to_string(), Side::signature);
        let actual_tx = self.actual.as_ref().and_then(|a| a.transaction_id.as_deref()).unwrap_or("-");
        let text = format!(
            "{referrer}\n{}\n{}\n{}\n{}\n{actual_tx}",
            self.key,
            self.kind.as_str(),
            side(&self.expected),
            side(&self.actual)
        );
        let digest = Sha256::digest(text.as_bytes());
        format!("rf_{}", &hex::encode(digest)[..24])
    }
}

/// Whether `raw` looks like a finding id ([`Drift::finding_id`]).
pub fn is_finding_id(raw: &str) -> bool {
    raw.len() == 27
        && raw.starts_with("rf_")
        && raw[3..].bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The part of Wellflow's books a comparison covers: transactions applied in `[from, to)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub from: OffsetDateTime,
    pub to: OffsetDateTime,
    /// How far Wellflow's clock may be from ours.
    pub skew: time::Duration,
}

impl Window {
    pub fn from_str(&self) -> String {
        clock::rfc3339(self.from)
    }

    pub fn to_str(&self) -> String {
        clock::rfc3339(self.to)
    }

    /// An applied move is expected in the window when Wellflow must have applied it inside:
    /// it was planned (before the call) and recorded (after the answer) within the window,
    /// `skew` away from both ends.
    pub fn expects(&self, m: &Move) -> bool {
        let time = |raw: Option<&str>| raw.and_then(clock::parse_rfc3339);
        match (time(Some(&m.planned_at)), time(m.settled_at.as_deref())) {
            (Some(planned), Some(settled)) => planned - self.skew >= self.from && settled + self.skew < self.to,
            _ => false,
        }
    }
}

/// The outcome of one comparison.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Comparison {
    pub drifts: Vec<Drift>,
    /// Wellflow transactions with our prefix that are exactly one of our applied moves.
    pub matched: usize,
    /// Our applied moves the window had to contain.
    pub expected: usize,
    /// Wellflow transactions without our prefix (not ours to judge).
    pub foreign: usize,
}

/// Compares `bonuses` (one referrer's rows) with `entries` (that referrer's Wellflow account,
/// the transactions of `window`). Pure: the caller reads both sides and acts on the drifts.
pub fn compare(bonuses: &[Bonus], entries: &[LedgerEntry], window: &Window) -> Comparison {
    let ours: BTreeMap<&str, (&Bonus, &Move)> =
        bonuses.iter().flat_map(|b| b.ledger.moves().iter().map(move |m| (m.key.as_str(), (b, m)))).collect();
    let mut out = Comparison::default();
    let mut listed: BTreeSet<&str> = BTreeSet::new();
    for entry in entries {
        let Some(key) = entry.idempotency_key.as_deref().filter(|k| k.starts_with(KEY_PREFIX)) else {
            out.foreign += 1;
            continue;
        };
        let payment = payment_of_key(key).and_then(|p| PaymentId::parse(p).ok());
        let actual = Some(Side::of_entry(entry));
        let drift = |kind, expected, our_state, heal, detail: String| Drift {
            kind,
            key: key.to_string(),
            payment: payment.clone(),
            expected,
            actual: actual.clone(),
            our_state,
            heal,
            detail,
        };
        if !listed.insert(key) {
            out.drifts.push(drift(
                DriftKind::UnknownTransaction,
                None,
                ours.get(key).map(|(_, m)| m.state),
                Heal::Admin,
                format!("Wellflow lists key {key} more than once ({}): it was applied twice", entry.transaction_id),
            ));
            continue;
        }
        match ours.get(key) {
            None => {
                let why = match &payment {
                    Some(p) if bonuses.iter().any(|b| &b.source_payment_id == p) => {
                        format!("payment {p}'s bonus never planned this key")
                    }
                    Some(p) => format!("this referrer has no bonus for payment {p}"),
                    None => "the key names no payment".to_string(),
                };
                out.drifts.push(drift(
                    DriftKind::UnknownTransaction,
                    None,
                    None,
                    Heal::Admin,
                    format!(
                        "Wellflow holds a {} of {} with our key {key} that we never planned ({why}): a manual adjustment?",
                        entry.kind.as_str(),
                        entry.amount
                    ),
                ));
            }
            Some((_, m)) if (m.kind, m.amount) != (entry.kind, entry.amount) => {
                out.drifts.push(drift(
                    DriftKind::AmountDiffers,
                    Some(Side::of_move(m)),
                    Some(m.state),
                    Heal::Admin,
                    format!(
                        "we planned a {} of {} with key {key}; Wellflow holds a {} of {}",
                        m.kind.as_str(),
                        m.amount,
                        entry.kind.as_str(),
                        entry.amount
                    ),
                ));
            }
            Some((_, m)) if m.state == MoveState::Applied => out.matched += 1,
            Some((_, m)) => {
                out.drifts.push(drift(
                    DriftKind::UnknownTransaction,
                    None,
                    Some(m.state),
                    Heal::RecordApplied { seq: m.seq, transaction_id: entry.transaction_id.clone() },
                    format!(
                        "Wellflow applied our {} of {} ({key}, {}) that we hold as {}",
                        m.kind.as_str(),
                        m.amount,
                        entry.transaction_id,
                        m.state.as_str()
                    ),
                ));
            }
        }
    }
    for (key, (bonus, m)) in &ours {
        if m.state != MoveState::Applied || !window.expects(m) {
            continue;
        }
        out.expected += 1;
        if listed.contains(key) {
            continue;
        }
        let kind = match m.kind {
            MoveKind::Credit => DriftKind::MissingCredit,
            MoveKind::Debit => DriftKind::MissingDebit,
        };
        out.drifts.push(Drift {
            kind,
            key: key.to_string(),
            payment: Some(bonus.source_payment_id.clone()),
            expected: Some(Side::of_move(m)),
            actual: None,
            our_state: Some(m.state),
            heal: Heal::Reissue { seq: m.seq },
            detail: format!(
                "we recorded a {} of {} with key {key} as applied ({}); Wellflow's books do not hold it",
                m.kind.as_str(),
                m.amount,
                m.transaction_id.as_deref().unwrap_or("no transaction id")
            ),
        });
    }
    out
}

// ------------------------------------------------------------------------- findings ----

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingStatus {
    /// Someone (or the next pass) must act.
    Open,
    /// Healed automatically, or closed by an admin with a note.
    Resolved,
}

impl FindingStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Resolved => "resolved",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [Self::Open, Self::Resolved].into_iter().find(|s| s.as_str() == raw)
    }
}

/// One entry of a finding's audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingEvent {
    pub at: String,
    /// `reconciler` or `admin:<subject>`.
    pub actor: String,
    /// `found`, `waiting`, `healed`, `reopened`, `resolved`.
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A reconciliation finding: one drift, from its first sighting to its resolution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// [`Drift::finding_id`].
    pub finding_id: String,
    pub referrer_id: UserId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_id: Option<PaymentId>,
    pub idempotency_key: String,
    pub kind: DriftKind,
    #[serde(default)]
    pub expected: Option<Side>,
    #[serde(default)]
    pub actual: Option<Side>,
    #[serde(default)]
    pub our_state: Option<MoveState>,
    pub detail: String,
    pub status: FindingStatus,
    pub first_seen_at: String,
    pub last_seen_at: String,
    /// Passes that found it.
    pub seen_count: u32,
    /// Automatic heals attempted (at most one).
    #[serde(default)]
    pub heal_attempts: u32,
    #[serde(default)]
    pub resolved_by: Option<String>,
    #[serde(default)]
    pub resolved_at: Option<String>,
    #[serde(default)]
    pub resolution_note: Option<String>,
    #[serde(default)]
    pub history: Vec<FindingEvent>,
    /// Optimistic-concurrency version (1 when found; +1 per change).
    #[serde(default)]
    pub version: u64,
}

/// What may be done about a finding's drift now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HealDecision {
    Now,
    /// Not yet: a later pass decides again.
    Wait(String),
    /// Never automatically: it stays (or is) open for an admin, or an admin closed it.
    Never,
}

/// Why a resolution did not apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlreadyResolved(pub Box<Finding>);

impl Finding {
    /// The finding as it must be stored after a pass found `drift` (`stored`: as stored now).
    /// The first sighting opens it; later ones count. A finding the reconciler resolved by a
    /// heal is reopened when the drift is still there (the heal did not take); one an admin
    /// resolved stays resolved (the admin accepted it).
    pub fn sighted(stored: Option<&Finding>, referrer: &UserId, drift: &Drift, now: &str) -> Finding {
        let Some(stored) = stored else {
            return Finding {
                finding_id: drift.finding_id(referrer),
                referrer_id: referrer.clone(),
                payment_id: drift.payment.clone(),
                idempotency_key: drift.key.clone(),
                kind: drift.kind,
                expected: drift.expected.clone(),
                actual: drift.actual.clone(),
                our_state: drift.our_state,
                detail: drift.detail.clone(),
                status: FindingStatus::Open,
                first_seen_at: now.to_string(),
                last_seen_at: now.to_string(),
                seen_count: 1,
                heal_attempts: 0,
                resolved_by: None,
                resolved_at: None,
                resolution_note: None,
                history: vec![event(ACTOR, now, "found", Some(&drift.detail))],
                version: 1,
            };
        };
        let mut next = stored.clone();
        next.last_seen_at = now.to_string();
        next.seen_count += 1;
        next.version += 1;
        if next.status == FindingStatus::Resolved && next.resolved_by.as_deref() == Some(ACTOR) {
            next.status = FindingStatus::Open;
            next.resolved_by = None;
            next.resolved_at = None;
            next.resolution_note = None;
            next.history.push(event(
                ACTOR,
                now,
                "reopened",
                Some("the drift is still there after the automatic heal; an admin must look at it"),
            ));
        }
        next
    }

    /// Whether the drift may be healed automatically now (see the module doc).
    pub fn may_heal(&self, drift: &Drift, confirm_after: time::Duration, now: &str) -> HealDecision {
        if self.status != FindingStatus::Open {
            return HealDecision::Never;
        }
        match drift.heal {
            Heal::Admin => HealDecision::Never,
            Heal::RecordApplied { .. } => HealDecision::Now,
            Heal::Reissue { .. } if self.heal_attempts > 0 => HealDecision::Never,
            Heal::Reissue { .. } if drift.kind == DriftKind::MissingCredit => {
                let confirmed = clock::parse_rfc3339(&self.first_seen_at)
                    .zip(clock::parse_rfc3339(now))
                    .is_some_and(|(first, now)| now - first >= confirm_after);
                if self.seen_count >= 2 && confirmed {
                    HealDecision::Now
                } else {
                    HealDecision::Wait(format!(
                        "a missing credit is re-issued once a later pass, at least {} min after the first, sees it again",
                        confirm_after.whole_minutes()
                    ))
                }
            }
            Heal::Reissue { .. } => HealDecision::Now,
        }
    }

    /// Notes why the heal waits (once per reason, not once per pass).
    pub fn waiting(&self, why: &str, now: &str) -> Option<Finding> {
        if self.history.iter().any(|e| e.action == "waiting" && e.note.as_deref() == Some(why)) {
            return None;
        }
        let mut next = self.clone();
        next.history.push(event(ACTOR, now, "waiting", Some(why)));
        next.version += 1;
        Some(next)
    }

    /// The automatic heal went through (`note` says what it did): resolved by the reconciler.
    pub fn healed(&self, note: &str, now: &str) -> Finding {
        let mut next = self.clone();
        next.status = FindingStatus::Resolved;
        next.heal_attempts += 1;
        next.resolved_by = Some(ACTOR.to_string());
        next.resolved_at = Some(now.to_string());
        next.resolution_note = Some(note.to_string());
        next.history.push(event(ACTOR, now, "healed", Some(note)));
        next.version += 1;
        next
    }

    /// An admin closes the finding with a note (audited: actor and time).
    pub fn resolve(&self, actor: &str, note: &str, now: &str) -> Result<Finding, AlreadyResolved> {
        if self.status == FindingStatus::Resolved {
            return Err(AlreadyResolved(Box::new(self.clone())));
        }
        let mut next = self.clone();
        next.status = FindingStatus::Resolved;
        next.resolved_by = Some(actor.to_string());
        next.resolved_at = Some(now.to_string());
        next.resolution_note = Some(note.to_string());
        next.history.push(event(actor, now, "resolved", Some(note)));
        next.version += 1;
        Ok(next)
    }
}

fn event(actor: &str, at: &str, action: &str, note: Option<&str>) -> FindingEvent {
    FindingEvent {
        at: at.to_string(),
        actor: actor.to_string(),
        action: action.to_string(),
        note: note.map(str::to_string),
    }
}

#[cfg(test)]
mod tests;
