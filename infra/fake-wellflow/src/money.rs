//! Money on the wire: parsing request amounts (decimal strings, > 0, at most two decimals)
//! and formatting every amount and balance with exactly two decimals.

use std::str::FromStr;

use rust_decimal::Decimal;

/// Longest integer part accepted; keeps balances far away from `Decimal`'s limits.
const MAX_INTEGER_DIGITS: usize = 15;

/// Parses a request amount such as `"2.50"`; the error text is meant for the 422 message.
pub(crate) fn parse_amount(raw: &str) -> Result<Decimal, &'static str> {
    let (integer, fraction) = match raw.split_once('.') {
        Some((integer, fraction)) => (integer, Some(fraction)),
        None => (raw, None),
    };
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(integer) || fraction.is_some_and(|f| !all_digits(f)) {
        return Err("amount must be a decimal string such as \"2.50\"");
    }
    if fraction.is_some_and(|f| f.len() > 2) {
        return Err("amount must have at most 2 decimal places");
    }
    if integer.len() > MAX_INTEGER_DIGITS {
        return Err("amount is too large");
    }
    let value = Decimal::from_str(raw).map_err(|_| "amount is not a valid decimal")?;
    if value <= Decimal::ZERO {
        return Err("amount must be greater than 0");
    }
    Ok(value)
}

/// Formats with exactly two decimals (`"12.50"`, `"-3.00"`, never `"-0.00"`).
pub(crate) fn format_money(value: Decimal) -> String {
    let mut value = value.round_dp(2);
    value.rescale(2);
    if value.is_zero() {
        value.set_sign_positive(true);
    }
    value.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_decimals() {
        assert_eq!(parse_amount("2.50"), Ok(Decimal::new(250, 2)));
        assert_eq!(parse_amount("7"), Ok(Decimal::new(7, 0)));
        assert_eq!(parse_amount("0.01"), Ok(Decimal::new(1, 2)));
    }

    #[test]
    fn rejects_bad_amounts() {
        for raw in ["", "0", "0.00", "-1", "+1", "1.234", "1e3", " 1", "1.", ".5", "abc", "1234567890123456"] {
            assert!(parse_amount(raw).is_err(), "{raw:?} should be rejected");
        }
    }

    #[test]
    fn formats_two_decimals() {
        assert_eq!(format_money(Decimal::new(125, 1)), "12.50");
        assert_eq!(format_money(Decimal::new(-3, 0)), "-3.00");
        assert_eq!(format_money(Decimal::new(250, 2) - Decimal::new(25, 1)), "0.00");
        assert_eq!(format_money(Decimal::ZERO), "0.00");
    }
}
