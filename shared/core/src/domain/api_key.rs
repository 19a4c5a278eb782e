//! Partner API keys: format, generation, parsing, hashing and scopes (plain Rust, no I/O).
//!
//! A key is `rk_live_<key_id>_<secret>`:
//! * `key_id` — [`KEY_ID_LEN`] characters of `[a-z0-9]` (≈ 62 bits): public, addresses the
//!   stored key, safe to log and to show in listings.
//! * `secret` — [`SECRET_LEN`] characters of `[A-Za-z0-9]` (≈ 238 bits) drawn from the
//!   thread-local CSPRNG (`rand::rng()`: ChaCha12 seeded from the OS). Shown once at creation.
//!
//! Only `SHA-256(secret)` is stored. With this much entropy a fast hash is enough (no
//! dictionary or brute force can reach a random 238-bit secret), so no pepper or slow KDF is
//! needed; verification compares the digests in constant time ([`verify_secret`]).

use std::fmt;

use rand::Rng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Every key starts with this (lets scanners and users recognise a leaked key).
pub const PREFIX: &str = "rk_live_";
pub const KEY_ID_LEN: usize = 12;
pub const SECRET_LEN: usize = 40;
/// Active (not revoked) keys one user may hold.
pub const MAX_ACTIVE_KEYS: u32 = 10;
/// Longest display name of a key.
pub const MAX_NAME_LEN: usize = 64;
/// Characters of the secret shown in listings as a hint (`rk_live_<id>_abcd…`).
const HINT_SECRET_CHARS: usize = 4;

const ID_ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
const SECRET_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiKeyError {
    #[error("not an API key: expected rk_live_<key id>_<secret>")]
    Malformed,
    #[error("a key id is {KEY_ID_LEN} lowercase letters or digits")]
    MalformedId,
    #[error("unknown scope {0:?}: expected read or campaigns")]
    UnknownScope(String),
    #[error("scopes must list at least one of read, campaigns")]
    NoScopes,
    #[error("name must be 1 to {MAX_NAME_LEN} printable characters")]
    Name,
}

/// The public identifier of a key (`[a-z0-9]{12}`), safe in keys and logs.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ApiKeyId(String);

impl ApiKeyId {
    pub fn parse(raw: &str) -> Result<Self, ApiKeyError> {
        if raw.len() == KEY_ID_LEN && raw.bytes().all(|b| ID_ALPHABET.contains(&b)) {
            Ok(Self(raw.to_string()))
        } else {
            Err(ApiKeyError::MalformedId)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ApiKeyId {
    type Error = ApiKeyError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<ApiKeyId> for String {
    fn from(id: ApiKeyId) -> String {
        id.0
    }
}

impl fmt::Display for ApiKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ApiKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiKeyId({})", self.0)
    }
}

/// What a key may do. Management of keys themselves is never a scope: it needs the user's JWT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// Link, QR codes, KPIs and history.
    Read,
    /// Create and list campaign links.
    Campaigns,
}

impl Scope {
    pub const ALL: [Scope; 2] = [Scope::Read, Scope::Campaigns];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Campaigns => "campaigns",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, ApiKeyError> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw).ok_or_else(|| ApiKeyError::UnknownScope(raw.into()))
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A non-empty set of scopes, kept sorted and deduplicated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scopes(Vec<Scope>);

impl Scopes {
    pub fn parse<S: AsRef<str>>(raw: &[S]) -> Result<Self, ApiKeyError> {
        let mut scopes = raw.iter().map(|s| Scope::parse(s.as_ref())).collect::<Result<Vec<_>, _>>()?;
        scopes.sort();
        scopes.dedup();
        if scopes.is_empty() {
            return Err(ApiKeyError::NoScopes);
        }
        Ok(Self(scopes))
    }

    pub fn contains(&self, scope: Scope) -> bool {
        self.0.contains(&scope)
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.0.iter().map(|s| s.as_str()).collect()
    }
}

/// Validates a key's display name (trimmed, 1..=64 chars, no control characters).
pub fn validate_name(raw: &str) -> Result<String, ApiKeyError> {
    let name = raw.trim();
    let len = name.chars().count();
    if len == 0 || len > MAX_NAME_LEN || name.chars().any(char::is_control) {
        return Err(ApiKeyError::Name);
    }
    Ok(name.to_string())
}

/// A freshly generated key. `Debug` never prints the secret.
pub struct GeneratedKey {
    pub id: ApiKeyId,
    secret: String,
}

impl fmt::Debug for GeneratedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GeneratedKey {{ id: {}, secret: redacted }}", self.id)
    }
}

