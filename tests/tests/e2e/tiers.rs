//! Multi-tier rates end to end: the table configured through the real admin handler, top-ups
//! through the real webhook crossing $1,000 and $5,000 in one month (rates and bonuses to
//! the cent), override precedence, validation (400, nothing stored), optimistic versions
//! (409), refunds lowering the stored month volume, and concurrent crossings.

use adapters::domain::BonusStatus;
use integration_tests::billing::{token, BillingHarness};
use integration_tests::body_json;
use integration_tests::stack::text_or_num;
use rust_decimal::Decimal;
use serde_json::{json, Value};

fn admin() -> String {
    token("ops-tiers", Some("admin"), 600)
}

fn example_table() -> Value {
    json!({"tiers": [
        {"up_to": "1000.00", "rate": "0.05"},
        {"up_to": "5000.00", "rate": "0.07"},
        {"up_to": null, "rate": "0.10"},
    ]})
}

/// The month item key of `created_at`'s month (bonuses are booked by their creation time).
async fn month_volume(h: &BillingHarness, referrer: &str, payment: &str) -> String {
    let month = h.bonus(payment).await.expect("row").volume_month;
    let item = h.stack.item(&format!("USER#{referrer}"), &format!("STATS#{month}")).await.expect("month item");
    text_or_num(&item, "referred_volume")
}

async fn put_tiers(h: &BillingHarness, body: Value) -> lambda_http::Response<lambda_http::Body> {
    h.admin_call("PUT", "/admin/rate-tiers", Some(&admin()), Some(body)).await
}

#[tokio::test]
async fn tier_boundaries_to_the_cent_through_the_webhook() {
    let h = BillingHarness::new().await;
    h.refer("alice", "bob").await;
    let resp = put_tiers(&h, example_table()).await;
    assert_eq!(resp.status(), 200, "{:?}", body_json(&resp));
    let v = body_json(&resp);
    assert_eq!((v["source"].as_str(), v["version"].as_u64()), (Some("table"), Some(1)), "{v}");
    assert_eq!(v["updated_by"], "admin:ops-tiers");

    // (payment, top-up, volume before → expected rate, bonus)
    let steps = [
        ("t1", "995.00", "0.05", "49.75"),   // 0 → 995.00
        ("t2", "5.00", "0.05", "0.25"),      // 995.00 (band 1) → 1000.00: the crossing top-up keeps 5 %
        ("t3", "10.00", "0.07", "0.70"),     // exactly 1000.00 → 7 %
        ("t4", "3989.99", "0.07", "279.30"), // 1010.00 → 4999.99; 279.2993 → 279.30
        ("t5", "100.00", "0.07", "7.00"),    // 4999.99: crosses 5000 at 7 %
        ("t6", "12.10", "0.1", "1.21"),      // 5099.99 → 10 %
    ];
    let mut balance = Decimal::ZERO;
    for (payment, amount, rate, bonus) in steps {
        let v = body_json(&h.topup(payment, "bob", amount).await);
        assert_eq!(v["outcome"], "credited", "{payment}: {v}");
        let row = h.bonus(payment).await.unwrap();
        assert_eq!((row.rate.to_string().as_str(), row.bonus_amount.to_string().as_str()), (rate, bonus), "{payment}");
        balance += bonus.parse::<Decimal>().unwrap();
    }
    assert_eq!(h.wellflow.balance("alice"), balance);
    assert_eq!(balance.to_string(), "338.21");
    assert_eq!(month_volume(&h, "alice", "t6").await, "5112.09");

    // An individual override beats the tiers (and clearing it brings the tiers back).
    let resp = h.admin_call("PUT", "/admin/referrers/alice/rate", Some(&admin()), Some(json!({"rate": "0.08"}))).await;
    assert_eq!(resp.status(), 200);
    h.topup("t7", "bob", "100.00").await;
    let row = h.bonus("t7").await.unwrap();
    assert_eq!((row.rate.to_string(), row.bonus_amount.to_string()), ("0.08".into(), "8.00".into()));
    h.admin_call("PUT", "/admin/referrers/alice/rate", Some(&admin()), Some(json!({"rate": null}))).await;
    assert_eq!(month_volume(&h, "alice", "t7").await, "5212.09", "override top-ups still count as volume");

    // Refunds take their top-ups back out of the month: 5212.09 − 100 − 100 − 12.10 = 4999.99 → 7 % again.
    for (payment, amount) in [("t7", "100.00"), ("t5", "100.00"), ("t6", "12.10")] {
        assert_eq!(body_json(&h.refund(payment, "bob", amount).await)["outcome"], "reversed", "{payment}");
    }
    assert_eq!(month_volume(&h, "alice", "t1").await, "4999.99");
    h.topup("t8", "bob", "50.00").await;
    let row = h.bonus("t8").await.unwrap();
    assert_eq!((row.rate.to_string(), row.bonus_amount.to_string()), ("0.07".into(), "3.50".into()));
    // A repeated refund subtracts nothing more.
    h.refund("t6", "bob", "12.10").await;
    assert_eq!(month_volume(&h, "alice", "t1").await, "5049.99");

    // Back to the flat default: 5 % whatever the volume.
    let resp = h.admin_call("DELETE", "/admin/rate-tiers", Some(&admin()), None).await;
    assert_eq!(resp.status(), 200);
    let v = body_json(&resp);
    assert_eq!((v["source"].as_str(), v["version"].as_u64()), (Some("default"), Some(2)), "{v}");
    assert_eq!(v["tiers"], json!([{"up_to": null, "rate": "0.05"}]));
    h.topup("t9", "bob", "100.00").await;
    assert_eq!(h.bonus("t9").await.unwrap().bonus_amount.to_string(), "5.00");
}

