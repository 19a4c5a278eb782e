//! The Stripe adapter against full Stripe events (`tests/fixtures/stripe/`, see its
//! README), signed the way Stripe signs them. Every mapping rule, every ignore reason and
//! every refusal is asserted here, with amounts to the cent.

use adapters::ApiError;
use proptest::prelude::*;
use referral_core::domain::money::MAX_AMOUNT;
use referral_core::domain::{PaymentId, Usd, UserId};
use referral_core::payment::{PaymentEvent, PaymentEventKind};
use serde_json::{json, Value};

use super::{parse, reason, sign, verify_signature, StripeConfig, StripeOutcome, MAX_BODY_BYTES};

const SECRET: &str = "whsec_test_0123456789abcdefABCDEF";
const PI: &str = "pi_3QrfTopup0001abcdEFGH";

macro_rules! fixtures {
    ($($name:literal),* $(,)?) => {
        /// The raw bytes of a fixture, exactly as stored (and signed).
        fn raw(name: &str) -> &'static [u8] {
            match name {
                $($name => include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/stripe/", $name, ".json")),)*
                other => panic!("no fixture {other}"),
            }
        }
        const FIXTURES: &[&str] = &[$($name),*];
    };
}

fixtures!(
    "payment_intent.succeeded",
    "payment_intent.created",
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "charge.refunded",
    "charge.dispute.created",
    "charge.dispute.closed",
);

fn cfg() -> StripeConfig {
    StripeConfig {
        secrets: vec![SECRET.to_string()],
        tolerance_secs: 300,
        livemode: false,
        user_id_metadata_key: "user_id".to_string(),
    }
}

fn fixture(name: &str) -> Value {
    serde_json::from_slice(raw(name)).unwrap()
}

/// The fixture with `changes` applied (JSON pointer → new value; `Value::Null` sets null,
/// a pointer ending in `-` removes the field).
fn edited(name: &str, changes: &[(&str, Value)]) -> Value {
    let mut v = fixture(name);
    for (pointer, new) in changes {
        if let Some(field) = pointer.strip_suffix("/-") {
            let (parent, key) = field.rsplit_once('/').unwrap();
            v.pointer_mut(parent).and_then(Value::as_object_mut).unwrap().remove(key).unwrap();
        } else {
            let (parent, key) = pointer.rsplit_once('/').unwrap();
            v.pointer_mut(parent).and_then(Value::as_object_mut).unwrap().insert(key.to_string(), new.clone());
        }
    }
    v
}

fn outcome_with(v: &Value, cfg: &StripeConfig) -> Result<StripeOutcome, ApiError> {
    parse(&serde_json::to_vec(v).unwrap(), cfg)
}

fn event(v: &Value) -> PaymentEvent {
    match outcome_with(v, &cfg()) {
        Ok(StripeOutcome::Event(e)) => e,
        other => panic!("expected an event, got {other:?}"),
    }
}

fn ignored(v: &Value) -> &'static str {
    match outcome_with(v, &cfg()) {
        Ok(StripeOutcome::Ignored { reason, event_id, event_type }) => {
            assert_eq!(event_id, v["id"].as_str().unwrap());
            assert_eq!(event_type, v["type"].as_str().unwrap());
            reason
        }
        other => panic!("expected ignored, got {other:?}"),
    }
}

fn refused_bytes(body: &[u8]) -> (u16, &'static str, String) {
    match parse(body, &cfg()) {
        Err(e) => (e.status.as_u16(), e.code, e.message),
        Ok(o) => panic!("expected a refusal, got {o:?}"),
    }
}

fn refused(v: &Value) -> (u16, &'static str, String) {
    refused_bytes(&serde_json::to_vec(v).unwrap())
}

fn pid(raw: &str) -> PaymentId {
    PaymentId::parse(raw).unwrap()
}

fn uid(raw: &str) -> Option<UserId> {
    Some(UserId::parse(raw).unwrap())
}

fn kind(v: &Value) -> PaymentEventKind {
    event(v).kind
}

fn succeeded(cents: i64) -> PaymentEventKind {
    PaymentEventKind::Succeeded { amount: Usd::cents(cents) }
}

// ---------------------------------------------------------------- signatures over raw bytes

#[test]
fn every_fixture_verifies_as_stored_and_fails_when_one_byte_changes() {
    let now = 1_764_000_100;
    for name in FIXTURES {
        let body = raw(name);
        let header = sign(SECRET, now - 5, body);
        assert_eq!(verify_signature(Some(&header), body, &cfg(), now), Ok(()), "{name}");
        let mut tampered = body.to_vec();
        let at = tampered.iter().position(|b| b.is_ascii_digit()).unwrap();
        tampered[at] = if tampered[at] == b'9' { b'8' } else { tampered[at] + 1 };
        let e = verify_signature(Some(&header), &tampered, &cfg(), now).unwrap_err();
        assert_eq!((e.status.as_u16(), e.code), (401, "invalid_signature"), "{name}");
        // The parser reads the very bytes that were verified: no re-serialisation.
        assert!(parse(body, &cfg()).is_ok(), "{name}");
    }
}