impl GeneratedKey {
    /// A new key from `rng` (production: [`GeneratedKey::random`]).
    pub fn generate<R: Rng + ?Sized>(rng: &mut R) -> Self {
        let pick = |rng: &mut R, alphabet: &[u8], len: usize| -> String {
            (0..len).map(|_| alphabet[rng.random_range(0..alphabet.len())] as char).collect()
        };
        let id = ApiKeyId(pick(rng, ID_ALPHABET, KEY_ID_LEN));
        let secret = pick(rng, SECRET_ALPHABET, SECRET_LEN);
        Self { id, secret }
    }

    /// A new key from the thread-local CSPRNG.
    pub fn random() -> Self {
        Self::generate(&mut rand::rng())
    }

    /// The full key, to show the user exactly once.
    pub fn reveal(&self) -> String {
        format!("{PREFIX}{}_{}", self.id, self.secret)
    }

    /// What is stored instead of the secret.
    pub fn secret_hash(&self) -> String {
        hash_secret(&self.secret)
    }

    /// `rk_live_<id>_abcd…`: enough to recognise a key in a listing, useless to an attacker.
    pub fn hint(&self) -> String {
        format!("{PREFIX}{}_{}…", self.id, &self.secret[..HINT_SECRET_CHARS])
    }
}

/// A key as presented by a caller, split into its id and secret. `Debug` hides the secret.
pub struct PresentedKey<'a> {
    pub id: ApiKeyId,
    secret: &'a str,
}

impl fmt::Debug for PresentedKey<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PresentedKey {{ id: {}, secret: redacted }}", self.id)
    }
}

impl<'a> PresentedKey<'a> {
    /// Parses `rk_live_<key_id>_<secret>`; anything else is [`ApiKeyError::Malformed`].
    pub fn parse(raw: &'a str) -> Result<Self, ApiKeyError> {
        let rest = raw.strip_prefix(PREFIX).ok_or(ApiKeyError::Malformed)?;
        let (id, secret) = rest.split_once('_').ok_or(ApiKeyError::Malformed)?;
        let id = ApiKeyId::parse(id).map_err(|_| ApiKeyError::Malformed)?;
        if secret.len() != SECRET_LEN || !secret.bytes().all(|b| SECRET_ALPHABET.contains(&b)) {
            return Err(ApiKeyError::Malformed);
        }
        Ok(Self { id, secret })
    }

    /// Whether the secret matches the stored hash (constant time).
    pub fn matches(&self, stored_hash: &str) -> bool {
        verify_secret(self.secret, stored_hash)
    }
}

/// Whether `raw` looks like one of our keys (decides API key vs JWT for a bearer token).
pub fn looks_like_key(raw: &str) -> bool {
    raw.starts_with("rk_")
}

/// Hex SHA-256 of the secret: what is stored at rest.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Compares SHA-256(`secret`) with the stored hex digest in constant time.
pub fn verify_secret(secret: &str, stored_hash: &str) -> bool {
    let Ok(stored) = hex::decode(stored_hash) else { return false };
    let computed = Sha256::digest(secret.as_bytes());
    stored.len() == computed.len() && bool::from(computed[..].ct_eq(&stored[..]))
}

/// The fixed one-minute window a request falls in, for the per-key rate limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateWindow {
    /// Unix minute (`unix seconds / 60`): part of the counter's sort key.
    pub minute: i64,
    /// Seconds until the next window opens (the `Retry-After` of a refused call, ≥ 1).
    pub retry_after_secs: i64,
    /// When the counter item may be deleted (DynamoDB TTL): a minute after the window closes.
    pub expires_at: i64,
}

