//! Dashboard API against moto: link, QR (decoded back), KPIs exact to the cent from a mix
//! of statuses, the 30-day window, pagination, isolation between users, constant KPI cost.

use std::collections::HashSet;

use adapters::domain::UserId;
use adapters::store::Dashboard;
use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use integration_tests::billing::BillingHarness;
use integration_tests::seed::seeded_mix;
use integration_tests::{body_json, header};
use lambda_http::Body;

fn date_plus(days: i64) -> String {
    (adapters::clock::now().date() + time::Duration::days(days)).to_string()
}

#[tokio::test]
async fn link_is_created_once_and_stable() {
    let h = BillingHarness::new().await;
    let first = h.dash_get("/referrals/link", Some("alice"), &[]).await;
    assert_eq!(first.status(), 200);
    let v = body_json(&first);
    let code = v["code"].as_str().unwrap().to_string();
    assert_eq!(v["url"], format!("https://go.example.com/?ref={code}"));
    assert_eq!(body_json(&h.dash_get("/referrals/link", Some("alice"), &[]).await)["code"], code.as_str());
    assert_ne!(body_json(&h.dash_get("/referrals/link", Some("bob"), &[]).await)["code"], code.as_str());
}

#[tokio::test]
async fn qr_codes_decode_to_the_exact_link_and_cache() {
    let h = BillingHarness::new().await;
    let url = body_json(&h.dash_get("/referrals/link", Some("alice"), &[]).await)["url"].as_str().unwrap().to_string();
    let png = h.dash_get("/referrals/qr.png?size=300", Some("alice"), &[]).await;
    assert_eq!(png.status(), 200);
    assert_eq!(header(&png, "content-type"), Some("image/png"));
    let Body::Binary(bytes) = png.body() else { panic!("binary body") };
    let img = image::load_from_memory(bytes).unwrap().to_luma8();
    // Whole pixels per module: the image is square and as close to the asked size as fits.
    assert_eq!(img.width(), img.height());
    assert!((240..=300).contains(&img.width()), "size {}", img.width());
    let mut prepared = rqrr::PreparedImage::prepare(img);
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1);
    let (_, content) = grids[0].decode().unwrap();
    assert_eq!(content, url);

    let etag = header(&png, "etag").unwrap().to_string();
    let cached = h.dash_get("/referrals/qr.png?size=300", Some("alice"), &[("if-none-match", &etag)]).await;
    assert_eq!(cached.status(), 304);
    let other_size = h.dash_get("/referrals/qr.png?size=512", Some("alice"), &[("if-none-match", &etag)]).await;
    assert_eq!(other_size.status(), 200, "another size is another representation");

    let svg = h.dash_get("/referrals/qr.svg", Some("alice"), &[]).await;
    assert_eq!(header(&svg, "content-type"), Some("image/svg+xml"));
    let Body::Text(text) = svg.body() else { panic!("text body") };
    assert!(text.contains("<svg"));
    for bad in ["0", "64", "5000", "abc"] {
        let resp = h.dash_get(&format!("/referrals/qr.png?size={bad}"), Some("alice"), &[]).await;
        assert_eq!(resp.status(), 400, "{bad}");
        assert_eq!(body_json(&resp)["error"]["code"], "invalid_size");
    }
}

#[tokio::test]
async fn kpis_are_exact_for_a_mix_of_statuses() {
    let h = BillingHarness::new().await;
    seeded_mix(&h).await;
    let resp = h.dash_get("/referrals/kpis", Some("alice"), &[]).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        body_json(&resp),
        serde_json::json!({
            "currency": "USD",
            "total_earned": "17.50",
            "earned_last_30_days": "17.50",
            "signups": 5,
            "active_referred_users": 5,
            "clicks": 3,
        })
    );
    // Another user's token sees only their own (empty) numbers: there is no way to ask for alice's.
    let other = body_json(&h.dash_get("/referrals/kpis", Some("mallory"), &[]).await);
    assert_eq!((other["total_earned"].as_str(), other["signups"].as_i64()), (Some("0.00"), Some(0)));
    assert!(body_json(&h.dash_get("/referrals/history", Some("mallory"), &[]).await)["items"]
        .as_array()
        .unwrap()
        .is_empty());
    assert_eq!(h.dash_get("/referrals/kpis", None, &[]).await.status(), 401);
}

#[tokio::test]
async fn the_thirty_day_window_has_exact_boundaries() {
    let h = BillingHarness::new().await;
    seeded_mix(&h).await;
    let alice = UserId::parse("alice").unwrap();
    // Today's credits are inside the window for 29 more days, outside on day 30.
    let inside = h.store().referrer_kpis(&alice, &date_plus(0), &date_plus(29)).await.unwrap();
    assert_eq!((inside.earned_in_window.to_string(), inside.active_referred_users), ("17.50".into(), 5));
    let outside = h.store().referrer_kpis(&alice, &date_plus(1), &date_plus(30)).await.unwrap();
    assert_eq!((outside.earned_in_window.to_string(), outside.active_referred_users), ("0.00".into(), 0));
    assert_eq!(outside.total_earned.to_string(), "17.50", "all-time total does not expire");
}