/// `signatures.json` holds headers our signer produced; `infra/stripe_signature_check.py`
/// (run by `make check`) feeds the same headers to stripe-python's
/// `stripe.Webhook.construct_event`. This test keeps the file honest: if our signer ever
/// changes, it fails here before the Python check would.
#[test]
fn golden_signatures_are_what_our_signer_produces() {
    let golden: Value = serde_json::from_str(include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/stripe/signatures.json"
    )))
    .unwrap();
    let cases = golden["cases"].as_array().unwrap();
    assert!(cases.len() >= FIXTURES.len());
    for case in cases {
        let body = raw(case["fixture"].as_str().unwrap());
        let t = case["timestamp"].as_i64().unwrap();
        let secrets: Vec<&str> = case["signed_with"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
        let mut expected = sign(secrets[0], t, body);
        for extra in &secrets[1..] {
            let other = sign(extra, t, body);
            expected.push_str(&other[other.find(",v1=").unwrap()..]);
        }
        if let Some(v0) = case["v0"].as_str() {
            expected.push_str(&format!(",v0={v0}"));
        }
        assert_eq!(case["header"].as_str().unwrap(), expected, "{case}");
        for secret in &secrets {
            let one = StripeConfig { secrets: vec![secret.to_string()], ..cfg() };
            assert_eq!(verify_signature(Some(&expected), body, &one, t + 1), Ok(()), "{case}");
        }
    }
}

// ---------------------------------------------------------------- successes

#[test]
fn payment_intent_succeeded_is_a_success_of_amount_received() {
    let e = event(&fixture("payment_intent.succeeded"));
    assert_eq!(
        e,
        PaymentEvent {
            payment_id: pid(PI),
            user_id: uid("u_1"),
            kind: succeeded(5000),
            occurred_at: "2025-11-24T16:00:00.000Z".to_string(),
            provider_event_id: Some("evt_3QrfTopup0001PaymentSucc".to_string()),
        }
    );
    let PaymentEventKind::Succeeded { amount } = e.kind else { unreachable!() };
    assert_eq!(amount.to_string(), "50.00");
    // A partial capture: what was received counts, not what was asked for.
    let partial = edited("payment_intent.succeeded", &[("/data/object/amount_received", json!(3001))]);
    assert_eq!(kind(&partial), succeeded(3001));
    let odd = edited("payment_intent.succeeded", &[("/data/object/amount_received", json!(12345))]);
    let PaymentEventKind::Succeeded { amount } = kind(&odd) else { unreachable!() };
    assert_eq!(amount.to_string(), "123.45");
    let cent = edited("payment_intent.succeeded", &[("/data/object/amount_received", json!(1))]);
    assert_eq!(kind(&cent), PaymentEventKind::Succeeded { amount: Usd::parse_positive("0.01").unwrap() });
}

#[test]
fn a_paid_checkout_session_is_a_success_of_amount_total_for_its_payment_intent() {
    let e = event(&fixture("checkout.session.completed"));
    assert_eq!(
        e,
        PaymentEvent {
            payment_id: pid(PI),
            user_id: uid("u_1"), // from client_reference_id
            kind: succeeded(5000),
            occurred_at: "2025-11-24T16:00:02.000Z".to_string(),
            provider_event_id: Some("evt_1QrfTopup0001CheckoutDone".to_string()),
        }
    );
    // The same payment seen through payment_intent.succeeded: same payment id and amount,
    // different event ids (the core's per-payment record pays it once).
    let via_intent = event(&fixture("payment_intent.succeeded"));
    assert_eq!((&via_intent.payment_id, via_intent.kind), (&e.payment_id, e.kind));
    assert_ne!(via_intent.provider_event_id, e.provider_event_id);

    let e = event(&fixture("checkout.session.async_payment_succeeded"));
    assert_eq!(
        (e.payment_id.as_str(), e.user_id, e.kind, e.occurred_at.as_str()),
        ("pi_3QrfTopup0002achDEBIT", uid("u_2"), succeeded(12345), "2025-11-27T16:00:00.000Z")
    );
    assert_eq!(e.provider_event_id.as_deref(), Some("evt_1QrfTopup0002CheckoutAsyncOk"));
}

