//! Exact USD money and referral rates on `rust_decimal`.
//!
//! Rounding rule (the only one in the system): a computed amount is rounded to the cent
//! with **round-half-away-from-zero** ("commercial" rounding, what an accountant does by
//! hand): 0.125 → 0.13, 0.124 → 0.12. Inputs from the outside world are never rounded:
//! an amount with more than two decimals is rejected instead.

use std::fmt;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Largest single amount we accept (USD 1,000,000.00): bounds arithmetic and catches typos.
pub const MAX_AMOUNT: Decimal = Decimal::from_parts(100_000_000, 0, 0, false, 2);

/// A non-negative or negative USD amount with exactly two decimals.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Usd(Decimal);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("amount must be a decimal string of 1 to 7 digits and up to two decimals, such as \"12.50\", got {0:?}")]
    NotADecimal(String),
    #[error("amount must not have leading zeros (write \"50.00\", not \"050.00\"), got {0:?}")]
    LeadingZeros(String),
    #[error("amount must have at most two decimal places (cents), got {0}")]
    SubCent(String),
    #[error("amount must be greater than zero, got {0}")]
    NotPositive(String),
    #[error("amount must not exceed {MAX_AMOUNT}, got {0}")]
    TooLarge(String),
    #[error("rate must be greater than 0 and at most {max}, got {got}")]
    RateOutOfRange { got: String, max: Decimal },
}

impl Usd {
    /// Zero, with two decimals like every other amount (`"0.00"`).
    pub const ZERO: Usd = Usd(Decimal::from_parts(0, 0, 0, false, 2));

    /// Parses a positive amount from the outside world, in the one canonical syntax
    /// `^\d{1,7}(\.\d{1,2})?$` without leading zeros ("50", "50.5", "50.00", "0.50"): no sign,
    /// exponent, spaces or separators, digits on both sides of a point, at most two decimals,
    /// more than zero and at most [`MAX_AMOUNT`]. Each refusal names its reason.
    pub fn parse_positive(input: &str) -> Result<Self, MoneyError> {
        let shown = || truncate(input);
        let (negative, body) = match input.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, input),
        };
        let (int, frac) = match body.split_once('.') {
            Some((int, frac)) => (int, Some(frac)),
            None => (body, None),
        };
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(int) || frac.is_some_and(|f| !digits(f)) {
            return Err(MoneyError::NotADecimal(shown()));
        }
        if negative {
            return Err(MoneyError::NotPositive(shown()));
        }
        if int.len() > 1 && int.starts_with('0') {
            return Err(MoneyError::LeadingZeros(shown()));
        }
        if frac.is_some_and(|f| f.len() > 2) {
            return Err(MoneyError::SubCent(shown()));
        }
        if int.len() > 7 {
            return Err(MoneyError::TooLarge(shown()));
        }
        let value: Decimal = body.parse().map_err(|_| MoneyError::NotADecimal(shown()))?;
        if value.is_zero() {
            return Err(MoneyError::NotPositive(shown()));
        }
        if value > MAX_AMOUNT {
            return Err(MoneyError::TooLarge(shown()));
        }
        Ok(Self::from_decimal_exact(value))
    }

    /// Wraps a decimal known to have at most two decimals (stored values, literals).
    pub fn from_decimal_exact(value: Decimal) -> Self {
        let mut v = value;
        v.rescale(2);
        Self(v)
    }

    /// Rounds any decimal to the cent by the documented rule (half away from zero).
    pub fn round(value: Decimal) -> Self {
        Self::from_decimal_exact(value.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero))
    }

    pub fn cents(cents: i64) -> Self {
        Self(Decimal::new(cents, 2))
    }

    pub fn decimal(&self) -> Decimal {
        self.0
    }

    pub fn is_zero(&self) -> bool {
        self.0.is_zero()
    }

    pub fn checked_add(self, other: Usd) -> Option<Usd> {
        self.0.checked_add(other.0).map(Usd::from_decimal_exact)
    }
}

impl std::ops::Add for Usd {
    type Output = Usd;
    fn add(self, rhs: Usd) -> Usd {
        Usd::from_decimal_exact(self.0 + rhs.0)
    }
}

