//! The reconciliation rule on its own: classification, windows, finding ids and lifecycle.

use super::*;
use crate::bonus::{Bonus, NewBonus};
use crate::domain::Rate;
use crate::payment::PaymentRecord;

const T0: &str = "2026-11-20T10:00:00.000Z";
const T1: &str = "2026-11-20T10:00:01.000Z";
const T2: &str = "2026-11-20T10:05:00.000Z";
const T3: &str = "2026-11-20T10:05:01.000Z";

fn referrer() -> UserId {
    UserId::parse("ref_a").unwrap()
}

fn record(payment: &str, refunded: i64) -> PaymentRecord {
    let mut r = PaymentRecord::new(PaymentId::parse(payment).unwrap(), T0);
    r.succeeded = Some(Usd::cents(10_000));
    r.refunded = Usd::cents(refunded);
    r
}

/// A 5.00 bonus credited at T1, then (refund of 40.00 at T2) 2.00 debited at T3.
fn refunded_bonus(payment: &str) -> Bonus {
    let new = NewBonus {
        payment_id: PaymentId::parse(payment).unwrap(),
        referrer_id: referrer(),
        referred_user_id: UserId::parse("payer").unwrap(),
        topup_amount: Usd::cents(10_000),
        rate: Rate::DEFAULT,
        hold: None,
        release_at: None,
        topup_occurred_at: T0.into(),
        volume_month: "2026-11".into(),
        volume_guard: None,
        partner_events: Vec::new(),
    };
    let b = Bonus::create(new, &record(payment, 0), T0).bonus;
    let b = b.record_applied(1, &format!("wf_{payment}_1"), "webhook", T1).unwrap().bonus;
    let b = b.on_payment(&record(payment, 4_000), "webhook", T2, "refunded").unwrap().bonus;
    b.record_applied(2, &format!("wf_{payment}_2"), "webhook", T3).unwrap().bonus
}

fn entry(key: Option<&str>, kind: MoveKind, cents: i64, tx: &str) -> LedgerEntry {
    LedgerEntry {
        transaction_id: tx.into(),
        idempotency_key: key.map(str::to_string),
        kind,
        amount: Usd::cents(cents),
        at: T1.into(),
    }
}

fn books(payment: &str) -> Vec<LedgerEntry> {
    vec![
        entry(Some(&format!("ref:auto:{payment}")), MoveKind::Credit, 500, &format!("wf_{payment}_1")),
        entry(Some(&format!("ref:auto:{payment}#debit-2")), MoveKind::Debit, 200, &format!("wf_{payment}_2")),
    ]
}

fn window() -> Window {
    Window {
        from: clock::parse_rfc3339("2026-11-20T09:00:00Z").unwrap(),
        to: clock::parse_rfc3339("2026-11-20T12:00:00Z").unwrap(),
        skew: time::Duration::minutes(2),
    }
}

fn kinds(c: &Comparison) -> Vec<(DriftKind, &str, &Heal)> {
    c.drifts.iter().map(|d| (d.kind, d.key.as_str(), &d.heal)).collect()
}

#[test]
fn equal_books_give_no_drift_and_foreign_transactions_are_not_ours_to_judge() {
    let bonuses = [refunded_bonus("p1"), refunded_bonus("p2")];
    let mut entries = books("p1");
    entries.extend(books("p2"));
    entries.push(entry(None, MoveKind::Credit, 1_000, "wf_console"));
    entries.push(entry(Some("invoice:42"), MoveKind::Debit, 1_000, "wf_invoice"));
    let c = compare(&bonuses, &entries, &window());
    assert_eq!(c.drifts, []);
    assert_eq!((c.matched, c.expected, c.foreign), (4, 4, 2));
}