#[test]
fn the_session_user_comes_from_metadata_first_then_client_reference_id() {
    let both = edited(
        "checkout.session.completed",
        &[
            ("/data/object/metadata", json!({"user_id": "u_meta"})),
            ("/data/object/client_reference_id", json!("u_ref")),
        ],
    );
    assert_eq!(event(&both).user_id, uid("u_meta"));
    let empty_meta = edited("checkout.session.completed", &[("/data/object/metadata", json!({"user_id": ""}))]);
    assert_eq!(event(&empty_meta).user_id, uid("u_1"));
    let custom = StripeConfig { user_id_metadata_key: "referral_user".into(), ..cfg() };
    let v = edited(
        "payment_intent.succeeded",
        &[("/data/object/metadata", json!({"referral_user": "u_9", "user_id": "u_1"}))],
    );
    let Ok(StripeOutcome::Event(e)) = outcome_with(&v, &custom) else { panic!() };
    assert_eq!(e.user_id, uid("u_9"));
}

#[test]
fn sessions_that_are_not_paid_one_off_payments_are_ignored() {
    let session = |changes: &[(&str, Value)]| edited("checkout.session.completed", changes);
    assert_eq!(ignored(&session(&[("/data/object/payment_status", json!("unpaid"))])), reason::SESSION_NOT_PAID);
    assert_eq!(
        ignored(&session(&[
            ("/data/object/payment_status", json!("no_payment_required")),
            ("/data/object/amount_total", json!(0))
        ])),
        reason::SESSION_NOT_PAID
    );
    let subscription = session(&[
        ("/data/object/mode", json!("subscription")),
        ("/data/object/payment_intent", Value::Null),
        ("/data/object/subscription", json!("sub_1QrfFAKE0001")),
        ("/data/object/invoice", json!("in_1QrfFAKE0001")),
    ]);
    assert_eq!(ignored(&subscription), reason::NOT_PAYMENT_MODE);
    let setup = session(&[
        ("/data/object/mode", json!("setup")),
        ("/data/object/payment_status", json!("no_payment_required")),
        ("/data/object/payment_intent", Value::Null),
        ("/data/object/amount_total", Value::Null),
        ("/data/object/amount_subtotal", Value::Null),
        ("/data/object/currency", Value::Null),
        ("/data/object/setup_intent", json!("seti_1QrfFAKE0001")),
    ]);
    assert_eq!(ignored(&setup), reason::NOT_PAYMENT_MODE);
    assert_eq!(ignored(&session(&[("/data/object/payment_intent", Value::Null)])), reason::NO_PAYMENT_INTENT);
    assert_eq!(ignored(&session(&[("/data/object/payment_intent/-", Value::Null)])), reason::NO_PAYMENT_INTENT);
    // The async event is held to the same conditions.
    let async_unpaid =
        edited("checkout.session.async_payment_succeeded", &[("/data/object/payment_status", json!("unpaid"))]);
    assert_eq!(ignored(&async_unpaid), reason::SESSION_NOT_PAID);
    // An expanded PaymentIntent is read by its id.
    let expanded =
        session(&[("/data/object/payment_intent", fixture("payment_intent.succeeded")["data"]["object"].clone())]);
    assert_eq!(event(&expanded).payment_id, pid(PI));
}

#[test]
fn a_paid_session_must_carry_its_amount_and_currency() {
    let (status, code, message) =
        refused(&edited("checkout.session.completed", &[("/data/object/amount_total", Value::Null)]));
    assert_eq!((status, code), (400, "invalid_field"));
    assert_eq!(message, "data.object.amount_total must be an integer, got null");
    let (_, code, message) = refused(&edited("checkout.session.completed", &[("/data/object/currency", Value::Null)]));
    assert_eq!((code, message.as_str()), ("invalid_field", "data.object.currency must be a string, got null"));
}

#[test]
fn a_success_of_zero_is_ignored() {
    assert_eq!(
        ignored(&edited("payment_intent.succeeded", &[("/data/object/amount_received", json!(0))])),
        reason::ZERO_AMOUNT
    );
    assert_eq!(
        ignored(&edited("checkout.session.completed", &[("/data/object/amount_total", json!(0))])),
        reason::ZERO_AMOUNT
    );
}

#[test]
fn a_success_without_a_user_is_ignored_not_refused() {
    let no_meta = edited("payment_intent.succeeded", &[("/data/object/metadata", json!({"order_ref": "topup-0001"}))]);
    assert_eq!(ignored(&no_meta), reason::NO_USER_ID);
    let null_meta = edited("payment_intent.succeeded", &[("/data/object/metadata", Value::Null)]);
    assert_eq!(ignored(&null_meta), reason::NO_USER_ID);
    let session = edited(
        "checkout.session.completed",
        &[("/data/object/client_reference_id", Value::Null), ("/data/object/metadata", json!({}))],
    );
    assert_eq!(ignored(&session), reason::NO_USER_ID);
    // The key is the configured one: user_id under another key does not count.
    let other_key = StripeConfig { user_id_metadata_key: "referral_user".into(), ..cfg() };
    let Ok(StripeOutcome::Ignored { reason, .. }) = outcome_with(&fixture("payment_intent.succeeded"), &other_key)
    else {
        panic!()
    };
    assert_eq!(reason, reason::NO_USER_ID);
}

