//! The payment provider's event body, validated into domain types (pure, no I/O).
//!
//! ```json
//! {"payment_id":"pay_123","user_id":"u_42","amount":"50.00","currency":"USD",
//!  "type":"topup.succeeded","occurred_at":"2026-11-25T09:00:00Z"}
//! ```
//! Unknown extra fields are ignored (providers add fields); the listed ones are required.

use adapters::billing::TopupEvent;
use adapters::clock;
use adapters::domain::{PaymentId, Usd, UserId};
use adapters::ApiError;
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

/// A validated event.
#[derive(Debug, Clone, PartialEq)]
pub enum PaymentEvent {
    Succeeded(TopupEvent),
    Refunded { payment_id: PaymentId, user_id: UserId },
}

impl PaymentEvent {
    pub fn payment_id(&self) -> &PaymentId {
        match self {
            PaymentEvent::Succeeded(e) => &e.payment_id,
            PaymentEvent::Refunded { payment_id, .. } => payment_id,
        }
    }
}

/// Parses and validates the raw body (already signature-checked).
pub fn parse(body: &[u8]) -> Result<PaymentEvent, ApiError> {
    let raw: RawEvent = adapters::http::parse_json(body)?;
    let payment_id =
        PaymentId::parse(&raw.payment_id).map_err(|e| ApiError::bad_request("invalid_payment_id", e.to_string()))?;
    let user_id = UserId::parse(&raw.user_id).map_err(|e| ApiError::bad_request("invalid_user_id", e.to_string()))?;
    let amount =
        Usd::parse_positive(&raw.amount).map_err(|e| ApiError::bad_request("invalid_amount", e.to_string()))?;
    if raw.currency != "USD" {
        return Err(ApiError::unprocessable(
            "unsupported_currency",
            format!(
                "only USD top-ups earn referral bonuses, got {:?}",
                raw.currency.chars().take(8).collect::<String>()
            ),
        ));
    }
    let occurred = clock::parse_rfc3339(&raw.occurred_at)
        .ok_or_else(|| ApiError::bad_request("invalid_occurred_at", "occurred_at must be an RFC 3339 timestamp"))?;
    match raw.kind.as_str() {
        "topup.succeeded" => Ok(PaymentEvent::Succeeded(TopupEvent {
            payment_id,
            user_id,
            amount,
            occurred_at: clock::rfc3339(occurred),
        })),
        "topup.refunded" => Ok(PaymentEvent::Refunded { payment_id, user_id }),
        _ => Err(ApiError::bad_request("unknown_event_type", "type must be topup.succeeded or topup.refunded")),
    }
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
    fn parses_a_topup() {
        let PaymentEvent::Succeeded(e) = parse(&body("50.00", "USD", "topup.succeeded")).unwrap() else { panic!() };
        assert_eq!(e.amount, Usd::cents(5000));
        assert_eq!(e.occurred_at, "2026-11-25T09:00:00.000Z");
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
        assert_eq!(code(b"{not json"), "invalid_json");
        assert_eq!(code(br#"{"payment_id":"p"}"#), "invalid_body");
        assert_eq!(code(br#"[1,2]"#), "invalid_body");
        let numeric = br#"{"payment_id":"p","user_id":"u","amount":50.0,"currency":"USD","type":"topup.succeeded","occurred_at":"2026-11-25T09:00:00Z"}"#;
        assert_eq!(code(numeric), "invalid_body");
    }
}
