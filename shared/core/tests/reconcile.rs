//! Reconciliation passes through the real use cases on in-memory adapters: the cases the
//! simulation meets rarely (a dropped move applied after all, a heal deferred while another move
//! is in flight) and overlapping invocations of one pass.

mod support;

use std::sync::Arc;

use rand::SeedableRng;
use referral_core::bonus::reconcile::{DriftKind, FindingStatus};
use referral_core::bonus::{BonusPolicy, MoveKind, MoveState, VOID_AFTER};
use referral_core::clock::Clock;
use referral_core::domain::Usd;
use referral_core::store::PassKind;
use referral_core::usecases::payment_events::handle_payment_event;
use referral_core::usecases::reconcile::{run_pass, Budget, PassReport, ReconcileConfig, ReconcileError};
use referral_core::usecases::settle::settle_payment;
use rust_decimal::Decimal;
use support::executor::{block_on, Executor};
use support::world::{epoch, Faults, World};
use support::{billing, pid, refer, refunded, succeeded, user};

fn cfg() -> ReconcileConfig {
    ReconcileConfig { lag: time::Duration::ZERO, skew: time::Duration::ZERO, ..ReconcileConfig::default() }
}

fn pass(world: &Arc<World>, kind: PassKind) -> Result<PassReport, ReconcileError> {
    world.clock.advance(time::Duration::seconds(1));
    let b = billing(&world.process(), &BonusPolicy::default());
    let budget = Budget { deadline: world.clock.now() + time::Duration::minutes(10), max_pages: usize::MAX };
    block_on(run_pass(&b, &cfg(), kind, true, budget))
}

fn deliver(world: &Arc<World>, e: &referral_core::payment::PaymentEvent) {
    let b = billing(&world.process(), &BonusPolicy::default());
    block_on(handle_payment_event(&b, e)).expect("store available");
}

fn net(world: &World, payment: &str) -> Decimal {
    world.ledger.lock().unwrap().net_for(&pid(payment))
}

#[test]
fn a_dropped_move_wellflow_applied_after_all_is_recorded_and_taken_back() {
    let world = World::new(1, epoch());
    refer(&world, "ref_a", "payer_1", false, None);
    // Wellflow refuses the credit; a full refund arrives; an hour later Wellflow refuses the
    // key once more (the settler's probe) and the move is dropped.
    world.set_faults(Faults { refuse: 1.0, ..Faults::default() });
    deliver(&world, &succeeded("pay_1", "payer_1", 10_000));
    world.set_faults(Faults::default());
    deliver(&world, &refunded("pay_1", 10_000));
    world.clock.advance(VOID_AFTER + time::Duration::minutes(1));
    let b = billing(&world.process(), &BonusPolicy::default());
    world.set_faults(Faults { refuse: 1.0, ..Faults::default() });
    block_on(settle_payment(&b, &pid("pay_1"), "retry")).unwrap();
    world.set_faults(Faults::default());
    let bonus = world.bonus(&pid("pay_1")).unwrap();
    assert_eq!(bonus.ledger.moves()[0].state, MoveState::Void);
    // ... but the refusal was a lie: Wellflow applied it.
    let at = referral_core::clock::rfc3339(world.clock.now());
    world.ledger.lock().unwrap().insert("ref:auto:pay_1", MoveKind::Credit, &user("ref_a"), Usd::cents(500), &at);
    assert_eq!(net(&world, "pay_1"), Usd::cents(500).decimal());

    let report = pass(&world, PassKind::Hourly).unwrap();
    assert_eq!((report.new_findings, report.healed), (1, 1), "{report:?}");
    let finding = world.store.lock().unwrap().findings.values().next().cloned().unwrap();
    assert_eq!((finding.kind, finding.our_state), (DriftKind::UnknownTransaction, Some(MoveState::Void)));
    // Recorded as applied, then the 5.00 too much is debited with a new key: Wellflow nets zero.
    assert_eq!(net(&world, "pay_1"), Decimal::ZERO);
    let keys = world.ledger.lock().unwrap().keys_for(&pid("pay_1"));
    assert_eq!(keys, ["ref:auto:pay_1", "ref:auto:pay_1#debit-2"]);
    let bonus = world.bonus(&pid("pay_1")).unwrap();
    assert_eq!((bonus.paid_amount, bonus.net_amount, bonus.is_settled()), (Usd::ZERO, Usd::ZERO, true));
    assert_eq!(pass(&world, PassKind::Daily).unwrap().sightings, 0, "clean afterwards");
}