#[test]
fn each_drift_is_classified_with_what_may_heal_it() {
    let mut late = refunded_bonus("late");
    // A third move (credit back after a won dispute, say) Wellflow applied while we hold it
    // in flight: planned, then failed with a timeout.
    late.ledger = {
        let mut l = late.ledger.clone();
        l.plan(&late.source_payment_id, Usd::cents(500), T3, "");
        l
    };
    let bonuses = [refunded_bonus("p1"), refunded_bonus("p2"), refunded_bonus("p3"), late];
    let mut entries = vec![
        // p1: the credit is there, the debit was lost.
        books("p1")[0].clone(),
        // p2: the debit is there, the credit was lost.
        books("p2")[1].clone(),
        // p3: the credit's amount was changed; the debit is fine.
        entry(Some("ref:auto:p3"), MoveKind::Credit, 700, "wf_p3_1"),
        books("p3")[1].clone(),
        // A manual adjustment with our prefix, and one for a payment this referrer does not own.
        entry(Some("ref:auto:p1#manual-1"), MoveKind::Credit, 1_000, "wf_manual"),
        entry(Some("ref:auto:someone_else"), MoveKind::Credit, 100, "wf_other"),
    ];
    entries.extend(books("late"));
    entries.push(entry(Some("ref:auto:late#credit-3"), MoveKind::Credit, 200, "wf_late_3"));
    let c = compare(&bonuses, &entries, &window());
    assert_eq!(
        kinds(&c),
        [
            (DriftKind::AmountDiffers, "ref:auto:p3", &Heal::Admin),
            (DriftKind::UnknownTransaction, "ref:auto:p1#manual-1", &Heal::Admin),
            (DriftKind::UnknownTransaction, "ref:auto:someone_else", &Heal::Admin),
            (
                DriftKind::UnknownTransaction,
                "ref:auto:late#credit-3",
                &Heal::RecordApplied { seq: 3, transaction_id: "wf_late_3".into() }
            ),
            (DriftKind::MissingDebit, "ref:auto:p1#debit-2", &Heal::Reissue { seq: 2 }),
            (DriftKind::MissingCredit, "ref:auto:p2", &Heal::Reissue { seq: 1 }),
        ]
    );
    let differs = &c.drifts[0];
    assert_eq!(differs.expected.as_ref().map(|s| (s.kind, s.amount)), Some((MoveKind::Credit, Usd::cents(500))));
    assert_eq!(differs.actual.as_ref().map(|s| (s.kind, s.amount)), Some((MoveKind::Credit, Usd::cents(700))));
    let late = &c.drifts[3];
    assert_eq!((late.expected.as_ref(), late.our_state), (None, Some(MoveState::Pending)));
    assert!(c.drifts[2].detail.contains("no bonus for payment someone_else"), "{}", c.drifts[2].detail);
    let lost = &c.drifts[4];
    assert_eq!((lost.actual.as_ref(), lost.payment.as_ref().map(PaymentId::as_str)), (None, Some("p1")));
}

#[test]
fn a_key_listed_twice_is_an_unknown_transaction() {
    let mut entries = books("p1");
    entries.push(entry(Some("ref:auto:p1"), MoveKind::Credit, 500, "wf_again"));
    let c = compare(&[refunded_bonus("p1")], &entries, &window());
    assert_eq!(kinds(&c), [(DriftKind::UnknownTransaction, "ref:auto:p1", &Heal::Admin)]);
    assert!(c.drifts[0].detail.contains("more than once"));
}

#[test]
fn only_moves_planned_and_recorded_inside_the_window_are_expected() {
    let b = [refunded_bonus("p1")];
    let at = |raw: &str| clock::parse_rfc3339(raw).unwrap();
    // The credit was planned at 10:00:00 and recorded at 10:00:01; the debit 10:05:00-10:05:01.
    let starts_after_the_credit = Window { from: at("2026-11-20T09:59:00Z"), ..window() };
    assert_eq!(compare(&b, &[], &starts_after_the_credit).expected, 1, "the credit is within the skew of the start");
    let narrow = Window { from: at("2026-11-20T10:01:00Z"), to: at("2026-11-20T10:06:00Z"), ..window() };
    assert_eq!(compare(&b, &[], &narrow).expected, 0, "the debit's recording is within the skew of the end");
    let wide = Window { to: at("2026-11-20T10:08:00Z"), ..narrow };
    let c = compare(&b, &[], &wide);
    assert_eq!(kinds(&c), [(DriftKind::MissingDebit, "ref:auto:p1#debit-2", &Heal::Reissue { seq: 2 })]);
}

#[test]
fn finding_ids_are_stable_per_drift() {
    let c = compare(&[refunded_bonus("p1")], &books("p1")[..1], &window());
    let id = c.drifts[0].finding_id(&referrer());
    assert!(is_finding_id(&id), "{id}");
    assert_eq!(compare(&[refunded_bonus("p1")], &books("p1")[..1], &window()).drifts[0].finding_id(&referrer()), id);
    assert_ne!(c.drifts[0].finding_id(&UserId::parse("ref_b").unwrap()), id);
    for bad in ["", "rf_", "rf_0123456789abcdef0123456X", "xx_0123456789abcdef01234567"] {
        assert!(!is_finding_id(bad), "{bad}");
    }
}

