//! The state machine on its own: statuses, amounts, history and effects of each transition.

use super::*;
use crate::payment::{PaymentEvent, PaymentEventKind};

const T0: &str = "2026-11-20T10:00:00.000Z";
const T1: &str = "2026-11-20T10:00:01.000Z";
const T2: &str = "2026-11-20T10:00:02.000Z";

fn pid() -> PaymentId {
    PaymentId::parse("pay_1").unwrap()
}

fn record(refunded: i64) -> PaymentRecord {
    let mut r = PaymentRecord::new(pid(), T0);
    r.succeeded = Some(Usd::cents(10_000));
    r.refunded = Usd::cents(refunded);
    r
}

fn new_bonus(hold: Option<HoldReason>, notify: bool) -> NewBonus {
    let partner_events = if notify { PartnerEventType::ALL.to_vec() } else { Vec::new() };
    NewBonus {
        payment_id: pid(),
        referrer_id: UserId::parse("ref_a").unwrap(),
        referred_user_id: UserId::parse("payer_1").unwrap(),
        topup_amount: Usd::cents(10_000),
        rate: Rate::DEFAULT,
        hold,
        release_at: None,
        topup_occurred_at: T0.into(),
        volume_month: "2026-11".into(),
        volume_guard: None,
        partner_events,
    }
}

fn ok(change: Option<Change>) -> Change {
    change.expect("a change")
}

fn earnings(change: &Change) -> Vec<&EarningsMove> {
    change.effects.iter().filter_map(|e| if let Effect::Earnings(m) = e { Some(m) } else { None }).collect()
}

fn events(change: &Change) -> Vec<PartnerEventType> {
    change
        .effects
        .iter()
        .filter_map(|e| match e {
            Effect::Outbox(OutboxMessage::PartnerEvent { event_type, .. }) => Some(*event_type),
            _ => None,
        })
        .collect()
}

#[test]
fn created_bonus_is_written_ahead_as_crediting_then_credited() {
    let created = Bonus::create(new_bonus(None, true), &record(0), T0);
    assert_eq!(created.expected_version, None);
    let b = &created.bonus;
    assert_eq!((b.status, b.reason.as_deref()), (BonusStatus::Pending, Some("crediting")));
    assert_eq!((b.bonus_amount, b.net_amount, b.paid_amount), (Usd::cents(500), Usd::cents(500), Usd::ZERO));
    let m = b.ledger.in_flight().unwrap();
    assert_eq!((m.key.as_str(), m.amount), ("ref:auto:pay_1", Usd::cents(500)));
    assert_eq!(events(&created), [PartnerEventType::BonusCreated]);
    assert!(created.effects.iter().any(|e| matches!(e, Effect::Volume(v) if v.delta == Usd::cents(10_000).decimal())));

    let credited = ok(b.record_applied(1, "wf_1", "webhook", T1));
    assert_eq!(credited.expected_version, Some(1));
    assert_eq!((credited.bonus.status, credited.bonus.version), (BonusStatus::Credited, 2));
    assert_eq!(credited.bonus.credited_at.as_deref(), Some(T1));
    let e = earnings(&credited);
    assert_eq!(e.len(), 1);
    assert_eq!(
        (e[0].amount, e[0].day.as_str(), e[0].credited, e[0].reversed),
        (Usd::cents(500).decimal(), "2026-11-20", 1, 0)
    );
    assert_eq!(events(&credited), [PartnerEventType::BonusCredited]);
    let h: Vec<_> = credited.bonus.history.iter().map(|h| (h.change.as_str(), h.status, h.from)).collect();
    assert_eq!(
        h,
        [
            ("created", BonusStatus::Pending, None),
            ("credit_applied", BonusStatus::Credited, Some(BonusStatus::Pending))
        ]
    );
    // Recording the same answer twice is a no-op.
    assert!(credited.bonus.record_applied(1, "wf_1", "retry", T2).is_none());
}

#[test]
fn a_failed_credit_is_failed_with_a_retry_in_the_outbox() {
    let created = Bonus::create(new_bonus(None, false), &record(0), T0).bonus;
    let failure = MoveFailure {
        kind: FailureKind::Unknown,
        code: "wellflow_timeout".into(),
        message: "slow".into(),
        at: T1.into(),
    };
    let failed = ok(created.record_failed(1, failure, "webhook", T1));
    assert_eq!(failed.bonus.status, BonusStatus::Failed);
    assert_eq!(failed.bonus.last_error.as_deref(), Some("wellflow_timeout: slow"));
    assert!(failed.effects.contains(&Effect::Outbox(OutboxMessage::Retry { payment_id: pid(), attempts: 1 })));
    assert!(earnings(&failed).is_empty(), "no money moved");
}