#[test]
fn a_success_naming_an_impossible_user_is_refused_with_the_field() {
    let v = edited("payment_intent.succeeded", &[("/data/object/metadata", json!({"user_id": "user 1"}))]);
    let (status, code, message) = refused(&v);
    assert_eq!((status, code), (400, "invalid_user_id"));
    assert!(message.starts_with("data.object.metadata.user_id is not a valid user id"), "{message}");
    let v = edited("checkout.session.completed", &[("/data/object/client_reference_id", json!("a/b"))]);
    let (_, code, message) = refused(&v);
    assert_eq!(code, "invalid_user_id");
    assert!(message.starts_with("data.object.client_reference_id"), "{message}");
}

// ---------------------------------------------------------------- refunds and disputes

#[test]
fn charge_refunded_reports_the_cumulative_total_for_the_payment_intent() {
    let e = event(&fixture("charge.refunded"));
    assert_eq!(
        e,
        PaymentEvent {
            payment_id: pid(PI),
            user_id: uid("u_1"), // PaymentIntent metadata, copied to the Charge by Stripe
            kind: PaymentEventKind::Refunded { total: Usd::cents(2000) },
            occurred_at: "2025-11-25T16:00:00.000Z".to_string(),
            provider_event_id: Some("evt_3QrfTopup0001ChargeRefund".to_string()),
        }
    );
    // The second partial refund carries the running total, not the increment.
    let full = edited(
        "charge.refunded",
        &[
            ("/data/object/amount_refunded", json!(5000)),
            ("/data/object/refunded", json!(true)),
            ("/id", json!("evt_3QrfTopup0001ChargeRefun2")),
        ],
    );
    assert_eq!(kind(&full), PaymentEventKind::Refunded { total: Usd::cents(5000) });
    let PaymentEventKind::Refunded { total } = kind(&full) else { unreachable!() };
    assert_eq!(total.to_string(), "50.00");
}

#[test]
fn refunds_and_disputes_need_no_user() {
    for name in ["charge.refunded", "charge.dispute.created", "charge.dispute.closed"] {
        let none = edited(name, &[("/data/object/metadata", json!({}))]);
        assert_eq!(event(&none).user_id, None, "{name}");
        // A user id we could not use is only a hint: the event still lands.
        let bad = edited(name, &[("/data/object/metadata", json!({"user_id": "not a user"}))]);
        assert_eq!(event(&bad).user_id, None, "{name}");
        let named = edited(name, &[("/data/object/metadata", json!({"user_id": "u_7"}))]);
        assert_eq!(event(&named).user_id, uid("u_7"), "{name}");
    }
    assert_eq!(event(&fixture("charge.dispute.created")).user_id, None); // dispute metadata is its own
}

#[test]
fn objects_without_a_payment_intent_are_ignored() {
    for name in ["charge.refunded", "charge.dispute.created", "charge.dispute.closed"] {
        assert_eq!(
            ignored(&edited(name, &[("/data/object/payment_intent", Value::Null)])),
            reason::NO_PAYMENT_INTENT,
            "{name}"
        );
    }
}

#[test]
fn disputes_hold_the_disputed_amount_and_are_released_when_won() {
    let e = event(&fixture("charge.dispute.created"));
    assert_eq!(
        (e.payment_id.as_str(), e.kind, e.occurred_at.as_str(), e.provider_event_id.as_deref()),
        (
            PI,
            PaymentEventKind::Disputed { amount: Usd::cents(5000) },
            "2025-11-26T16:00:00.000Z",
            Some("evt_1QrfTopup0001DisputeOpen")
        )
    );
    // Part of the order disputed: that part is held.
    let partial = edited("charge.dispute.created", &[("/data/object/amount", json!(1234))]);
    assert_eq!(kind(&partial), PaymentEventKind::Disputed { amount: Usd::cents(1234) });
    // An inquiry is held too (it may escalate; we do not follow charge.dispute.updated).
    let inquiry = edited("charge.dispute.created", &[("/data/object/status", json!("warning_needs_response"))]);
    assert_eq!(kind(&inquiry), PaymentEventKind::Disputed { amount: Usd::cents(5000) });
    // The charge reference is not needed once payment_intent names the payment.
    let no_charge =
        edited("charge.dispute.created", &[("/data/object/charge", json!({"id": "ch_x", "object": "charge"}))]);
    assert_eq!(event(&no_charge).payment_id, pid(PI));

    let closed = |status: &str| kind(&edited("charge.dispute.closed", &[("/data/object/status", json!(status))]));
    assert_eq!(kind(&fixture("charge.dispute.closed")), PaymentEventKind::DisputeWon);
    assert_eq!(closed("won"), PaymentEventKind::DisputeWon);
    assert_eq!(closed("warning_closed"), PaymentEventKind::DisputeWon);
    assert_eq!(closed("prevented"), PaymentEventKind::DisputeWon);
    assert_eq!(closed("lost"), PaymentEventKind::DisputeLost { amount: Usd::cents(5000) });
    for open in ["needs_response", "under_review", "warning_needs_response", "warning_under_review", "something_new"] {
        let v = edited("charge.dispute.closed", &[("/data/object/status", json!(open))]);
        assert_eq!(ignored(&v), reason::DISPUTE_NOT_CLOSED, "{open}");
    }
}