#[tokio::test]
async fn invalid_tables_are_400_and_store_nothing_and_versions_are_optimistic() {
    let h = BillingHarness::new().await;
    let get = h.admin_call("GET", "/admin/rate-tiers", Some(&admin()), None).await;
    assert_eq!(get.status(), 200);
    assert_eq!(
        body_json(&get),
        json!({"source": "default", "tiers": [{"up_to": null, "rate": "0.05"}], "version": 0, "updated_by": null, "updated_at": null})
    );
    let tier = |up_to: Value, rate: &str| json!({"up_to": up_to, "rate": rate});
    let cases: Vec<(Value, &str)> = vec![
        (json!({"tiers": []}), "invalid_tier_count"),
        (
            json!({"tiers": (0..11).map(|i| tier(json!(format!("{}.00", i + 1)), "0.05")).collect::<Vec<_>>()}),
            "invalid_tier_count",
        ),
        (json!({"tiers": [tier(json!("1000.00"), "0.05")]}), "last_tier_bounded"),
        (json!({"tiers": [tier(Value::Null, "0.05"), tier(Value::Null, "0.07")]}), "unbounded_tier_not_last"),
        (
            json!({"tiers": [tier(json!("1000.00"), "0.05"), tier(json!("1000.00"), "0.07"), tier(Value::Null, "0.1")]}),
            "thresholds_not_ascending",
        ),
        (
            json!({"tiers": [tier(json!("5000.00"), "0.05"), tier(json!("1000.00"), "0.07"), tier(Value::Null, "0.1")]}),
            "thresholds_not_ascending",
        ),
        (json!({"tiers": [tier(json!("0.00"), "0.05"), tier(Value::Null, "0.1")]}), "invalid_threshold"),
        (json!({"tiers": [tier(json!("1000.001"), "0.05"), tier(Value::Null, "0.1")]}), "invalid_threshold"),
        (json!({"tiers": [tier(json!("1000.00"), "0.05"), tier(Value::Null, "0.51")]}), "invalid_rate"),
        (json!({"tiers": [tier(json!("1000.00"), "0"), tier(Value::Null, "0.1")]}), "invalid_rate"),
        (json!({"tiers": [{"up_to": null, "rate": "0.1", "extra": 1}]}), "invalid_body"),
        (json!({"rates": []}), "invalid_body"),
    ];
    for (body, code) in cases {
        let resp = put_tiers(&h, body.clone()).await;
        assert_eq!(resp.status(), 400, "{body}");
        let v = body_json(&resp);
        assert_eq!(v["error"]["code"], code, "{body}: {v}");
        assert!(!v["error"]["message"].as_str().unwrap().is_empty());
    }
    assert!(h.stack.item("CONFIG", "RATE_TIERS").await.is_none(), "nothing stored by refused tables");

    // Optimistic versions: 0 = "never written", then each write must name the current one.
    let mut first = example_table();
    first["expected_version"] = json!(0);
    assert_eq!(put_tiers(&h, first.clone()).await.status(), 200);
    let stale = put_tiers(&h, first).await;
    assert_eq!(stale.status(), 409);
    assert_eq!(body_json(&stale)["error"]["code"], "version_conflict");
    let mut second = json!({"tiers": [{"up_to": "2000.00", "rate": "0.06"}, {"up_to": null, "rate": "0.09"}]});
    second["expected_version"] = json!(1);
    let resp = put_tiers(&h, second).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(body_json(&resp)["version"], 2);
    let resp = h.admin_call("DELETE", "/admin/rate-tiers?expected_version=1", Some(&admin()), None).await;
    assert_eq!(resp.status(), 409, "a stale delete changes nothing");
    let get = body_json(&h.admin_call("GET", "/admin/rate-tiers", Some(&admin()), None).await);
    assert_eq!(get["source"], "table");
    assert_eq!(get["tiers"][0], json!({"up_to": "2000.00", "rate": "0.06"}));
    assert_eq!(get["version"], 2);

    // Admin role only; the method is checked.
    let resp = h.admin_call("GET", "/admin/rate-tiers", Some(&token("alice", None, 600)), None).await;
    assert_eq!(resp.status(), 403);
    let resp = h.admin_call("POST", "/admin/rate-tiers", Some(&admin()), Some(example_table())).await;
    assert_eq!(resp.status(), 405);
}

