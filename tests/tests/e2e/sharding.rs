//! Sharded click counters against moto: a burst of concurrent clicks on one code is counted
//! exactly and spread over several shards (distinct partition keys), each click stays one
//! DynamoDB round trip, unknown codes write nothing, the shards are born with the code, and
//! the readers (code total, dashboard KPIs, signup owner lookup) have a fixed cost.

use std::collections::HashMap;

use adapters::domain::{RefCode, UserId};
use adapters::store::keys::{self, CLICK_SHARDS};
use adapters::store::{ClaimOutcome, ClickOutcome, Codes, Dashboard, DynamoStore, Users};
use aws_sdk_dynamodb::types::AttributeValue;
use integration_tests::billing::BillingHarness;
use integration_tests::counting::{counted_client, CallCounter};
use integration_tests::stack::{num, text};
use integration_tests::{get, header, header_all, TestStack};
use redirect::{RedirectConfig, Touch};

const BURST: usize = 500;

fn config() -> RedirectConfig {
    RedirectConfig {
        site_origin: url::Url::parse("https://www.example.com").unwrap(),
        cookie_domain: None,
        touch: Touch::First,
    }
}

/// A store on the test's table whose DynamoDB calls are recorded in `calls`.
fn counted_store(stack: &TestStack, calls: &CallCounter) -> DynamoStore {
    DynamoStore::new(counted_client(&stack.sdk, calls), stack.table().to_string())
}

/// Clicks per shard, read raw from the table (`None` = the shard item does not exist).
async fn shard_clicks(stack: &TestStack, code: RefCode) -> Vec<Option<i64>> {
    let mut out = Vec::new();
    for shard in 0..CLICK_SHARDS {
        let item = stack.item(&keys::click_shard_pk(&code, shard), keys::SK_CLICKS).await;
        out.push(item.map(|i| num(&i, "clicks")));
    }
    out
}

fn is_shard(item: &HashMap<String, AttributeValue>) -> bool {
    text(item, "SK") == keys::SK_CLICKS
}

#[tokio::test]
async fn a_burst_of_concurrent_clicks_is_counted_exactly_across_shards() {
    let stack = TestStack::new().await;
    let code = stack.store.ensure_code(&UserId::parse("viral-referrer").unwrap()).await.unwrap();
    let calls = CallCounter::default();
    let store = counted_store(&stack, &calls);
    let cfg = config();
    let uri = format!("/pricing?ref={code}&utm_source=viral");

    let requests: Vec<_> = (0..BURST).map(|_| get(&uri, &[])).collect();
    let responses = futures::future::join_all(requests.iter().map(|req| redirect::handle(&store, &cfg, req))).await;
    for resp in &responses {
        assert_eq!(resp.status(), 302);
        assert_eq!(header(resp, "location"), Some("https://www.example.com/pricing?utm_source=viral"));
        assert_eq!(header_all(resp, "set-cookie").len(), 1, "a counted click sets the cookie");
    }

    let sent = calls.take();
    assert_eq!(sent.len(), BURST, "one DynamoDB round trip per click");
    assert!(sent.iter().all(|op| op == "UpdateItem"), "every click is a single UpdateItem: {sent:?}");

    let shards = shard_clicks(&stack, code).await;
    let counts: Vec<i64> = shards.iter().map(|c| c.expect("every shard exists")).collect();
    println!("CLICK_SHARDS={CLICK_SHARDS} burst={BURST} per-shard={counts:?}");
    assert_eq!(counts.iter().sum::<i64>(), BURST as i64, "no click lost or double-counted");
    assert!(counts.iter().filter(|c| **c > 0).count() >= 2, "clicks spread over several shards: {counts:?}");
    assert!(counts.iter().all(|c| *c < BURST as i64), "no shard holds every click: {counts:?}");
    assert_eq!(stack.store.code(&code).await.unwrap().unwrap().clicks, BURST as u64, "Codes::code sums the shards");
    let row = stack.item(&keys::code_pk(&code), keys::SK_CODE).await.unwrap();
    assert!(!row.contains_key("clicks"), "the code row keeps no counter of its own");
}

