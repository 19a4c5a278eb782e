//! The money rules through the real use cases, on in-memory adapters: each test is one of
//! the ways real payment providers order, repeat or lose events, and asserts Wellflow's net
//! for the payment to the cent.

mod support;

use rand::SeedableRng;
use referral_core::bonus::{BonusPolicy, BonusStatus, MoveKind, MoveState};
use referral_core::clock::Clock;
use referral_core::domain::Usd;
use referral_core::payment::{PaymentEventKind, Unchanged};
use referral_core::usecases::moderation::{self, ModerationOutcome};
use referral_core::usecases::payment_events::{handle_payment_event, EventOutcome};
use referral_core::usecases::settle::settle_payment;
use rust_decimal::Decimal;
use support::executor::{block_on, Executor};
use support::world::{epoch, Faults, World};
use support::{billing, event, pid, refer, refunded, succeeded, user};

fn world() -> std::sync::Arc<World> {
    let world = World::new(1, epoch());
    refer(&world, "ref_a", "payer_1", false, None);
    world
}

fn net(world: &World, payment: &str) -> Decimal {
    world.ledger.lock().unwrap().net_for(&pid(payment))
}

fn cents(c: i64) -> Decimal {
    Usd::cents(c).decimal()
}

fn deliver(world: &std::sync::Arc<World>, e: &referral_core::payment::PaymentEvent) -> EventOutcome {
    let b = billing(&world.process(), &BonusPolicy::default());
    block_on(handle_payment_event(&b, e)).expect("store available")
}

#[test]
fn refund_before_success_pays_nothing() {
    let world = world();
    assert_eq!(deliver(&world, &refunded("pay_1", 10_000)), EventOutcome::Recorded);
    let outcome = deliver(&world, &succeeded("pay_1", "payer_1", 10_000));
    let EventOutcome::Bonus { created: true, bonus, failed: None } = outcome else { panic!("{outcome:?}") };
    assert_eq!(bonus.status, BonusStatus::Reversed);
    assert_eq!(bonus.reason.as_deref(), Some("refunded"));
    assert_eq!(bonus.net_amount, Usd::ZERO);
    assert_eq!(net(&world, "pay_1"), Decimal::ZERO);
    assert_eq!(world.ledger.lock().unwrap().calls, 0, "nothing was ever sent to Wellflow");
}

#[test]
fn partial_refund_before_success_pays_the_rest() {
    let world = world();
    deliver(&world, &refunded("pay_1", 4_000));
    deliver(&world, &succeeded("pay_1", "payer_1", 10_000));
    assert_eq!(net(&world, "pay_1"), cents(300));
    assert_eq!(world.bonus(&pid("pay_1")).unwrap().status, BonusStatus::Credited);
}

#[test]
fn unknown_credit_outcome_then_refund_nets_zero() {
    let world = world();
    // Wellflow applies the credit but the answer never arrives.
    world.set_faults(Faults { timeout_after_apply: 1.0, ..Faults::default() });
    let outcome = deliver(&world, &succeeded("pay_1", "payer_1", 20_000));
    let EventOutcome::Bonus { bonus, failed: Some(_), .. } = outcome else { panic!("{outcome:?}") };
    assert_eq!(bonus.status, BonusStatus::Failed);
    assert_eq!(net(&world, "pay_1"), cents(1_000), "Wellflow holds 10.00 we could not confirm");
    world.set_faults(Faults::default());
    // The refund: the uncertain credit is re-issued with its key (a replay), then debited.
    let outcome = deliver(&world, &refunded("pay_1", 20_000));
    let EventOutcome::Bonus { bonus, failed: None, .. } = outcome else { panic!("{outcome:?}") };
    assert_eq!(bonus.status, BonusStatus::Reversed);
    assert_eq!(net(&world, "pay_1"), Decimal::ZERO);
    let keys = world.ledger.lock().unwrap().keys_for(&pid("pay_1"));
    assert_eq!(keys, ["ref:auto:pay_1", "ref:auto:pay_1#debit-2"]);
}

#[test]
fn unknown_outcome_not_applied_then_refund_nets_zero() {
    let world = world();
    world.set_faults(Faults { timeout_before_apply: 1.0, ..Faults::default() });
    deliver(&world, &succeeded("pay_1", "payer_1", 20_000));
    assert_eq!(net(&world, "pay_1"), Decimal::ZERO);
    world.set_faults(Faults::default());
    deliver(&world, &refunded("pay_1", 20_000));
    // Credit issued now (same key), then debited: net zero, never a guess.
    assert_eq!(net(&world, "pay_1"), Decimal::ZERO);
    assert_eq!(world.bonus(&pid("pay_1")).unwrap().status, BonusStatus::Reversed);
}