impl std::ops::Sub for Usd {
    type Output = Usd;
    fn sub(self, rhs: Usd) -> Usd {
        Usd::from_decimal_exact(self.0 - rhs.0)
    }
}

impl std::ops::Neg for Usd {
    type Output = Usd;
    fn neg(self) -> Usd {
        Usd(-self.0)
    }
}

impl std::iter::Sum for Usd {
    fn sum<I: Iterator<Item = Usd>>(iter: I) -> Usd {
        iter.fold(Usd::ZERO, |a, b| a + b)
    }
}

impl fmt::Display for Usd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Debug for Usd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "USD {}", self.0)
    }
}

impl Serialize for Usd {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Usd {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        let value: Decimal = raw.parse().map_err(serde::de::Error::custom)?;
        if value.normalize().scale() > 2 {
            return Err(serde::de::Error::custom(MoneyError::SubCent(raw)));
        }
        Ok(Usd::from_decimal_exact(value))
    }
}

/// A referral rate as a fraction (0.05 = 5 %), 0 < rate ≤ 0.5.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Rate(Decimal);

impl Rate {
    /// The highest rate an admin may set: half of the top-up.
    pub const MAX: Decimal = Decimal::from_parts(5, 0, 0, false, 1);
    /// The product's default: 5 %.
    pub const DEFAULT: Rate = Rate(Decimal::from_parts(5, 0, 0, false, 2));

    pub fn new(value: Decimal) -> Result<Self, MoneyError> {
        if value <= Decimal::ZERO || value > Self::MAX || value.normalize().scale() > 6 {
            return Err(MoneyError::RateOutOfRange { got: value.to_string(), max: Self::MAX });
        }
        Ok(Self(value.normalize()))
    }

    pub fn parse(input: &str) -> Result<Self, MoneyError> {
        let value: Decimal =
            input.trim().parse().map_err(|_| MoneyError::RateOutOfRange { got: truncate(input), max: Self::MAX })?;
        Self::new(value)
    }

    pub fn decimal(&self) -> Decimal {
        self.0
    }

    /// `amount × rate`, rounded to the cent by the documented rule.
    pub fn apply(&self, amount: Usd) -> Usd {
        Usd::round(amount.decimal() * self.0)
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl Serialize for Rate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.to_string())
    }
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Rate::parse(&raw).map_err(serde::de::Error::custom)
    }
}

