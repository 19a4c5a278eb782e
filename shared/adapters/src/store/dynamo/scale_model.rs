//! The scale model: per-partition write load of the money path, computed from the **real**
//! key layout and transaction builder (`payments.rs`), not from a hand-written list.
//!
//! A first and a repeat credited top-up are run through the core (`Bonus::create`,
//! `record_applied`) and the DynamoDB adapter's `commit_items`; every item each transaction
//! writes, and every index entry that moves with it (GSI1 attention, GSI2 history, GSI3
//! leaderboards), is attributed to its partition key with its write units (transactional
//! writes cost 2 units per KB; index writes 1 per KB of the projection). Then `N` credited
//! top-ups per second are spread over `M` referrers with a Zipf(1.1) popularity and each
//! partition's load is summed.
//!
//! Printed by `make scale` (`cargo test -p adapters scale_model -- --nocapture`); asserted:
//! at 1,000 and 10,000 credited top-ups/s no **shared** partition (one that many referrers
//! write) exceeds 1,000 WCU/s. A single viral referrer's own partition is reported with its
//! ceiling.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};

use super::{keys, DynamoStore, Item, PK};
use crate::domain::{PaymentId, Rate, Usd, UserId};
use referral_core::bonus::{Bonus, NewBonus};
use referral_core::payment::PaymentRecord;
use referral_core::store::Commit;

/// A partition's share of one top-up's writes.
#[derive(Debug, Clone, PartialEq)]
struct Write {
    /// The partition key (table) or `<index>:<partition key>`.
    partition: String,
    /// The table item's sort key (index writes: none).
    item: Option<String>,
    units: f64,
}

fn sk_of(key: &std::collections::HashMap<String, AttributeValue>) -> Option<String> {
    match key.get(super::SK) {
        Some(AttributeValue::S(s)) => Some(s.clone()),
        _ => None,
    }
}

/// DynamoDB's item size: attribute names + values (strings and binaries by length, numbers by
/// ~1 byte per 2 digits + 1, lists and maps 3 + their elements + 1 each).
fn value_size(v: &AttributeValue) -> usize {
    match v {
        AttributeValue::S(s) => s.len(),
        AttributeValue::N(n) => n.len() / 2 + 1,
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::L(items) => 3 + items.iter().map(|i| value_size(i) + 1).sum::<usize>(),
        AttributeValue::M(map) => 3 + map.iter().map(|(k, v)| k.len() + value_size(v) + 1).sum::<usize>(),
        _ => 8,
    }
}

fn item_size(item: &Item) -> usize {
    item.iter().map(|(k, v)| k.len() + value_size(v)).sum()
}

fn kb_units(bytes: usize) -> f64 {
    (bytes.max(1) as f64 / 1024.0).ceil()
}

fn text(item: &Item, attr: &str) -> Option<String> {
    match item.get(attr) {
        Some(AttributeValue::S(s)) => Some(s.clone()),
        _ => None,
    }
}

/// Sizes of the items updated in place (the update expression does not carry them): what a
/// referrer's aggregates and profiles weigh in practice (bytes).
const UPDATED_ITEM_BYTES: usize = 700;
/// A KEYS_ONLY index entry (table keys + index keys).
const KEYS_ONLY_BYTES: usize = 120;

