//! The single-table key layout — the one place that knows how items are addressed.
//!
//! | item                      | PK                          | SK              | GSI1 (moderation)                | GSI2 (history)                      |
//! |---------------------------|-----------------------------|-----------------|----------------------------------|-------------------------------------|
//! | referral code             | `CODE#<code>`               | `CODE`          |                                  |                                     |
//! | click counter shard (total, per day, per month, per campaign) | `CODE#<code>#C<n>`, n in 0..[`CLICK_SHARDS`] | `CLICKS` | |                   |
//! | user profile              | `USER#<user_id>`            | `PROFILE`       |                                  |                                     |
//! | referrer aggregates       | `USER#<user_id>`            | `STATS`         |                                  |                                     |
//! | referrer day bucket (`earned`, `active_new`, `signups`) | `USER#<user_id>` | `DAY#<yyyy-mm-dd>` |                  |                                     |
//! | referrer month aggregates | `USER#<user_id>`            | `STATS#<yyyy-mm>` (`referred_volume`, `earned`, `signups`) |  |                           |
//! | rate tier table           | `CONFIG`                    | `RATE_TIERS`    |                                  |                                     |
//! | bonus (one per payment)   | `BONUS#ref:auto:<payment>`  | `BONUS`         | see below                        | `REFERRER#<id>`, `<created_at>#<payment>` |
//! | payment record (facts)    | `PAYMENT#<payment>`         | `PAYMENT`       |                                  |                                     |
//! | outbox message (TTL)      | `OUTBOX#<message id>`       | `OUTBOX`        |                                  |                                     |
//! | referrer earnings per month | `USER#<user_id>`          | `STATS#<yyyy-mm>` |                                |                                     |
//! | partner webhook endpoint  | `USER#<user_id>`            | `WEBHOOK`       |                                  |                                     |
//! | partner webhook delivery  | `USER#<user_id>`            | `WEBHOOK#DELIVERY#<at>#<event_id>#<attempt>` (TTL 30 d) |  |                                     |
//! | partner API key (hash)    | `APIKEY#<key_id>`           | `APIKEY`        |                                  |                                     |
//! | API key rate window       | `APIKEY#<key_id>`           | `RL#<unix minute>` (TTL `expires_at`) |              |                                     |
//! | user's API key listing    | `USER#<user_id>`            | `APIKEY#<key_id>` |                                |                                     |
//! | user's active key count   | `USER#<user_id>`            | `APIKEYS`       |                                  |                                     |
//! | user's campaign listing   | `USER#<user_id>`            | `CAMPAIGN#<name>` |                                |                                     |
//! | referrer activity marker (TTL 40 d) | `RECON#ACTIVE#<shard>`, shard in 0..[`ACTIVITY_SHARDS`] (64) | `<referrer_id>` (`last_at`) | |                   |
//! | reconciliation finding    | `RECON#FINDING#<finding_id>` | `FINDING`      | `RECON#open` / `RECON#resolved`, `<first seen / resolved at>#<id>` | |
//! | reconciliation pass state | `RECON#PASS`                | `hourly` / `daily` |                              |                                     |
//!
//! **Reconciliation** (`referral_core::usecases::reconcile`): every commit that plans a Wellflow
//! move also `SET`s `last_at` on the referrer's activity marker (`bonus::Effect::Activity`), one
//! small item per referrer spread over [`ACTIVITY_SHARDS`] partitions, expiring 40 days after
//! the referrer's last move (`expires_at`). A pass lists the referrers active since an instant
//! with one `Query` per shard (`FilterExpression last_at >= :since`): its read cost is bounded
//! by the referrers active in the last 40 days, never by the table. Findings are rare; they sit
//! in one GSI1 partition per status (`RECON#open`, `RECON#resolved`), unsharded.
//!
//! GSI3 (leaderboard, KEYS_ONLY): `LBPK` (S) = `LB#all#<shard>` on `STATS`,
//! `LB#<yyyy-mm>#<shard>` on `STATS#<yyyy-mm>` (shard by referrer, [`LEADERBOARD_SHARDS`]);
//! `LBSCORE` (N) = credited minus reversed earnings, moved by `ADD` in the transaction that
//! moves the money. Sparse: only referrers who ever earned carry it.
//!
//! GSI1 (KEYS_ONLY) is sparse: only bonuses someone must act on carry its keys, spread over
//! [`STATUS_SHARDS`] partitions each (the shard comes from the payment id), so no single
//! partition key is written by every top-up (docs/SCALING.md has the arithmetic):
//!
//! | bonus state (from `referral_core::bonus`)        | GSI1PK                     | GSI1SK                    | read by |
//! |--------------------------------------------------|----------------------------|---------------------------|---------|
//! | held for moderation                              | `STATUS#pending#<shard>`   | `<created_at>#<payment>`  | admin list |
//! | a Wellflow call failed (move in flight, error)   | `STATUS#failed#<shard>`    | `<updated_at>#<payment>`  | admin list, sweeper |
//! | a move in flight (write-ahead, no error yet)     | `INFLIGHT#<shard>`         | `<updated_at>#<payment>`  | sweeper |
//! | waiting out the holding period                   | `HOLDING#<shard>`          | `<release_at>#<payment>`  | holding release |
//! | settled (credited, reversed)                     | —                          |                           | |
//!
//! Readers query every shard (in parallel, merged by sort key) and then read the rows
//! themselves: the index is eventually consistent, the row is the truth.
//!
//! **Click counters are sharded.** A click is one `UpdateItem ADD clicks :one` on a random
//! shard (`attribute_exists(PK)`: an unknown code writes nothing). Each shard has its own
//! partition key — items sharing a partition key share a partition, so sharding by sort key
//! would not help — and one partition key absorbs at most 1,000 write units per second, so a
//! code takes up to `CLICK_SHARDS` × 1,000 clicks/s (sizing in docs/SCALING.md). The shards are
//! created with the code row, in the same transaction that claims the code
//! (`Users::claim_code`, also used by `infra/local-stack --seed`); a code without shards
//! (none exist: sharding predates production data) would count no clicks and get no cookie.
//! The total is the sum of the shards, read with the code row in one `BatchGetItem`
//! (`Codes::code`, dashboard KPIs); the code row itself stores no counter.
//!
//! **Clicks per day and month** (the earnings chart, `domain::stats`) live on the same shard
//! items, written by the same single `UpdateItem`: `ADD clicks :one, d<n> :one, m<k> :one`
//! where `d<n>` counts the UTC day `n` days after 2020-01-01 and `m<k>` the month `k` months
//! after January 2020, `n` and `k` in base 36 ([`click_day_attr`], [`click_month_attr`]); the same update `REMOVE`s
//! the counters that left the windows ([`retired_click_attrs`]: the 90 days before the
//! 90-day window, the 12 months before the 12-month one). A shard clicked at least once every
//! 90 days therefore holds at most 90 day and 12 month counters: under 1 KB even at a viral
//! code's counts, one write unit per click without campaigns (`scale_model::click_shard_size`,
//! docs/SCALING.md "Click counters" has the sizes with campaigns). Counters of a shard that saw
//! no click for more than 180 days stay behind (readers only look up the days asked for):
//! a dormant shard woken up may pay 2 WCU per click — never a hot one. Nothing extra is written per click: no
//! second item, no second round trip, no new hot key. Per-day counts are exact and summed
//! over the shards like the total.

