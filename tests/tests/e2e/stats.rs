//! `GET /referrals/stats` against moto: the chart's buckets are written when clicks, signups
//! and credits happen (real handlers), agree with the KPIs, follow a re-attribution, expire
//! from the click shards after the window — and a read costs the same DynamoDB items for a
//! referrer with 10 bonuses as for one with 10,000 (counted from the SDK's responses).

use std::collections::HashMap;

use adapters::domain::UserId;
use adapters::store::keys;
use adapters::store::{Codes, Users};
use integration_tests::billing::{token, BillingHarness};
use integration_tests::seed::{bulk_changes, bulk_history};
use integration_tests::stack::{num, text};
use integration_tests::{body_json, TestStack};
use referral_core::store::{Commit, Payments};
use rust_decimal::Decimal;
use serde_json::Value;

fn today() -> time::Date {
    adapters::clock::now().date()
}

fn days_ago(n: i64) -> String {
    (today() - time::Duration::days(n)).to_string()
}

fn dec(v: &Value) -> Decimal {
    v.as_str().unwrap_or_else(|| panic!("a decimal string: {v}")).parse().unwrap()
}

async fn stats(h: &BillingHarness, user: &str, query: &str) -> Value {
    let resp = h.dash_get(&format!("/referrals/stats{query}"), Some(user), &[]).await;
    let v = body_json(&resp);
    assert_eq!(resp.status(), 200, "{v}");
    v
}

fn bucket<'a>(v: &'a Value, period: &str) -> &'a Value {
    v["buckets"].as_array().unwrap().iter().find(|b| b["period"] == period).unwrap_or_else(|| panic!("{period}: {v}"))
}

#[tokio::test]
async fn the_chart_buckets_follow_clicks_signups_and_earnings_and_match_the_kpis() {
    let h = BillingHarness::new().await;
    integration_tests::seed::seeded_mix(&h).await; // 5 signups, 3 clicks and $17.50 today
    let alice = UserId::parse("alice").unwrap();
    let code = h.store().ensure_code(&alice).await.unwrap();
    // Clicks on earlier days (backdated; the redirect counts today's).
    for (ago, clicks) in [(1, 2), (29, 1), (30, 4), (89, 1), (200, 5)] {
        for _ in 0..clicks {
            h.store().record_click_on(&code, None, today() - time::Duration::days(ago)).await.unwrap();
        }
    }
    let kpis = body_json(&h.dash_get("/referrals/kpis", Some("alice"), &[]).await);

    let daily = stats(&h, "alice", "").await;
    assert_eq!((daily["granularity"].as_str(), daily["time_zone"].as_str()), (Some("day"), Some("UTC")));
    let buckets = daily["buckets"].as_array().unwrap();
    assert_eq!(buckets.len(), 90);
    assert_eq!(buckets[0]["period"], days_ago(89));
    assert_eq!(buckets[89]["period"], days_ago(0));
    let now = bucket(&daily, &days_ago(0));
    assert_eq!(
        (now["clicks"].as_u64(), now["signups"].as_i64(), now["earned"].as_str()),
        (Some(3), Some(5), Some("17.50"))
    );
    assert_eq!(bucket(&daily, &days_ago(1))["clicks"], 2);
    assert_eq!(bucket(&daily, &days_ago(89))["clicks"], 1);
    // Totals: the window's clicks (the 200-day-old ones are outside), all signups, all earnings.
    assert_eq!(daily["totals"]["clicks"], 3 + 2 + 1 + 4 + 1);
    assert_eq!(daily["totals"]["signups"], kpis["signups"]);
    assert_eq!(daily["totals"]["earned"], kpis["total_earned"]);
    // The last 30 days of the chart are the KPI's window.
    let last30: Decimal = buckets[60..].iter().map(|b| dec(&b["earned"])).sum();
    assert_eq!(last30.to_string(), kpis["earned_last_30_days"].as_str().unwrap());
    let clicks_30: u64 = buckets[60..].iter().map(|b| b["clicks"].as_u64().unwrap()).sum();
    assert_eq!(clicks_30, 3 + 2 + 1);

    // Monthly: the current month holds today's events; 12 buckets.
    let monthly = stats(&h, "alice", "?granularity=month").await;
    assert_eq!(monthly["buckets"].as_array().unwrap().len(), 12);
    let month = today().to_string()[..7].to_string();
    let this_month = bucket(&monthly, &month);
    assert_eq!(this_month["earned"], kpis["total_earned"]);
    assert_eq!(this_month["signups"], kpis["signups"]);
    assert_eq!(monthly["totals"]["earned"], kpis["total_earned"]);
    assert_eq!(monthly["totals"]["clicks"], kpis["clicks"], "every click of the KPI is within 12 months");

    // An explicit range, and the refusals.
    let three = stats(&h, "alice", &format!("?from={}&to={}", days_ago(2), days_ago(0))).await;
    assert_eq!(three["buckets"].as_array().unwrap().len(), 3);
    assert_eq!(
        (three["from"].as_str(), three["to"].as_str()),
        (Some(days_ago(2).as_str()), Some(days_ago(0).as_str()))
    );
    for (query, code) in [
        ("?granularity=week", "invalid_granularity"),
        ("?from=yesterday", "invalid_range"),
        (&format!("?from={}", days_ago(90)) as &str, "invalid_range"),
        (&format!("?from={}&to={}", days_ago(1), days_ago(2)), "invalid_range"),
        ("?granularity=month&from=2020-01", "invalid_range"),
    ] {
        let resp = h.dash_get(&format!("/referrals/stats{query}"), Some("alice"), &[]).await;
        assert_eq!((resp.status().as_u16(), body_json(&resp)["error"]["code"].as_str()), (400, Some(code)), "{query}");
    }
    assert_eq!(h.dash_get("/referrals/stats", None, &[]).await.status(), 401);
    // Another referrer sees only their own buckets.
    let other = stats(&h, "mallory", "").await;
    assert_eq!((other["totals"]["clicks"].as_u64(), other["totals"]["earned"].as_str()), (Some(0), Some("0.00")));
}