// ---------------------------------------------------------------- what is ignored

#[test]
fn other_event_types_are_ignored() {
    assert_eq!(ignored(&fixture("payment_intent.created")), reason::UNHANDLED_EVENT_TYPE);
    for other in [
        "charge.succeeded",
        "charge.refund.updated",
        "charge.dispute.updated",
        "charge.dispute.funds_withdrawn",
        "checkout.session.expired",
        "checkout.session.async_payment_failed",
        "payment_intent.payment_failed",
        "customer.created",
        "invoice.paid",
        "v1.billing.meter.error_report_triggered",
    ] {
        let v = edited("charge.refunded", &[("/type", json!(other))]);
        assert_eq!(ignored(&v), reason::UNHANDLED_EVENT_TYPE, "{other}");
    }
    // Unhandled means unread: an unhandled event's object may be anything.
    let odd = edited(
        "payment_intent.created",
        &[("/type", json!("plan.created")), ("/data/object", json!({"object": "plan", "amount": "x"}))],
    );
    assert_eq!(ignored(&odd), reason::UNHANDLED_EVENT_TYPE);
}

#[test]
fn currency_is_compared_case_insensitively_and_only_usd_counts() {
    for usd in ["usd", "USD", "Usd"] {
        let v = edited("payment_intent.succeeded", &[("/data/object/currency", json!(usd))]);
        assert_eq!(kind(&v), succeeded(5000), "{usd}");
    }
    for name in [
        "payment_intent.succeeded",
        "checkout.session.completed",
        "checkout.session.async_payment_succeeded",
        "charge.refunded",
        "charge.dispute.created",
        "charge.dispute.closed",
    ] {
        for other in ["eur", "jpy", "EUR", "usdc", ""] {
            let v = edited(name, &[("/data/object/currency", json!(other))]);
            assert_eq!(ignored(&v), reason::UNSUPPORTED_CURRENCY, "{name} {other}");
        }
    }
    // ¥5000 is not 50.00 of anything we pay on: a zero-decimal amount is never converted.
    let yen = edited(
        "payment_intent.succeeded",
        &[("/data/object/currency", json!("jpy")), ("/data/object/amount_received", json!(500_000_000_000i64))],
    );
    assert_eq!(ignored(&yen), reason::UNSUPPORTED_CURRENCY);
}

#[test]
fn events_of_the_other_mode_are_ignored() {
    let live = StripeConfig { livemode: true, ..cfg() };
    for name in FIXTURES {
        let Ok(StripeOutcome::Ignored { reason, event_id, .. }) = parse(raw(name), &live) else { panic!("{name}") };
        assert_eq!((reason, event_id.as_str()), (reason::LIVEMODE_MISMATCH, fixture(name)["id"].as_str().unwrap()));
    }
    let live_event =
        edited("payment_intent.succeeded", &[("/livemode", json!(true)), ("/data/object/livemode", json!(true))]);
    assert!(matches!(outcome_with(&live_event, &live), Ok(StripeOutcome::Event(_))));
    assert_eq!(ignored(&live_event), reason::LIVEMODE_MISMATCH);
}

// ---------------------------------------------------------------- what is refused