fn truncate(input: &str) -> String {
    input.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn parses_positive_amounts_to_two_decimals() {
        assert_eq!(Usd::parse_positive("50").unwrap().to_string(), "50.00");
        assert_eq!(Usd::parse_positive("4.9").unwrap().to_string(), "4.90");
        assert_eq!(Usd::parse_positive("1000.00").unwrap().to_string(), "1000.00");
        assert_eq!(Usd::parse_positive("0.50").unwrap().to_string(), "0.50");
    }

    #[test]
    fn rejects_bad_amounts() {
        assert!(matches!(Usd::parse_positive("0"), Err(MoneyError::NotPositive(_))));
        assert!(matches!(Usd::parse_positive("0.00"), Err(MoneyError::NotPositive(_))));
        assert!(matches!(Usd::parse_positive("-5.00"), Err(MoneyError::NotPositive(_))));
        assert!(matches!(Usd::parse_positive("1.005"), Err(MoneyError::SubCent(_))));
        assert!(matches!(Usd::parse_positive("1e3"), Err(MoneyError::NotADecimal(_))));
        assert!(matches!(Usd::parse_positive("ten"), Err(MoneyError::NotADecimal(_))));
        assert!(matches!(Usd::parse_positive(""), Err(MoneyError::NotADecimal(_))));
        assert!(matches!(Usd::parse_positive("1.2.3"), Err(MoneyError::NotADecimal(_))));
        assert!(matches!(Usd::parse_positive(" 5"), Err(MoneyError::NotADecimal(_))));
        assert!(matches!(Usd::parse_positive("1000000.01"), Err(MoneyError::TooLarge(_))));
        // The canonical syntax: digits on both sides of a point, no leading zeros, ≤ 2 decimals.
        for bad in ["50.", ".50", "+5", "5 ", "1,000.00", "１０", "0x10", "NaN", "5-", "--5"] {
            assert!(matches!(Usd::parse_positive(bad), Err(MoneyError::NotADecimal(_))), "{bad}");
        }
        for bad in ["00050.00", "05", "00.50"] {
            assert!(matches!(Usd::parse_positive(bad), Err(MoneyError::LeadingZeros(_))), "{bad}");
        }
        assert!(matches!(Usd::parse_positive("5.000"), Err(MoneyError::SubCent(_))));
        assert!(matches!(Usd::parse_positive("12345678"), Err(MoneyError::TooLarge(_))));
        assert!(matches!(Usd::parse_positive(&"9".repeat(1 << 20)), Err(MoneyError::TooLarge(_))));
        // The cap itself is valid, and a refusal above it says so (not "not a decimal").
        assert_eq!(Usd::parse_positive("1000000.00").unwrap().decimal(), MAX_AMOUNT);
        assert!(Usd::parse_positive("1000000").is_ok());
        let err = Usd::parse_positive("1000000.01").unwrap_err().to_string();
        assert!(err.contains("must not exceed 1000000.00"), "{err}");
        let err = Usd::parse_positive("-5.00").unwrap_err().to_string();
        assert!(err.contains("greater than zero"), "{err}");
    }

    #[test]
    fn five_percent_examples_from_the_product_brief() {
        let rate = Rate::DEFAULT;
        let bonus = |a: &str| rate.apply(Usd::parse_positive(a).unwrap()).to_string();
        assert_eq!(bonus("50.00"), "2.50");
        assert_eq!(bonus("300.00"), "15.00");
        assert_eq!(bonus("1000.00"), "50.00");
        assert_eq!(bonus("5.00"), "0.25");
        assert_eq!(bonus("4.99"), "0.25"); // 0.2495 → 0.25 (the ≥ $5 minimum is a separate rule)
    }

    #[test]
    fn rounding_is_half_away_from_zero_at_the_cent() {
        assert_eq!(Usd::round(dec!(0.125)).to_string(), "0.13");
        assert_eq!(Usd::round(dec!(0.135)).to_string(), "0.14");
        assert_eq!(Usd::round(dec!(0.124999)).to_string(), "0.12");
        assert_eq!(Usd::round(dec!(-0.125)).to_string(), "-0.13");
        // 5 % of $12.10 = 0.605 → 0.61 (banker's rounding would give 0.60).
        assert_eq!(Rate::DEFAULT.apply(Usd::parse_positive("12.10").unwrap()).to_string(), "0.61");
        // 8 % of $33.33 = 2.6664 → 2.67
        assert_eq!(Rate::new(dec!(0.08)).unwrap().apply(Usd::parse_positive("33.33").unwrap()).to_string(), "2.67");
    }

    #[test]
    fn rate_bounds() {
        assert!(Rate::new(dec!(0)).is_err());
        assert!(Rate::new(dec!(-0.01)).is_err());
        assert!(Rate::new(dec!(0.5)).is_ok());
        assert!(Rate::new(dec!(0.5000001)).is_err());
        assert!(Rate::parse("abc").is_err());
        assert_eq!(Rate::parse("0.080").unwrap().to_string(), "0.08");
    }

    #[test]
    fn serde_is_a_two_decimal_string() {
        let v = Usd::cents(250);
        assert_eq!(serde_json::to_string(&v).unwrap(), "\"2.50\"");
        assert_eq!(serde_json::from_str::<Usd>("\"2.5\"").unwrap(), v);
        assert!(serde_json::from_str::<Usd>("\"2.555\"").is_err());
    }

    #[test]
    fn sums_are_exact() {
        let total: Usd = std::iter::repeat_n(Usd::cents(1), 1000).sum();
        assert_eq!(total.to_string(), "10.00");
        let tenths: Usd = (0..10).map(|_| Usd::parse_positive("0.10").unwrap()).sum();
        assert_eq!(tenths, Usd::cents(100));
    }
}
