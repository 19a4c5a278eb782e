//! The identity provider's signing keys (a JWKS, RFC 7517), fetched lazily and cached.
//!
//! * A key is chosen by the token's `kid`. Only RS256 and ES256 (P-256) signing keys are
//!   kept; each key's algorithm comes from its `alg`, or from its type when `alg` is absent,
//!   and a token must use exactly that algorithm (no algorithm confusion).
//! * The set is cached for `max_age` (default 10 min) and refetched after that, so a key the
//!   provider retired stops working within `max_age`.
//! * An unknown `kid` (the provider rotated to a new key) refetches at once — at most once per
//!   `min_refetch` (default 15 s), so a flood of tokens with made-up `kid`s cannot turn into a
//!   flood of requests to the provider.
//! * When a refetch fails the cached keys keep working for up to [`STALE_GRACE`] (the provider
//!   is down, our users are not); without any key the caller gets 503, never a 401 it would
//!   read as "sign in again".
//!
//! One fetch at a time (single flight). The HTTP client is reqwest on the process-wide rustls
//! provider (see `crate::aws`), like the Wellflow client.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};

/// How long cached keys may still be used while the JWKS cannot be fetched.
pub const STALE_GRACE: Duration = Duration::from_secs(3600);
/// The largest JWKS document we read.
const MAX_BYTES: usize = 256 * 1024;
const TIMEOUT: Duration = Duration::from_secs(3);

/// A verification key and the one algorithm it may verify.
#[derive(Clone)]
pub struct SigningKey {
    pub algorithm: Algorithm,
    pub key: Arc<DecodingKey>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// No such `kid` in the provider's current set (or the refetch is rate-limited).
    #[error("unknown signing key")]
    Unknown,
    /// The JWKS could not be fetched and no usable cached copy exists.
    #[error("the identity provider's keys are unavailable: {0}")]
    Unavailable(String),
}

#[derive(Debug, Clone)]
pub struct JwksSettings {
    pub url: String,
    pub max_age: Duration,
    pub min_refetch: Duration,
}

#[derive(Default)]
struct State {
    keys: HashMap<String, SigningKey>,
    /// When `keys` was last fetched successfully.
    fetched_at: Option<Instant>,
    /// When a fetch was last attempted (successful or not).
    attempted_at: Option<Instant>,
    /// Fetches attempted since start (tests, logs).
    fetches: u64,
}

pub struct JwksCache {
    settings: JwksSettings,
    http: reqwest::Client,
    state: RwLock<State>,
    refresh: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for JwksCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "JwksCache {{ url: {:?}, max_age: {:?} }}", self.settings.url, self.settings.max_age)
    }
}

impl JwksCache {
    pub fn new(settings: JwksSettings) -> Result<Self, String> {
        // The process's one root store and rustls config (crate::tls), not a trust store of its own.
        let http = crate::tls::shared()
            .reqwest_builder()
            .timeout(TIMEOUT)
            .connect_timeout(Duration::from_secs(1))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("referral-backend/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build the JWKS HTTP client: {e}"))?;
        Ok(Self { settings, http, state: RwLock::new(State::default()), refresh: tokio::sync::Mutex::new(()) })
    }

    /// How many fetches were attempted so far.
    pub fn fetches(&self) -> u64 {
        self.state.read().expect("jwks state").fetches
    }

    /// The key for `kid`, fetching the set when it is stale or does not know `kid` yet.
    pub async fn key(&self, kid: &str) -> Result<SigningKey, KeyError> {
        let seen_attempt = {
            let st = self.state.read().expect("jwks state");
            let now = Instant::now();
            let fresh = st.fetched_at.is_some_and(|t| now.duration_since(t) < self.settings.max_age);
            let recently_tried = st.attempted_at.is_some_and(|t| now.duration_since(t) < self.settings.min_refetch);
            match st.keys.get(kid) {
                Some(key) if fresh => return Ok(key.clone()),
                // Rate limit: no new fetch within min_refetch of the last one.
                _ if recently_tried => {
                    return match st.keys.get(kid) {
                        Some(key) if self.within_grace(&st, now) => Ok(key.clone()),
                        _ if st.fetched_at.is_none() || st.keys.contains_key(kid) => {
                            Err(KeyError::Unavailable("the last JWKS fetch failed".into()))
                        }
                        _ => Err(KeyError::Unknown),
                    };
                }
                _ => st.attempted_at,
            }
        };
        let _single_flight = self.refresh.lock().await;
        // Someone else may have fetched while we waited: use their result.
        let already = self.state.read().expect("jwks state").attempted_at != seen_attempt;
        let error = if already { None } else { self.fetch_into_state().await.err() };
        let st = self.state.read().expect("jwks state");
        let now = Instant::now();
        match (st.keys.get(kid), error) {
            (Some(key), None) if st.fetched_at == st.attempted_at => Ok(key.clone()),
            (Some(key), _) if self.within_grace(&st, now) => Ok(key.clone()),
            (Some(_), _) => Err(KeyError::Unavailable("the JWKS cannot be fetched and the cached keys expired".into())),
            (None, Some(message)) => Err(KeyError::Unavailable(message)),
            (None, None) if st.fetched_at.is_none() => Err(KeyError::Unavailable("the JWKS fetch failed".into())),
            (None, None) => Err(KeyError::Unknown),
        }
    }

    fn within_grace(&self, st: &State, now: Instant) -> bool {
        st.fetched_at.is_some_and(|t| now.duration_since(t) < self.settings.max_age + STALE_GRACE)
    }

    async fn fetch_into_state(&self) -> Result<(), String> {
        self.state.write().expect("jwks state").fetches += 1;
        let started = Instant::now();
        let result = self.fetch().await;
        let mut st = self.state.write().expect("jwks state");
        st.attempted_at = Some(Instant::now());
        match result {
            Ok(keys) => {
                tracing::info!(
                    jwks_url = %self.settings.url,
                    keys = keys.len(),
                    kids = ?keys.keys().collect::<Vec<_>>(),
                    ms = started.elapsed().as_millis() as u64,
                    "JWKS fetched"
                );
                st.keys = keys;
                st.fetched_at = st.attempted_at;
                Ok(())
            }
            Err(message) => {
                tracing::warn!(jwks_url = %self.settings.url, error = %message, cached_keys = st.keys.len(), "JWKS fetch failed");
                Err(message)
            }
        }
    }

    async fn fetch(&self) -> Result<HashMap<String, SigningKey>, String> {
        let mut resp = self.http.get(&self.settings.url).send().await.map_err(|e| format!("GET failed: {e}"))?;
        if !resp.status().is_success() {
            return Err(format!("GET answered {}", resp.status()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| format!("reading the body failed: {e}"))? {
            body.extend_from_slice(&chunk);
            if body.len() > MAX_BYTES {
                return Err(format!("the JWKS is larger than {MAX_BYTES} bytes"));
            }
        }
        parse_jwks(&body)
    }
}

/// The usable signing keys of a JWKS document, by `kid`. Keys we cannot use (encryption
/// keys, other algorithms, no `kid`, malformed) are skipped; a set with none left is an error.
pub fn parse_jwks(body: &[u8]) -> Result<HashMap<String, SigningKey>, String> {
    #[derive(serde::Deserialize)]
    struct Doc {
        keys: Vec<serde_json::Value>,
    }
    let doc: Doc = serde_json::from_slice(body).map_err(|e| format!("not a JWKS document: {e}"))?;
    let mut keys = HashMap::new();
    for raw in doc.keys {
        let Ok(jwk) = serde_json::from_value::<Jwk>(raw) else { continue };
        let Some(kid) = jwk.common.key_id.clone() else { continue };
        if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
            continue;
        }
        let Some(algorithm) = algorithm_of(&jwk) else { continue };
        let Ok(key) = DecodingKey::from_jwk(&jwk) else { continue };
        keys.insert(kid, SigningKey { algorithm, key: Arc::new(key) });
    }
    if keys.is_empty() {
        return Err("the JWKS has no usable RS256 or ES256 signing key with a kid".into());
    }
    Ok(keys)
}