#[tokio::test]
async fn concurrent_topups_only_conflict_when_crossing_a_threshold() {
    let h = BillingHarness::new().await;
    put_tiers(&h, example_table()).await;
    let payers = ["c0", "c1", "c2", "c3", "c4"];
    for p in payers {
        h.refer("carol", p).await;
    }
    // 990.00 booked; five concurrent $10 top-ups: only the first to commit may use 5 %.
    assert_eq!(body_json(&h.topup("base", "c0", "990.00").await)["outcome"], "credited");
    let bodies: Vec<String> = payers
        .iter()
        .enumerate()
        .map(|(i, p)| BillingHarness::event_body(&format!("cc{i}"), p, "10.00", "topup.succeeded"))
        .collect();
    let responses = futures::future::join_all(bodies.iter().map(|b| h.deliver_raw(b))).await;
    for r in &responses {
        assert_eq!(body_json(r)["outcome"], "credited", "{:?}", body_json(r));
    }
    let mut rates = Vec::new();
    for i in 0..payers.len() {
        let row = h.bonus(&format!("cc{i}")).await.unwrap();
        assert_eq!(row.status, BonusStatus::Credited);
        rates.push(row.rate.to_string());
    }
    rates.sort();
    assert_eq!(rates, ["0.05", "0.07", "0.07", "0.07", "0.07"], "exactly one top-up was still below $1,000");
    assert_eq!(month_volume(&h, "carol", "cc0").await, "1040.00");
    assert_eq!(h.wellflow.balance("carol"), "49.50".parse::<Decimal>().unwrap() + Decimal::new(50 + 4 * 70, 2));
}
