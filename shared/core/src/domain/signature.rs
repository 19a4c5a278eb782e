//! Stripe-style request signatures: `t=<unix>,v1=<hex HMAC-SHA256("{t}.{raw body}")>`.
//!
//! Used for the payment webhook and the auth service's signup calls. Verification runs on
//! the raw bytes before any parsing, compares in constant time (`Mac::verify_slice`),
//! accepts several `v1` entries and several secrets (rotation without downtime), and
//! rejects timestamps outside the tolerance window in either direction (replays).

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Five minutes, like Stripe.
pub const DEFAULT_TOLERANCE_SECS: i64 = 300;
/// Longer headers are refused before any work (a handful of signatures fit easily).
const MAX_HEADER_LEN: usize = 2048;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("signature header is missing")]
    Missing,
    #[error("signature header is malformed: expected t=<unix seconds>,v1=<hex hmac>")]
    Malformed,
    #[error("signature timestamp is outside the {0} s tolerance; sign the request again")]
    Expired(i64),
    #[error("no v1 signature matches the body with the configured secret(s)")]
    Mismatch,
}

/// Signs `body` at time `t`: the header value a sender sets.
pub fn sign(secret: &str, t: i64, body: &[u8]) -> String {
    format!("t={t},v1={}", hex::encode(mac(secret, t, body).finalize().into_bytes()))
}

fn mac(secret: &str, t: i64, body: &[u8]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC accepts any key length");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// Verifies a signature header against the raw body. `now` is unix seconds.
pub fn verify(
    header: Option<&str>,
    body: &[u8],
    secrets: &[String],
    now: i64,
    tolerance_secs: i64,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    if header.len() > MAX_HEADER_LEN {
        return Err(SignatureError::Malformed);
    }
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        let (key, value) = part.trim().split_once('=').ok_or(SignatureError::Malformed)?;
        match key {
            "t" => timestamp = Some(value.parse::<i64>().map_err(|_| SignatureError::Malformed)?),
            "v1" => signatures.push(hex::decode(value).map_err(|_| SignatureError::Malformed)?),
            _ => {} // other schemes (v0, …) are ignored, as Stripe recommends
        }
    }
    let t = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    if (now - t).abs() > tolerance_secs {
        return Err(SignatureError::Expired(tolerance_secs));
    }
    let matches =
        secrets.iter().any(|secret| signatures.iter().any(|sig| mac(secret, t, body).verify_slice(sig).is_ok()));
    if matches {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SECRET: &str = "whsec_test_0123456789abcdef";
    const NOW: i64 = 1_764_000_000;

    fn secrets() -> Vec<String> {
        vec![SECRET.to_string()]
    }

    #[test]
    fn accepts_a_fresh_valid_signature() {
        let body = br#"{"payment_id":"p1"}"#;
        let header = sign(SECRET, NOW, body);
        assert_eq!(verify(Some(&header), body, &secrets(), NOW + 10, 300), Ok(()));
    }

    #[test]
    fn rejects_tampering_wrong_secret_and_missing() {
        let header = sign(SECRET, NOW, b"{}");
        assert_eq!(verify(Some(&header), b"{ }", &secrets(), NOW, 300), Err(SignatureError::Mismatch));
        assert_eq!(
            verify(Some(&sign("another_secret_0123456", NOW, b"{}")), b"{}", &secrets(), NOW, 300),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(verify(None, b"{}", &secrets(), NOW, 300), Err(SignatureError::Missing));
    }

    #[test]
    fn rejects_replays_outside_the_window_both_ways() {
        let body = b"{}";
        assert_eq!(
            verify(Some(&sign(SECRET, NOW - 301, body)), body, &secrets(), NOW, 300),
            Err(SignatureError::Expired(300))
        );
        assert_eq!(
            verify(Some(&sign(SECRET, NOW + 301, body)), body, &secrets(), NOW, 300),
            Err(SignatureError::Expired(300))
        );
        assert!(verify(Some(&sign(SECRET, NOW - 300, body)), body, &secrets(), NOW, 300).is_ok());
    }

    #[test]
    fn supports_rotation_on_both_sides() {
        let body = b"{}";
        let old = "old_secret_0123456789";
        let new = "new_secret_0123456789";
        // Sender sends two signatures during rotation; we know only the new secret.
        let both = format!("{},v1={}", sign(old, NOW, body), &sign(new, NOW, body)[format!("t={NOW},v1=").len()..]);
        assert!(verify(Some(&both), body, &[new.to_string()], NOW, 300).is_ok());
        // We accept both secrets while the sender still uses the old one.
        assert!(verify(Some(&sign(old, NOW, body)), body, &[new.to_string(), old.to_string()], NOW, 300).is_ok());
    }

    #[test]
    fn malformed_headers() {
        for h in ["", "t=abc,v1=00", "v1=00", "t=1", "t=1,v1=zz", "garbage", &"t=1,".repeat(1000)] {
            assert!(matches!(verify(Some(h), b"", &secrets(), 1, 300), Err(SignatureError::Malformed)), "{h:.40}");
        }
    }

    proptest! {
        #[test]
        fn never_panics(header in "\\PC{0,200}", body in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = verify(Some(&header), &body, &secrets(), NOW, 300);
        }
    }
}