#[test]
fn partial_refund_of_a_credited_bonus_plans_the_difference_and_announces_it() {
    let b = Bonus::create(new_bonus(None, true), &record(0), T0).bonus;
    let b = ok(b.record_applied(1, "wf_1", "webhook", T1)).bonus;
    let refunded = ok(b.on_payment(&record(4_000), "webhook", T2, "refunded"));
    let r = &refunded.bonus;
    assert_eq!(
        (r.status, r.reason.as_deref(), r.net_amount),
        (BonusStatus::Credited, Some("refunded"), Usd::cents(300))
    );
    let debit = r.ledger.in_flight().unwrap();
    assert_eq!(
        (debit.kind, debit.amount, debit.key.as_str()),
        (MoveKind::Debit, Usd::cents(200), "ref:auto:pay_1#debit-2")
    );
    assert_eq!(events(&refunded), [PartnerEventType::BonusAdjusted]);
    assert!(refunded.effects.iter().any(|e| matches!(e, Effect::Volume(v) if v.delta == -Usd::cents(4_000).decimal())));
    // The same refund total again changes nothing.
    assert!(r.on_payment(&record(4_000), "webhook", T2, "refunded").is_none());
    let debited = ok(r.record_applied(2, "wf_2", "webhook", T2));
    assert_eq!(earnings(&debited)[0].amount, -Usd::cents(200).decimal());
    assert_eq!(earnings(&debited)[0].day, "2026-11-20", "booked where it was earned");
}

#[test]
fn held_bonuses_pay_nothing_until_approved_and_rejection_is_final() {
    let held = Bonus::create(new_bonus(Some(HoldReason::SameIp), false), &record(0), T0).bonus;
    assert_eq!(
        (held.status, held.reason.as_deref(), held.net_amount),
        (BonusStatus::Pending, Some("same_ip"), Usd::ZERO)
    );
    assert!(held.ledger.in_flight().is_none());
    let approved = held.approve("admin:a", Some("ok"), T1).unwrap().bonus;
    assert_eq!(approved.ledger.in_flight().unwrap().amount, Usd::cents(500));
    assert_eq!(approved.history.last().unwrap().note.as_deref(), Some("ok"));
    let rejected = held.reject("admin:a", "fraud", None, T1).unwrap().bonus;
    assert_eq!((rejected.status, rejected.reason.as_deref()), (BonusStatus::Reversed, Some("fraud")));
    assert!(matches!(rejected.approve("admin:b", None, T2), Err(NotOpen::Decided(_))));
    assert!(matches!(rejected.reject("admin:b", "again", None, T2), Err(NotOpen::Decided(_))));
}

#[test]
fn a_success_after_a_full_refund_creates_a_reversed_bonus_with_nothing_to_send() {
    let created = Bonus::create(new_bonus(None, true), &record(10_000), T0);
    let b = &created.bonus;
    assert_eq!((b.status, b.reason.as_deref(), b.net_amount), (BonusStatus::Reversed, Some("refunded"), Usd::ZERO));
    assert!(b.ledger.moves().is_empty());
    assert_eq!(events(&created), [PartnerEventType::BonusCreated, PartnerEventType::BonusReversed]);
}

#[test]
fn dispute_events_move_the_bonus_through_the_record() {
    let b = Bonus::create(new_bonus(None, false), &record(0), T0).bonus;
    let b = ok(b.record_applied(1, "wf_1", "webhook", T1)).bonus;
    let event =
        |kind| PaymentEvent { payment_id: pid(), user_id: None, kind, occurred_at: T1.into(), provider_event_id: None };
    let disputed_record =
        record(0).apply(&event(PaymentEventKind::Disputed { amount: Usd::cents(10_000) }), T1).unwrap();
    let disputed = ok(b.on_payment(&disputed_record, "webhook", T2, "disputed")).bonus;
    assert_eq!((disputed.status, disputed.reason.as_deref()), (BonusStatus::Reversed, Some("disputed")));
    let won_record = disputed_record.apply(&event(PaymentEventKind::DisputeWon), T2).unwrap();
    let won = ok(disputed.on_payment(&won_record, "webhook", T2, "dispute_won")).bonus;
    // The reversal is still in flight: it is resolved first, then the credit planned again.
    assert_eq!(won.ledger.in_flight().unwrap().kind, MoveKind::Debit);
    let after_debit = ok(won.record_applied(2, "wf_2", "webhook", T2)).bonus;
    let m = after_debit.ledger.in_flight().unwrap();
    assert_eq!((m.kind, m.amount, m.key.as_str()), (MoveKind::Credit, Usd::cents(500), "ref:auto:pay_1#credit-3"));
}