#[test]
fn partial_refunds_reverse_in_proportion_and_redeliveries_change_nothing() {
    let world = world();
    deliver(&world, &succeeded("pay_1", "payer_1", 10_000));
    assert_eq!(net(&world, "pay_1"), cents(500));
    deliver(&world, &refunded("pay_1", 4_000));
    assert_eq!(net(&world, "pay_1"), cents(300));
    let bonus = world.bonus(&pid("pay_1")).unwrap();
    assert_eq!(
        (bonus.status, bonus.reason.as_deref(), bonus.net_amount),
        (BonusStatus::Credited, Some("refunded"), Usd::cents(300))
    );
    let again = deliver(&world, &refunded("pay_1", 4_000));
    assert!(matches!(again, EventOutcome::Unchanged { why: Unchanged::AlreadyKnown, .. }), "{again:?}");
    assert_eq!(net(&world, "pay_1"), cents(300));
    deliver(&world, &refunded("pay_1", 10_000));
    assert_eq!(net(&world, "pay_1"), Decimal::ZERO);
    // A late, smaller total (reordered delivery) changes nothing either.
    deliver(&world, &refunded("pay_1", 4_000));
    assert_eq!(net(&world, "pay_1"), Decimal::ZERO);
    let bonus = world.bonus(&pid("pay_1")).unwrap();
    assert_eq!(bonus.status, BonusStatus::Reversed);
    // Aggregates follow the ledger.
    let earnings = world.store.lock().unwrap().earnings.get(&user("ref_a")).cloned().unwrap();
    assert_eq!(earnings.total, Decimal::ZERO);
    assert_eq!((earnings.credited_count, earnings.reversed_count), (1, 1));
}

#[test]
fn dispute_holds_back_and_a_won_dispute_restores() {
    let world = world();
    deliver(&world, &succeeded("pay_1", "payer_1", 10_000));
    deliver(&world, &event("pay_1", None, PaymentEventKind::Disputed { amount: Usd::cents(10_000) }));
    assert_eq!(net(&world, "pay_1"), Decimal::ZERO);
    assert_eq!(world.bonus(&pid("pay_1")).unwrap().reason.as_deref(), Some("disputed"));
    deliver(&world, &event("pay_1", None, PaymentEventKind::DisputeWon));
    assert_eq!(net(&world, "pay_1"), cents(500));
    let bonus = world.bonus(&pid("pay_1")).unwrap();
    assert_eq!(bonus.status, BonusStatus::Credited);
    let kinds: Vec<_> = bonus.ledger.moves().iter().map(|m| (m.kind.as_str(), m.amount)).collect();
    assert_eq!(kinds, [("credit", Usd::cents(500)), ("debit", Usd::cents(500)), ("credit", Usd::cents(500))]);
}

#[test]
fn held_bonus_is_credited_on_approval_and_rejection_takes_back_nothing_paid() {
    let world = World::new(2, epoch());
    refer(&world, "ref_a", "payer_1", true, None);
    refer(&world, "ref_a", "payer_2", true, None);
    deliver(&world, &succeeded("pay_1", "payer_1", 5_000));
    deliver(&world, &succeeded("pay_2", "payer_2", 5_000));
    let bonus = world.bonus(&pid("pay_1")).unwrap();
    assert_eq!((bonus.status, bonus.reason.as_deref()), (BonusStatus::Pending, Some("same_ip")));
    let b = billing(&world.process(), &BonusPolicy::default());
    let approved = block_on(moderation::approve(&b, &pid("pay_1"), "admin:a", Some("checked"))).unwrap();
    assert!(
        matches!(approved, ModerationOutcome::Approved(ref b) if b.status == BonusStatus::Credited),
        "{approved:?}"
    );
    assert_eq!(net(&world, "pay_1"), cents(250));
    let rejected = block_on(moderation::reject(&b, &pid("pay_2"), "admin:a", "fraud", None)).unwrap();
    assert!(
        matches!(rejected, ModerationOutcome::Rejected(ref b) if b.status == BonusStatus::Reversed),
        "{rejected:?}"
    );
    assert_eq!(net(&world, "pay_2"), Decimal::ZERO);
    // Decided: a second decision is refused and changes nothing.
    let again = block_on(moderation::approve(&b, &pid("pay_2"), "admin:b", None)).unwrap();
    assert!(matches!(again, ModerationOutcome::NotOpen(_)));
}

#[test]
fn a_refused_credit_waits_for_an_admin_and_is_dropped_when_refunded() {
    let world = world();
    world.set_faults(Faults { refuse: 1.0, ..Faults::default() });
    deliver(&world, &succeeded("pay_1", "payer_1", 10_000));
    let bonus = world.bonus(&pid("pay_1")).unwrap();
    assert_eq!(bonus.status, BonusStatus::Failed);
    // Automatic retries leave a refused move alone.
    world.set_faults(Faults::default());
    let b = billing(&world.process(), &BonusPolicy::default());
    block_on(settle_payment(&b, &pid("pay_1"), "retry")).unwrap();
    assert_eq!(world.ledger.lock().unwrap().calls, 1);
    // The payment is refunded. A sender that read the credit before the refusal could still
    // get it applied, so it is not dropped at once...
    deliver(&world, &refunded("pay_1", 10_000));
    assert_eq!(world.bonus(&pid("pay_1")).unwrap().status, BonusStatus::Failed);
    // ...but once the refusal is older than any invocation can live and Wellflow refuses the
    // key once more (the retry consumer's probe; the sweeper re-queues it), it is: nothing
    // was ever paid, nothing is owed.
    world.clock.advance(referral_core::bonus::VOID_AFTER + time::Duration::minutes(1));
    let b = billing(&world.process(), &BonusPolicy::default());
    world.set_faults(Faults { refuse: 1.0, ..Faults::default() });
    block_on(settle_payment(&b, &pid("pay_1"), "retry")).unwrap();
    let bonus = world.bonus(&pid("pay_1")).unwrap();
    assert_eq!(bonus.status, BonusStatus::Reversed);
    assert_eq!(bonus.ledger.moves()[0].state, MoveState::Void);
    assert_eq!(net(&world, "pay_1"), Decimal::ZERO);
}

