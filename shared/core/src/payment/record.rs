//! The per-payment record of what the provider told us, **independent of event order**:
//! succeeded amount, refunded total, dispute. Each fact only ever moves one way (a success
//! is recorded once, the refunded total only grows, a closed dispute stays closed), so any
//! order, duplication or re-delivery of the same events yields the same record — and the
//! bonus due for the payment is a function of the record alone (`bonus::due`).

use serde::{Deserialize, Serialize};

use super::{PaymentEvent, PaymentEventKind};
use crate::domain::{PaymentId, Usd, UserId};

/// How many provider event ids are remembered for de-duplication (a payment sees a handful).
const REMEMBERED_EVENT_IDS: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DisputeStatus {
    /// Open: the disputed amount is held back.
    Open,
    /// Decided for the merchant: the amount counts again. Final.
    Won,
    /// Decided against the merchant: the amount stays held back. Final.
    Lost,
}

/// The payment's dispute (a card payment can be disputed once).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dispute {
    pub amount: Usd,
    pub status: DisputeStatus,
}

/// One provider event that changed the record (the payment's audit trail).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentFact {
    /// `succeeded`, `refunded`, `disputed`, `dispute_won`, `dispute_lost`.
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<Usd>,
    pub occurred_at: String,
    pub received_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_event_id: Option<String>,
}

/// What the provider told us about one payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentRecord {
    pub payment_id: PaymentId,
    /// The payer, once any event named them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<UserId>,
    /// What the payer paid (absent until the success is recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub succeeded: Option<Usd>,
    /// When the provider says the payment succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub succeeded_at: Option<String>,
    /// Total refunded so far (cumulative; only grows).
    #[serde(default)]
    pub refunded: Usd,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dispute: Option<Dispute>,
    /// The most recent provider event ids (Stripe `evt_…`) already applied.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub provider_events: Vec<String>,
    /// Every event that changed the record, in arrival order.
    #[serde(default)]
    pub facts: Vec<PaymentFact>,
    /// Optimistic-concurrency version; 0 = not stored yet.
    #[serde(default)]
    pub version: u64,
    pub created_at: String,
    pub updated_at: String,
}

/// Why an event left the record unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unchanged {
    /// The same provider event id was applied before.
    DuplicateEvent,
    /// The fact is already known (a re-delivered success, a refund total not above the
    /// recorded one, a dispute already in that state).
    AlreadyKnown,
    /// A second success with another amount: the first one recorded stands.
    ConflictingSuccess,
    /// A dispute event after the dispute was closed (late or reordered delivery).
    DisputeClosed,
}

impl Unchanged {
    pub fn as_str(self) -> &'static str {
        match self {
            Unchanged::DuplicateEvent => "duplicate_event",
            Unchanged::AlreadyKnown => "already_known",
            Unchanged::ConflictingSuccess => "conflicting_success",
            Unchanged::DisputeClosed => "dispute_closed",
        }
    }
}

impl PaymentRecord {
    /// An empty record (nothing known yet, not stored).
    pub fn new(payment_id: PaymentId, now: &str) -> Self {
        Self {
            payment_id,
            user_id: None,
            succeeded: None,
            succeeded_at: None,
            refunded: Usd::ZERO,
            dispute: None,
            provider_events: Vec::new(),
            facts: Vec::new(),
            version: 0,
            created_at: now.to_string(),
            updated_at: now.to_string(),
        }
    }

    /// The amount currently held back by a dispute (open or lost).
    pub fn disputed(&self) -> Usd {
        match self.dispute {
            Some(Dispute { amount, status: DisputeStatus::Open | DisputeStatus::Lost }) => amount,
            _ => Usd::ZERO,
        }
    }

    pub fn seen(&self, provider_event_id: Option<&str>) -> bool {
        provider_event_id.is_some_and(|id| self.provider_events.iter().any(|seen| seen == id))
    }

