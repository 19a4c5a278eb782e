//! `POST /webhooks/stripe` end to end: full Stripe event objects (the fixtures of
//! `functions/webhook/tests/fixtures/stripe/`), signed as Stripe's libraries sign, through the
//! real webhook handler against moto and the fake Wellflow; Wellflow's net per payment to the
//! cent.

use adapters::domain::BonusStatus;
use integration_tests::billing::{BillingHarness, STRIPE_SECRET};
use integration_tests::{body_json, header};
use lambda_http::Body;
use rust_decimal::Decimal;
use serde_json::{json, Value};

const PI: &str = "pi_3QrfTopup0001abcdEFGH";

pub(crate) fn fixture(name: &str) -> Value {
    let path = integration_tests::workspace_root().join(format!("functions/webhook/tests/fixtures/stripe/{name}.json"));
    serde_json::from_str(&std::fs::read_to_string(&path).expect("fixture")).expect("fixture is JSON")
}

/// A fixture with fields replaced (JSON pointers) and its own event id.
fn event(name: &str, id: &str, edits: &[(&str, Value)]) -> Value {
    let mut v = fixture(name);
    v["id"] = json!(id);
    for (pointer, value) in edits {
        *v.pointer_mut(pointer).unwrap_or_else(|| panic!("{name}: no {pointer}")) = value.clone();
    }
    v
}

fn usd(s: &str) -> Decimal {
    s.parse().unwrap()
}

async fn harness() -> BillingHarness {
    let h = BillingHarness::new().await;
    h.refer("alice", "u_1").await;
    h
}

async fn outcome(h: &BillingHarness, e: &Value) -> Value {
    let resp = h.stripe(e).await;
    assert_eq!(resp.status(), 200, "{}", body_json(&resp));
    body_json(&resp)
}

#[tokio::test]
async fn a_stripe_top_up_its_checkout_session_and_cumulative_refunds_net_out_to_the_cent() {
    let h = harness().await;
    // payment_intent.succeeded, amount_received 5000, currency "usd" (lowercase, as Stripe sends).
    let v = outcome(&h, &fixture("payment_intent.succeeded")).await;
    assert_eq!((v["outcome"].as_str(), v["bonus"]["amount"].as_str()), (Some("credited"), Some("2.50")), "{v}");
    assert_eq!(h.wellflow_net(PI), usd("2.50"));
    // The Checkout Session of the same payment adds nothing.
    let v = outcome(&h, &fixture("checkout.session.completed")).await;
    assert_eq!(v["outcome"], "duplicate", "{v}");
    // … nor its asynchronous completion (a bank debit that succeeded later).
    let async_ok = event(
        "checkout.session.async_payment_succeeded",
        "evt_async_same_payment",
        &[
            ("/data/object/payment_intent", json!(PI)),
            ("/data/object/amount_total", json!(5000)),
            ("/data/object/metadata", json!({"user_id": "u_1"})),
        ],
    );
    let v = outcome(&h, &async_ok).await;
    assert_eq!(v["outcome"], "duplicate", "{v}");
    // charge.refunded with amount_refunded 2000 (cumulative): 1.50 stays.
    let v = outcome(&h, &fixture("charge.refunded")).await;
    assert_eq!((v["outcome"].as_str(), v["bonus"]["amount"].as_str()), (Some("credited"), Some("1.50")), "{v}");
    assert_eq!(h.wellflow_net(PI), usd("1.50"));
    // Stripe re-sends the same event (same evt_ id): nothing.
    let v = outcome(&h, &fixture("charge.refunded")).await;
    assert_eq!((v["outcome"].as_str(), v["why"].as_str()), (Some("duplicate"), Some("duplicate_event")), "{v}");
    // The rest is refunded: amount_refunded 5000.
    let full = event("charge.refunded", "evt_full_refund_1", &[("/data/object/amount_refunded", json!(5000))]);
    assert_eq!(outcome(&h, &full).await["outcome"], "reversed");
    assert_eq!(h.wellflow_net(PI), Decimal::ZERO);
    assert_eq!(h.wellflow.balance("alice"), Decimal::ZERO);
    let record = h.stack.item(&format!("PAYMENT#{PI}"), "PAYMENT").await.unwrap();
    let seen = integration_tests::stack::text(&record, "refunded");
    assert_eq!(seen, "50.00");
}

#[tokio::test]
async fn the_same_sequence_with_the_refund_first_pays_nothing() {
    let h = harness().await;
    let full = event("charge.refunded", "evt_refund_first", &[("/data/object/amount_refunded", json!(5000))]);
    assert_eq!(outcome(&h, &full).await["outcome"], "recorded");
    let v = outcome(&h, &fixture("payment_intent.succeeded")).await;
    assert_eq!((v["outcome"].as_str(), v["bonus"]["amount"].as_str()), (Some("reversed"), Some("0.00")), "{v}");
    // A partial refund total arriving late (2000 < 5000) changes nothing either.
    assert_eq!(outcome(&h, &fixture("charge.refunded")).await["outcome"], "duplicate");
    assert_eq!(h.wellflow_net(PI), Decimal::ZERO);
    assert_eq!(h.wellflow.stats().requests, 0, "Wellflow was never called");
}