#[test]
fn a_refused_credit_a_late_sender_got_applied_is_not_dropped() {
    // Simulation seed 31659: Wellflow refuses the credit; a sender that had read the row
    // before the refusal was recorded gets the same key applied a minute later and dies before
    // recording it; a partial refund comes hours later. Dropping the refused move and crediting
    // the reduced bonus with a new key would pay the first credit twice over.
    let world = world();
    world.set_faults(Faults { refuse: 1.0, ..Faults::default() });
    deliver(&world, &succeeded("pay_1", "payer_1", 10_000));
    world.set_faults(Faults::default());
    let at = referral_core::clock::rfc3339(world.clock.now());
    world.ledger.lock().unwrap().insert("ref:auto:pay_1", MoveKind::Credit, &user("ref_a"), Usd::cents(500), &at);
    world.clock.advance(referral_core::bonus::VOID_AFTER + time::Duration::minutes(1));
    deliver(&world, &refunded("pay_1", 4_000));
    let b = billing(&world.process(), &BonusPolicy::default());
    block_on(settle_payment(&b, &pid("pay_1"), "retry")).unwrap();
    // The probe got the transfer back: recorded as applied, the excess debited. Due 3.00.
    let bonus = world.bonus(&pid("pay_1")).unwrap();
    assert_eq!(bonus.ledger.moves()[0].state, MoveState::Applied);
    assert_eq!((bonus.paid_amount, bonus.net_amount), (Usd::cents(300), Usd::cents(300)));
    assert_eq!(net(&world, "pay_1"), cents(300));
    assert_eq!(world.ledger.lock().unwrap().keys_for(&pid("pay_1")), ["ref:auto:pay_1", "ref:auto:pay_1#debit-2"]);
}

#[test]
fn an_admin_approval_reissues_a_refused_credit() {
    let world = world();
    world.set_faults(Faults { refuse: 1.0, ..Faults::default() });
    deliver(&world, &succeeded("pay_1", "payer_1", 10_000));
    world.set_faults(Faults::default());
    let b = billing(&world.process(), &BonusPolicy::default());
    let outcome = block_on(moderation::approve(&b, &pid("pay_1"), "admin:a", None)).unwrap();
    assert!(matches!(outcome, ModerationOutcome::Approved(ref b) if b.status == BonusStatus::Credited), "{outcome:?}");
    assert_eq!(net(&world, "pay_1"), cents(500));
    assert_eq!(world.ledger.lock().unwrap().keys_for(&pid("pay_1")), ["ref:auto:pay_1"]);
}

#[test]
fn concurrent_success_and_refund_never_keep_money_for_a_refunded_payment() {
    // The reproduction: success and refund of one payment at the same instant. Every
    // interleaving the seeded executor produces must end with nothing paid.
    for seed in 0..300 {
        let world = world();
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut exec = Executor::default();
        let (ok, refund) = (succeeded("pay_1", "payer_1", 10_000), refunded("pay_1", 10_000));
        let (b1, b2) =
            (billing(&world.process(), &BonusPolicy::default()), billing(&world.process(), &BonusPolicy::default()));
        exec.spawn(async move {
            handle_payment_event(&b1, &ok).await.unwrap();
        });
        exec.spawn(async move {
            handle_payment_event(&b2, &refund).await.unwrap();
        });
        exec.run_all(&mut rng);
        assert_eq!(net(&world, "pay_1"), Decimal::ZERO, "seed {seed}");
        let bonus = world.bonus(&pid("pay_1")).unwrap();
        assert_eq!(bonus.status, BonusStatus::Reversed, "seed {seed}");
        assert!(bonus.is_settled(), "seed {seed}");
    }
}

#[test]
fn unreferred_and_below_minimum_successes_write_nothing() {
    let world = world();
    let stranger = succeeded("pay_9", "nobody", 10_000);
    assert_eq!(deliver(&world, &stranger), EventOutcome::NotReferred);
    assert_eq!(deliver(&world, &succeeded("pay_8", "payer_1", 499)), EventOutcome::BelowMinimum);
    let state = world.store.lock().unwrap();
    assert_eq!(state.commits, 0);
    assert!(state.records.is_empty() && state.bonuses.is_empty());
}