#[tokio::test]
async fn a_reattribution_moves_the_signup_between_the_referrers_buckets() {
    let h = BillingHarness::new().await;
    h.refer("alice", "bob").await;
    h.refer("alice", "erin").await;
    h.refer("carol", "dave").await;
    let ops = token("ops", Some("admin"), 600);
    let resp = h
        .admin_call(
            "POST",
            "/admin/attributions/bob",
            Some(&ops),
            Some(serde_json::json!({"referrer_id": "carol", "note": "ticket 7"})),
        )
        .await;
    assert_eq!(resp.status(), 200, "{}", body_json(&resp));
    for (user, signups) in [("alice", 1), ("carol", 2)] {
        let kpis = body_json(&h.dash_get("/referrals/kpis", Some(user), &[]).await);
        let daily = stats(&h, user, "").await;
        let monthly = stats(&h, user, "?granularity=month").await;
        assert_eq!(kpis["signups"], signups, "{user}");
        assert_eq!(daily["totals"]["signups"], signups, "{user}: the day buckets sum to the KPI");
        assert_eq!(bucket(&daily, &days_ago(0))["signups"], signups, "{user}: on the day of the attribution");
        assert_eq!(monthly["totals"]["signups"], signups, "{user}");
    }
}

#[tokio::test]
async fn click_counters_leave_the_shards_after_the_window() {
    let stack = TestStack::new().await;
    let code = stack.store.ensure_code(&UserId::parse("alice").unwrap()).await.unwrap();
    let old = today() - time::Duration::days(100);
    stack.store.record_click_on(&code, None, old).await.unwrap();
    let old_attr = keys::click_day_attr(old);
    let shard_with_old = async || {
        for shard in 0..keys::CLICK_SHARDS {
            let item = stack.item(&keys::click_shard_pk(&code, shard), keys::SK_CLICKS).await.unwrap();
            if item.contains_key(&old_attr) {
                return Some(shard);
            }
        }
        None
    };
    assert!(shard_with_old().await.is_some(), "the backdated click is counted on its day");
    // Today's clicks land on random shards; the one that reaches the old counter removes it.
    let mut clicks = 0;
    while shard_with_old().await.is_some() {
        stack.store.record_click(&code).await.unwrap();
        clicks += 1;
        assert!(clicks < 500, "a click on every shard removes counters older than the window");
    }
    assert_eq!(stack.store.code(&code).await.unwrap().unwrap().clicks, clicks + 1, "the all-time total keeps them");
    // Only today's day counters stay (the old click's month is still inside the 12 months).
    let today_attr = keys::click_day_attr(today());
    for shard in 0..keys::CLICK_SHARDS {
        let item = stack.item(&keys::click_shard_pk(&code, shard), keys::SK_CLICKS).await.unwrap();
        let days: Vec<&String> = item.keys().filter(|k| k.starts_with('d') && **k != today_attr).collect();
        assert!(days.is_empty(), "shard {shard}: {days:?}");
    }
}