#[tokio::test]
async fn a_repeat_topup_keeps_active_users_distinct() {
    let h = BillingHarness::new().await;
    h.refer("alice", "bob").await;
    for i in 0..3 {
        h.topup(&format!("rep{i}"), "bob", "10.00").await;
    }
    let v = body_json(&h.dash_get("/referrals/kpis", Some("alice"), &[]).await);
    assert_eq!((v["active_referred_users"].as_i64(), v["total_earned"].as_str()), (Some(1), Some("1.50")));
}

#[tokio::test]
async fn history_pages_return_every_row_exactly_once_newest_first() {
    let h = BillingHarness::new().await;
    h.refer("alice", "bob").await;
    for i in 0..23 {
        h.topup(&format!("hist{i:02}"), "bob", "10.00").await;
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let uri = match &cursor {
            Some(c) => format!("/referrals/history?limit=5&cursor={c}"),
            None => "/referrals/history?limit=5".to_string(),
        };
        let v = body_json(&h.dash_get(&uri, Some("alice"), &[]).await);
        for item in v["items"].as_array().unwrap() {
            for field in ["payment_id", "created_at", "topup_amount", "rate", "bonus_amount", "status", "reason"] {
                assert!(item.get(field).is_some(), "{field}");
            }
            assert_eq!(item["bonus_amount"], "0.50");
            seen.push(item["payment_id"].as_str().unwrap().to_string());
        }
        match v["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 23);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 23, "no row twice");
    let mut expected: Vec<String> = (0..23).map(|i| format!("hist{i:02}")).collect();
    expected.reverse();
    assert_eq!(seen, expected, "newest first");

    // A cursor from alice's history is refused for another user.
    let first = body_json(&h.dash_get("/referrals/history?limit=5", Some("alice"), &[]).await);
    let c = first["next_cursor"].as_str().unwrap();
    let stolen = h.dash_get(&format!("/referrals/history?cursor={c}"), Some("mallory"), &[]).await;
    assert_eq!(stolen.status(), 400);
    assert_eq!(body_json(&stolen)["error"]["code"], "invalid_cursor");
    assert_eq!(h.dash_get("/referrals/history?limit=0", Some("alice"), &[]).await.status(), 400);
}

/// Writes `n` bonus rows for `referrer` straight into the table (history only).
async fn bulk_history(h: &BillingHarness, referrer: &str, n: usize) {
    let rows: Vec<WriteRequest> = (0..n)
        .map(|i| {
            let pid = format!("bulk{i:05}");
            let s = |v: String| AttributeValue::S(v);
            let item = [
                ("PK", s(format!("BONUS#ref:auto:{pid}"))),
                ("SK", s("BONUS".into())),
                ("GSI2PK", s(format!("REFERRER#{referrer}"))),
                ("GSI2SK", s(format!("2026-01-01T00:00:00.000Z#{pid}"))),
                ("status", s("credited".into())),
                ("bonus_amount", s("1.00".into())),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
            WriteRequest::builder().put_request(PutRequest::builder().set_item(Some(item)).build().unwrap()).build()
        })
        .collect();
    for chunk in rows.chunks(25) {
        let mut pending = Some(std::collections::HashMap::from([(h.stack.table().to_string(), chunk.to_vec())]));
        while let Some(items) = pending.take() {
            let out = h.stack.dynamo.batch_write_item().set_request_items(Some(items)).send().await.unwrap();
            pending = out.unprocessed_items.filter(|u| !u.is_empty());
        }
    }
}

#[tokio::test]
async fn kpi_cost_does_not_grow_with_history() {
    let h = BillingHarness::new().await;
    seeded_mix(&h).await;
    let alice = UserId::parse("alice").unwrap();
    let (start, today) = (date_plus(-29), date_plus(0));
    bulk_history(&h, "alice", 10).await;
    h.calls.reset();
    let small = h.store().referrer_kpis(&alice, &start, &today).await.unwrap();
    let small_calls = h.calls.take();
    bulk_history(&h, "alice", 10_000).await;
    let big = h.store().referrer_kpis(&alice, &start, &today).await.unwrap();
    let big_calls = h.calls.take();
    assert_eq!(small.items_read, big.items_read, "items read per KPI call");
    assert_eq!(small_calls, big_calls, "DynamoDB calls per KPI call");
    assert_eq!(small, big, "history rows never feed the KPIs");
    println!("KPI_COST items_read={} calls={:?} (10 and 10,000 history rows)", big.items_read, big_calls);
}

#[tokio::test]
async fn the_page_and_its_assets_are_served() {
    let h = BillingHarness::new().await;
    let page = h.dash_get("/referrals", None, &[]).await;
    assert_eq!(page.status(), 200);
    assert_eq!(header(&page, "content-type"), Some("text/html; charset=utf-8"));
    assert!(header(&page, "content-security-policy").unwrap().contains("script-src 'self'"));
    for asset in ["/referrals.js", "/referrals.css"] {
        assert_eq!(h.dash_get(asset, None, &[]).await.status(), 200, "{asset}");
    }
    assert_eq!(h.dash_get("/referrals/nothing", Some("alice"), &[]).await.status(), 404);
}
