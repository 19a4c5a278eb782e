//! The bonus due for a payment — the one formula every path converges to:
//!
//! `due = round_half_away_from_zero(rate × max(0, succeeded − refunded − disputed))`
//!
//! where `succeeded`, `refunded` (the cumulative total) and `disputed` (held back by an open
//! or lost dispute) come from the payment's record (`payment::PaymentRecord`), whatever the
//! order the provider's events arrived in. The rate is the one decided when the top-up
//! succeeded. A rejected bonus is due nothing; a held one is due nothing *yet*.

use crate::domain::{Rate, Usd};

/// What the bonus is computed on: the payment's facts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Basis {
    pub succeeded: Usd,
    pub refunded: Usd,
    pub disputed: Usd,
}

impl Basis {
    /// What still stands of the payment: `max(0, succeeded − refunded − disputed)`. This is
    /// also what counts toward the referrer's monthly volume (rate tiers).
    pub fn standing(&self) -> Usd {
        let standing = self.succeeded - self.refunded - self.disputed;
        if standing.decimal().is_sign_negative() {
            Usd::ZERO
        } else {
            standing
        }
    }
}

/// The bonus due at `rate` on `basis`.
pub fn bonus_due(rate: Rate, basis: Basis) -> Usd {
    rate.apply(basis.standing())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basis(succeeded: i64, refunded: i64, disputed: i64) -> Basis {
        Basis { succeeded: Usd::cents(succeeded), refunded: Usd::cents(refunded), disputed: Usd::cents(disputed) }
    }

    #[test]
    fn proportional_to_what_still_stands() {
        let rate = Rate::DEFAULT;
        assert_eq!(bonus_due(rate, basis(10_000, 0, 0)), Usd::cents(500));
        assert_eq!(bonus_due(rate, basis(10_000, 4_000, 0)), Usd::cents(300));
        assert_eq!(bonus_due(rate, basis(10_000, 10_000, 0)), Usd::ZERO);
        assert_eq!(bonus_due(rate, basis(10_000, 4_000, 6_000)), Usd::ZERO);
        assert_eq!(bonus_due(rate, basis(10_000, 12_000, 0)), Usd::ZERO, "never negative");
        // Half a cent rounds away from zero: 5 % of 12.30 = 0.615 → 0.62.
        assert_eq!(bonus_due(rate, basis(1_230, 0, 0)), Usd::cents(62));
    }
}
