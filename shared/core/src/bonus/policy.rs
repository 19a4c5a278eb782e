//! The rules applied when a top-up succeeds: the minimum top-up, which rate applies
//! (override > volume tier > default), when a human must look first (same IP, velocity cap,
//! amount review) and the optional holding period. Plain Rust, no I/O.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::domain::{Rate, Usd};

/// Why a bonus waits for a human instead of being credited. Machine-readable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HoldReason {
    /// The referred user signed up from the referrer's own IP.
    SameIp,
    /// The referrer already had `velocity_max` first-time top-ups in the trailing window.
    VelocityCap,
    /// A single bonus above the manual-review threshold.
    AmountReview,
    /// Not a moderation hold: the configured holding period (`HOLDING_DAYS`) has not passed
    /// yet; `holding-release` credits the row at its `release_at`.
    Holding,
}

impl HoldReason {
    pub fn as_str(&self) -> &'static str {
        match self {
            HoldReason::SameIp => "same_ip",
            HoldReason::VelocityCap => "velocity_cap",
            HoldReason::AmountReview => "amount_review",
            HoldReason::Holding => "holding",
        }
    }
}

/// The tunable rules (defaults are the product's promises).
#[derive(Debug, Clone, PartialEq)]
pub struct BonusPolicy {
    /// Top-ups below this earn nothing (and leave no row).
    pub min_topup: Usd,
    pub default_rate: Rate,
    /// First-time top-ups per referrer allowed in the window before holding for review.
    pub velocity_max: usize,
    pub velocity_window_secs: i64,
    /// Any single bonus strictly above this is held with `amount_review`.
    pub review_threshold: Option<Usd>,
    /// Days a bonus that would be credited right away waits as `pending`/`holding` first
    /// (0 = instant credit, the product's default; at most [`MAX_HOLDING_DAYS`]).
    pub holding_days: u32,
}

/// Upper bound of `HOLDING_DAYS` (longer than any card refund window worth matching).
pub const MAX_HOLDING_DAYS: u32 = 90;

impl Default for BonusPolicy {
    fn default() -> Self {
        Self {
            min_topup: Usd::cents(500),
            default_rate: Rate::DEFAULT,
            velocity_max: 5,
            velocity_window_secs: 24 * 60 * 60,
            review_threshold: None,
            holding_days: 0,
        }
    }
}

/// What a referrer and the referred user look like when a top-up arrives.
#[derive(Debug, Clone, PartialEq)]
pub struct TopupContext<'a> {
    pub amount: Usd,
    pub rate_override: Option<Rate>,
    /// The rate of the referrer's volume tier, when a tier table is configured.
    pub tiered_rate: Option<Rate>,
    /// The referred user's first top-up (counts toward the velocity cap).
    pub is_first_topup: bool,
    /// Unix seconds of the referrer's earlier first-time top-ups (any age; filtered here).
    pub recent_first_topups: &'a [i64],
    pub same_ip: bool,
    pub now: i64,
}

/// The decision for one top-up.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Below the minimum: no bonus, no row.
    BelowMinimum,
    /// Credit `amount` (at `rate`) right away.
    Credit { amount: Usd, rate: Rate },
    /// Create the bonus `pending` for moderation.
    Hold { amount: Usd, rate: Rate, reason: HoldReason },
}

impl BonusPolicy {
    /// Applies the rules. Rate: override, else tier, else the default. Precedence of hold
    /// reasons: `same_ip`, `velocity_cap`, `amount_review` (moderation: a human decides),
    /// then `holding` (released automatically after `holding_days`).
    pub fn decide(&self, ctx: &TopupContext<'_>) -> Decision {
        if ctx.amount < self.min_topup {
            return Decision::BelowMinimum;
        }
        let rate = ctx.rate_override.or(ctx.tiered_rate).unwrap_or(self.default_rate);
        let amount = rate.apply(ctx.amount);
        let hold = if ctx.same_ip {
            Some(HoldReason::SameIp)
        } else if ctx.is_first_topup && self.recent_count(ctx.recent_first_topups, ctx.now) >= self.velocity_max {
            Some(HoldReason::VelocityCap)
        } else if self.review_threshold.is_some_and(|limit| amount > limit) {
            Some(HoldReason::AmountReview)
        } else if self.holding_days > 0 {
            Some(HoldReason::Holding)
        } else {
            None
        };
        match hold {
            Some(reason) => Decision::Hold { amount, rate, reason },
            None => Decision::Credit { amount, rate },
        }
    }

    /// When a `holding` bonus is released: `holding_days` after the top-up's `occurred_at`,
    /// but never later than `holding_days` after we received it (`received`), so a
    /// provider timestamp in the future cannot park a bonus beyond the configured period.
    pub fn release_at(&self, occurred: OffsetDateTime, received: OffsetDateTime) -> OffsetDateTime {
        occurred.min(received) + time::Duration::days(i64::from(self.holding_days))
    }

    /// First-time top-ups inside the trailing window.
    pub fn recent_count(&self, first_topups: &[i64], now: i64) -> usize {
        first_topups.iter().filter(|t| now - **t < self.velocity_window_secs).count()
    }