/// The writes of one transaction, plus the index writes implied by `previous → current` of
/// the bonus row (`previous` = the row before this transaction, if any).
fn writes_of(items: &[TransactWriteItem], previous: Option<&Item>, bonus_after: &Item) -> Vec<Write> {
    let mut out = Vec::new();
    for w in items {
        if let Some(put) = w.put() {
            let item = put.item();
            let pk = text(item, PK).unwrap_or_default();
            out.push(Write { partition: pk.clone(), item: sk_of(item), units: 2.0 * kb_units(item_size(item)) });
        } else if let Some(update) = w.update() {
            let pk = match update.key().get(PK) {
                Some(AttributeValue::S(s)) => s.clone(),
                _ => String::new(),
            };
            out.push(Write { partition: pk, item: sk_of(update.key()), units: 2.0 * kb_units(UPDATED_ITEM_BYTES) });
            // A leaderboard score moving: the GSI3 entry of that board shard.
            if let Some(lb) = update.expression_attribute_values().and_then(|v| {
                v.values().find_map(|v| match v {
                    AttributeValue::S(s) if s.starts_with("LB#") => Some(s.clone()),
                    _ => None,
                })
            }) {
                out.push(Write { partition: format!("GSI3:{lb}"), item: None, units: kb_units(KEYS_ONLY_BYTES) });
            }
        } else if let Some(check) = w.condition_check() {
            let pk = match check.key().get(PK) {
                Some(AttributeValue::S(s)) => s.clone(),
                _ => String::new(),
            };
            // Conservative: a transactional condition check counted like a write.
            out.push(Write { partition: pk, item: sk_of(check.key()), units: 2.0 * kb_units(UPDATED_ITEM_BYTES) });
        }
    }
    // The bonus row's index entries: GSI1 (KEYS_ONLY) in/out, GSI2 (ALL) rewritten.
    let gsi = |item: Option<&Item>, attr: &str| item.and_then(|i| text(i, attr));
    let (before1, after1) = (gsi(previous, keys::GSI1PK), gsi(Some(bonus_after), keys::GSI1PK));
    let (before1_sk, after1_sk) = (gsi(previous, keys::GSI1SK), gsi(Some(bonus_after), keys::GSI1SK));
    if (before1.as_ref(), before1_sk.as_ref()) != (after1.as_ref(), after1_sk.as_ref()) {
        if let Some(pk) = before1 {
            out.push(Write { partition: format!("GSI1:{pk}"), item: None, units: kb_units(KEYS_ONLY_BYTES) });
        }
        if let Some(pk) = after1 {
            out.push(Write { partition: format!("GSI1:{pk}"), item: None, units: kb_units(KEYS_ONLY_BYTES) });
        }
    }
    if let Some(pk) = gsi(Some(bonus_after), keys::GSI2PK) {
        out.push(Write { partition: format!("GSI2:{pk}"), item: None, units: kb_units(item_size(bonus_after)) });
    }
    out
}

/// The writes of one credited top-up (create-and-claim + record Wellflow's answer) of
/// `payer` → `referrer`, payment `payment`.
fn credited_topup(
    store: &DynamoStore,
    referrer: &UserId,
    payer: &UserId,
    payment: &PaymentId,
    first: bool,
) -> Vec<Write> {
    let now = "2026-12-01T10:00:00.000Z";
    let mut record = PaymentRecord::new(payment.clone(), now);
    record.succeeded = Some(Usd::cents(5_000));
    record.version = 1;
    let mut created = Bonus::create(
        NewBonus {
            payment_id: payment.clone(),
            referrer_id: referrer.clone(),
            referred_user_id: payer.clone(),
            topup_amount: Usd::cents(5_000),
            rate: Rate::DEFAULT,
            hold: None,
            release_at: None,
            topup_occurred_at: now.into(),
            volume_month: "2026-12".into(),
            volume_guard: None,
            partner_events: Vec::new(),
        },
        &record,
        now,
    );
    created.effects.push(referral_core::bonus::Effect::Payer(referral_core::bonus::PayerTopup {
        payer: payer.clone(),
        referrer: referrer.clone(),
        day: "2026-12-01".into(),
        previous: Some((referrer.clone(), "2026-11-30".into())),
        first_topup: first.then(|| payment.clone()),
        referrer_ctx: None,
    }));
    created.effects.push(referral_core::bonus::Effect::ReferrerGuard(referral_core::bonus::ReferrerGuard {
        referrer: referrer.clone(),
        ctx_version: 3,
    }));
    if first {
        created.effects.push(referral_core::bonus::Effect::Velocity(referral_core::bonus::VelocityWindow {
            referrer: referrer.clone(),
            window: vec![1, 2, 3],
            read_version: 7,
        }));
    }
    let create = Commit { payment: Some(record), bonus: Some(created.clone()) };
    let created_item = super::payments::bonus_item(&created.bonus);
    let mut writes = writes_of(&store.commit_items(&create, 0), None, &created_item);
    let applied = created.bonus.record_applied(1, "wf_1", "webhook", "2026-12-01T10:00:00.200Z").expect("in flight");
    let applied_item = super::payments::bonus_item(&applied.bonus);
    writes.extend(writes_of(&store.commit_items(&Commit::bonus(applied), 0), Some(&created_item), &applied_item));
    writes
}

