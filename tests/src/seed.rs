//! A realistic referral history for one referrer, produced through the real handlers
//! (signup, webhook, refund, redirect) — shared by the dashboard tests and the browser
//! fixture so both assert on the same numbers.

use adapters::domain::UserId;
use adapters::store::Users;
use fake_wellflow::Fault;

use crate::billing::{BillingHarness, REFERRER_IP};

/// alice: bob 50.00 → 2.50 credited; carol 300.00 → 15.00 credited; dave 100.00 credited
/// then refunded; erin's 40.00 fails (Wellflow down); a same-IP puppet's 20.00 is held;
/// bob's 4.00 earns nothing; 3 clicks on alice's link.
/// KPIs: total 17.50, last 30 days 17.50, signups 5, active 5, clicks 3.
pub async fn seeded_mix(h: &BillingHarness) {
    for u in ["bob", "carol", "dave", "erin"] {
        h.refer("alice", u).await;
    }
    h.refer_from("alice", "puppet", REFERRER_IP).await;
    h.topup("p_bob", "bob", "50.00").await;
    h.topup("p_carol", "carol", "300.00").await;
    h.topup("p_dave", "dave", "100.00").await;
    h.refund("p_dave", "dave", "100.00").await;
    h.topup("p_puppet", "puppet", "20.00").await;
    h.wellflow.set_fault(Fault::Unavailable);
    h.topup("p_erin", "erin", "40.00").await;
    h.wellflow.set_fault(Fault::Ok);
    h.topup("p_small", "bob", "4.00").await;
    let code = h.store().ensure_code(&UserId::parse("alice").expect("id")).await.expect("code");
    let cfg = redirect::RedirectConfig {
        site_origin: url::Url::parse("https://www.example.com").expect("origin"),
        cookie_domain: None,
        touch: redirect::Touch::First,
    };
    for _ in 0..3 {
        redirect::handle(h.store(), &cfg, &crate::get(&format!("/?ref={code}"), &[])).await;
    }
}

/// A referrer's history made fast: `n` bonuses built by the real state machine
/// (`referral_core::bonus`: created, credited by Wellflow, some refunded in part or in full,
/// some failed, a few held for review), written as the store writes them (`bonus_item`, 25 per
/// `BatchWriteItem`) with their earnings booked to the day buckets, month buckets and all-time
/// aggregates exactly as the money path's `Earnings` effects are (one `UpdateItem` per bucket
/// with the summed amounts, instead of two transactions per bonus — moto copies the whole
/// table on every transaction). `bulk_matches_the_money_path` (e2e `stats.rs`) checks the
/// buckets against the real commit path.
///
/// Bonuses are created on `days` distinct UTC days ending today (one every `days`-th bonus per
/// day) and credited the same day.
pub struct BulkHistory {
    pub bonuses: Vec<referral_core::bonus::Bonus>,
    /// The `Earnings` effects of every change, in order.
    pub earnings: Vec<referral_core::bonus::EarningsMove>,
}

impl BulkHistory {
    /// What Wellflow holds for the referrer: the sum of `paid_amount` (= KPI total earned).
    pub fn paid_total(&self) -> rust_decimal::Decimal {
        self.bonuses.iter().map(|b| b.paid_amount.decimal()).sum()
    }

    /// Earnings booked on the UTC days `from..=to` (`yyyy-mm-dd`).
    pub fn earned_between(&self, from: &str, to: &str) -> rust_decimal::Decimal {
        self.earnings.iter().filter(|e| e.day.as_str() >= from && e.day.as_str() <= to).map(|e| e.amount).sum()
    }
}

