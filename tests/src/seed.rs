//! A realistic referral history for one referrer, produced through the real handlers
//! (signup, webhook, refund, redirect) — shared by the dashboard tests and the browser
//! fixture so both assert on the same numbers.

use adapters::domain::UserId;
use adapters::store::Users;
use fake_wellflow::Fault;

use crate::billing::{BillingHarness, REFERRER_IP};

/// alice: bob 50.00 → 2.50 credited; carol 300.00 → 15.00 credited; dave 100.00 credited
/// then refunded; erin's 40.00 fails (Wellflow down); a same-IP puppet's 20.00 is held;
/// bob's 4.00 earns nothing; 3 clicks on alice's link.
/// KPIs: total 17.50, last 30 days 17.50, signups 5, active 5, clicks 3.
pub async fn seeded_mix(h: &BillingHarness) {
    for u in ["bob", "carol", "dave", "erin"] {
        h.refer("alice", u).await;
    }
    h.refer_from("alice", "puppet", REFERRER_IP).await;
    h.topup("p_bob", "bob", "50.00").await;
    h.topup("p_carol", "carol", "300.00").await;
    h.topup("p_dave", "dave", "100.00").await;
    h.refund("p_dave", "dave", "100.00").await;
    h.topup("p_puppet", "puppet", "20.00").await;
    h.wellflow.set_fault(Fault::Unavailable);
    h.topup("p_erin", "erin", "40.00").await;
    h.wellflow.set_fault(Fault::Ok);
    h.topup("p_small", "bob", "4.00").await;
    let code = h.store().ensure_code(&UserId::parse("alice").expect("id")).await.expect("code");
    let cfg = redirect::RedirectConfig {
        site_origin: url::Url::parse("https://www.example.com").expect("origin"),
        cookie_domain: None,
        touch: redirect::Touch::First,
    };
    for _ in 0..3 {
        redirect::handle(h.store(), &cfg, &crate::get(&format!("/?ref={code}"), &[])).await;
    }
}
