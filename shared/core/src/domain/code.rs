//! The referral code: six characters of Crockford base32 without I, L, O and U.
//!
//! `RefCode::parse` accepts any ASCII case and normalises to uppercase; everything else
//! (wrong length, ambiguous letters, non-ASCII, punctuation) is rejected, so a code that
//! made it into the type is safe to put in a cookie, a key or a log line.

use std::fmt;

use rand::Rng;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Crockford's base32 alphabet: digits and uppercase letters minus I, L, O, U.
pub const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Every code has exactly this many characters (32^6 ≈ 1.07 billion codes).
pub const CODE_LEN: usize = 6;

/// A validated, uppercase referral code.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RefCode([u8; CODE_LEN]);

/// Why a string is not a referral code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefCodeError {
    #[error("a referral code has exactly {CODE_LEN} characters, got {0}")]
    Length(usize),
    #[error("a referral code uses only 0-9 and A-Z without I, L, O, U; found {0:?}")]
    Character(char),
}

impl RefCode {
    /// Parses user input: case-insensitive, normalised to uppercase.
    pub fn parse(input: &str) -> Result<Self, RefCodeError> {
        let chars = input.chars().count();
        if chars != CODE_LEN {
            return Err(RefCodeError::Length(chars));
        }
        let mut out = [0u8; CODE_LEN];
        for (slot, ch) in out.iter_mut().zip(input.chars()) {
            let upper = ch.to_ascii_uppercase();
            if !upper.is_ascii() || !ALPHABET.contains(&(upper as u8)) {
                return Err(RefCodeError::Character(ch));
            }
            *slot = upper as u8;
        }
        Ok(Self(out))
    }

    /// A uniformly random code. Uniqueness is enforced by the store (conditional put).
    pub fn generate<R: Rng + ?Sized>(rng: &mut R) -> Self {
        let mut out = [0u8; CODE_LEN];
        for slot in &mut out {
            *slot = ALPHABET[rng.random_range(0..ALPHABET.len())];
        }
        Self(out)
    }

    /// A random code from the thread-local generator.
    pub fn random() -> Self {
        Self::generate(&mut rand::rng())
    }

    pub fn as_str(&self) -> &str {
        // Only ALPHABET bytes (ASCII) ever get in.
        std::str::from_utf8(&self.0).expect("referral code is ASCII")
    }
}

impl fmt::Display for RefCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for RefCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RefCode({})", self.as_str())
    }
}

impl std::str::FromStr for RefCode {
    type Err = RefCodeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for RefCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for RefCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_and_normalises_case() {
        assert_eq!(RefCode::parse("k7m2xq").unwrap().as_str(), "K7M2XQ");
        assert_eq!(RefCode::parse("K7M2XQ").unwrap().to_string(), "K7M2XQ");
    }

    #[test]
    fn rejects_ambiguous_letters() {
        for bad in ["K7M2XI", "K7M2XL", "K7M2XO", "K7M2XU", "i7m2xq", "o00000"] {
            assert!(matches!(RefCode::parse(bad), Err(RefCodeError::Character(_))), "{bad}");
        }
    }

    #[test]
    fn rejects_wrong_lengths() {
        assert_eq!(RefCode::parse(""), Err(RefCodeError::Length(0)));
        assert_eq!(RefCode::parse("K7M2X"), Err(RefCodeError::Length(5)));
        assert_eq!(RefCode::parse("K7M2XQZ"), Err(RefCodeError::Length(7)));
    }

    #[test]
    fn rejects_non_ascii_and_punctuation() {
        for bad in ["K7M2XÖ", "К7M2XQ", "K7M2X ", "K7-2XQ", "K7M2X\n", "%27OR1", "K7M2X\u{0}"] {
            assert!(RefCode::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn serde_round_trip_validates() {
        let code = RefCode::parse("K7M2XQ").unwrap();
        let json = serde_json::to_string(&code).unwrap();
        assert_eq!(json, "\"K7M2XQ\"");
        assert_eq!(serde_json::from_str::<RefCode>(&json).unwrap(), code);
        assert!(serde_json::from_str::<RefCode>("\"K7M2XI\"").is_err());
    }

    proptest! {
        #[test]
        fn generated_codes_round_trip(seed in any::<u64>()) {
            use rand::SeedableRng;
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            let code = RefCode::generate(&mut rng);
            prop_assert_eq!(RefCode::parse(code.as_str()).unwrap(), code);
            prop_assert_eq!(RefCode::parse(&code.as_str().to_lowercase()).unwrap(), code);
        }

        #[test]
        fn parse_never_panics(input in "\\PC{0,12}") {
            let _ = RefCode::parse(&input);
        }
    }
}
