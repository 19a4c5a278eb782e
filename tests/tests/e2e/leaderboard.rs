//! Leaderboard against moto: referrers credited through the real webhook handler (a tie, a
//! refund that reverses a credit, an all-time-only earner credited in an earlier month
//! through the real store transition), then ordering, competition ranks, masked vs public
//! names, sealed cursors across pages, the caller's own rank, month vs all, bad input, and
//! a constant number of DynamoDB calls per page.

use std::collections::HashSet;

use adapters::domain::{BonusStatus, UserId};
use adapters::store::Leaderboard;
use base64::Engine;
use integration_tests::billing::{BillingHarness, REFERRER_IP};
use integration_tests::body_json;
use integration_tests::stack::text;
use serde_json::{json, Value};

fn this_month() -> String {
    let now = adapters::clock::now();
    format!("{:04}-{:02}", now.year(), u8::from(now.month()))
}

/// ann 10.00, ben 5.00, cat 5.00 (tie), eve 3.00, dan 20.00 refunded (0, hidden) this
/// month; olga 25.00 credited 400 days ago (all-time board only).
async fn seeded() -> (BillingHarness, String) {
    let h = BillingHarness::new().await;
    for (referrer, user, payment, amount) in [
        ("ann", "u_ann", "lb_ann", "200.00"),
        ("ben", "u_ben", "lb_ben", "100.00"),
        ("cat", "u_cat", "lb_cat", "100.00"),
        ("dan", "u_dan", "lb_dan", "400.00"),
        ("eve", "u_eve", "lb_eve", "60.00"),
    ] {
        h.refer(referrer, user).await;
        assert_eq!(h.topup(payment, user, amount).await.status(), 200);
        assert_eq!(h.bonus(payment).await.unwrap().status, BonusStatus::Credited, "{payment}");
    }
    assert_eq!(h.refund("lb_dan", "u_dan", "400.00").await.status(), 200);
    assert_eq!(h.bonus("lb_dan").await.unwrap().status, BonusStatus::Reversed);

    // olga's referral signed up from olga's own IP: the bonus is held (same_ip); it is then
    // approved by an admin whose clock is 400 days back, so it is credited into an earlier
    // month (the real approve flow; only the clock is moved).
    h.refer_from("olga", "u_olga", REFERRER_IP).await;
    h.topup("lb_olga", "u_olga", "500.00").await;
    let held = h.bonus("lb_olga").await.unwrap();
    assert_eq!(held.status, BonusStatus::Pending);
    let earlier = adapters::clock::now() - time::Duration::days(400);
    let mut back_then = h.billing.clone();
    back_then.clock = std::sync::Arc::new(integration_tests::FixedClock(earlier));
    let pid = adapters::domain::PaymentId::parse("lb_olga").unwrap();
    let approved = referral_core::usecases::moderation::approve(&back_then, &pid, "admin:test", None).await.unwrap();
    assert!(matches!(approved, referral_core::usecases::moderation::ModerationOutcome::Approved(_)), "{approved:?}");
    (h, adapters::clock::rfc3339(earlier)[..7].to_string())
}

async fn board(h: &BillingHarness, query: &str, caller: &str) -> Value {
    let resp = h.dash_get(&format!("/referrals/leaderboard{query}"), Some(caller), &[]).await;
    assert_eq!(resp.status(), 200, "{query}: {:?}", resp.body());
    body_json(&resp)
}

fn rows(v: &Value) -> Vec<(u64, String, String, bool)> {
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["rank"].as_u64().unwrap(),
                i["name"].as_str().unwrap().to_string(),
                i["earned"].as_str().unwrap().to_string(),
                i["you"].as_bool().unwrap(),
            )
        })
        .collect()
}

/// Every page of a board with `limit`, following next_cursor; returns (rank, name, earned).
async fn all_pages(h: &BillingHarness, period: &str, limit: u32, caller: &str) -> (Vec<(u64, String, String)>, usize) {
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let query = match &cursor {
            Some(c) => format!("?period={period}&limit={limit}&cursor={c}"),
            None => format!("?period={period}&limit={limit}"),
        };
        let v = board(h, &query, caller).await;
        pages += 1;
        assert!(v["items"].as_array().unwrap().len() <= limit as usize);
        seen.extend(rows(&v).into_iter().map(|(r, n, e, _)| (r, n, e)));
        match v["next_cursor"].as_str() {
            Some(c) => {
                let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(c).unwrap();
                let leaked = String::from_utf8_lossy(&raw).to_string();
                for id in ["ann", "ben", "cat", "eve", "olga", "USER#"] {
                    assert!(!leaked.contains(id), "cursor reveals {id}");
                }
                cursor = Some(c.to_string());
            }
            None => break,
        }
        assert!(pages < 20, "pagination does not end");
    }
    (seen, pages)
}