/// The partition family a key belongs to, for the report ("USER#<referrer>" → "USER#<referrer>").
fn family(partition: &str, referrer: &UserId, payer: &UserId, payment: &PaymentId) -> String {
    partition
        .replace(referrer.as_str(), "<referrer>")
        .replace(payer.as_str(), "<payer>")
        .replace(payment.as_str(), "<payment>")
}

/// Zipf(s) probabilities of `m` referrers (rank 1 = most popular).
fn zipf(m: usize, s: f64) -> Vec<f64> {
    let weights: Vec<f64> = (1..=m).map(|r| (r as f64).powf(-s)).collect();
    let total: f64 = weights.iter().sum();
    weights.into_iter().map(|w| w / total).collect()
}

struct Report {
    /// Partition → WCU/s.
    load: BTreeMap<String, f64>,
    top_share: f64,
}

/// A partition many referrers write (as opposed to one referrer's own `USER#` items and GSI2
/// history, or one payment's or payer's items).
fn shared(partition: &str) -> bool {
    partition.starts_with("GSI1:")
        || partition.starts_with("GSI3:")
        || partition.starts_with(keys::ACTIVITY_PREFIX)
        || partition == keys::CONFIG_PK
}

/// Credited top-ups per second one referrer can take: a single item takes at most 1,000
/// WCU/s, and each credited top-up writes the referrer's busiest item `per_item` units.
fn referrer_ceiling(per_item: f64) -> f64 {
    1_000.0 / per_item
}

fn model(store: &DynamoStore, topups_per_sec: f64, referrers: usize, repeat_share: f64, ceiling: f64) -> Report {
    let shares = zipf(referrers, 1.1);
    // The writes are the same for every referrer up to its ids: build them once (for the
    // most popular referrer, whose own partitions are the busiest) and re-key the shared
    // ones per referrer (its leaderboard shard).
    let referrer = UserId::parse("ref0").unwrap();
    let templates: Vec<(f64, Vec<Write>)> = [(true, 1.0 - repeat_share), (false, repeat_share)]
        .into_iter()
        .map(|(first, weight)| {
            let payer = UserId::parse(&format!("payer0x{first}")).unwrap();
            let payment = PaymentId::parse(&format!("pi0x{first}")).unwrap();
            (weight, credited_topup(store, &referrer, &payer, &payment, first))
        })
        .collect();
    let own_board_shard = format!("#{}", keys::leaderboard_shard(&referrer));
    let mut load: BTreeMap<String, f64> = BTreeMap::new();
    for (r, share) in shares.iter().enumerate() {
        // Beyond its ceiling a referrer's own writes are throttled (the webhook answers 503 and
        // the provider retries): what reaches the shared partitions is at most the ceiling.
        let rate = (topups_per_sec * share).min(ceiling);
        let this = UserId::parse(&format!("ref{r}")).unwrap();
        let board_shard = format!("#{}", keys::leaderboard_shard(&this));
        for (weight, writes) in &templates {
            let rate = rate * weight;
            for w in writes {
                if let Some(family) = w.partition.strip_prefix("GSI1:").and_then(|p| p.rsplit_once('#')).map(|(f, _)| f)
                {
                    // The attention shard comes from the payment id: a referrer's many payments
                    // spread over every shard.
                    for shard in 0..keys::STATUS_SHARDS {
                        *load.entry(format!("GSI1:{family}#{shard}")).or_default() +=
                            w.units * rate / f64::from(keys::STATUS_SHARDS);
                    }
                } else if let Some(board) = w.partition.strip_prefix("GSI3:") {
                    let scope = board.strip_suffix(own_board_shard.as_str()).unwrap_or(board);
                    *load.entry(format!("GSI3:{scope}{board_shard}")).or_default() += w.units * rate;
                } else if w.partition.starts_with(keys::ACTIVITY_PREFIX) {
                    // The reconciliation activity marker: one item per referrer, in the shard of
                    // its referrer id.
                    *load.entry(keys::activity_pk(&this)).or_default() += w.units * rate;
                } else if w.partition == keys::CONFIG_PK {
                    *load.entry(w.partition.clone()).or_default() += w.units * rate;
                } else if r == 0 {
                    if w.partition.contains("pi0x") || w.partition.contains("payer0x") {
                        // One payment's (one payer's) own items: each sees about one write at a time.
                        load.insert(w.partition.clone(), w.units);
                    } else {
                        // The top referrer's own items (every other referrer's are lighter). A
                        // partition key with many sort keys is split by DynamoDB across
                        // partitions as it heats; the ceiling that stays is the item's.
                        let key = match &w.item {
                            Some(sk) => format!("{}|{sk}", w.partition),
                            None => w.partition.clone(),
                        };
                        *load.entry(key).or_default() += w.units * rate;
                    }
                }
            }
        }
    }
    Report { load, top_share: shares[0] }
}