#[test]
fn bodies_that_are_not_stripe_events_are_400() {
    assert_eq!(refused_bytes(b"").1, "invalid_json");
    assert_eq!(refused_bytes(b"{not json").1, "invalid_json");
    assert_eq!(refused_bytes(&[0xff, 0xfe, b'{']).1, "invalid_json");
    assert_eq!(
        refused_bytes(b"[1,2]"),
        (400, "invalid_body", "request body must be a JSON object, got an array".into())
    );
    assert_eq!(refused_bytes(b"{}").1, "invalid_stripe_event");
    // Our own generic contract is not a Stripe event.
    let generic = br#"{"payment_id":"pay_1","user_id":"u1","amount":"50.00","currency":"USD","type":"topup.succeeded","occurred_at":"2026-11-25T09:00:00Z"}"#;
    assert_eq!(refused_bytes(generic).1, "invalid_stripe_event");
    for field in ["id", "object", "type", "created", "livemode", "data"] {
        let v = edited("payment_intent.succeeded", &[(&format!("/{field}/-"), Value::Null)]);
        let (status, code, message) = refused(&v);
        assert_eq!(status, 400, "{field}");
        assert!(["invalid_stripe_event", "invalid_event_id"].contains(&code), "{field}: {code}");
        assert!(message.contains(field), "{field}: {message}");
    }
    let (_, code, message) = refused(&edited("payment_intent.succeeded", &[("/data/object/-", Value::Null)]));
    assert_eq!(
        (code, message.as_str()),
        ("invalid_stripe_event", "data.object must be an object, got nothing (the field is missing)")
    );
    let cases: &[(&str, Value, &str)] = &[
        ("/object", json!("payment_intent"), "invalid_stripe_event"),
        ("/object", json!("v2.core.event"), "invalid_stripe_event"),
        ("/id", json!("pi_123"), "invalid_event_id"),
        ("/id", json!("evt_a b"), "invalid_event_id"),
        ("/id", json!(42), "invalid_stripe_event"),
        ("/type", json!("Payment Intent Succeeded"), "invalid_stripe_event"),
        ("/created", json!("1764000000"), "invalid_stripe_event"),
        ("/created", json!(-1), "invalid_stripe_event"),
        ("/created", json!(i64::MAX), "invalid_stripe_event"),
        ("/livemode", json!("false"), "invalid_stripe_event"),
        ("/data", json!([]), "invalid_stripe_event"),
        ("/data/object", json!("pi_3QrfTopup0001abcdEFGH"), "invalid_stripe_event"),
    ];
    for (pointer, value, expected) in cases {
        let v = edited("payment_intent.succeeded", &[(pointer, value.clone())]);
        assert_eq!(refused(&v).1, *expected, "{pointer} = {value}");
    }
    let thin = refused(&edited("payment_intent.succeeded", &[("/object", json!("v2.core.event"))])).2;
    assert!(thin.contains("thin event"), "{thin}");
}

#[test]
fn bodies_above_the_limit_are_413() {
    let mut v = fixture("payment_intent.succeeded");
    v["data"]["object"]["description"] = json!("x".repeat(MAX_BODY_BYTES));
    let (status, code, _) = refused(&v);
    assert_eq!((status, code), (413, "payload_too_large"));
}

#[test]
fn wrong_typed_fields_on_handled_events_are_400_naming_the_field() {
    let cases: &[(&str, &str, Value, &str, &str)] = &[
        (
            "payment_intent.succeeded",
            "amount_received",
            json!("5000"),
            "invalid_field",
            "data.object.amount_received must be an integer, got a string",
        ),
        (
            "payment_intent.succeeded",
            "amount_received",
            json!(50.0),
            "invalid_field",
            "data.object.amount_received must be an integer, got a non-integer number",
        ),
        (
            "payment_intent.succeeded",
            "amount_received",
            Value::Null,
            "invalid_field",
            "data.object.amount_received must be an integer, got null",
        ),
        (
            "payment_intent.succeeded",
            "currency",
            json!(840),
            "invalid_field",
            "data.object.currency must be a string, got an integer",
        ),
        (
            "payment_intent.succeeded",
            "id",
            json!("ch_3QrfTopup0001abcdEFGH"),
            "invalid_payment_intent",
            "data.object.id must be a PaymentIntent id (pi_ and letters, digits, _)",
        ),
        (
            "payment_intent.succeeded",
            "metadata",
            json!(["u_1"]),
            "invalid_field",
            "data.object.metadata must be an object, got an array",
        ),
        (
            "payment_intent.succeeded",
            "object",
            json!("charge"),
            "invalid_field",
            "data.object.object must be \"payment_intent\" for this event type, got \"charge\"",
        ),
        (
            "checkout.session.completed",
            "mode",
            json!(1),
            "invalid_field",
            "data.object.mode must be a string, got an integer",
        ),
        (
            "checkout.session.completed",
            "payment_intent",
            json!(7),
            "invalid_field",
            "data.object.payment_intent must be an id string, an expanded object or null, got an integer",
        ),
        (
            "checkout.session.completed",
            "payment_intent",
            json!("pi_../x"),
            "invalid_payment_intent",
            "data.object.payment_intent must be a PaymentIntent id (pi_ and letters, digits, _)",
        ),
        (
            "checkout.session.completed",
            "client_reference_id",
            json!({"id": "u_1"}),
            "invalid_field",
            "data.object.client_reference_id must be a string or null, got an object",
        ),
        (
            "checkout.session.completed",
            "amount_total",
            json!("50.00"),
            "invalid_field",
            "data.object.amount_total must be an integer or null, got a string",
        ),
        (
            "charge.refunded",
            "amount_refunded",
            json!(true),
            "invalid_field",
            "data.object.amount_refunded must be an integer, got a boolean",
        ),
        (
            "charge.refunded",
            "payment_intent",
            json!("cs_test_123"),
            "invalid_payment_intent",
            "data.object.payment_intent must be a PaymentIntent id (pi_ and letters, digits, _)",
        ),
        (
            "charge.refunded",
            "object",
            json!("dispute"),
            "invalid_field",
            "data.object.object must be \"charge\" for this event type, got \"dispute\"",
        ),
        (
            "charge.dispute.created",
            "amount",
            json!("5000"),
            "invalid_field",
            "data.object.amount must be an integer, got a string",
        ),
        (
            "charge.dispute.closed",
            "status",
            Value::Null,
            "invalid_field",
            "data.object.status must be a string, got null",
        ),
        (
            "charge.dispute.closed",
            "currency",
            json!(["usd"]),
            "invalid_field",
            "data.object.currency must be a string, got an array",
        ),
    ];
    for (name, field, value, code, message) in cases {
        let v = edited(name, &[(&format!("/data/object/{field}"), value.clone())]);
        assert_eq!(refused(&v), (400, *code, message.to_string()), "{name} {field} = {value}");
    }
}

