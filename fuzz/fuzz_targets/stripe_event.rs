//! Fuzz target: the Stripe endpoint's untrusted input — the raw body (`webhook::stripe::parse`)
//! and the `Stripe-Signature` header (`webhook::stripe::verify_signature`). Input:
//! `<header>\n<body>`. Seed it with the fixtures (`cp functions/webhook/tests/fixtures/stripe/*.json
//! fuzz/corpus/stripe_event/` after prefixing each with a `\n`) to start from real events.
//! Invariants: never a panic; a refusal is a 400 or a 413; an event never carries an amount
//! below zero or above the cap, a success always has a user and a positive amount; the same
//! bytes always give the same answer; the live and the test endpoint disagree only by
//! `livemode_mismatch`; a bad header is a 400 or 401; a fresh signature verifies, a changed
//! byte does not.
#![no_main]

use libfuzzer_sys::fuzz_target;
use referral_core::domain::money::MAX_AMOUNT;
use referral_core::domain::Usd;
use referral_core::payment::PaymentEventKind;
use webhook::stripe::{parse, reason, sign, verify_signature, StripeConfig, StripeOutcome};

const SECRET: &str = "whsec_fuzz_0123456789abcdefABCDEF";
const NOW: i64 = 1_795_000_000;

fn cfg(livemode: bool) -> StripeConfig {
    StripeConfig {
        secrets: vec![SECRET.to_string()],
        tolerance_secs: 300,
        livemode,
        user_id_metadata_key: "user_id".to_string(),
    }
}

fuzz_target!(|data: &[u8]| {
    let (header, body) = match data.iter().position(|b| *b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&data[..0], data),
    };

    // The parser: any bytes, never a panic, only caller errors, only sane amounts.
    let test = parse(body, &cfg(false));
    match &test {
        Err(e) => assert!(e.status == 400 || e.status == 413, "{e:?}"),
        Ok(StripeOutcome::Event(e)) => {
            let amount = match e.kind {
                PaymentEventKind::Succeeded { amount } => {
                    assert!(amount > Usd::ZERO && e.user_id.is_some(), "{e:?}");
                    Some(amount)
                }
                PaymentEventKind::Refunded { total } => Some(total),
                PaymentEventKind::Disputed { amount } => Some(amount),
                PaymentEventKind::DisputeWon | PaymentEventKind::DisputeLost => None,
            };
            if let Some(a) = amount {
                assert!(a >= Usd::ZERO && a.decimal() <= MAX_AMOUNT, "{e:?}");
            }
            assert!(e.payment_id.as_str().starts_with("pi_"), "{e:?}");
            assert!(e.provider_event_id.as_deref().is_some_and(|id| id.starts_with("evt_")), "{e:?}");
        }
        Ok(StripeOutcome::Ignored { reason, event_id, .. }) => {
            assert!(!reason.is_empty() && event_id.starts_with("evt_"));
        }
    }
    assert_eq!(parse(body, &cfg(false)), test, "not deterministic");

    // The other mode's endpoint: the envelope is read the same way (same refusals); past
    // it, exactly one of the two endpoints ignores the event as livemode_mismatch.
    let live = parse(body, &cfg(true));
    let mismatch = |o: &Result<StripeOutcome, _>| matches!(o, Ok(StripeOutcome::Ignored { reason, .. }) if *reason == reason::LIVEMODE_MISMATCH);
    match (&test, &live) {
        (Err(a), Err(b)) => assert_eq!(a, b),
        _ => assert!(mismatch(&test) != mismatch(&live), "test endpoint {test:?} vs live endpoint {live:?}"),
    }

    // The header: the verifier is the core's (fuzzed against forgeries by `webhook_body`);
    // here, any header is answered 400 or 401, never anything else.
    if let Err(e) = verify_signature(Some(&String::from_utf8_lossy(header)), body, &cfg(false), NOW) {
        assert!(e.status == 400 || e.status == 401, "{e:?}");
    }

    // A fresh Stripe-style signature of this body verifies; flipping any byte breaks it.
    let good = sign(SECRET, NOW - 10, body);
    assert_eq!(verify_signature(Some(&good), body, &cfg(false), NOW), Ok(()));
    if let Some(first) = body.first() {
        let mut tampered = body.to_vec();
        tampered[0] = first.wrapping_add(1);
        assert!(verify_signature(Some(&good), &tampered, &cfg(false), NOW).is_err());
    }
});