impl RateWindow {
    pub fn at(unix_secs: i64) -> Self {
        let minute = unix_secs.div_euclid(60);
        let next = (minute + 1) * 60;
        Self { minute, retry_after_secs: (next - unix_secs).max(1), expires_at: next + 60 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn generated_keys_round_trip_through_parse() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let key = GeneratedKey::generate(&mut rng);
        let full = key.reveal();
        assert!(full.starts_with("rk_live_"));
        assert_eq!(full.len(), PREFIX.len() + KEY_ID_LEN + 1 + SECRET_LEN);
        let presented = PresentedKey::parse(&full).unwrap();
        assert_eq!(presented.id, key.id);
        assert!(presented.matches(&key.secret_hash()));
        assert!(key.hint().starts_with(&format!("rk_live_{}_", key.id)));
        assert!(!key.hint().contains(&full[full.len() - 10..]), "hint reveals only 4 secret chars");
    }

    #[test]
    fn a_different_secret_does_not_match() {
        let key = GeneratedKey::random();
        let other = GeneratedKey::random();
        let forged = format!("{PREFIX}{}_{}", key.id, &other.reveal()[PREFIX.len() + KEY_ID_LEN + 1..]);
        assert!(!PresentedKey::parse(&forged).unwrap().matches(&key.secret_hash()));
        assert!(!verify_secret("x", "not-hex"));
        assert!(!verify_secret("x", "abcd"));
    }

    #[test]
    fn keys_are_unique_and_the_hash_is_not_the_secret() {
        let a = GeneratedKey::random();
        let b = GeneratedKey::random();
        assert_ne!(a.reveal(), b.reveal());
        assert_ne!(a.id, b.id);
        assert_eq!(a.secret_hash().len(), 64);
        assert!(!a.secret_hash().contains(&a.secret));
        assert!(!format!("{a:?}").contains(&a.secret), "Debug redacts the secret");
    }

    #[test]
    fn malformed_keys_are_refused() {
        let good = GeneratedKey::random().reveal();
        let cases = [
            String::new(),
            "rk_live_".into(),
            "rk_test_abcdefghijkl_".to_string() + &"A".repeat(SECRET_LEN),
            format!("rk_live_ABCDEFGHIJKL_{}", "A".repeat(SECRET_LEN)),
            format!("rk_live_abcdefghijk_{}", "A".repeat(SECRET_LEN)),
            format!("rk_live_abcdefghijkl_{}", "A".repeat(SECRET_LEN - 1)),
            format!("rk_live_abcdefghijkl_{}!", "A".repeat(SECRET_LEN - 1)),
            format!("{good}x"),
            good.replacen('_', "-", 1),
        ];
        for case in cases {
            assert_eq!(PresentedKey::parse(&case).unwrap_err(), ApiKeyError::Malformed, "{case:?}");
        }
        assert!(looks_like_key(&good));
        assert!(!looks_like_key("eyJhbGciOi.x.y"));
    }

    #[test]
    fn scopes_parse_sorted_and_deduplicated() {
        let s = Scopes::parse(&["campaigns", "read", "read"]).unwrap();
        assert_eq!(s.names(), vec!["read", "campaigns"]);
        assert!(s.contains(Scope::Read) && s.contains(Scope::Campaigns));
        let r = Scopes::parse(&["read"]).unwrap();
        assert!(!r.contains(Scope::Campaigns));
        assert_eq!(Scopes::parse::<&str>(&[]).unwrap_err(), ApiKeyError::NoScopes);
        assert_eq!(Scopes::parse(&["admin"]).unwrap_err(), ApiKeyError::UnknownScope("admin".into()));
        assert_eq!(Scopes::parse(&["READ"]).unwrap_err(), ApiKeyError::UnknownScope("READ".into()));
    }

    #[test]
    fn rate_windows_are_unix_minutes() {
        let w = RateWindow::at(1_800_000_000);
        assert_eq!((w.minute, w.retry_after_secs, w.expires_at), (30_000_000, 60, 1_800_000_120));
        let late = RateWindow::at(1_800_000_059);
        assert_eq!((late.minute, late.retry_after_secs), (30_000_000, 1));
        assert_eq!(RateWindow::at(1_800_000_060).minute, 30_000_001);
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(validate_name("  CI export ").unwrap(), "CI export");
        assert_eq!(validate_name(" ").unwrap_err(), ApiKeyError::Name);
        assert_eq!(validate_name(&"x".repeat(65)).unwrap_err(), ApiKeyError::Name);
        assert_eq!(validate_name("a\nb").unwrap_err(), ApiKeyError::Name);
        assert!(validate_name(&"é".repeat(64)).is_ok());
    }
}