#[test]
fn negative_or_over_cap_amounts_are_400_naming_the_field() {
    let cap_cents = 100_000_000i64; // USD 1,000,000.00 = MAX_AMOUNT
    assert_eq!(Usd::cents(cap_cents).decimal(), MAX_AMOUNT);
    for (name, field) in [
        ("payment_intent.succeeded", "amount_received"),
        ("checkout.session.completed", "amount_total"),
        ("checkout.session.async_payment_succeeded", "amount_total"),
        ("charge.refunded", "amount_refunded"),
        ("charge.dispute.created", "amount"),
    ] {
        let pointer = format!("/data/object/{field}");
        for bad in [json!(-1), json!(-5000), json!(cap_cents + 1), json!(i64::MAX), json!(u64::MAX)] {
            let (status, code, message) = refused(&edited(name, &[(&pointer, bad.clone())]));
            assert_eq!((status, code), (400, "invalid_amount"), "{name} {bad}");
            assert!(message.starts_with(&format!("data.object.{field} ")), "{message}");
        }
        let at_cap = event(&edited(name, &[(&pointer, json!(cap_cents))]));
        let amount = match at_cap.kind {
            PaymentEventKind::Succeeded { amount } | PaymentEventKind::Disputed { amount } => amount,
            PaymentEventKind::Refunded { total } => total,
            other => panic!("{other:?}"),
        };
        assert_eq!(amount.to_string(), "1000000.00", "{name}");
    }
}

#[test]
fn unknown_fields_are_ignored_everywhere() {
    for name in FIXTURES {
        let baseline = parse(raw(name), &cfg()).unwrap();
        let mut v = fixture(name);
        v["brand_new_envelope_field"] = json!({"nested": [1, 2, {"deep": null}]});
        v["data"]["brand_new_data_field"] = json!("x");
        let object = v["data"]["object"].as_object_mut().unwrap();
        object.insert("brand_new_object_field".into(), json!([{"amount": "not ours"}]));
        object.insert("amount_details".into(), json!({"tip": {"amount": 100}, "future": true}));
        if let Some(Value::Object(metadata)) = object.get_mut("metadata") {
            metadata.insert("campaign".into(), json!("winter"));
        }
        assert_eq!(outcome_with(&v, &cfg()).unwrap(), baseline, "{name}");
    }
}

// ---------------------------------------------------------------- properties