#[test]
fn scale_model() {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
        .build();
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::from_conf(config), "referrals");

    // What one credited top-up writes, by partition family.
    let (referrer, payer, payment) =
        (UserId::parse("ref0").unwrap(), UserId::parse("payer0").unwrap(), PaymentId::parse("pi0").unwrap());
    for first in [true, false] {
        let mut per_family: BTreeMap<String, f64> = BTreeMap::new();
        for w in credited_topup(&store, &referrer, &payer, &payment, first) {
            *per_family.entry(family(&w.partition, &referrer, &payer, &payment)).or_default() += w.units;
        }
        for w in credited_topup(&store, &referrer, &payer, &payment, first) {
            println!(
                "SCALE     write {:<34} {:<24} {} WCU",
                family(&w.partition, &referrer, &payer, &payment),
                w.item.as_deref().unwrap_or("(index entry)"),
                w.units
            );
        }
        let total: f64 = per_family.values().sum();
        println!(
            "\nSCALE writes of one credited top-up ({}): {total} WCU",
            if first { "a payer's first" } else { "repeat" }
        );
        for (f, units) in &per_family {
            println!("SCALE   {f:<40} {units:>4} WCU");
        }
    }

    // One referrer's busiest item: units per credited top-up on each of its own items (an
    // item written by both transactions of a top-up counts both).
    let mut busiest = (String::new(), 0.0);
    for first in [true, false] {
        let mut sum: BTreeMap<String, f64> = BTreeMap::new();
        for w in credited_topup(&store, &referrer, &payer, &payment, first) {
            if w.partition == format!("USER#{referrer}") {
                *sum.entry(w.item.clone().unwrap_or_default()).or_default() += w.units;
            }
        }
        for (item, units) in sum {
            if units > busiest.1 {
                busiest = (item, units);
            }
        }
    }
    let ceiling = referrer_ceiling(busiest.1);
    println!(
        "\nSCALE one referrer's ceiling: its busiest item {} takes {} WCU per credited top-up; an item takes ≤ 1,000 WCU/s → {ceiling:.0} credited top-ups/s for a single referrer (beyond: throttled, the provider retries)",
        busiest.0, busiest.1
    );

    for (n, m) in [(1_000.0, 10_000), (10_000.0, 10_000), (10_000.0, 100_000)] {
        let report = model(&store, n, m, 0.8, ceiling);
        let top_rate = n * report.top_share;
        println!(
            "\nSCALE {n} credited top-ups/s over {m} referrers, Zipf(1.1), 80 % repeat top-ups: top referrer {:.1} % = {top_rate:.0}/s (throttled above {ceiling:.0}/s: {:.0}/s)",
            report.top_share * 100.0,
            (top_rate - ceiling).max(0.0)
        );
        let mut families: BTreeMap<String, (f64, usize)> = BTreeMap::new();
        for (k, v) in &report.load {
            let f = if shared(k) {
                k.rsplit_once('#').map(|(a, _)| format!("{a}#<shard>")).unwrap_or_else(|| k.clone())
            } else if k.starts_with("GSI2:") {
                "GSI2:REFERRER#<referrer> (own)".to_string()
            } else if let Some((pk, sk)) = k.split_once('|') {
                let sk = sk.split('#').next().unwrap_or(sk);
                format!("{}#<id> item {sk} (own)", pk.split('#').next().unwrap_or(pk))
            } else {
                format!("{}#<id> (own)", k.split('#').next().unwrap_or(k))
            };
            let e = families.entry(f).or_default();
            e.0 = e.0.max(*v);
            e.1 += 1;
        }
        println!("SCALE   {:<40} {:>10} {:>12}", "partition family", "partitions", "max WCU/s");
        for (f, (max, count)) in &families {
            println!("SCALE   {f:<40} {count:>10} {max:>12.0}");
        }
        let (hot_key, hot) = report
            .load
            .iter()
            .filter(|(k, _)| shared(k))
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(k, v)| (k.clone(), *v))
            .unwrap();
        println!("SCALE   hottest shared partition: {hot_key} at {hot:.0} WCU/s");
        assert!(hot <= 1_000.0, "{n}/s over {m}: shared partition {hot_key} takes {hot:.0} WCU/s");
    }
}