#[tokio::test]
async fn ordering_ranks_names_and_me() {
    let (h, _) = seeded().await;
    let month = this_month();
    let pseudonym = |u: &str| h.dashboard().cfg.leaderboard.pseudonym(&UserId::parse(u).unwrap());

    // The aggregates the board reads, written by the money-moving transactions.
    let items = h.stack.all_items().await;
    let find = |pk: &str, sk: &str| {
        items.iter().find(|i| text(i, "PK") == pk && text(i, "SK") == sk).unwrap_or_else(|| panic!("{pk} {sk}"))
    };
    let ann_month = find("USER#ann", &format!("STATS#{month}"));
    let shard = adapters::store::keys::leaderboard_shard(&UserId::parse("ann").unwrap());
    assert_eq!(text(ann_month, "LBPK"), format!("LB#{month}#{shard}"));
    let num = |i: &std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>, a: &str| {
        i[a].as_n().unwrap().parse::<rust_decimal::Decimal>().unwrap()
    };
    assert_eq!(num(ann_month, "earned"), "10".parse().unwrap());
    assert_eq!(num(ann_month, "LBSCORE"), "10".parse().unwrap());
    assert_eq!(text(find("USER#ann", "STATS"), "LBPK"), format!("LB#all#{shard}"));
    assert_eq!(num(find("USER#dan", &format!("STATS#{month}")), "LBSCORE"), rust_decimal::Decimal::ZERO);
    assert_eq!(num(find("USER#dan", "STATS"), "LBSCORE"), rust_decimal::Decimal::ZERO, "refund reversed the score");
    assert!(!find("USER#u_ann", "PROFILE").contains_key("LBPK"), "non-earners stay out of the sparse index");

    // Ben opts in to a public name; everyone else is masked.
    let resp = h.dash_call("PUT", "/referrals/profile", Some("ben"), Some(json!({"public_name": "  Ben B. "}))).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(body_json(&resp), json!({"public_name": "Ben B."}));

    let v = board(&h, "?period=month", "ben").await;
    assert_eq!((v["period"].as_str(), v["month"].as_str()), (Some("month"), Some(month.as_str())));
    let got = rows(&v);
    assert_eq!(got[0], (1, pseudonym("ann"), "10.00".into(), false));
    // ben and cat tie at 5.00: both rank 2 (their order is the index's), then eve is 4th.
    let tied: HashSet<_> = got[1..3].iter().cloned().collect();
    assert_eq!(
        tied,
        HashSet::from([
            (2, "Ben B.".to_string(), "5.00".to_string(), true),
            (2, pseudonym("cat"), "5.00".into(), false)
        ])
    );
    assert_eq!(got[3], (4, pseudonym("eve"), "3.00".into(), false));
    assert_eq!(got.len(), 4, "dan's credit was refunded (score 0) and olga earned in another month");
    assert_eq!(v["next_cursor"], Value::Null);
    assert_eq!(v["me"], json!({"rank": 2, "earned": "5.00"}));
    for (_, name, _, _) in &got {
        for secret in ["ann", "cat", "eve", "u_"] {
            assert!(!name.contains(secret), "{name} reveals {secret}");
        }
    }
    let code = body_json(&h.dash_get("/referrals/link", Some("ann"), &[]).await)["code"].as_str().unwrap().to_string();
    assert!(!pseudonym("ann").contains(&code), "the pseudonym is not the referral code");

    // `period` defaults to the month; the caller's own rank from the middle and from nowhere.
    assert_eq!(board(&h, "", "eve").await["me"], json!({"rank": 4, "earned": "3.00"}));
    assert_eq!(board(&h, "?period=month", "ann").await["me"], json!({"rank": 1, "earned": "10.00"}));
    assert_eq!(board(&h, "?period=month", "nobody").await["me"], json!({"rank": null, "earned": "0.00"}));
    assert_eq!(board(&h, "?period=month", "dan").await["me"], json!({"rank": null, "earned": "0.00"}));
    assert_eq!(board(&h, "?period=month", "olga").await["me"], json!({"rank": null, "earned": "0.00"}));

    // All time: olga's earlier-month credit leads.
    let all = board(&h, "?period=all", "olga").await;
    assert_eq!((all["period"].as_str(), &all["month"]), (Some("all"), &Value::Null));
    let ranks: Vec<(u64, String)> = rows(&all).into_iter().map(|(r, _, e, _)| (r, e)).collect();
    assert_eq!(
        ranks,
        vec![(1, "25.00".into()), (2, "10.00".into()), (3, "5.00".into()), (3, "5.00".into()), (5, "3.00".into())]
    );
    assert_eq!(rows(&all)[0], (1, pseudonym("olga"), "25.00".into(), true));
    assert_eq!(all["me"], json!({"rank": 1, "earned": "25.00"}));
    assert_eq!(board(&h, "?period=all", "cat").await["me"], json!({"rank": 3, "earned": "5.00"}));

    // Opting out masks ben again.
    let resp = h.dash_call("PUT", "/referrals/profile", Some("ben"), Some(json!({"public_name": null}))).await;
    assert_eq!((resp.status().as_u16(), body_json(&resp)), (200, json!({"public_name": null})));
    let names: Vec<String> = rows(&board(&h, "?period=month", "ann").await).into_iter().map(|r| r.1).collect();
    assert!(names.contains(&pseudonym("ben")) && !names.contains(&"Ben B.".to_string()), "{names:?}");
}