/// The changes of one bulk bonus (see [`bulk_history`]): `i` picks amount, day and fate.
pub fn bulk_changes(referrer: &UserId, i: usize, days: usize) -> Vec<referral_core::bonus::Change> {
    use adapters::domain::{HoldReason, PaymentId, Rate, Usd};
    use referral_core::bonus::{Bonus, NewBonus};
    use referral_core::payment::PaymentRecord;

    let today = adapters::clock::now().date();
    let day = today - time::Duration::days((i % days.max(1)) as i64);
    let at = |secs: i64| {
        let t = day.midnight().assume_utc() + time::Duration::seconds(secs);
        adapters::clock::rfc3339(t.min(adapters::clock::now()))
    };
    // Spread over the day (a bonus per ~minute), never in the future.
    let created = at(60 * (i / days.max(1)) as i64 % 80_000);
    let credited = at(60 * (i / days.max(1)) as i64 % 80_000 + 1);
    let payment = PaymentId::parse(&format!("bulk_{i:06}")).expect("payment id");
    let topup = Usd::cents(500 + (i as i64 * 1_337) % 150_000);
    let mut record = PaymentRecord::new(payment.clone(), &created);
    record.succeeded = Some(topup);
    record.succeeded_at = Some(created.clone());
    record.user_id = Some(UserId::parse(&format!("bulk-u{}", i % 97)).expect("user id"));
    let fate = i % 20;
    let new = NewBonus {
        payment_id: payment,
        referrer_id: referrer.clone(),
        referred_user_id: record.user_id.clone().expect("payer"),
        topup_amount: topup,
        rate: if i % 7 == 3 { Rate::parse("0.075").expect("rate") } else { Rate::parse("0.05").expect("rate") },
        hold: (fate == 19).then_some(HoldReason::AmountReview),
        release_at: None,
        topup_occurred_at: created.clone(),
        volume_month: created[..7].to_string(),
        volume_guard: None,
        partner_events: Vec::new(),
    };
    let mut changes = vec![Bonus::create(new, &record, &created)];
    let last = |changes: &Vec<referral_core::bonus::Change>| changes.last().expect("a change").bonus.clone();
    if fate == 19 {
        return changes; // held for review: nothing paid
    }
    let seq = last(&changes).next_move().expect("a planned credit").seq;
    if fate == 18 {
        let failure = referral_core::bonus::MoveFailure {
            kind: referral_core::bonus::FailureKind::Unknown,
            code: "wellflow_unavailable".into(),
            message: "Wellflow answered 503".into(),
            at: credited.clone(),
        };
        changes.extend(last(&changes).record_failed(seq, failure, "webhook", &credited));
        return changes;
    }
    changes.extend(last(&changes).record_applied(seq, &format!("wf_{i}"), "webhook", &credited));
    if fate == 16 || fate == 17 {
        // A partial (16) or full (17) refund, and Wellflow's debit.
        record.refunded = if fate == 16 { Usd::cents(topup.decimal().mantissa() as i64 / 2) } else { topup };
        let refunded = at(60 * (i / days.max(1)) as i64 % 80_000 + 2);
        changes.extend(last(&changes).on_payment(&record, "webhook", &refunded, "refunded"));
        if let Some(debit) = last(&changes).next_move().map(|m| m.seq) {
            changes.extend(last(&changes).record_applied(debit, &format!("wf_{i}_d"), "webhook", &refunded));
        }
    }
    changes
}