use crate::domain::{ApiKeyId, CampaignName, PaymentId, RefCode, UserId};

pub const PK: &str = "PK";
pub const SK: &str = "SK";
pub const GSI1: &str = "GSI1";
pub const GSI1PK: &str = "GSI1PK";
pub const GSI1SK: &str = "GSI1SK";
pub const GSI2: &str = "GSI2";
pub const GSI2PK: &str = "GSI2PK";
pub const GSI2SK: &str = "GSI2SK";
pub const GSI3: &str = "GSI3";
pub const LBPK: &str = "LBPK";
pub const LBSCORE: &str = "LBSCORE";

pub const SK_CODE: &str = "CODE";
pub const SK_PROFILE: &str = "PROFILE";
pub const SK_STATS: &str = "STATS";
pub const SK_BONUS: &str = "BONUS";
pub const SK_PAYMENT: &str = "PAYMENT";
pub const SK_CLICKS: &str = "CLICKS";
/// After `STATS`, so the KPI query (`DAY#… BETWEEN … STATS`) never reads webhook items.
pub const SK_WEBHOOK: &str = "WEBHOOK";
pub const SK_WEBHOOK_DELIVERY_PREFIX: &str = "WEBHOOK#DELIVERY#";
pub const CONFIG_PK: &str = "CONFIG";
pub const SK_RATE_TIERS: &str = "RATE_TIERS";

