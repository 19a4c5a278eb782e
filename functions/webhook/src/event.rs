//! Our generic payment-event contract (`POST /webhooks/payments`), validated into the core's
//! provider-neutral [`PaymentEvent`] (pure, no I/O).
//!
//! ```json
//! {"payment_id":"pay_123","user_id":"u_42","amount":"50.00","currency":"USD",
//!  "type":"topup.succeeded","occurred_at":"2026-11-25T09:00:00Z"}
//! ```
//!
//! | `type`               | `amount` means                                   |
//! |----------------------|--------------------------------------------------|
//! | `topup.succeeded`    | what the payer paid                              |
//! | `topup.refunded`     | the payment's **total refunded so far** (cumulative: a second partial refund of 20.00 after one of 40.00 is sent as 60.00) |
//! | `topup.disputed`     | the amount under dispute                         |
//! | `topup.dispute_won`  | the disputed amount (restored)                   |
//! | `topup.dispute_lost` | the disputed amount (stays reversed)             |
//!
//! Unknown extra fields are ignored (providers add fields); the listed ones are required
//! (docs/api/input-policy.md). `amount` is a canonical decimal string (`^\d{1,7}(\.\d{1,2})?$`,
//! no leading zeros, at most 1000000.00); `occurred_at` an RFC 3339 time at most 5 minutes
//! ahead of our clock. Currency must be `USD` (compared case-insensitively).

use adapters::clock;
use adapters::domain::{PaymentId, Usd, UserId};
use adapters::ApiError;
use referral_core::payment::PaymentEventKind;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct RawEvent {
    payment_id: String,
    user_id: String,
    amount: String,
    currency: String,
    #[serde(rename = "type")]
    kind: String,
    occurred_at: String,
}

pub use referral_core::payment::PaymentEvent;

/// The event types of the generic contract.
pub const EVENT_TYPES: [&str; 5] =
    ["topup.succeeded", "topup.refunded", "topup.disputed", "topup.dispute_won", "topup.dispute_lost"];

/// Parses and validates the raw body (already signature-checked).
pub fn parse(body: &[u8]) -> Result<PaymentEvent, ApiError> {
    let raw: RawEvent = adapters::http::parse_json(body)?;
    let payment_id = PaymentId::parse(&raw.payment_id)?;
    let user_id = UserId::parse(&raw.user_id)?;
    let amount = Usd::parse_positive(&raw.amount)?;
    if !raw.currency.eq_ignore_ascii_case("USD") {
        return Err(ApiError::unprocessable(
            "unsupported_currency",
            format!(
                "only USD top-ups earn referral bonuses, got {:?}",
                raw.currency.chars().take(8).collect::<String>()
            ),
        ));
    }
    let occurred_at = referral_core::payment::event::occurred_at(&raw.occurred_at, clock::now())?;
    let kind = match raw.kind.as_str() {
        "topup.succeeded" => PaymentEventKind::Succeeded { amount },
        "topup.refunded" => PaymentEventKind::Refunded { total: amount },
        "topup.disputed" => PaymentEventKind::Disputed { amount },
        "topup.dispute_won" => PaymentEventKind::DisputeWon,
        "topup.dispute_lost" => PaymentEventKind::DisputeLost { amount },
        _ => {
            return Err(ApiError::bad_request(
                "unknown_event_type",
                format!("type must be one of {}", EVENT_TYPES.join(", ")),
            ))
        }
    };
    Ok(PaymentEvent { payment_id, user_id: Some(user_id), kind, occurred_at, provider_event_id: None })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(amount: &str, currency: &str, kind: &str) -> Vec<u8> {
        format!(
            r#"{{"payment_id":"pay_1","user_id":"u_1","amount":"{amount}","currency":"{currency}","type":"{kind}","occurred_at":"2026-11-25T09:00:00Z","extra":1}}"#
        )
        .into_bytes()
    }

    #[test]
    fn parses_every_event_type() {
        let e = parse(&body("50.00", "USD", "topup.succeeded")).unwrap();
        assert_eq!(e.kind, PaymentEventKind::Succeeded { amount: Usd::cents(5000) });
        assert_eq!(e.occurred_at, "2026-11-25T09:00:00.000Z");
        assert_eq!(e.user_id, Some(UserId::parse("u_1").unwrap()));
        let kind = |t: &str| parse(&body("40.00", "usd", t)).unwrap().kind;
        assert_eq!(kind("topup.refunded"), PaymentEventKind::Refunded { total: Usd::cents(4000) });
        assert_eq!(kind("topup.disputed"), PaymentEventKind::Disputed { amount: Usd::cents(4000) });
        assert_eq!(kind("topup.dispute_won"), PaymentEventKind::DisputeWon);
        assert_eq!(kind("topup.dispute_lost"), PaymentEventKind::DisputeLost { amount: Usd::cents(4000) });
    }

    #[test]
    fn rejects_bad_fields_with_specific_codes() {
        let code = |b: &[u8]| parse(b).unwrap_err().code;
        assert_eq!(code(&body("-1", "USD", "topup.succeeded")), "invalid_amount");
        assert_eq!(code(&body("0", "USD", "topup.succeeded")), "invalid_amount");
        assert_eq!(code(&body("abc", "USD", "topup.succeeded")), "invalid_amount");
        assert_eq!(code(&body("5.00", "EUR", "topup.succeeded")), "unsupported_currency");
        assert_eq!(parse(&body("5.00", "EUR", "topup.succeeded")).unwrap_err().status, 422);
        assert_eq!(code(&body("5.00", "USD", "topup.exploded")), "unknown_event_type");
        // One amount syntax (docs/api/input-policy.md), each refusal naming its reason.
        for bad in ["50.", ".50", "00050.00", "5.000", "1e3", "1000000.01", "+5"] {
            assert_eq!(code(&body(bad, "USD", "topup.succeeded")), "invalid_amount", "{bad}");
        }
        let msg = |b: &[u8]| parse(b).unwrap_err().message;
        assert!(msg(&body("1000000.01", "USD", "topup.succeeded")).contains("must not exceed 1000000.00"));
        assert!(msg(&body("00050.00", "USD", "topup.succeeded")).contains("leading zeros"));
        assert!(parse(&body("1000000.00", "USD", "topup.succeeded")).is_ok(), "the cap itself is a valid amount");
        // occurred_at: at most 5 minutes ahead of our clock.
        let at = |t: &str| {
            format!(r#"{{"payment_id":"p","user_id":"u","amount":"5.00","currency":"USD","type":"topup.succeeded","occurred_at":"{t}"}}"#)
                .into_bytes()
        };
        assert_eq!(code(&at("9999-12-31T00:00:00Z")), "invalid_occurred_at");
        assert!(msg(&at("9999-12-31T00:00:00Z")).contains("ahead of our clock"));
        let soon = clock::rfc3339(clock::now() + time::Duration::minutes(4));
        assert!(parse(&at(&soon)).is_ok());
        assert_eq!(code(b"{not json"), "invalid_json");
        assert_eq!(code(br#"{"payment_id":"p"}"#), "invalid_body");
        assert_eq!(code(br#"[1,2]"#), "invalid_body");
        let numeric = br#"{"payment_id":"p","user_id":"u","amount":50.0,"currency":"USD","type":"topup.succeeded","occurred_at":"2026-11-25T09:00:00Z"}"#;
        assert_eq!(code(numeric), "invalid_body");
    }
}
