//! Identifiers that come from other systems (user ids from auth, payment ids from the
//! payment provider). Validated once at the edge so they are safe inside keys and logs.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Longest id we accept from another system.
pub const MAX_ID_LEN: usize = 128;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("{kind} must be 1 to {MAX_ID_LEN} characters long")]
    Length { kind: &'static str },
    #[error("{kind} may contain only letters, digits and - _ . : @ (found {found:?})")]
    Character { kind: &'static str, found: char },
}

fn validate(kind: &'static str, raw: &str) -> Result<(), IdError> {
    if raw.is_empty() || raw.len() > MAX_ID_LEN {
        return Err(IdError::Length { kind });
    }
    if let Some(found) = raw.chars().find(|c| !(c.is_ascii_alphanumeric() || "-_.:@".contains(*c))) {
        return Err(IdError::Character { kind, found });
    }
    Ok(())
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            pub fn parse(raw: &str) -> Result<Self, IdError> {
                validate($kind, raw)?;
                Ok(Self(raw.to_string()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let raw = String::deserialize(d)?;
                Self::parse(&raw).map_err(serde::de::Error::custom)
            }
        }
    };
}

id_type!(
    /// A user id issued by the auth service.
    UserId,
    "user_id"
);
id_type!(
    /// A payment id issued by the payment provider; one bonus per payment id.
    PaymentId,
    "payment_id"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_typical_ids() {
        for ok in ["u_123", "auth0:abc|x".replace('|', "-").as_str(), "pay_3NxQ.1", "a@b.c"] {
            assert!(UserId::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn rejects_key_breaking_input() {
        for bad in ["", "a#b", "a b", "a/b", "ü", "x\ny", "{\"$ne\":1}"] {
            assert!(PaymentId::parse(bad).is_err(), "{bad:?}");
        }
        assert!(UserId::parse(&"a".repeat(129)).is_err());
        assert!(UserId::parse(&"a".repeat(128)).is_ok());
    }
}
