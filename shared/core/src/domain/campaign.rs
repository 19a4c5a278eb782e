//! Campaign names of referral links (`?ref=CODE&utm_campaign=<name>`): validation and the
//! per-campaign click counter attribute.
//!
//! A name is `[a-z0-9][a-z0-9_-]{0,39}`. [`CampaignName`] is `Copy` and lives on the stack,
//! so the redirect can carry one through its hot path without allocating.

use std::fmt;

/// Longest campaign name.
pub const MAX_CAMPAIGN_LEN: usize = 40;
/// Campaigns one referral code may have (each adds one attribute to every click shard).
pub const MAX_CAMPAIGNS: u32 = 20;
/// Prefix of the per-campaign counter attribute on each click shard (`camp_<name>`).
pub const COUNTER_PREFIX: &str = "camp_";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("campaign must match [a-z0-9][a-z0-9_-]{{0,39}} (lowercase letters, digits, - and _; at most 40)")]
pub struct CampaignError;

/// A validated campaign name.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CampaignName {
    len: u8,
    bytes: [u8; MAX_CAMPAIGN_LEN],
}

impl CampaignName {
    pub fn parse(raw: &str) -> Result<Self, CampaignError> {
        let raw = raw.as_bytes();
        let valid_first = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
        match raw {
            [first, rest @ ..]
                if raw.len() <= MAX_CAMPAIGN_LEN
                    && valid_first(*first)
                    && rest.iter().all(|&b| valid_first(b) || b == b'-' || b == b'_') =>
            {
                let mut bytes = [0u8; MAX_CAMPAIGN_LEN];
                bytes[..raw.len()].copy_from_slice(raw);
                Ok(Self { len: raw.len() as u8, bytes })
            }
            _ => Err(CampaignError),
        }
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..self.len as usize]).expect("validated ASCII")
    }

    /// The click-shard attribute counting this campaign's clicks (`camp_<name>`).
    pub fn counter_attribute(&self) -> String {
        format!("{COUNTER_PREFIX}{}", self.as_str())
    }
}

impl fmt::Display for CampaignName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for CampaignName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CampaignName({})", self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_names() {
        for ok in ["a", "spring-sale", "q3_2026", "0", &"a".repeat(40)] {
            let name = CampaignName::parse(ok).unwrap();
            assert_eq!(name.as_str(), ok);
        }
        assert_eq!(CampaignName::parse("spring-sale").unwrap().counter_attribute(), "camp_spring-sale");
    }

    #[test]
    fn invalid_names() {
        for bad in ["", "-x", "_x", "Spring", "a b", "a.b", "ü", "a/b", &"a".repeat(41), "a\n"] {
            assert_eq!(CampaignName::parse(bad), Err(CampaignError), "{bad:?}");
        }
    }
}