/// Seeds `n` bulk bonuses of `referrer` (see [`BulkHistory`]) on `days` UTC days ending today.
pub async fn bulk_history(h: &BillingHarness, referrer: &str, n: usize, days: usize) -> BulkHistory {
    use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
    use futures::StreamExt;
    use referral_core::bonus::Effect;

    let referrer = UserId::parse(referrer).expect("referrer id");
    let mut bonuses = Vec::with_capacity(n);
    let mut earnings = Vec::new();
    for i in 0..n {
        let changes = bulk_changes(&referrer, i, days);
        for change in &changes {
            earnings.extend(change.effects.iter().filter_map(|e| match e {
                Effect::Earnings(m) => Some(m.clone()),
                _ => None,
            }));
        }
        bonuses.push(changes.last().expect("a change").bonus.clone());
    }
    let table = h.stack.table().to_string();
    let client = h.store().client().clone();
    let batches: Vec<Vec<WriteRequest>> = bonuses
        .chunks(25)
        .map(|chunk| {
            chunk
                .iter()
                .map(|b| {
                    let put = PutRequest::builder().set_item(Some(adapters::store::dynamo::bonus_item(b))).build();
                    WriteRequest::builder().put_request(put.expect("item set")).build()
                })
                .collect()
        })
        .collect();
    futures::stream::iter(batches)
        .for_each_concurrent(8, |batch| {
            let (client, table) = (client.clone(), table.clone());
            async move {
                let mut pending = Some(std::collections::HashMap::from([(table, batch)]));
                while let Some(items) = pending.take().filter(|m| m.values().any(|v| !v.is_empty())) {
                    let out =
                        client.batch_write_item().set_request_items(Some(items)).send().await.expect("batch write");
                    pending = out.unprocessed_items;
                }
            }
        })
        .await;
    book_earnings(h, &earnings).await;
    BulkHistory { bonuses, earnings }
}

/// The aggregate writes of `Earnings` effects, summed per item (what the money path's
/// transactions add, `store/dynamo/payments.rs`).
async fn book_earnings(h: &BillingHarness, moves: &[referral_core::bonus::EarningsMove]) {
    use adapters::store::keys;
    use aws_sdk_dynamodb::types::AttributeValue;
    use rust_decimal::Decimal;
    use std::collections::BTreeMap;

    /// An aggregate item's leaderboard partition (if any) and its summed attributes.
    type Sums<'a> = (Option<String>, BTreeMap<&'a str, Decimal>);
    // (pk, sk) → (lbpk, [(attr, sum)])
    let mut items: BTreeMap<(String, String), Sums> = BTreeMap::new();
    for m in moves {
        let pk = keys::user_pk(&m.referrer);
        let shard = keys::leaderboard_shard(&m.referrer);
        let mut add = |sk: String, lbpk: Option<String>, attrs: &[(&'static str, Decimal)]| {
            let entry = items.entry((pk.clone(), sk)).or_insert_with(|| (lbpk, BTreeMap::new()));
            for (attr, v) in attrs {
                *entry.1.entry(attr).or_default() += v;
            }
        };
        add(
            keys::SK_STATS.to_string(),
            Some(keys::leaderboard_pk(referral_core::domain::leaderboard::ALL, shard)),
            &[
                ("earned_total", m.amount),
                ("credited_count", m.credited.into()),
                ("reversed_count", m.reversed.into()),
                (keys::LBSCORE, m.amount),
            ],
        );
        add(keys::day_sk(&m.day), None, &[("earned", m.amount)]);
        add(
            keys::month_stats_sk(&m.month),
            Some(keys::leaderboard_pk(&m.month, shard)),
            &[("earned", m.amount), (keys::LBSCORE, m.amount)],
        );
    }
    for ((pk, sk), (lbpk, attrs)) in items {
        let attrs: Vec<_> = attrs.into_iter().filter(|(_, v)| !v.is_zero()).collect();
        let mut expr =
            format!("ADD {}", (0..attrs.len()).map(|i| format!("#a{i} :v{i}")).collect::<Vec<_>>().join(", "));
        if attrs.is_empty() {
            continue;
        }
        let mut req = h
            .store()
            .client()
            .update_item()
            .table_name(h.stack.table())
            .key("PK", AttributeValue::S(pk))
            .key("SK", AttributeValue::S(sk));
        for (i, (attr, v)) in attrs.iter().enumerate() {
            req = req
                .expression_attribute_names(format!("#a{i}"), *attr)
                .expression_attribute_values(format!(":v{i}"), AttributeValue::N(v.to_string()));
        }
        if let Some(lbpk) = lbpk {
            expr = format!("SET #lbpk = :lbpk {expr}");
            req = req
                .expression_attribute_names("#lbpk", keys::LBPK)
                .expression_attribute_values(":lbpk", AttributeValue::S(lbpk));
        }
        req.update_expression(expr).send().await.expect("book earnings");
    }
}