/// The buckets the bulk seeder books are those the money path's transactions write.
#[tokio::test]
async fn bulk_seeding_books_what_the_money_path_books() {
    let bulk = BillingHarness::new().await;
    bulk_history(&bulk, "alice", 40, 7).await;
    let real = BillingHarness::new().await;
    let alice = UserId::parse("alice").unwrap();
    for i in 0..40 {
        for change in bulk_changes(&alice, i, 7) {
            let outcome = real.store().commit(&Commit::bonus(change)).await.unwrap();
            assert_eq!(outcome, referral_core::store::CommitOutcome::Committed);
        }
    }
    let aggregates = |items: Vec<HashMap<String, aws_sdk_dynamodb::types::AttributeValue>>| {
        let mut out: Vec<(String, String, String)> = Vec::new();
        for item in items.iter().filter(|i| text(i, "PK") == "USER#alice") {
            for attr in ["earned", "earned_total", "credited_count", "reversed_count", keys::LBSCORE, keys::LBPK] {
                if let Some(v) = item.get(attr) {
                    let v = match v {
                        aws_sdk_dynamodb::types::AttributeValue::N(n) => {
                            n.parse::<Decimal>().unwrap().normalize().to_string()
                        }
                        aws_sdk_dynamodb::types::AttributeValue::S(s) => s.clone(),
                        other => format!("{other:?}"),
                    };
                    out.push((text(item, "SK").to_string(), attr.to_string(), v));
                }
            }
        }
        out.sort();
        out
    };
    let booked = aggregates(bulk.stack.all_items().await);
    assert!(booked.len() > 10, "{booked:?}");
    assert_eq!(booked, aggregates(real.stack.all_items().await));
    let _ = num; // (stack helpers shared with other modules)
}

#[tokio::test]
async fn stats_cost_the_same_items_for_10_and_10000_bonus_rows() {
    let h = BillingHarness::new().await;
    // Both referrers: bonuses on the same 10 days, a code and a few clicks.
    let small = bulk_history(&h, "small", 10, 10).await;
    let started = std::time::Instant::now();
    let large = bulk_history(&h, "large", 10_000, 10).await;
    println!("seeded 10,000 bonus rows in {:?}", started.elapsed());
    for user in ["small", "large"] {
        let code = h.store().ensure_code(&UserId::parse(user).unwrap()).await.unwrap();
        for _ in 0..3 {
            h.store().record_click(&code).await.unwrap();
        }
    }
    let mut cost = HashMap::new();
    for user in ["small", "large"] {
        for granularity in ["day", "month"] {
            h.calls.reset();
            let v = stats(&h, user, &format!("?granularity={granularity}")).await;
            let mut ops = h.calls.take();
            ops.sort();
            let items = h.calls.take_items();
            assert_eq!(ops, ["BatchGetItem", "GetItem", "Query"], "{user} {granularity}");
            println!("GET /referrals/stats?granularity={granularity} for {user}: {items} items read");
            cost.insert((user, granularity), items);
            let kpis = body_json(&h.dash_get("/referrals/kpis", Some(user), &[]).await);
            assert_eq!(v["totals"]["earned"], kpis["total_earned"], "{user} {granularity}");
            assert_eq!(v["totals"]["clicks"], 3);
        }
    }
    for granularity in ["day", "month"] {
        assert_eq!(
            cost[&("small", granularity)],
            cost[&("large", granularity)],
            "{granularity}: O(buckets), not O(history)"
        );
    }
    // 10 day buckets + profile + 16 click shards; 1 month bucket (or 2 across a month end) + 1 + 16.
    assert_eq!(cost[&("large", "day")], 10 + 1 + keys::CLICK_SHARDS as usize);
    assert!(cost[&("large", "month")] <= 2 + 1 + keys::CLICK_SHARDS as usize);
    assert_eq!(small.paid_total().round_dp(2), dec(&stats(&h, "small", "").await["totals"]["earned"]));
    assert_eq!(large.paid_total().round_dp(2), dec(&stats(&h, "large", "").await["totals"]["earned"]));
}
