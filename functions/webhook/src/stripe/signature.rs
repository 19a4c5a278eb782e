//! The `Stripe-Signature` header, checked over the raw body before anything is parsed.
//!
//! Stripe's scheme is the one `referral_core::domain::signature` already implements, so it
//! is reused unchanged: `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "{t}.{raw body}")>`,
//! with one `v1` per active secret during a rotation and, in test mode, a `v0` entry that
//! must be skipped. Checked against stripe-python 16.1 `stripe/_webhook.py`
//! (`WebhookSignature.verify_header`, `generate_signature_header`), Stripe's own library:
//! - the secret string (`whsec_…`) is the HMAC key as UTF-8 bytes, not decoded;
//! - the signed payload is `"%d.%s" % (timestamp, payload)`;
//! - only entries of the `v1` scheme are compared (constant time), any one may match;
//! - `Webhook.DEFAULT_TOLERANCE = 300` seconds.
//!
//! We are stricter than the library in one way: a timestamp more than the tolerance in the
//! *future* is refused too (the library only refuses old ones). Stripe signs at delivery
//! time, so only a skewed clock on our side could trip this.
//!
//! Errors (JSON envelope via `adapters::ApiError`): 400 `invalid_signature_header` when
//! the header is missing or malformed (no `t`, no `v1`, bad hex), 401 `signature_expired`
//! outside the tolerance, 401 `invalid_signature` when no `v1` matches any secret.

use adapters::ApiError;
use lambda_http::http::HeaderMap;
use referral_core::domain::signature;

use super::StripeConfig;

/// The header Stripe signs deliveries with (HTTP header names are case-insensitive).
pub const SIGNATURE_HEADER: &str = "stripe-signature";

/// Verifies `header` (the `Stripe-Signature` value, if any) against the raw `body` with
/// every configured secret. `now` is unix seconds.
pub fn verify_signature(header: Option<&str>, body: &[u8], cfg: &StripeConfig, now: i64) -> Result<(), ApiError> {
    signature::verify(header, body, &cfg.secrets, now, cfg.tolerance_secs)
        .map_err(|e| adapters::auth::signature_error(e, "Stripe-Signature"))
}

/// [`verify_signature`] on a request, at the current time.
pub fn verify_request(headers: &HeaderMap, body: &[u8], cfg: &StripeConfig) -> Result<(), ApiError> {
    let now = adapters::clock::now().unix_timestamp();
    verify_signature(adapters::http::header(headers, SIGNATURE_HEADER), body, cfg, now)
}