/// Any JSON value, a few levels deep, with the kinds of leaves Stripe objects have.
fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-1e12f64..1e12).prop_map(Value::from),
        "[a-z_.]{0,12}".prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::from),
        Just(json!("usd")),
        Just(json!("pi_3QrfTopup0001abcdEFGH")),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map("[a-z_]{1,10}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// The fields the parser reads, by object.
const READ_FIELDS: &[&str] = &[
    "object",
    "id",
    "amount",
    "amount_received",
    "amount_total",
    "amount_refunded",
    "currency",
    "metadata",
    "mode",
    "payment_status",
    "payment_intent",
    "client_reference_id",
    "status",
    "charge",
];

/// The invariants of any outcome: never an amount below zero or above the cap, a
/// `pi_` payment id, the event id as sent; refusals are 400 or 413 only.
fn check_invariants(outcome: Result<StripeOutcome, ApiError>) -> Result<(), TestCaseError> {
    match outcome {
        Ok(StripeOutcome::Event(e)) => {
            let amount = match e.kind {
                PaymentEventKind::Succeeded { amount } => {
                    prop_assert!(amount > Usd::ZERO && e.user_id.is_some());
                    Some(amount)
                }
                PaymentEventKind::Disputed { amount } | PaymentEventKind::DisputeLost { amount } => Some(amount),
                PaymentEventKind::Refunded { total } => Some(total),
                PaymentEventKind::DisputeWon => None,
            };
            if let Some(amount) = amount {
                prop_assert!(amount >= Usd::ZERO && amount.decimal() <= MAX_AMOUNT, "{amount:?}");
                prop_assert!(amount.decimal().scale() == 2);
            }
            prop_assert!(e.payment_id.as_str().starts_with("pi_"));
            prop_assert!(e.provider_event_id.as_deref().is_some_and(|id| id.starts_with("evt_")));
        }
        Ok(StripeOutcome::Ignored { reason, event_id, .. }) => {
            prop_assert!(!reason.is_empty() && event_id.starts_with("evt_"));
        }
        Err(e) => prop_assert!(e.status == 400 || e.status == 413, "{e}"),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..512)) {
        check_invariants(parse(&body, &cfg()))?;
    }

    #[test]
    fn arbitrary_json_never_panics(value in arb_json()) {
        check_invariants(outcome_with(&value, &cfg()))?;
    }

    /// Full events with any of the fields we read replaced by anything at all.
    #[test]
    fn mutated_fixtures_keep_the_invariants(
        which in 0..FIXTURES.len(),
        edits in prop::collection::vec((prop::sample::select(READ_FIELDS), arb_json()), 1..4),
        envelope_type in prop::option::of(prop::sample::select(FIXTURES)),
    ) {
        let mut v = fixture(FIXTURES[which]);
        if let Some(t) = envelope_type {
            v["type"] = json!(t);
        }
        for (field, value) in edits {
            v["data"]["object"][field] = value;
        }
        check_invariants(outcome_with(&v, &cfg()))?;
    }

    /// Valid events round-trip: what Stripe says is what the core gets, to the cent.
    #[test]
    fn valid_successes_round_trip(
        cents in 1i64..=100_000_000,
        user in "[A-Za-z0-9_:@.-]{1,40}",
        pi_suffix in "[A-Za-z0-9]{8,40}",
        // Up to now: a `created` more than 5 minutes ahead of our clock is refused (below).
        created in 1_000_000_000i64..1_790_000_000,
        event_suffix in "[A-Za-z0-9]{8,40}",
        via in prop::sample::select(&["payment_intent.succeeded", "checkout.session.completed", "checkout.session.async_payment_succeeded"][..]),
        currency in prop::sample::select(&["usd", "USD"][..]),
    ) {
        let pi = format!("pi_{pi_suffix}");
        let evt = format!("evt_{event_suffix}");
        let amount_field = if via == "payment_intent.succeeded" { "amount_received" } else { "amount_total" };
        let pi_field = if via == "payment_intent.succeeded" { "id" } else { "payment_intent" };
        let v = edited(via, &[
            ("/id", json!(evt)),
            ("/created", json!(created)),
            (&format!("/data/object/{amount_field}"), json!(cents)),
            (&format!("/data/object/{pi_field}"), json!(pi)),
            ("/data/object/currency", json!(currency)),
            ("/data/object/metadata", json!({"user_id": user})),
        ]);
        let body = serde_json::to_vec(&v).unwrap();
        let header = sign(SECRET, created, &body);
        prop_assert_eq!(verify_signature(Some(&header), &body, &cfg(), created + 10), Ok(()));
        let expected = PaymentEvent {
            payment_id: pid(&pi),
            user_id: uid(&user),
            kind: succeeded(cents),
            occurred_at: referral_core::clock::rfc3339(time::OffsetDateTime::from_unix_timestamp(created).unwrap()),
            provider_event_id: Some(evt),
        };
        prop_assert_eq!(parse(&body, &cfg()).unwrap(), StripeOutcome::Event(expected));
    }

    #[test]
    fn events_created_in_the_future_are_refused(ahead in 360i64..4_000_000_000) {
        let created = referral_core::clock::now().unix_timestamp() + ahead;
        let body = serde_json::to_vec(&edited("payment_intent.succeeded", &[("/created", json!(created))])).unwrap();
        let err = parse(&body, &cfg()).unwrap_err();
        prop_assert_eq!((err.status.as_u16(), err.code), (400, "invalid_stripe_event"));
        prop_assert!(err.message.contains("ahead of our clock"), "{}", err.message);
    }

    #[test]
    fn valid_refunds_and_disputes_round_trip(cents in 0i64..=100_000_000, which in 0usize..2) {
        let (name, field) = [("charge.refunded", "amount_refunded"), ("charge.dispute.created", "amount")][which];
        let e = event(&edited(name, &[(&format!("/data/object/{field}"), json!(cents))]));
        let expected = if which == 0 {
            PaymentEventKind::Refunded { total: Usd::cents(cents) }
        } else {
            PaymentEventKind::Disputed { amount: Usd::cents(cents) }
        };
        prop_assert_eq!((e.payment_id, e.kind), (pid(PI), expected));
    }
}
