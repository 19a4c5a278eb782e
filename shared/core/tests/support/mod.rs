//! Test support for the core: in-memory adapters with fault injection and a deterministic
//! executor. Used by the use-case tests and the simulation; never by production code (the
//! end-to-end suite runs the same rules against moto).
#![allow(dead_code)]

pub mod executor;
pub mod world;

use std::sync::Arc;

use referral_core::bonus::BonusPolicy;
use referral_core::domain::{PaymentId, Rate, Usd, UserId};
use referral_core::payment::{PaymentEvent, PaymentEventKind};
use referral_core::usecases::Billing;
use world::{empty_profile, MemLedger, MemStore, Process, World};

pub type SimBilling = Billing<MemStore, MemLedger>;

/// The use-case wiring for one process of `world`.
pub fn billing(process: &Arc<Process>, policy: &BonusPolicy) -> SimBilling {
    Billing {
        store: MemStore(process.clone()),
        ledger: MemLedger(process.clone()),
        policy: policy.clone(),
        clock: Arc::new(process.world.clock.clone()),
    }
}

pub fn user(id: &str) -> UserId {
    UserId::parse(id).unwrap()
}

pub fn pid(id: &str) -> PaymentId {
    PaymentId::parse(id).unwrap()
}

/// `referrer` exists; `payer` was referred by it (optionally from the same IP).
pub fn refer(world: &World, referrer: &str, payer: &str, same_ip: bool, rate: Option<Rate>) {
    let mut r = empty_profile(&user(referrer));
    r.rate_override = rate;
    if !world.store.lock().unwrap().profiles.contains_key(&user(referrer)) {
        world.put_profile(r);
    }
    let mut p = empty_profile(&user(payer));
    p.referrer_id = Some(user(referrer));
    p.same_ip = same_ip;
    world.put_profile(p);
}

pub fn event(payment: &str, payer: Option<&str>, kind: PaymentEventKind) -> PaymentEvent {
    PaymentEvent {
        payment_id: pid(payment),
        user_id: payer.map(user),
        kind,
        occurred_at: "2026-11-20T09:59:00.000Z".into(),
        provider_event_id: None,
    }
}

pub fn succeeded(payment: &str, payer: &str, cents: i64) -> PaymentEvent {
    event(payment, Some(payer), PaymentEventKind::Succeeded { amount: Usd::cents(cents) })
}

pub fn refunded(payment: &str, total_cents: i64) -> PaymentEvent {
    event(payment, None, PaymentEventKind::Refunded { total: Usd::cents(total_cents) })
}