/// Click-counter shards per referral code. 16 × 1,000 WCU/s per partition key = 16,000
/// clicks/s per code in theory; at 10,000 clicks/s (API Gateway's default account quota,
/// the most one code can receive without a quota increase) each shard runs at ~625 WCU/s,
/// leaving room for the random spread. Costs: 16 extra puts when a code is created and
/// 16 extra item reads per KPI view. See docs/SCALING.md. Changing it needs a migration: codes
/// created with fewer shards have no items for the new ones (clicks landing there would be
/// refused as unknown), and lowering it would hide the counts of the dropped shards.
pub const CLICK_SHARDS: u32 = 16;

/// Day 0 of the click counters' numbering (`d<n>`, [`click_day_attr`]).
const CLICK_EPOCH: time::Date = time::macros::date!(2020 - 01 - 01);

/// The shard attribute counting the clicks of UTC day `day`: `d` and the number of days since
/// 2020-01-01 in base 36 (`d1xz` = 2026-11-24). Short on purpose: up to 90 of them live on
/// every shard item, whose size is billed on every click (docs/SCALING.md, "Click counters").
pub fn click_day_attr(day: time::Date) -> String {
    format!("d{}", base36((day - CLICK_EPOCH).whole_days().max(0) as u64))
}

/// The shard attribute counting the clicks of a UTC month: `m` and the months since January
/// 2020 in base 36 (`m2a` = 2026-11).
pub fn click_month_attr(month: referral_core::domain::stats::YearMonth) -> String {
    let epoch = referral_core::domain::stats::YearMonth { year: 2020, month: 1 };
    format!("m{}", base36((month.index() - epoch.index()).max(0) as u64))
}

fn base36(mut n: u64) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).expect("ascii")
}

/// Day counters kept behind the daily window that a click on `today` removes (how far back a
/// shard is cleaned: a shard silent for longer keeps its older counters until then).
pub const CLICK_CLEANUP_DAYS: i64 = 90;

/// The counters a click on `today` removes: the [`CLICK_CLEANUP_DAYS`] days before the daily
/// window and the 12 months before the monthly one (`domain::stats` windows).
pub fn retired_click_attrs(today: time::Date) -> Vec<String> {
    use referral_core::domain::stats::{YearMonth, DAILY_WINDOW_DAYS, MONTHLY_WINDOW_MONTHS};
    let days = (DAILY_WINDOW_DAYS..DAILY_WINDOW_DAYS + CLICK_CLEANUP_DAYS)
        .map(|ago| click_day_attr(today - time::Duration::days(ago)));
    let month = YearMonth::of(today);
    let months = (MONTHLY_WINDOW_MONTHS..2 * MONTHLY_WINDOW_MONTHS).map(|ago| click_month_attr(month.plus(-ago)));
    days.chain(months).collect()
}

pub fn code_pk(code: &RefCode) -> String {
    format!("CODE#{code}")
}

/// `CODE#<code>#C<n>`: one click-counter shard, its own partition key (`n < CLICK_SHARDS`).
pub fn click_shard_pk(code: &RefCode, shard: u32) -> String {
    debug_assert!(shard < CLICK_SHARDS, "shard {shard} out of range");
    format!("CODE#{code}#C{shard}")
}

pub fn user_pk(user: &UserId) -> String {
    format!("USER#{user}")
}

/// `DAY#2026-11-25` — `day` is the date part of an RFC 3339 timestamp.
pub fn day_sk(day: &str) -> String {
    format!("DAY#{day}")
}

/// `STATS#2026-11` — a referrer's aggregates for one UTC calendar month (sorts after `STATS`).
pub fn month_stats_sk(month: &str) -> String {
    format!("STATS#{month}")
}

/// Partitions per leaderboard (GSI3). Every credit or reversal moves the referrer's score on
/// two boards (all time and the month), one index write each: at 10,000 credited top-ups/s a
/// single `LB#all` key would take 10,000 writes/s. Sharded by referrer, a viral referrer's
/// writes all land in its shard (up to its own ceiling, ~500/s): over 32 shards the others
/// add ~265/s, so no shard passes 1,000 (the scale model, `scale_model.rs`, computes it). A
/// page reads every shard (in parallel) and merges them.
pub const LEADERBOARD_SHARDS: u32 = 32;

/// The leaderboard shard of a referrer (stable: a referrer's score always lives in one shard).
pub fn leaderboard_shard(referrer: &UserId) -> u32 {
    (fnv1a(referrer.as_str()) % u64::from(LEADERBOARD_SHARDS)) as u32
}