    /// The record after `event`, or why it stays as it is. Pure: the caller stores it.
    pub fn apply(&self, event: &PaymentEvent, received_at: &str) -> Result<PaymentRecord, Unchanged> {
        if self.seen(event.provider_event_id.as_deref()) {
            return Err(Unchanged::DuplicateEvent);
        }
        let mut next = self.clone();
        let amount = match event.kind {
            PaymentEventKind::Succeeded { amount } => {
                match self.succeeded {
                    Some(known) if known == amount => return Err(Unchanged::AlreadyKnown),
                    Some(_) => return Err(Unchanged::ConflictingSuccess),
                    None => {}
                }
                next.succeeded = Some(amount);
                next.succeeded_at = Some(event.occurred_at.clone());
                Some(amount)
            }
            PaymentEventKind::Refunded { total } => {
                if total <= self.refunded {
                    return Err(Unchanged::AlreadyKnown);
                }
                next.refunded = total;
                Some(total)
            }
            PaymentEventKind::Disputed { amount } => {
                match self.dispute {
                    Some(Dispute { status: DisputeStatus::Won | DisputeStatus::Lost, .. }) => {
                        return Err(Unchanged::DisputeClosed)
                    }
                    Some(Dispute { amount: known, .. }) if known == amount => return Err(Unchanged::AlreadyKnown),
                    _ => {}
                }
                next.dispute = Some(Dispute { amount, status: DisputeStatus::Open });
                Some(amount)
            }
            PaymentEventKind::DisputeWon => {
                match self.dispute {
                    Some(Dispute { status: DisputeStatus::Won, .. }) => return Err(Unchanged::AlreadyKnown),
                    Some(Dispute { status: DisputeStatus::Lost, .. }) => return Err(Unchanged::DisputeClosed),
                    Some(Dispute { amount, .. }) => next.dispute = Some(Dispute { amount, status: DisputeStatus::Won }),
                    // Won before we heard of the dispute: nothing is held back, and a late
                    // "disputed" for it changes nothing.
                    None => next.dispute = Some(Dispute { amount: Usd::ZERO, status: DisputeStatus::Won }),
                }
                None
            }
            PaymentEventKind::DisputeLost { amount } => {
                match self.dispute {
                    Some(Dispute { status: DisputeStatus::Lost, .. }) => return Err(Unchanged::AlreadyKnown),
                    Some(Dispute { status: DisputeStatus::Won, .. }) => return Err(Unchanged::DisputeClosed),
                    _ => next.dispute = Some(Dispute { amount, status: DisputeStatus::Lost }),
                }
                Some(amount)
            }
        };
        if next.user_id.is_none() {
            next.user_id = event.user_id.clone();
        }
        if let Some(id) = &event.provider_event_id {
            next.provider_events.push(id.clone());
            let excess = next.provider_events.len().saturating_sub(REMEMBERED_EVENT_IDS);
            next.provider_events.drain(..excess);
        }
        next.facts.push(PaymentFact {
            kind: event.kind.as_str().to_string(),
            amount,
            occurred_at: event.occurred_at.clone(),
            received_at: received_at.to_string(),
            provider_event_id: event.provider_event_id.clone(),
        });
        next.updated_at = received_at.to_string();
        next.version += 1;
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: PaymentEventKind, id: Option<&str>) -> PaymentEvent {
        PaymentEvent {
            payment_id: PaymentId::parse("pi_1").unwrap(),
            user_id: None,
            kind,
            occurred_at: "2026-11-25T09:00:00.000Z".into(),
            provider_event_id: id.map(str::to_string),
        }
    }

    fn fold(events: &[PaymentEvent]) -> PaymentRecord {
        let mut record = PaymentRecord::new(PaymentId::parse("pi_1").unwrap(), "t0");
        for e in events {
            if let Ok(next) = record.apply(e, "t") {
                record = next;
            }
        }
        record
    }

    fn facts(r: &PaymentRecord) -> (Option<Usd>, Usd, Usd) {
        (r.succeeded, r.refunded, r.disputed())
    }

    #[test]
    fn refund_totals_only_grow_whatever_the_order() {
        use PaymentEventKind::*;
        let events = [
            event(Succeeded { amount: Usd::cents(10_000) }, None),
            event(Refunded { total: Usd::cents(4_000) }, None),
            event(Refunded { total: Usd::cents(10_000) }, None),
        ];
        let expected = (Some(Usd::cents(10_000)), Usd::cents(10_000), Usd::ZERO);
        for order in [[0, 1, 2], [2, 1, 0], [1, 0, 2], [2, 0, 1], [1, 2, 0], [0, 2, 1]] {
            let shuffled: Vec<_> = order.iter().map(|i| events[*i].clone()).collect();
            assert_eq!(facts(&fold(&shuffled)), expected, "{order:?}");
        }
        // Re-delivering the 40.00 refund after the full one changes nothing.
        let r = fold(&events);
        assert_eq!(r.apply(&events[1], "t"), Err(Unchanged::AlreadyKnown));
    }

    #[test]
    fn disputes_hold_back_until_won_and_closed_disputes_stay_closed() {
        use PaymentEventKind::*;
        let open = event(Disputed { amount: Usd::cents(5_000) }, None);
        let won = event(DisputeWon, None);
        assert_eq!(fold(std::slice::from_ref(&open)).disputed(), Usd::cents(5_000));
        assert_eq!(fold(&[open.clone(), won.clone()]).disputed(), Usd::ZERO);
        assert_eq!(fold(&[won.clone(), open.clone()]).disputed(), Usd::ZERO, "won first: the late open is ignored");
        let lost = event(DisputeLost { amount: Usd::cents(5_000) }, None);
        assert_eq!(fold(&[lost.clone(), open.clone()]).disputed(), Usd::cents(5_000));
        assert_eq!(fold(&[open, lost, won]).disputed(), Usd::cents(5_000), "lost is final");
    }

    #[test]
    fn provider_event_ids_are_deduplicated_and_the_first_success_stands() {
        use PaymentEventKind::*;
        let ok = event(Succeeded { amount: Usd::cents(5_000) }, Some("evt_1"));
        let r = fold(std::slice::from_ref(&ok));
        assert_eq!(r.apply(&ok, "t"), Err(Unchanged::DuplicateEvent));
        let same_payment_other_event = event(Succeeded { amount: Usd::cents(5_000) }, Some("evt_2"));
        assert_eq!(r.apply(&same_payment_other_event, "t"), Err(Unchanged::AlreadyKnown));
        let other_amount = event(Succeeded { amount: Usd::cents(6_000) }, None);
        assert_eq!(r.apply(&other_amount, "t"), Err(Unchanged::ConflictingSuccess));
        assert_eq!(r.facts.len(), 1);
    }
}