/// The header value Stripe would send for `body` signed with `secret` at `t`
/// (`t=<t>,v1=<hex>`, byte for byte what stripe-python's `generate_signature_header`
/// returns). For tests and local tooling.
pub fn sign(secret: &str, t: i64, body: &[u8]) -> String {
    signature::sign(secret, t, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test_0123456789abcdefABCDEF";
    const OLD: &str = "whsec_test_old_0123456789abcdef";
    const NOW: i64 = 1_764_000_000;

    fn cfg(secrets: &[&str]) -> StripeConfig {
        StripeConfig {
            secrets: secrets.iter().map(|s| s.to_string()).collect(),
            tolerance_secs: 300,
            livemode: false,
            user_id_metadata_key: "user_id".into(),
        }
    }

    fn status_code(r: Result<(), ApiError>) -> (u16, &'static str) {
        let e = r.unwrap_err();
        (e.status.as_u16(), e.code)
    }

    fn v1(header: &str) -> &str {
        &header[header.find("v1=").unwrap() + 3..]
    }

    #[test]
    fn accepts_what_stripe_sends() {
        let body = br#"{"id":"evt_1","object":"event"}"#;
        let header = sign(SECRET, NOW, body);
        assert!(header.starts_with(&format!("t={NOW},v1=")) && v1(&header).len() == 64, "{header}");
        assert_eq!(verify_signature(Some(&header), body, &cfg(&[SECRET]), NOW + 299), Ok(()));
        // Test-mode deliveries carry a v0 entry too: it is skipped, wherever it stands.
        let v0 = "v0=6ffbb59b2300aae63f272406069a9788598b792a944a07aba816edb039989a39";
        for with_v0 in [format!("{header},{v0}"), format!("t={NOW},{v0},v1={}", v1(&header))] {
            assert_eq!(verify_signature(Some(&with_v0), body, &cfg(&[SECRET]), NOW), Ok(()), "{with_v0}");
        }
    }

    #[test]
    fn rotation_works_from_both_sides() {
        let body = b"{}";
        // Stripe signs with the old and the new secret while both are active; we know one.
        let both = format!("{},v1={}", sign(OLD, NOW, body), v1(&sign(SECRET, NOW, body)));
        assert_eq!(verify_signature(Some(&both), body, &cfg(&[SECRET]), NOW), Ok(()));
        assert_eq!(verify_signature(Some(&both), body, &cfg(&[OLD]), NOW), Ok(()));
        // We know both while Stripe still signs with the old one only.
        assert_eq!(verify_signature(Some(&sign(OLD, NOW, body)), body, &cfg(&[SECRET, OLD]), NOW), Ok(()));
    }

    #[test]
    fn failures_are_400_or_401_with_stable_codes() {
        let body = br#"{"amount":5000}"#;
        let c = cfg(&[SECRET]);
        let good = sign(SECRET, NOW, body);
        assert_eq!(status_code(verify_signature(None, body, &c, NOW)), (400, "invalid_signature_header"));
        for malformed in ["", "garbage", "v1=00", &format!("t={NOW}"), &format!("t=abc,v1={}", v1(&good))] {
            assert_eq!(
                status_code(verify_signature(Some(malformed), body, &c, NOW)),
                (400, "invalid_signature_header"),
                "{malformed}"
            );
        }
        // Only a v0 (test-mode legacy scheme): no v1 to check, like Stripe's libraries.
        assert_eq!(status_code(verify_signature(Some(&format!("t={NOW},v0=00")), body, &c, NOW)).0, 400);
        assert_eq!(
            status_code(verify_signature(Some(&good), b"{\"amount\":50000}", &c, NOW)),
            (401, "invalid_signature")
        );
        assert_eq!(status_code(verify_signature(Some(&good), body, &cfg(&[OLD]), NOW)), (401, "invalid_signature"));
        // Signed with the key without its prefix (a base64-decoding mistake): no match.
        let stripped = sign(SECRET.trim_start_matches("whsec_"), NOW, body);
        assert_eq!(status_code(verify_signature(Some(&stripped), body, &c, NOW)), (401, "invalid_signature"));
        assert_eq!(status_code(verify_signature(Some(&good), body, &c, NOW + 301)), (401, "signature_expired"));
        assert_eq!(status_code(verify_signature(Some(&good), body, &c, NOW - 301)), (401, "signature_expired"));
        let message = verify_signature(None, body, &c, NOW).unwrap_err().message;
        assert!(message.contains("Stripe-Signature") && !message.contains(SECRET), "{message}");
    }

    #[test]
    fn reads_the_header_from_a_request() {
        let body = br#"{"id":"evt_1"}"#.to_vec();
        let now = adapters::clock::now().unix_timestamp();
        let req = lambda_http::http::Request::builder()
            .method("POST")
            .header("Stripe-Signature", sign(SECRET, now, &body))
            .body(lambda_http::Body::Binary(body.clone()))
            .unwrap();
        assert_eq!(verify_request(req.headers(), &body, &cfg(&[SECRET])), Ok(()));
        let unsigned = lambda_http::http::Request::builder().body(lambda_http::Body::Empty).unwrap();
        assert_eq!(status_code(verify_request(unsigned.headers(), &body, &cfg(&[SECRET]))).0, 400);
    }
}