#[test]
fn a_lost_debit_waits_while_another_move_is_in_flight() {
    let world = World::new(2, epoch());
    refer(&world, "ref_a", "payer_1", false, None);
    deliver(&world, &succeeded("pay_1", "payer_1", 10_000));
    deliver(&world, &refunded("pay_1", 4_000));
    // The rest is refunded while Wellflow is down: the 3.00 debit stays in flight.
    world.set_faults(Faults { wellflow_down: 1.0, ..Faults::default() });
    deliver(&world, &refunded("pay_1", 10_000));
    // Wellflow loses the first debit (2.00).
    world.ledger.lock().unwrap().remove("ref:auto:pay_1#debit-2").expect("applied");
    world.set_faults(Faults { wellflow_down: 1.0, ..Faults::default() });
    let first = pass(&world, PassKind::Hourly).unwrap();
    assert_eq!((first.new_findings, first.healed), (1, 0), "deferred: one move at a time");
    let finding = world.store.lock().unwrap().findings.values().next().cloned().unwrap();
    assert_eq!((finding.kind, finding.status), (DriftKind::MissingDebit, FindingStatus::Open));
    assert!(finding.history.iter().any(|e| e.action == "waiting"), "{finding:#?}");

    world.set_faults(Faults::default());
    let b = billing(&world.process(), &BonusPolicy::default());
    block_on(settle_payment(&b, &pid("pay_1"), "retry")).unwrap();
    assert_eq!(net(&world, "pay_1"), Usd::cents(200).decimal(), "the lost 2.00 is still with the referrer");
    let second = pass(&world, PassKind::Hourly).unwrap();
    assert_eq!((second.new_findings, second.healed), (0, 1), "{second:?}");
    assert_eq!(net(&world, "pay_1"), Decimal::ZERO);
    let bonus = world.bonus(&pid("pay_1")).unwrap();
    assert_eq!((bonus.paid_amount, bonus.is_settled()), (Usd::ZERO, true));
}

#[test]
fn overlapping_invocations_of_one_pass_never_both_advance_it() {
    let world = World::new(3, epoch());
    for i in 0..4 {
        refer(&world, &format!("ref_{i}"), &format!("payer_{i}"), false, None);
        deliver(&world, &succeeded(&format!("pay_{i}"), &format!("payer_{i}"), 10_000));
    }
    world.ledger.lock().unwrap().remove("ref:auto:pay_2").expect("applied");
    world.clock.advance(time::Duration::seconds(1));
    let cfg = ReconcileConfig { referrers_per_page: 1, ..cfg() };
    let budget = Budget { deadline: world.clock.now() + time::Duration::minutes(10), max_pages: usize::MAX };
    let (a, b) =
        (billing(&world.process(), &BonusPolicy::default()), billing(&world.process(), &BonusPolicy::default()));
    let results = std::cell::RefCell::new(Vec::new());
    let mut exec = Executor::default();
    for billing in [&a, &b] {
        let (results, cfg) = (&results, &cfg);
        exec.spawn(async move {
            let result = run_pass(billing, cfg, PassKind::Daily, true, budget).await;
            results.borrow_mut().push(result);
        });
    }
    exec.run_all(&mut rand::rngs::StdRng::seed_from_u64(7));
    drop(exec);
    let results = results.into_inner();
    let superseded = results.iter().filter(|r| matches!(r, Err(ReconcileError::Superseded(_)))).count();
    assert!(superseded >= 1, "{results:?}");
    // Whatever both saw, the one drift is one finding; the pass is then finished by whoever runs next.
    let next = pass(&world, PassKind::Daily).unwrap();
    let state = world.store.lock().unwrap();
    assert_eq!(state.findings.len(), 1);
    assert_eq!(state.findings.values().next().unwrap().kind, DriftKind::MissingCredit);
    assert!(state.passes["daily"].done, "{next:?}");
}