/// RS256 for RSA keys, ES256 for P-256 keys; `alg`, when present, must say the same.
fn algorithm_of(jwk: &Jwk) -> Option<Algorithm> {
    let by_type = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Algorithm::RS256,
        AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => Algorithm::ES256,
        _ => return None,
    };
    match jwk.common.key_algorithm {
        None => Some(by_type),
        Some(KeyAlgorithm::RS256) if by_type == Algorithm::RS256 => Some(by_type),
        Some(KeyAlgorithm::ES256) if by_type == Algorithm::ES256 => Some(by_type),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Public keys only (RFC 7517 appendix A.1 examples): no private material in the repo.
    const RSA_N: &str = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
    const EC_X: &str = "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4";
    const EC_Y: &str = "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM";

    fn jwks(keys: serde_json::Value) -> Vec<u8> {
        serde_json::json!({ "keys": keys }).to_string().into_bytes()
    }

    #[test]
    fn keeps_rs256_and_es256_signing_keys_by_kid() {
        let keys = parse_jwks(&jwks(serde_json::json!([
            {"kty": "RSA", "kid": "rsa-1", "use": "sig", "alg": "RS256", "n": RSA_N, "e": "AQAB"},
            {"kty": "EC", "kid": "ec-1", "crv": "P-256", "x": EC_X, "y": EC_Y},
            {"kty": "RSA", "kid": "enc-1", "use": "enc", "n": RSA_N, "e": "AQAB"},
            {"kty": "RSA", "n": RSA_N, "e": "AQAB"},
            {"kty": "RSA", "kid": "ps-1", "alg": "PS256", "n": RSA_N, "e": "AQAB"},
            {"kty": "oct", "kid": "hmac-1", "k": "c2VjcmV0"},
            {"kty": "RSA", "kid": "rsa-as-es", "alg": "ES256", "n": RSA_N, "e": "AQAB"},
            {"kid": "garbage"}
        ])))
        .unwrap();
        let mut kids: Vec<_> = keys.keys().cloned().collect();
        kids.sort();
        assert_eq!(kids, ["ec-1", "rsa-1"]);
        assert_eq!(keys["rsa-1"].algorithm, Algorithm::RS256);
        assert_eq!(keys["ec-1"].algorithm, Algorithm::ES256);
    }

    #[test]
    fn a_set_without_usable_keys_is_an_error() {
        assert!(parse_jwks(&jwks(serde_json::json!([{"kty": "oct", "kid": "h", "k": "c2VjcmV0"}]))).is_err());
        assert!(parse_jwks(b"<html>").is_err());
        assert!(parse_jwks(br#"{"keys": []}"#).is_err());
    }
}
