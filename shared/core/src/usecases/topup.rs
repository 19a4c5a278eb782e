//! A succeeded top-up of a referred payer → the bonus it creates (decided, not yet written):
//! the rate (override > the tier of the referrer's month volume before this top-up >
//! default), the hold (same IP, velocity cap, amount review, holding period — see
//! `bonus::policy`), and the bookkeeping that must commit with the new row: the payer's
//! activity day and first-top-up marker, the referrer's velocity window, the month volume.
//!
//! **The referrer is read only when it must be.** A payer's first top-up needs the referrer's
//! velocity window as it is now, so it reads the referrer. A repeat top-up uses the payer's
//! copy of the referrer context (rate override, partner subscriptions, last tier band): the
//! transaction then checks the referrer's `ctx_version` (and the band, by its volume
//! condition), so a stale copy can only make the write fail and be decided again with a read
//! (see [`use_copy`]).

use crate::bonus::{
    Bonus, Change, Decision, Effect, HoldReason, NewBonus, PayerTopup, ReferrerGuard, TopupContext, VelocityWindow,
};
use crate::clock;
use crate::domain::{month_of, PaymentId, Usd};
use crate::payment::PaymentRecord;
use crate::store::{ReferrerSnapshot, UserProfile};
use crate::usecases::Billing;

/// What the top-up rules decided.
pub(super) enum Created {
    BelowMinimum,
    Bonus(Box<Change>),
}

pub(super) struct TopupInput<'a> {
    pub payment: &'a PaymentId,
    /// The referrer snapshot came from the payer's copy (not read): the write is guarded.
    pub referrer_from_copy: bool,
    pub amount: Usd,
    pub occurred_at: &'a str,
    pub payer: &'a UserProfile,
    pub referrer: &'a ReferrerSnapshot,
    pub rate_tiers: Option<&'a crate::domain::RateTiers>,
    /// The payment record with the success applied.
    pub record: &'a PaymentRecord,
}

pub(super) fn create_bonus<S, L>(billing: &Billing<S, L>, input: TopupInput<'_>) -> Created {
    let now = billing.now();
    let at = clock::rfc3339(now);
    let month = month_of(&at).to_string();
    let payer = input.payer;
    let referrer_id = payer.referrer_id.clone().expect("only referred payers get here");
    let profile = input.referrer.profile.as_ref();
    let rate_override = profile.and_then(|r| r.rate_override);
    let first_topups = profile.map(|r| r.first_topups.as_slice()).unwrap_or(&[]);
    let version = profile.map(|r| r.velocity_version).unwrap_or(0);
    let partner_events = profile.map(|r| r.webhook_events.clone()).unwrap_or_default();
    let band = match (rate_override, input.rate_tiers) {
        (None, Some(tiers)) => Some(tiers.band_for(input.referrer.month_volume)),
        _ => None,
    };
    let now_secs = now.unix_timestamp();
    let is_first_topup = payer.first_topup_payment_id.is_none();
    let decision = billing.policy.decide(&TopupContext {
        amount: input.amount,
        rate_override,
        tiered_rate: band.map(|b| b.rate),
        is_first_topup,
        recent_first_topups: first_topups,
        same_ip: payer.same_ip,
        now: now_secs,
    });
    let (rate, hold) = match decision {
        Decision::BelowMinimum => return Created::BelowMinimum,
        Decision::Credit { rate, .. } => (rate, None),
        Decision::Hold { rate, reason, .. } => (rate, Some(reason)),
    };
    let release_at = (hold == Some(HoldReason::Holding)).then(|| {
        let occurred = clock::parse_rfc3339(input.occurred_at).unwrap_or(now);
        clock::rfc3339(billing.policy.release_at(occurred, now))
    });
    let new = NewBonus {
        payment_id: input.payment.clone(),
        referrer_id: referrer_id.clone(),
        referred_user_id: payer.user_id.clone(),
        topup_amount: input.amount,
        rate,
        hold,
        release_at,
        topup_occurred_at: input.occurred_at.to_string(),
        volume_month: month,
        volume_guard: band,
        partner_events,
    };
    let mut change = Bonus::create(new, input.record, &at);
    // The referrer context the decision used (read, or the payer's copy) must still be current
    // when the bonus is written: an admin changing the rate meanwhile makes the write fail and
    // the top-up is decided again. A read refreshes the payer's copy for their next top-up.
    let ctx_version = profile.map(|p| p.ctx_version).unwrap_or(0);
    change.effects.push(Effect::ReferrerGuard(ReferrerGuard { referrer: referrer_id.clone(), ctx_version }));
    let referrer_ctx = (!input.referrer_from_copy).then(|| input.referrer.ctx(&referrer_id, month_of(&at), band));
    change.effects.push(Effect::Payer(PayerTopup {
        payer: payer.user_id.clone(),
        referrer: referrer_id.clone(),
        day: clock::day_of(&at).to_string(),
        previous: payer.active_for.clone().zip(payer.last_topup_day.clone()),
        first_topup: is_first_topup.then(|| input.payment.clone()),
        referrer_ctx,
    }));
    if is_first_topup {
        change.effects.push(Effect::Velocity(VelocityWindow {
            referrer: referrer_id,
            window: billing.policy.record_first_topup(first_topups, now_secs),
            read_version: version,
        }));
    }
    Created::Bonus(Box::new(change))
}

/// Whether a top-up of `payer` may use the payer's copy of the referrer context instead of
/// reading the referrer: only a repeat top-up (the velocity window is not needed), only a
/// copy about the current referrer, and only on the first attempt (after a conflict the copy
/// may be what failed, so the next attempt reads).
pub(super) fn use_copy(
    payer: &UserProfile,
    referrer: &crate::domain::UserId,
    month: &str,
    attempt: usize,
) -> Option<ReferrerSnapshot> {
    if attempt > 0 || payer.first_topup_payment_id.is_none() {
        return None;
    }
    ReferrerSnapshot::from_ctx(payer.referrer_ctx.as_ref()?, referrer, month)
}
