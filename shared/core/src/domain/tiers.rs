//! Multi-tier referral rates: a rate table keyed by the referrer's referred volume of the
//! current UTC calendar month, its validation, and the rule that picks a rate.
//!
//! **The rule.** Band `i` covers referred volumes in `[up_to(i-1), up_to(i))` (band 0 starts
//! at zero, the last band is unbounded). A top-up gets, for the whole amount, the rate of
//! the band that the month's volume is in *before* it: the top-up that crosses a threshold
//! still earns the lower rate, the next one earns the higher rate (no splitting of one
//! top-up across bands). Volume exactly at a threshold is already in the higher band
//! (with `5 % up to 1000.00`, a volume of 999.99 → 5 %, 1000.00 → 7 %).
//!
//! **Precedence.** An individual `rate_override` wins over the tiers; the tiers win over
//! `BonusPolicy::default_rate`; without a stored table the flat default applies.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::money::{Rate, Usd};

/// At most this many tiers in a table.
pub const MAX_TIERS: usize = 10;

/// One row of the table: the rate for volumes below `up_to` (`None` = no upper bound).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateTier {
    pub up_to: Option<Usd>,
    pub rate: Rate,
}

/// A validated, ordered rate table (see the module doc for the rule).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<RateTier>", into = "Vec<RateTier>")]
pub struct RateTiers(Vec<RateTier>);

/// Why a rate table was refused. `code()` is the machine-readable API error code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TierError {
    #[error("tiers must hold 1 to {MAX_TIERS} entries, got {0}")]
    Count(usize),
    #[error("tier {index}: up_to must be greater than 0.00, got {got}")]
    NonPositiveThreshold { index: usize, got: String },
    #[error(
        "tier {index}: up_to {got} must be greater than the previous tier's {previous} (ascending, no duplicates)"
    )]
    NotAscending { index: usize, got: String, previous: String },
    #[error("tier {index}: only the last tier may be unbounded (up_to: null)")]
    UnboundedNotLast { index: usize },
    #[error("the last tier must be unbounded (up_to: null), got up_to {got}")]
    LastTierBounded { got: String },
}

impl TierError {
    pub fn code(&self) -> &'static str {
        match self {
            TierError::Count(_) => "invalid_tier_count",
            TierError::NonPositiveThreshold { .. } => "invalid_threshold",
            TierError::NotAscending { .. } => "thresholds_not_ascending",
            TierError::UnboundedNotLast { .. } => "unbounded_tier_not_last",
            TierError::LastTierBounded { .. } => "last_tier_bounded",
        }
    }
}

/// The band a volume falls in: `[from, below)`; `from: None` is the first band (it also
/// takes volumes below zero, which only reversals of old rows could produce), `below: None`
/// the unbounded last band.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VolumeBand {
    pub index: usize,
    pub from: Option<Usd>,
    pub below: Option<Usd>,
    pub rate: Rate,
}

impl VolumeBand {
    pub fn contains(&self, volume: Usd) -> bool {
        self.from.is_none_or(|from| volume >= from) && self.below.is_none_or(|below| volume < below)
    }
}

impl RateTiers {
    pub fn new(tiers: Vec<RateTier>) -> Result<Self, TierError> {
        if tiers.is_empty() || tiers.len() > MAX_TIERS {
            return Err(TierError::Count(tiers.len()));
        }
        let last = tiers.len() - 1;
        let mut previous: Option<Usd> = None;
        for (index, tier) in tiers.iter().enumerate() {
            match tier.up_to {
                None if index != last => return Err(TierError::UnboundedNotLast { index }),
                None => {}
                Some(got) if index == last => return Err(TierError::LastTierBounded { got: got.to_string() }),
                Some(got) if got <= Usd::ZERO => {
                    return Err(TierError::NonPositiveThreshold { index, got: got.to_string() })
                }
                Some(got) => {
                    if let Some(prev) = previous.filter(|prev| got <= *prev) {
                        return Err(TierError::NotAscending {
                            index,
                            got: got.to_string(),
                            previous: prev.to_string(),
                        });
                    }
                    previous = Some(got);
                }
            }
        }
        Ok(Self(tiers))
    }

    /// A one-band table: the flat `rate` (how "no table stored" is shown to admins).
    pub fn flat(rate: Rate) -> Self {
        Self(vec![RateTier { up_to: None, rate }])
    }

    pub fn tiers(&self) -> &[RateTier] {
        &self.0
    }

    /// The band containing the month's referred volume before this top-up.
    pub fn band_for(&self, volume_before: Usd) -> VolumeBand {
        let mut from = None;
        for (index, tier) in self.0.iter().enumerate() {
            match tier.up_to {
                Some(below) if volume_before >= below => from = Some(below),
                below => return VolumeBand { index, from, below, rate: tier.rate },
            }
        }
        unreachable!("validated tables end with an unbounded tier")
    }

    /// The rate for a top-up when the month's referred volume before it is `volume_before`.
    pub fn rate_for(&self, volume_before: Usd) -> Rate {
        self.band_for(volume_before).rate
    }
}

impl TryFrom<Vec<RateTier>> for RateTiers {
    type Error = TierError;
    fn try_from(tiers: Vec<RateTier>) -> Result<Self, TierError> {
        Self::new(tiers)
    }
}

impl From<RateTiers> for Vec<RateTier> {
    fn from(tiers: RateTiers) -> Self {
        tiers.0
    }
}

impl fmt::Display for RateTiers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|t| match t.up_to {
                Some(up_to) => format!("{} <{up_to}", t.rate),
                None => format!("{} above", t.rate),
            })
            .collect();
        f.write_str(&parts.join(", "))
    }
}