#[tokio::test]
async fn pages_follow_sealed_cursors_without_gaps_or_duplicates() {
    let (h, _) = seeded().await;
    let (single, pages) = all_pages(&h, "month", 1, "ann").await;
    assert_eq!(pages, 4, "the last page carries no cursor");
    let ranks: Vec<u64> = single.iter().map(|r| r.0).collect();
    assert_eq!(ranks, vec![1, 2, 2, 4], "the tie keeps its rank across the page break");
    let (by_three, _) = all_pages(&h, "month", 3, "ann").await;
    let (whole, pages) = all_pages(&h, "month", 100, "ann").await;
    assert_eq!(pages, 1);
    assert_eq!(single, whole);
    assert_eq!(by_three, whole);
    assert_eq!(whole.iter().map(|r| &r.1).collect::<HashSet<_>>().len(), 4, "no entry twice");
    let (all, _) = all_pages(&h, "all", 2, "ann").await;
    assert_eq!(all.iter().map(|r| r.0).collect::<Vec<_>>(), vec![1, 2, 3, 3, 5]);

    // A cursor is bound to its board and cannot be edited.
    let first = board(&h, "?period=month&limit=1", "ann").await;
    let cursor = first["next_cursor"].as_str().unwrap().to_string();
    let mut tampered = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(&cursor).unwrap();
    tampered[20] ^= 0x40;
    let tampered = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(tampered);
    let crafted = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(r#"{"PK":"USER#ann","SK":"STATS","LBPK":"LB#all","LBSCORE":"abc"}"#);
    for (query, code) in [
        (format!("?period=all&cursor={cursor}"), "invalid_cursor"),
        (format!("?period=month&cursor={tampered}"), "invalid_cursor"),
        (format!("?period=month&cursor={crafted}"), "invalid_cursor"),
        ("?period=month&cursor=%00%FF".to_string(), "invalid_cursor"),
        ("?period=week".to_string(), "invalid_period"),
        ("?period=".to_string(), "invalid_period"),
        ("?limit=0".to_string(), "invalid_limit"),
        ("?limit=101".to_string(), "invalid_limit"),
        ("?limit=ten".to_string(), "invalid_limit"),
    ] {
        let resp = h.dash_get(&format!("/referrals/leaderboard{query}"), Some("ann"), &[]).await;
        assert_eq!(resp.status(), 400, "{query}");
        assert_eq!(body_json(&resp)["error"]["code"], code, "{query}");
    }
    assert_eq!(h.dash_get("/referrals/leaderboard", None, &[]).await.status(), 401);
}

#[tokio::test]
async fn a_page_costs_the_same_dynamodb_calls_at_any_depth() {
    let (h, _) = seeded().await;
    let shards = adapters::store::keys::LEADERBOARD_SHARDS as usize;
    let mut cursor = None;
    for page in 0..2 {
        let query = match &cursor {
            Some(c) => format!("?period=month&limit=2&cursor={c}"),
            None => "?period=month&limit=2".to_string(),
        };
        h.calls.reset();
        let v = board(&h, &query, "eve").await;
        let calls = h.calls.take();
        let count = |op: &str| calls.iter().filter(|c| *c == op).count();
        // ≤ 1 Query per board shard (the page; shards already exhausted are skipped), 1 COUNT
        // Query per shard (the rank), 1 BatchGetItem (names), 1 GetItem (own score) — bounded
        // by the shard count, never by the board's size or the page's depth.
        assert_eq!((count("BatchGetItem"), count("GetItem")), (1, 1), "page {page}: {calls:?}");
        assert!((shards + 1..=2 * shards).contains(&count("Query")), "page {page}: {calls:?}");
        assert_eq!(calls.len(), 2 + count("Query"), "page {page}: {calls:?}");
        cursor = v["next_cursor"].as_str().map(str::to_string);
    }
    assert!(cursor.is_none());
    // Someone who earned nothing: no count query, and an empty board page makes no BatchGetItem.
    h.calls.reset();
    let empty = h.store().leaderboard_page("1999-01", 10, None).await.unwrap();
    assert!(empty.entries.is_empty() && empty.next.is_none());
    let standing = h.store().standing("all", &UserId::parse("nobody").unwrap()).await.unwrap();
    assert_eq!(standing.rank, None);
    let mut expected = vec!["Query"; shards];
    expected.push("GetItem");
    assert_eq!(h.calls.take(), expected);
    println!("LEADERBOARD_COST queries per page <= {} (page) + {} (rank) + BatchGetItem + GetItem", shards, shards);
}

#[tokio::test]
async fn public_names_are_validated() {
    let h = BillingHarness::new().await;
    let put = |body: Option<Value>| h.dash_call("PUT", "/referrals/profile", Some("zed"), body);
    for (body, code) in [
        (json!({"public_name": "<script>"}), "invalid_public_name"),
        (json!({"public_name": "x".repeat(33)}), "invalid_public_name"),
        (json!({"public_name": "   "}), "invalid_public_name"),
        (json!({"public_name": "a\u{0007}b"}), "invalid_public_name"),
        (json!({"public_name": "Referrer #1A2B3C"}), "invalid_public_name"),
        (json!({"public_name": 5}), "invalid_body"),
        (json!({}), "invalid_body"),
        (json!({"public_name": "Zed", "user_id": "ann"}), "invalid_body"),
        (json!(["Zed"]), "invalid_body"),
    ] {
        let resp = put(Some(body.clone())).await;
        assert_eq!(resp.status(), 400, "{body}");
        assert_eq!(body_json(&resp)["error"]["code"], code, "{body}");
    }
    assert_eq!(put(None).await.status(), 400, "no body");
    let profile = |h: &BillingHarness| {
        let store = h.store().clone();
        async move {
            use adapters::store::Users;
            store.user(&UserId::parse("zed").unwrap()).await.unwrap()
        }
    };
    assert!(profile(&h).await.is_none(), "refused input writes nothing");

    let resp = put(Some(json!({"public_name": "Zoë O'Neil"}))).await;
    assert_eq!((resp.status().as_u16(), body_json(&resp)), (200, json!({"public_name": "Zoë O'Neil"})));
    let stored = profile(&h).await.unwrap();
    assert_eq!(stored.public_name.as_deref(), Some("Zoë O'Neil"));
    assert!(!stored.created_at.is_empty());
    assert_eq!(put(Some(json!({"public_name": null}))).await.status(), 200);
    assert_eq!(profile(&h).await.unwrap().public_name, None);

    assert_eq!(h.dash_call("GET", "/referrals/profile", Some("zed"), None).await.status(), 405);
    assert_eq!(h.dash_call("PUT", "/referrals/leaderboard", Some("zed"), None).await.status(), 405);
    assert_eq!(h.dash_call("PUT", "/referrals/profile", None, Some(json!({"public_name": "Zed"}))).await.status(), 401);
}