/// A click shard item as the redirect's `UpdateItem` leaves it (`codes.rs`): the keys, the
/// total, `days` day counters and `months` month counters (`keys::click_day_attr`,
/// `click_month_attr`), and `campaigns` campaign counters with names of `name_len`
/// characters. Counts are large on purpose (a viral code's shard: 8-digit days, 9-digit
/// months, a 12-digit total), so the sizes are upper bounds.
fn click_shard(days: i64, months: i32, campaigns: usize, name_len: usize) -> Item {
    use referral_core::domain::stats::YearMonth;
    let code = crate::domain::RefCode::parse("K7M2XQ").expect("code");
    let today = time::macros::date!(2026 - 11 - 30);
    let mut item: Item = Item::new();
    item.insert(PK.into(), AttributeValue::S(keys::click_shard_pk(&code, keys::CLICK_SHARDS - 1)));
    item.insert(super::SK.into(), AttributeValue::S(keys::SK_CLICKS.into()));
    item.insert("clicks".into(), AttributeValue::N("999999999999".into()));
    for d in 0..days {
        item.insert(keys::click_day_attr(today - time::Duration::days(d)), AttributeValue::N("99999999".into()));
    }
    for m in 0..months {
        item.insert(keys::click_month_attr(YearMonth::of(today).plus(-m)), AttributeValue::N("999999999".into()));
    }
    for c in 0..campaigns {
        let name = format!("{c:02}{}", "x".repeat(name_len.saturating_sub(2)));
        item.insert(
            format!("{}{name}", referral_core::domain::campaign::COUNTER_PREFIX),
            AttributeValue::N("999999999999".into()),
        );
    }
    item
}

/// The click shard item's size, hence each click's write units (an `UpdateItem` costs 1 WCU
/// per KB of the larger of the item before and after). Printed by `make scale`; asserted: a
/// code without campaigns stays at 1 WCU per click with the chart's full windows (90 days +
/// 12 months) at a viral code's counts; 20 campaigns with 40-character names cost 2 WCU (as
/// they did before the chart counters), and so does a shard woken after 180 silent days
/// (its stale counters stay) — docs/SCALING.md, "Click counters".
#[test]
fn click_shard_size() {
    let wcu = |item: &Item| item_size(item).div_ceil(1024);
    let cases = [
        ("no chart counters (before issue 18)", click_shard(0, 0, 0, 0)),
        ("90 days + 12 months", click_shard(90, 12, 0, 0)),
        ("90 days + 12 months + 5 campaigns of 12 chars", click_shard(90, 12, 5, 12)),
        ("90 days + 12 months + 20 campaigns of 40 chars", click_shard(90, 12, 20, 40)),
        ("20 campaigns of 40 chars, no chart counters", click_shard(0, 0, 20, 40)),
        ("dormant > 180 days, woken: 90 stale + 90 days + 12 months", click_shard(180, 12, 0, 0)),
    ];
    for (name, item) in &cases {
        println!("SCALE   click shard, {name:<52} {:>5} B  {} WCU per click", item_size(item), wcu(item));
    }
    assert_eq!(wcu(&cases[1].1), 1, "a code without campaigns pays 1 WCU per click, at any count");
    assert_eq!(wcu(&cases[3].1), 2, "20 long campaign names: 2 WCU (documented in SCALING.md)");
    assert_eq!(wcu(&cases[4].1), 2, "... as before the chart counters");
    assert_eq!(wcu(&cases[5].1), 2, "a woken dormant shard: 2 WCU until nothing (documented)");
}