/// `LB#all#3` or `LB#2026-11#3` — one shard of a board's GSI3 partition (`scope` = `all` or a month).
pub fn leaderboard_pk(scope: &str, shard: u32) -> String {
    format!("LB#{scope}#{shard}")
}

/// FNV-1a: tiny, and stable across builds and platforms (unlike `DefaultHasher`).
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

pub fn bonus_pk(payment: &PaymentId) -> String {
    format!("BONUS#{}", referral_core::bonus::bonus_key(payment))
}

pub const SK_OUTBOX: &str = "OUTBOX";

/// `OUTBOX#<message id>`: one message of the transactional outbox (its own partition key).
pub fn outbox_pk(message_id: &str) -> String {
    format!("OUTBOX#{message_id}")
}

/// Partitions per GSI1 family (`STATUS#pending`, `STATUS#failed`, `INFLIGHT`, `HOLDING`).
/// At 10,000 credited top-ups/s each writes `INFLIGHT` twice (in when the credit is planned,
/// out when Wellflow answers): 20,000 KEYS_ONLY index writes/s over 32 partitions is 625 WCU/s
/// each, under the 1,000 WCU/s a partition takes. Changing it needs a re-index (rows keep
/// the shard they were written with until their next change).
pub const STATUS_SHARDS: u32 = 32;

/// The GSI1 shard of a payment: stable, spread by a hash of the id.
pub fn status_shard(payment: &PaymentId) -> u32 {
    (fnv1a(payment.as_str()) % u64::from(STATUS_SHARDS)) as u32
}

/// The GSI1 partition families.
pub const GSI1_PENDING: &str = "STATUS#pending";
pub const GSI1_FAILED: &str = "STATUS#failed";
pub const GSI1_INFLIGHT: &str = "INFLIGHT";
pub const GSI1_HOLDING: &str = "HOLDING";

/// `<family>#<shard>`.
pub fn gsi1_pk(family: &str, shard: u32) -> String {
    format!("{family}#{shard}")
}

/// Every partition of a GSI1 family.
pub fn gsi1_partitions(family: &str) -> Vec<String> {
    (0..STATUS_SHARDS).map(|shard| gsi1_pk(family, shard)).collect()
}

/// Where a bonus sits in GSI1 (`None`: settled, not indexed).
pub fn bonus_gsi1(bonus: &referral_core::bonus::Bonus) -> Option<(String, String)> {
    let payment = &bonus.source_payment_id;
    let shard = status_shard(payment);
    let (family, sort) = match bonus.ledger.in_flight() {
        Some(step) if step.last_failure.is_some() => (GSI1_FAILED, &bonus.updated_at),
        Some(_) => (GSI1_INFLIGHT, &bonus.updated_at),
        None if bonus.is_holding() => (GSI1_HOLDING, bonus.release_at.as_ref().unwrap_or(&bonus.created_at)),
        None if bonus.awaits_moderation() => (GSI1_PENDING, &bonus.created_at),
        None => return None,
    };
    Some((gsi1_pk(family, shard), format!("{sort}#{payment}")))
}

pub fn payment_pk(payment: &PaymentId) -> String {
    format!("PAYMENT#{payment}")
}

pub fn referrer_gsi_pk(referrer: &UserId) -> String {
    format!("REFERRER#{referrer}")
}

/// Sort key shared by both bonus indexes: time first, payment id to break ties.
pub fn bonus_gsi_sk(created_at: &str, payment: &PaymentId) -> String {
    format!("{created_at}#{payment}")
}

/// `WEBHOOK#DELIVERY#<rfc3339>#<event_id>#<attempt>`: one delivery attempt, sorted by time.
pub fn webhook_delivery_sk(at: &str, event_id: &str, attempt: u32) -> String {
    format!("{SK_WEBHOOK_DELIVERY_PREFIX}{at}#{event_id}#{attempt:02}")
}

// ---- Partner API keys and campaign links (all `USER#` sort keys sort before `DAY#`). ----

pub const SK_API_KEY: &str = "APIKEY";
/// The per-user counter of active (not revoked) API keys.
pub const SK_API_KEY_COUNT: &str = "APIKEYS";
pub const API_KEY_LISTING_PREFIX: &str = "APIKEY#";
pub const CAMPAIGN_PREFIX: &str = "CAMPAIGN#";