#[tokio::test]
async fn a_dispute_holds_the_bonus_back_and_winning_it_restores_it() {
    let h = harness().await;
    outcome(&h, &fixture("payment_intent.succeeded")).await;
    let v = outcome(&h, &fixture("charge.dispute.created")).await;
    assert_eq!((v["outcome"].as_str(), v["bonus"]["reason"].as_str()), (Some("reversed"), Some("disputed")), "{v}");
    assert_eq!(h.wellflow_net(PI), Decimal::ZERO);
    let won = outcome(&h, &fixture("charge.dispute.closed")).await;
    assert_eq!(won["outcome"], "credited", "{won}");
    assert_eq!(h.wellflow_net(PI), usd("2.50"));
    assert_eq!(h.bonus(PI).await.unwrap().status, BonusStatus::Credited);
    // A lost dispute on another payment keeps its amount reversed.
    let pi2 = "pi_3QrfTopup0002abcdEFGH";
    let ok2 = event("payment_intent.succeeded", "evt_pi2_ok", &[("/data/object/id", json!(pi2))]);
    outcome(&h, &ok2).await;
    let lost = event(
        "charge.dispute.closed",
        "evt_pi2_lost",
        &[("/data/object/payment_intent", json!(pi2)), ("/data/object/status", json!("lost"))],
    );
    assert_eq!(outcome(&h, &lost).await["outcome"], "reversed");
    assert_eq!(h.wellflow_net(pi2), Decimal::ZERO);
}

#[tokio::test]
async fn events_that_mean_nothing_to_us_are_answered_200_ignored_and_write_nothing() {
    let h = harness().await;
    let before = h.stack.all_items().await.len();
    let cases = [
        (fixture("payment_intent.created"), "unhandled_event_type"),
        (
            event("payment_intent.succeeded", "evt_eur", &[("/data/object/currency", json!("eur"))]),
            "unsupported_currency",
        ),
        (event("payment_intent.succeeded", "evt_live", &[("/livemode", json!(true))]), "livemode_mismatch"),
        (event("payment_intent.succeeded", "evt_nouser", &[("/data/object/metadata", json!({}))]), "no_user_id"),
        (
            event("checkout.session.completed", "evt_unpaid", &[("/data/object/payment_status", json!("unpaid"))]),
            "session_not_paid",
        ),
        (
            event("checkout.session.completed", "evt_sub", &[("/data/object/mode", json!("subscription"))]),
            "not_payment_mode",
        ),
    ];
    for (e, reason) in cases {
        let v = outcome(&h, &e).await;
        assert_eq!((v["outcome"].as_str(), v["reason"].as_str()), (Some("ignored"), Some(reason)), "{v}");
        assert_eq!(v["event_id"], e["id"]);
    }
    assert_eq!(h.stack.all_items().await.len(), before, "ignored events write nothing");
    assert_eq!(h.wellflow.stats().requests, 0);
}

#[tokio::test]
async fn every_signature_failure_is_refused_and_writes_nothing() {
    let h = harness().await;
    let before = h.stack.all_items().await.len();
    let body = fixture("payment_intent.succeeded").to_string();
    let now = adapters::clock::now().unix_timestamp();
    let sign = |secret: &str, t: i64, body: &str| webhook::stripe::sign(secret, t, body.as_bytes());
    let post = |sig: Option<String>, body: String| {
        let mut headers = vec![("content-type", "application/json".to_string())];
        if let Some(sig) = sig {
            headers.push(("stripe-signature", sig));
        }
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        integration_tests::requests::request("POST", "/webhooks/stripe", &headers, Body::Text(body))
    };
    let tampered = body.replace("5000", "500000");
    let cases = [
        (post(None, body.clone()), 400, "invalid_signature_header"),
        (post(Some("t=abc,v1=zz".into()), body.clone()), 400, "invalid_signature_header"),
        (post(Some(sign("whsec_wrong_secret_0123456789", now, &body)), body.clone()), 401, "invalid_signature"),
        (post(Some(sign(STRIPE_SECRET, now - 301, &body)), body.clone()), 401, "signature_expired"),
        (post(Some(sign(STRIPE_SECRET, now + 301, &body)), body.clone()), 401, "signature_expired"),
        (post(Some(sign(STRIPE_SECRET, now, &body)), tampered), 401, "invalid_signature"),
        // Only a v0 (test-mode legacy) signature: no v1 to check.
        (post(Some(format!("t={now},v0={}", "00".repeat(32))), body.clone()), 400, "invalid_signature_header"),
    ];
    for (req, status, code) in cases {
        let resp = webhook::handle(&h.billing, &h.webhook_cfg, &req).await;
        assert_eq!(resp.status(), status, "{code}");
        assert_eq!(header(&resp, "content-type"), Some("application/json"));
        assert_eq!(body_json(&resp)["error"]["code"], code);
    }
    // A body that is not a Stripe event, correctly signed: a 400, never a 5xx.
    let junk = r#"{"hello":"world"}"#.to_string();
    let resp = webhook::handle(&h.billing, &h.webhook_cfg, &post(Some(sign(STRIPE_SECRET, now, &junk)), junk)).await;
    assert_eq!(resp.status(), 400, "{}", body_json(&resp));
    assert_eq!(h.stack.all_items().await.len(), before, "no refused request wrote anything");
    assert_eq!(h.wellflow.stats().requests, 0);
    // Rotation: Stripe signs with the old and the new secret; either one configured verifies.
    let rotated = format!(
        "{},{}",
        sign("whsec_old_secret_0123456789", now, &body),
        sign(STRIPE_SECRET, now, &body).split(',').nth(1).unwrap()
    );
    let resp = webhook::handle(&h.billing, &h.webhook_cfg, &post(Some(rotated), body.clone())).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(body_json(&resp)["outcome"], "credited");
    assert_eq!(h.wellflow_net(PI), usd("2.50"));
}