#[test]
fn a_missing_credit_heals_on_a_confirmed_second_sighting_and_only_once() {
    let drift = compare(&[refunded_bonus("p2")], &books("p2")[1..], &window()).drifts.remove(0);
    assert_eq!(drift.kind, DriftKind::MissingCredit);
    let hour = time::Duration::hours(1);
    let first = Finding::sighted(None, &referrer(), &drift, "2026-11-20T13:00:00.000Z");
    assert_eq!((first.status, first.seen_count, first.version), (FindingStatus::Open, 1, 1));
    assert!(matches!(first.may_heal(&drift, hour, "2026-11-20T13:00:00.000Z"), HealDecision::Wait(_)));
    let soon = Finding::sighted(Some(&first), &referrer(), &drift, "2026-11-20T13:30:00.000Z");
    assert!(matches!(soon.may_heal(&drift, hour, "2026-11-20T13:30:00.000Z"), HealDecision::Wait(_)));
    let waiting = soon.waiting("why", "2026-11-20T13:30:00.000Z").expect("noted once");
    assert!(waiting.waiting("why", "2026-11-20T13:31:00.000Z").is_none(), "not once per pass");
    let later = Finding::sighted(Some(&waiting), &referrer(), &drift, "2026-11-20T14:00:00.000Z");
    assert_eq!(later.may_heal(&drift, hour, "2026-11-20T14:00:00.000Z"), HealDecision::Now);
    let healed = later.healed("re-issued", "2026-11-20T14:00:01.000Z");
    assert_eq!(
        (healed.status, healed.resolved_by.as_deref(), healed.heal_attempts),
        (FindingStatus::Resolved, Some(ACTOR), 1)
    );
    // Still there after the heal: reopened for an admin, never healed automatically again.
    let again = Finding::sighted(Some(&healed), &referrer(), &drift, "2026-11-20T15:00:00.000Z");
    assert_eq!((again.status, again.resolved_by.as_ref()), (FindingStatus::Open, None));
    assert_eq!(again.may_heal(&drift, hour, "2026-11-21T15:00:00.000Z"), HealDecision::Never);
    let actions: Vec<&str> = again.history.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["found", "waiting", "healed", "reopened"]);
}

#[test]
fn debits_and_recordings_heal_at_once_the_rest_waits_for_an_admin() {
    let c = compare(&[refunded_bonus("p1")], &books("p1")[..1], &window());
    let debit = &c.drifts[0];
    let f = Finding::sighted(None, &referrer(), debit, T3);
    assert_eq!(f.may_heal(debit, time::Duration::hours(1), T3), HealDecision::Now);
    let manual = compare(&[], &[entry(Some("ref:auto:p9#manual"), MoveKind::Credit, 1, "wf_m")], &window()).drifts;
    let f = Finding::sighted(None, &referrer(), &manual[0], T3);
    assert_eq!(f.may_heal(&manual[0], time::Duration::ZERO, T3), HealDecision::Never);
    // An admin's resolution stands: later sightings only count.
    let resolved = f.resolve("admin:ops", "goodwill credit, ticket 7", T3).unwrap();
    assert_eq!(resolved.history.last().map(|e| (e.actor.as_str(), e.action.as_str())), Some(("admin:ops", "resolved")));
    let seen = Finding::sighted(Some(&resolved), &referrer(), &manual[0], "2026-11-21T00:00:00.000Z");
    assert_eq!(
        (seen.status, seen.seen_count, seen.resolved_by.as_deref()),
        (FindingStatus::Resolved, 2, Some("admin:ops"))
    );
    assert!(seen.resolve("admin:other", "again", T3).is_err(), "resolved once");
}

#[test]
fn a_reissued_move_is_sent_again_with_its_key_and_books_follow() {
    let b = refunded_bonus("p1");
    let change = b.reissue_lost(2, ACTOR, "2026-11-20T13:00:00.000Z", "Wellflow lost it").expect("applied debit");
    let next = &change.bonus;
    let m = next.ledger.in_flight().expect("in flight again");
    assert_eq!((m.key.as_str(), m.amount, m.kind), ("ref:auto:p1#debit-2", Usd::cents(200), MoveKind::Debit));
    assert_eq!(next.paid_amount, Usd::cents(500), "Wellflow holds the credit only");
    assert!(change
        .effects
        .iter()
        .any(|e| matches!(e, crate::bonus::Effect::Earnings(m) if m.amount == Usd::cents(200).decimal())));
    assert!(!change.effects.iter().any(|e| matches!(e, crate::bonus::Effect::Activity(_))), "nothing new planned");
    assert_eq!(next.history.last().map(|h| h.change.as_str()), Some("reissued"));
    assert!(next.reissue_lost(1, ACTOR, T3, "x").is_none(), "one move in flight at a time");
    let done = next.record_applied(2, "wf_again", ACTOR, "2026-11-20T13:00:01.000Z").unwrap().bonus;
    assert_eq!((done.paid_amount, done.net_amount, done.is_settled()), (Usd::cents(300), Usd::cents(300), true));
}