#[tokio::test]
async fn an_unknown_code_writes_nothing_in_one_round_trip() {
    let stack = TestStack::new().await;
    let code = stack.store.ensure_code(&UserId::parse("referrer").unwrap()).await.unwrap();
    let unknown = RefCode::parse(if code.as_str() == "ZZZZZZ" { "YYYYYY" } else { "ZZZZZZ" }).unwrap();
    let calls = CallCounter::default();
    let store = counted_store(&stack, &calls);
    let before = stack.all_items().await.len();

    assert_eq!(store.record_click(&unknown).await.unwrap(), ClickOutcome::UnknownCode);
    for _ in 0..20 {
        let resp = redirect::handle(&store, &config(), &get(&format!("/?ref={unknown}"), &[])).await;
        assert_eq!(resp.status(), 302);
        assert!(header_all(&resp, "set-cookie").is_empty());
    }
    assert_eq!(calls.take(), vec!["UpdateItem".to_string(); 21], "an unknown code costs one refused UpdateItem");
    assert_eq!(stack.all_items().await.len(), before, "an unknown code must not create items");
    assert!(shard_clicks(&stack, unknown).await.iter().all(Option::is_none), "no shard item for an unknown code");
    assert!(stack.store.code(&unknown).await.unwrap().is_none());
    assert_eq!(shard_clicks(&stack, code).await, vec![Some(0); CLICK_SHARDS as usize], "known code untouched");
}

#[tokio::test]
async fn shards_are_created_with_the_code_and_never_orphaned() {
    let stack = TestStack::new().await;
    let alice = UserId::parse("alice").unwrap();
    // Ten concurrent first requests: one transaction wins, the losers write nothing.
    let results = futures::future::join_all((0..10).map(|_| stack.store.ensure_code(&alice))).await;
    let code = results.into_iter().map(Result::unwrap).next().unwrap();
    assert_eq!(shard_clicks(&stack, code).await, vec![Some(0); CLICK_SHARDS as usize]);
    let items = stack.all_items().await;
    assert_eq!(items.iter().filter(|i| is_shard(i)).count(), CLICK_SHARDS as usize, "no orphan shards");
    for shard in items.iter().filter(|i| is_shard(i)) {
        assert!(text(shard, "PK").starts_with(&format!("CODE#{code}#C")), "shards have their own partition keys");
    }

    // The claim's cancellation reasons are still read by index with the shards appended.
    let bob = UserId::parse("bob").unwrap();
    assert_eq!(stack.store.claim_code(&bob, code).await.unwrap(), ClaimOutcome::CodeTaken);
    let other = RefCode::parse(if code.as_str() == "K7M2XQ" { "K7M2XR" } else { "K7M2XQ" }).unwrap();
    assert_eq!(stack.store.claim_code(&alice, other).await.unwrap(), ClaimOutcome::UserHasCode(code));
    assert!(shard_clicks(&stack, other).await.iter().all(Option::is_none), "a refused claim leaves no shards");
    assert_eq!(stack.store.user(&bob).await.unwrap().and_then(|p| p.code), None);
    assert_eq!(stack.all_items().await.len(), items.len(), "refused claims write nothing");

    // Counts survive a refused claim on the same code.
    stack.store.record_click(&code).await.unwrap();
    assert_eq!(stack.store.claim_code(&bob, code).await.unwrap(), ClaimOutcome::CodeTaken);
    assert_eq!(stack.store.code(&code).await.unwrap().unwrap().clicks, 1);
}

#[tokio::test]
async fn readers_have_a_fixed_cost() {
    let h = BillingHarness::new().await;
    let code = h.refer("alice", "bob").await;
    for _ in 0..7 {
        h.store().record_click(&code).await.unwrap();
    }
    let alice = UserId::parse("alice").unwrap();
    let today = adapters::clock::now().date();
    let start = (today - time::Duration::days(29)).to_string();

    h.calls.reset();
    let kpis = h.store().referrer_kpis(&alice, &start, &today.to_string()).await.unwrap();
    assert_eq!(h.calls.take(), ["Query", "BatchGetItem"], "KPIs: one Query + one BatchGetItem");
    assert_eq!(kpis.clicks, 7);
    // Query: today's day bucket (bob's signup) + profile + stats; BatchGetItem: code row + every shard.
    assert_eq!(kpis.items_read, 3 + 1 + CLICK_SHARDS as usize);

    h.calls.reset();
    assert_eq!(h.store().code(&code).await.unwrap().unwrap().clicks, 7);
    assert_eq!(h.calls.take(), ["BatchGetItem"], "the code total is one BatchGetItem");

    // Signup attribution only needs the owner: one GetItem, the shards are not read.
    h.calls.reset();
    assert_eq!(h.store().code_owner(&code).await.unwrap(), Some(alice.clone()));
    assert_eq!(h.calls.take(), ["GetItem"]);
    let resp = h.signup("carol", Some(code.as_str()), "203.0.113.99").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        h.calls.take(),
        ["GetItem", "GetItem", "TransactWriteItems"],
        "signup: code owner, referrer profile, attribution transaction"
    );
}