/// The UTC calendar month (`yyyy-mm`) of one of our RFC 3339 timestamps — the month a
/// bonus's top-up volume is booked to (`created_at`).
pub fn month_of(timestamp: &str) -> &str {
    crate::clock::month_of(timestamp)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd(s: &str) -> Usd {
        Usd::parse_positive(s).unwrap()
    }

    fn rate(s: &str) -> Rate {
        Rate::parse(s).unwrap()
    }

    fn tier(up_to: Option<&str>, r: &str) -> RateTier {
        RateTier { up_to: up_to.map(usd), rate: rate(r) }
    }

    fn example() -> RateTiers {
        RateTiers::new(vec![tier(Some("1000.00"), "0.05"), tier(Some("5000.00"), "0.07"), tier(None, "0.10")]).unwrap()
    }

    #[test]
    fn boundaries_to_the_cent() {
        let t = example();
        assert_eq!(t.rate_for(Usd::ZERO), rate("0.05"));
        assert_eq!(t.rate_for(usd("999.99")), rate("0.05"));
        assert_eq!(t.rate_for(usd("1000.00")), rate("0.07"));
        assert_eq!(t.rate_for(usd("4999.99")), rate("0.07"));
        assert_eq!(t.rate_for(usd("5000.00")), rate("0.10"));
        assert_eq!(t.rate_for(usd("1000000.00")), rate("0.10"));
        assert_eq!(t.rate_for(Usd::cents(-500)), rate("0.05"), "negative volume stays in the first band");
    }

    #[test]
    fn bands_describe_their_range() {
        let t = example();
        let first = t.band_for(usd("999.99"));
        assert_eq!((first.index, first.from, first.below), (0, None, Some(usd("1000.00"))));
        let middle = t.band_for(usd("1000.00"));
        assert_eq!((middle.index, middle.from, middle.below), (1, Some(usd("1000.00")), Some(usd("5000.00"))));
        let last = t.band_for(usd("5000.00"));
        assert_eq!((last.index, last.from, last.below), (2, Some(usd("5000.00")), None));
        assert!(middle.contains(usd("4999.99")) && !middle.contains(usd("5000.00")) && !middle.contains(usd("999.99")));
        assert!(first.contains(Usd::cents(-1)) && last.contains(usd("999999.99")));
    }

    #[test]
    fn the_crossing_topup_keeps_the_lower_rate() {
        // $995 booked, a $10 top-up crosses $1000: the whole $10 earns 5 %, the next 7 %.
        let t = example();
        let before = usd("995.00");
        assert_eq!(t.rate_for(before).apply(usd("10.00")), usd("0.50"));
        assert_eq!(t.rate_for(before + usd("10.00")).apply(usd("10.00")), usd("0.70"));
    }

    #[test]
    fn validation() {
        let ok = |v: Vec<RateTier>| RateTiers::new(v).map(|_| ()).map_err(|e| e.code());
        assert_eq!(ok(vec![tier(None, "0.05")]), Ok(()));
        assert_eq!(ok(vec![]), Err("invalid_tier_count"));
        assert_eq!(
            ok((0..11).map(|i| tier(Some(&format!("{}.00", i + 1)), "0.05")).collect()),
            Err("invalid_tier_count")
        );
        let ten: Vec<RateTier> = (0..10)
            .map(|i| if i == 9 { tier(None, "0.1") } else { tier(Some(&format!("{}.00", i + 1)), "0.05") })
            .collect();
        assert_eq!(ok(ten), Ok(()));
        assert_eq!(ok(vec![tier(Some("1000.00"), "0.05")]), Err("last_tier_bounded"));
        assert_eq!(ok(vec![tier(None, "0.05"), tier(None, "0.07")]), Err("unbounded_tier_not_last"));
        assert_eq!(
            ok(vec![tier(Some("1000.00"), "0.05"), tier(Some("1000.00"), "0.07"), tier(None, "0.1")]),
            Err("thresholds_not_ascending")
        );
        assert_eq!(
            ok(vec![tier(Some("5000.00"), "0.05"), tier(Some("1000.00"), "0.07"), tier(None, "0.1")]),
            Err("thresholds_not_ascending")
        );
        let zero = RateTier { up_to: Some(Usd::ZERO), rate: rate("0.05") };
        assert_eq!(ok(vec![zero, tier(None, "0.1")]), Err("invalid_threshold"));
    }

    #[test]
    fn serde_round_trip_validates() {
        let json = serde_json::to_string(&example()).unwrap();
        assert_eq!(
            json,
            r#"[{"up_to":"1000.00","rate":"0.05"},{"up_to":"5000.00","rate":"0.07"},{"up_to":null,"rate":"0.1"}]"#
        );
        assert_eq!(serde_json::from_str::<RateTiers>(&json).unwrap(), example());
        assert!(serde_json::from_str::<RateTiers>(r#"[{"up_to":"10.00","rate":"0.05"}]"#).is_err());
        assert!(serde_json::from_str::<RateTiers>(r#"[{"up_to":null,"rate":"0.9"}]"#).is_err());
    }

    #[test]
    fn month_rollover_is_utc_calendar() {
        assert_eq!(month_of("2026-11-30T23:59:59.999Z"), "2026-11");
        assert_eq!(month_of("2026-12-01T00:00:00.000Z"), "2026-12");
        assert_eq!(month_of("2026-12-31T23:59:59.999Z"), "2026-12");
        assert_eq!(month_of("2027-01-01T00:00:00.000Z"), "2027-01");
    }
}