/// `APIKEY#<key_id>`: the key item (with the secret's hash) and its rate-limit windows.
pub fn api_key_pk(id: &ApiKeyId) -> String {
    format!("APIKEY#{id}")
}

/// `APIKEY#<key_id>` under the owner's partition: the key's listing row (no hash).
pub fn api_key_listing_sk(id: &ApiKeyId) -> String {
    format!("{API_KEY_LISTING_PREFIX}{id}")
}

/// `RL#<unix minute>`: one fixed rate-limit window of a key.
pub fn rate_window_sk(minute: i64) -> String {
    format!("RL#{minute}")
}

/// `CAMPAIGN#<name>` under the owner's partition.
pub fn campaign_sk(name: &CampaignName) -> String {
    format!("{CAMPAIGN_PREFIX}{name}")
}

// ---- Reconciliation with Wellflow. ----

/// Partitions of the referrer activity markers. Every commit that plans a Wellflow move
/// writes one (2 WRU in the transaction), and a referrer's marker always lives in one shard:
/// at 10,000 credited top-ups/s the most popular referrer alone puts 500 WCU/s on its shard
/// (its 250/s ceiling), and the others add ~265 over 64 shards — under the 1,000 a partition
/// takes (the scale model, `scale_model.rs`, computes it; 32 shards would reach 1,000). A pass
/// reads every shard (one `Query` each, more past a page).
pub const ACTIVITY_SHARDS: u32 = 64;

/// `RECON#ACTIVE#<shard>`: the partition of a referrer's activity marker.
pub fn activity_pk(referrer: &UserId) -> String {
    activity_partition((fnv1a(referrer.as_str()) % u64::from(ACTIVITY_SHARDS)) as u32)
}

pub const ACTIVITY_PREFIX: &str = "RECON#ACTIVE#";

pub fn activity_partition(shard: u32) -> String {
    format!("{ACTIVITY_PREFIX}{shard}")
}

pub const SK_FINDING: &str = "FINDING";
pub const GSI1_FINDINGS: &str = "RECON";

/// `RECON#FINDING#<finding_id>`.
pub fn finding_pk(id: &str) -> String {
    format!("RECON#FINDING#{id}")
}

/// `RECON#open` / `RECON#resolved`: the one GSI1 partition of the findings with that status.
pub fn findings_gsi1_pk(status: referral_core::bonus::reconcile::FindingStatus) -> String {
    format!("{GSI1_FINDINGS}#{}", status.as_str())
}

/// Where a finding sits in GSI1: by status, newest first (first sighting while open,
/// resolution once resolved).
pub fn finding_gsi1(finding: &referral_core::bonus::reconcile::Finding) -> (String, String) {
    use referral_core::bonus::reconcile::FindingStatus;
    let at = match finding.status {
        FindingStatus::Open => &finding.first_seen_at,
        FindingStatus::Resolved => finding.resolved_at.as_ref().unwrap_or(&finding.last_seen_at),
    };
    (findings_gsi1_pk(finding.status), format!("{at}#{}", finding.finding_id))
}

pub const PASS_PK: &str = "RECON#PASS";

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn click_counters_are_named_by_day_and_month_and_retired_after_the_windows() {
        assert_eq!(click_day_attr(date!(2020 - 01 - 01)), "d0");
        assert_eq!(click_day_attr(date!(2026 - 11 - 24)), "d1xz"); // day 2519
        let nov = referral_core::domain::stats::YearMonth { year: 2026, month: 11 };
        assert_eq!(click_month_attr(nov), "m2a"); // month 82
        let today = date!(2026 - 11 - 29);
        let retired = retired_click_attrs(today);
        assert_eq!(retired.len(), CLICK_CLEANUP_DAYS as usize + 12);
        // The 90-day window (today and 89 days back) and the 12-month window stay.
        for ago in 0..90 {
            assert!(!retired.contains(&click_day_attr(today - time::Duration::days(ago))), "day -{ago}");
        }
        assert!(retired.contains(&click_day_attr(today - time::Duration::days(90))));
        assert!(retired.contains(&click_day_attr(today - time::Duration::days(179))));
        for ago in 0..12 {
            assert!(!retired.contains(&click_month_attr(nov.plus(-ago))), "month -{ago}");
        }
        assert!(retired.contains(&click_month_attr(nov.plus(-12))));
        assert!(retired.contains(&click_month_attr(nov.plus(-23))));
    }
}