    /// The window list after recording a first-time top-up at `now`: entries outside the
    /// window are pruned and only the newest `velocity_max` are kept — exactly what the cap
    /// needs, so the stored list stays tiny however viral a referrer gets.
    pub fn record_first_topup(&self, first_topups: &[i64], now: i64) -> Vec<i64> {
        let mut kept: Vec<i64> =
            first_topups.iter().copied().filter(|t| now - *t < self.velocity_window_secs).collect();
        kept.push(now);
        kept.sort_unstable();
        let excess = kept.len().saturating_sub(self.velocity_max.max(1));
        kept.drain(..excess);
        kept
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_764_000_000;

    fn ctx(amount: &str) -> TopupContext<'static> {
        TopupContext {
            amount: Usd::parse_positive(amount).unwrap(),
            rate_override: None,
            tiered_rate: None,
            is_first_topup: false,
            recent_first_topups: &[],
            same_ip: false,
            now: NOW,
        }
    }

    fn credit(amount: &str) -> Decision {
        Decision::Credit { amount: Usd::parse_positive(amount).unwrap(), rate: Rate::DEFAULT }
    }

    #[test]
    fn product_examples() {
        let p = BonusPolicy::default();
        assert_eq!(p.decide(&ctx("50.00")), credit("2.50"));
        assert_eq!(p.decide(&ctx("300.00")), credit("15.00"));
        assert_eq!(p.decide(&ctx("1000.00")), credit("50.00"));
        assert_eq!(p.decide(&ctx("5.00")), credit("0.25"));
        assert_eq!(p.decide(&ctx("4.99")), Decision::BelowMinimum);
    }

    #[test]
    fn override_rate_wins() {
        let p = BonusPolicy::default();
        let c = TopupContext { rate_override: Some(Rate::parse("0.08").unwrap()), ..ctx("50.00") };
        assert_eq!(p.decide(&c), Decision::Credit { amount: Usd::cents(400), rate: Rate::parse("0.08").unwrap() });
    }

    #[test]
    fn sixth_first_time_topup_in_24h_is_held() {
        let p = BonusPolicy::default();
        let five = [NOW - 100, NOW - 200, NOW - 300, NOW - 400, NOW - 86_399];
        let c = TopupContext { is_first_topup: true, recent_first_topups: &five, ..ctx("50.00") };
        assert!(matches!(p.decide(&c), Decision::Hold { reason: HoldReason::VelocityCap, .. }));
        // A repeat top-up of an already counted user is not a first-time top-up.
        let repeat = TopupContext { is_first_topup: false, ..c.clone() };
        assert_eq!(p.decide(&repeat), credit("2.50"));
        // Entries older than 24 h fall out of the window.
        let old = [NOW - 100, NOW - 200, NOW - 300, NOW - 400, NOW - 86_400];
        let c = TopupContext { is_first_topup: true, recent_first_topups: &old, ..ctx("50.00") };
        assert_eq!(p.decide(&c), credit("2.50"));
    }

    #[test]
    fn same_ip_and_amount_review_hold() {
        let p = BonusPolicy { review_threshold: Some(Usd::cents(10_000)), ..BonusPolicy::default() };
        let c = TopupContext { same_ip: true, ..ctx("50.00") };
        assert!(matches!(p.decide(&c), Decision::Hold { reason: HoldReason::SameIp, .. }));
        // $2000 → $100.00 bonus: not above the threshold; $2000.20 → $100.01: above.
        assert_eq!(p.decide(&ctx("2000.00")), credit("100.00"));
        assert!(matches!(p.decide(&ctx("2000.20")), Decision::Hold { reason: HoldReason::AmountReview, .. }));
    }

    #[test]
    fn window_list_is_pruned() {
        let p = BonusPolicy::default();
        assert_eq!(p.record_first_topup(&[NOW - 90_000, NOW - 10], NOW), vec![NOW - 10, NOW]);
        // Only the newest `velocity_max` matter: a busy day never grows the stored list.
        let busy: Vec<i64> = (1..=50).map(|i| NOW - i).collect();
        let kept = p.record_first_topup(&busy, NOW);
        assert_eq!(kept, vec![NOW - 4, NOW - 3, NOW - 2, NOW - 1, NOW]);
        assert_eq!(p.recent_count(&kept, NOW + 1), 5, "the cap still sees a full window");
    }

    #[test]
    fn override_beats_tier_beats_default() {
        let p = BonusPolicy::default();
        let tier = Some(Rate::parse("0.07").unwrap());
        let c = TopupContext { tiered_rate: tier, ..ctx("100.00") };
        assert_eq!(p.decide(&c), Decision::Credit { amount: Usd::cents(700), rate: Rate::parse("0.07").unwrap() });
        let c = TopupContext { rate_override: Some(Rate::parse("0.08").unwrap()), ..c };
        assert_eq!(p.decide(&c), Decision::Credit { amount: Usd::cents(800), rate: Rate::parse("0.08").unwrap() });
    }

    #[test]
    fn holding_period_holds_what_would_be_credited_and_yields_to_moderation() {
        let p = BonusPolicy { holding_days: 3, ..BonusPolicy::default() };
        assert!(matches!(p.decide(&ctx("50.00")), Decision::Hold { reason: HoldReason::Holding, .. }));
        let c = TopupContext { same_ip: true, ..ctx("50.00") };
        assert!(matches!(p.decide(&c), Decision::Hold { reason: HoldReason::SameIp, .. }));
        assert_eq!(p.decide(&ctx("4.99")), Decision::BelowMinimum);
        let occurred = OffsetDateTime::from_unix_timestamp(NOW).unwrap();
        let received = occurred + time::Duration::minutes(5);
        assert_eq!(p.release_at(occurred, received), occurred + time::Duration::days(3));
        // A provider clock in the future does not push the release beyond N days after receipt.
        assert_eq!(p.release_at(received + time::Duration::days(30), received), received + time::Duration::days(3));
        assert_eq!(HoldReason::Holding.as_str(), "holding");
    }
}
