//! Reliability under load and faults, through the real webhook handler against moto and the fake
//! Wellflow: 100 simultaneous deliveries of one event; 1,000 top-ups over 50 referrers with 30 %
//! duplicates; Wellflow down / 5xx / too slow and DynamoDB unreachable mid-run; a retry enqueue
//! that fails. Each ends with the ledger audit of `integration_tests::load`: one row and one
//! Wellflow credit per eligible payment, sums exact to the cent, nothing lost, nothing doubled.
//! The figures printed here (`RELIABILITY ...`) are the ones recorded in docs/RELIABILITY.md.

use std::sync::Arc;
use std::time::{Duration, Instant};

use adapters::billing::{LiveBilling, SqsRetryQueue};
use adapters::domain::{BonusStatus, UserId};
use adapters::store::Users;
use fake_wellflow::Fault;
use integration_tests::billing::{token, BillingHarness, JWT_SECRET, WEBHOOK_SECRET};
use integration_tests::fault_proxy::FaultProxy;
use integration_tests::load::{
    audit, consistent_snapshot, dead_letters, deliver, redeliver, run_retries, statuses, within, DeliveryStats,
    LoadPlan, Population, WebhookTarget,
};
use integration_tests::{body_json, get, header, Moto};
use lambda_http::Body;
use rust_decimal::Decimal;
use serde_json::json;

/// Deliveries in flight at once (Lambda instances of the webhook).
const CONCURRENCY: usize = 32;
/// A heavy run that takes longer than this is stuck: fail with a message instead of hanging.
const LIMIT: Duration = Duration::from_secs(300);

fn auth(token: &str) -> String {
    format!("Bearer {token}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_simultaneous_deliveries_of_one_event_credit_it_once() {
    let started = Instant::now();
    let h = Arc::new(BillingHarness::new().await);
    h.refer("alice", "bob").await;
    let target = WebhookTarget::direct(&h);
    let body = BillingHarness::event_body("pay_hot", "bob", "123.45", "topup.succeeded");
    // All 100 tasks are released at the same instant.
    let gate = Arc::new(tokio::sync::Barrier::new(100));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..100 {
        let (target, body, gate) = (target.clone(), body.clone(), gate.clone());
        tasks.spawn(async move {
            gate.wait().await;
            target.deliver(&body).await
        });
    }
    let mut outcomes = std::collections::BTreeMap::<String, usize>::new();
    while let Some(answer) = tasks.join_next().await {
        let answer = answer.unwrap();
        assert_eq!(answer.status, 200, "{answer:?}");
        *outcomes.entry(answer.outcome).or_default() += 1;
    }
    assert_eq!(outcomes.get("credited"), Some(&1), "{outcomes:?}");
    assert_eq!(outcomes.get("duplicate"), Some(&99), "{outcomes:?}");
    // Duplicates that saw the row still in flight enqueued a retry; the consumer finds it credited.
    let retry_batches = h.run_retries(100).await;
    let snapshot = consistent_snapshot(&h).await;
    assert_eq!(snapshot.rows.len(), 1, "one bonus row");
    let row = h.bonus("pay_hot").await.unwrap();
    assert_eq!(row.status, BonusStatus::Credited);
    assert_eq!(row.bonus_amount.to_string(), "6.17", "123.45 × 5 % = 6.1725 → 6.17");
    assert_eq!(row.history.iter().filter(|e| e.status == BonusStatus::Credited).count(), 1);
    let stats = h.wellflow.stats();
    assert_eq!(stats.credits_applied, 1);
    let keys: Vec<&str> = stats.transactions.iter().map(|t| t.idempotency_key.as_str()).collect();
    assert_eq!(keys, ["ref:auto:pay_hot"]);
    assert_eq!(h.wellflow.balance("alice"), Decimal::new(617, 2));
    assert!(h.drain_queue("CreditRetryDLQ").await.is_empty());
    integration_tests::figures!(
        "RELIABILITY one_event deliveries=100 credited=1 duplicates=99 rows=1 wellflow_credits=1 \
         wellflow_requests={} retry_batches={retry_batches} money_lost=0.00 duration_ms={}",
        stats.requests,
        started.elapsed().as_millis()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_topups_over_fifty_referrers_with_duplicates_are_paid_exactly_once() {
    within(LIMIT, "the 1,000-payment run", thousand_topups()).await
}

async fn thousand_topups() {
    let started = Instant::now();
    // 45 referrers with 5 referred users, 5 with 6 (one velocity_cap hold each): 255 users,
    // spread over 25 tables on a moto of its own (see `load` on moto's transaction cost).
    let moto = Moto::start();
    let population = Population { referrers: 50, users_per_referrer: 5, capped_referrers: 5, cells: 25 };
    let cells = population.cells(&moto.endpoint).await;
    population.sign_up(&cells, 8).await;
    let setup = started.elapsed();
    let plan = LoadPlan::new(population, 1000, 0.30, 1);
    assert_eq!(plan.deliveries.len(), 1300);

    let targets = WebhookTarget::direct_all(&cells);
    let mut stats = DeliveryStats::default();
    let rejected = deliver(&targets, &plan, &plan.deliveries, CONCURRENCY, &mut stats, |_| {}).await;
    // A 503 here could only be optimistic-lock contention exhausted on a hot referrer: the
    // provider delivers it again, like after any 503.
    redeliver(&targets, &plan, rejected, CONCURRENCY, &mut stats).await;
    let retry_batches = run_retries(&cells, 1000).await;
    let audit = audit(&cells, &plan).await;

    let eligible_deliveries = plan.deliveries.iter().filter(|i| plan.payments[**i].bonus.is_some()).count();
    assert_eq!(stats.outcome("credited"), audit.credited, "every credit happened at first delivery");
    assert_eq!(stats.outcome("held"), audit.held);
    assert_eq!(audit.held, 5, "one velocity_cap hold per capped referrer");
    assert_eq!(stats.outcome("below_minimum"), plan.deliveries.len() - eligible_deliveries);
    assert_eq!(
        stats.outcome("duplicate"),
        eligible_deliveries + stats.redeliveries - stats.status(503) - audit.credited - audit.held,
        "every other delivery of an eligible payment was absorbed as a duplicate: {:?}",
        stats.outcomes
    );
    assert_eq!(dead_letters(&cells).await, 0);
    integration_tests::figures!(
        "RELIABILITY thousand payments={} eligible={} below_minimum={} deliveries={} duplicates_sent={} \
         concurrency={CONCURRENCY} cells={} credited={} held={} contention_503={} rows={} wellflow_credits={} \
         expected_total={:.2} credited_total={:.2} held_total={:.2} money_lost={:.2} paid_twice={:.2} retry_batches={retry_batches} \
         setup_ms={} deliver_ms={} duration_ms={}",
        audit.payments,
        audit.eligible,
        audit.below_minimum,
        stats.deliveries,
        plan.duplicates,
        cells.len(),
        audit.credited,
        audit.held,
        stats.status(503),
        audit.credited + audit.held,
        audit.wellflow_credits,
        audit.expected_total,
        audit.credited_total,
        audit.held_total,
        audit.lost,
        audit.doubled,
        setup.as_millis(),
        stats.elapsed.as_millis(),
        started.elapsed().as_millis()
    );
}

fn set_fault(cells: &[Arc<BillingHarness>], fault: Fault) {
    for h in cells {
        h.wellflow.set_fault(fault);
    }
}

async fn item_count(cells: &[Arc<BillingHarness>]) -> usize {
    let mut n = 0;
    for h in cells {
        n += h.stack.all_items().await.len();
    }
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outages_of_wellflow_and_dynamodb_mid_run_lose_nothing_and_pay_nothing_twice() {
    within(LIMIT, "the outage run", outages()).await
}

async fn outages() {
    let started = Instant::now();
    let moto = Moto::start();
    let population = Population { referrers: 20, users_per_referrer: 5, capped_referrers: 2, cells: 10 };
    let cells = population.cells(&moto.endpoint).await;
    population.sign_up(&cells, 8).await;
    let plan = LoadPlan::new(population, 400, 0.30, 2);
    assert_eq!(plan.deliveries.len(), 520);

    // The webhook's store goes through a proxy that can make DynamoDB unreachable.
    let proxy = FaultProxy::start(&moto.endpoint).await;
    let proxied: Vec<_> =
        cells.iter().map(|h| LiveBilling { store: proxy.dynamo_store(h.stack.table()), ..h.billing.clone() }).collect();
    let targets: Vec<_> = cells.iter().zip(&proxied).map(|(h, b)| WebhookTarget::with_billing(h, b.clone())).collect();
    let order = &plan.deliveries;
    let mut stats = DeliveryStats::default();
    let mut rejected = Vec::new();

    // 1. Wellflow goes down (connections closed) half-way through the first 100 deliveries.
    let c = &cells;
    rejected.extend(
        deliver(&targets, &plan, &order[..100], CONCURRENCY, &mut stats, |n| {
            if n == 50 {
                set_fault(c, Fault::Down)
            }
        })
        .await,
    );
    // 2. Wellflow answers 503, then becomes slower than our 800 ms client timeout (it still
    //    applies those credits late: the retries must replay them, not pay twice).
    set_fault(c, Fault::Unavailable);
    rejected.extend(
        deliver(&targets, &plan, &order[100..200], CONCURRENCY, &mut stats, |n| {
            if n == 60 {
                set_fault(c, Fault::Slow(Duration::from_millis(1200)))
            }
        })
        .await,
    );
    set_fault(c, Fault::Ok);
    let failed_after_wellflow = statuses(&cells).await.get("failed").copied().unwrap_or(0);
    assert!(failed_after_wellflow > 0, "the Wellflow outage left failed rows");

    // 3. DynamoDB unreachable for a whole slice: every event that needs the store is refused
    //    with 503 (the provider will retry) and nothing is written.
    let items_before_cut = item_count(&cells).await;
    proxy.cut();
    let eligible_in_cut = order[200..260].iter().filter(|i| plan.payments[**i].bonus.is_some()).count();
    let cut_rejected = deliver(&targets, &plan, &order[200..260], CONCURRENCY, &mut stats, |_| {}).await;
    assert_eq!(cut_rejected.len(), eligible_in_cut, "every event needing DynamoDB answered 503");
    side_doors_during_a_dynamodb_outage(&cells[0], &proxy, &proxied[0]).await;
    assert_eq!(item_count(&cells).await, items_before_cut, "nothing written while DynamoDB was cut");
    rejected.extend(cut_rejected);
    proxy.restore();

    // 4. Short blip in the middle of traffic: connections in flight are cut mid-request.
    let p = &proxy;
    rejected.extend(
        deliver(&targets, &plan, &order[260..], CONCURRENCY, &mut stats, |n| match n {
            60 => p.cut(),
            90 => p.restore(),
            _ => {}
        })
        .await,
    );
    proxy.restore();
    let mid = statuses(&cells).await;
    let answered_503 = stats.status(503);

    // Recovery: the provider re-delivers every 503, the retry consumers drain their queues.
    redeliver(&targets, &plan, rejected, CONCURRENCY, &mut stats).await;
    let retry_batches = run_retries(&cells, 2000).await;
    let audit = audit(&cells, &plan).await;
    assert_eq!(audit.held, 2);
    assert_eq!(dead_letters(&cells).await, 0, "nothing parked in the DLQ");
    let wellflow_requests: u64 = cells.iter().map(|h| h.wellflow.stats().requests).sum();
    integration_tests::figures!(
        "RELIABILITY outages payments={} eligible={} deliveries={} duplicates_sent={} answered_503={answered_503} \
         redelivered={} failed_rows_mid_run={} wellflow_faults=down,5xx,slow_1200ms dynamo_cuts={} \
         connections_reset={} retry_batches={retry_batches} wellflow_requests={wellflow_requests} credited={} held={} \
         wellflow_credits={} expected_total={} credited_total={} money_lost={:.2} paid_twice={:.2} duration_ms={}",
        audit.payments,
        audit.eligible,
        stats.deliveries,
        plan.duplicates,
        stats.redeliveries,
        mid.get("failed").copied().unwrap_or(0),
        proxy.cuts(),
        proxy.refused(),
        audit.credited,
        audit.held,
        audit.wellflow_credits,
        audit.expected_total,
        audit.credited_total,
        audit.lost,
        audit.doubled,
        started.elapsed().as_millis()
    );
}

/// While DynamoDB is cut: the redirect still sends visitors on (with the cookie), every other
/// function answers 503 in the error envelope — never a 500, never a hang.
async fn side_doors_during_a_dynamodb_outage(h: &BillingHarness, proxy: &FaultProxy, proxied: &LiveBilling) {
    assert!(proxy.is_cut());
    let code = h.store().ensure_code(&UserId::parse("ref000").unwrap()).await.unwrap();
    let cfg = redirect::RedirectConfig {
        site_origin: url::Url::parse("https://www.example.com").unwrap(),
        cookie_domain: None,
        touch: redirect::Touch::First,
    };
    let resp = redirect::handle(&proxied.store, &cfg, &get(&format!("/pricing?ref={code}&utm=x"), &[])).await;
    assert_eq!(resp.status(), 302);
    assert_eq!(header(&resp, "location"), Some("https://www.example.com/pricing?utm=x"));
    assert!(header(&resp, "set-cookie").unwrap().starts_with(&format!("ref={code};")));

    let signup = h.signup_cfg.clone();
    let body = json!({"user_id": "late-user", "ref_code": code.as_str(), "signup_ip": "203.0.113.99"}).to_string();
    let resp = signup::handle(&proxied.store, &signup, &BillingHarness::signed("/signups", &body, "x")).await;
    assert_eq!(resp.status(), 401, "signature is checked before any I/O");
    let signed = integration_tests::billing::SIGNUP_SECRET;
    let resp = signup::handle(&proxied.store, &signup, &BillingHarness::signed("/signups", &body, signed)).await;
    assert_eq!(resp.status(), 503);
    assert_eq!(body_json(&resp)["error"]["code"], "temporarily_unavailable");

    let dash = dashboard::DashboardApi {
        store: proxied.store.clone(),
        jwt: adapters::auth::JwtVerifier::hs256(JWT_SECRET, None, None),
        cfg: h.dashboard().cfg,
    };
    let user = auth(&token("ref000", None, 600));
    for uri in ["/referrals/kpis", "/referrals/history", "/referrals/link", "/referrals/qr.svg"] {
        let resp = dashboard::handle(&dash, &get(uri, &[("authorization", &user)])).await;
        assert_eq!(resp.status(), 503, "{uri}");
        assert_eq!(body_json(&resp)["error"]["code"], "temporarily_unavailable", "{uri}");
    }
    let admin = admin::Admin {
        billing: proxied.clone(),
        jwt: adapters::auth::JwtVerifier::hs256(JWT_SECRET, None, None),
        console: Default::default(),
    };
    let ops = auth(&token("ops-1", Some("admin"), 600));
    let list = admin::handle(&admin, &get("/admin/bonuses?status=failed", &[("authorization", &ops)])).await;
    assert_eq!(list.status(), 503);
    let approve = integration_tests::requests::request(
        "POST",
        "/admin/bonuses/pay-2-00000/approve",
        &[("authorization", &ops)],
        Body::Empty,
    );
    assert_eq!(admin::handle(&admin, &approve).await.status(), 503);
    // The webhook itself: a signed refund cannot be processed either.
    let refund = BillingHarness::event_body("pay-2-00000", "ref000-u0", "10.00", "topup.refunded");
    let resp = webhook::handle(
        proxied,
        &h.webhook_cfg,
        &BillingHarness::signed("/webhooks/payments", &refund, WEBHOOK_SECRET),
    )
    .await;
    assert_eq!(resp.status(), 503);
}

#[tokio::test]
async fn a_failed_retry_enqueue_leaves_the_bonus_listed_for_admins_who_settle_it_once() {
    let h = BillingHarness::new().await;
    for u in 0..3 {
        h.refer("alice", &format!("sqs{u}")).await;
    }
    h.wellflow.set_fault(Fault::Unavailable);
    let amounts = ["10.10", "33.33", "250.00"];
    let mut expected = Decimal::ZERO;
    for (u, amount) in amounts.iter().enumerate() {
        let resp = h.topup(&format!("sqs-pay{u}"), &format!("sqs{u}"), amount).await;
        assert_eq!(resp.status(), 200);
        let v = body_json(&resp);
        assert_eq!((v["outcome"].as_str(), v["retry_scheduled"].as_bool()), (Some("credit_failed"), Some(true)), "{v}");
        // The provider's duplicate tries again (and fails again): still 200, still one row.
        let again = h.topup(&format!("sqs-pay{u}"), &format!("sqs{u}"), amount).await;
        assert_eq!(body_json(&again)["outcome"], "duplicate");
        expected += h.bonus(&format!("sqs-pay{u}")).await.unwrap().bonus_amount.decimal();
    }
    assert_eq!(expected, Decimal::new(51 + 167 + 1250, 2), "0.505→0.51, 1.6665→1.67, 12.50");
    h.wellflow.set_fault(Fault::Ok);
    // The outbox holds the retries, but the dispatcher cannot reach the retry queue (it does
    // not exist): every delivery fails and is left on the stream.
    let real = h.stack.queue_url("CreditRetryQueue");
    let missing =
        SqsRetryQueue::new(h.stack.sqs.clone(), format!("{}/no-such-queue", &real[..real.rfind('/').unwrap()]), 0);
    assert_eq!(h.drain_outbox_with(&missing).await, 0, "no retry could be enqueued");
    assert!(h.drain_queue("CreditRetryQueue").await.is_empty(), "no retry message exists");

    // The moderation queue is the safety net: every failed row is listed …
    let ops = token("ops-1", Some("admin"), 600);
    let listed = body_json(&h.admin_call("GET", "/admin/bonuses?status=failed", Some(&ops), None).await);
    let mut ids: Vec<&str> =
        listed["items"].as_array().unwrap().iter().map(|i| i["payment_id"].as_str().unwrap()).collect();
    ids.sort();
    assert_eq!(ids, ["sqs-pay0", "sqs-pay1", "sqs-pay2"]);
    for item in listed["items"].as_array().unwrap() {
        assert_eq!(item["attempts"], 2, "the delivery and its duplicate: {item}");
    }
    // … and settled once by a bulk approval (a second one changes nothing).
    let bulk = json!({"action": "approve", "payment_ids": ["sqs-pay0", "sqs-pay1", "sqs-pay2"]});
    let resp = body_json(&h.admin_call("POST", "/admin/bonuses/bulk", Some(&ops), Some(bulk.clone())).await);
    assert!(resp["results"].as_array().unwrap().iter().all(|r| r["outcome"] == "credited"), "{resp}");
    let again = body_json(&h.admin_call("POST", "/admin/bonuses/bulk", Some(&ops), Some(bulk)).await);
    assert!(again["results"].as_array().unwrap().iter().all(|r| r["outcome"] == "not_open"), "{again}");
    // The queue is back: the stream re-delivers the held-back retries, which change nothing.
    h.run_retries(10).await;
    let stats = h.wellflow.stats();
    assert_eq!(stats.credits_applied, 3);
    assert_eq!(h.wellflow.balance("alice"), expected);
    let snapshot = consistent_snapshot(&h).await;
    assert_eq!(snapshot.by_status.get("credited"), Some(&3));
    let empty = body_json(&h.admin_call("GET", "/admin/bonuses?status=failed", Some(&ops), None).await);
    assert!(empty["items"].as_array().unwrap().is_empty());
    integration_tests::figures!(
        "RELIABILITY sqs_send_failure failed_credits=3 retry_messages=0 listed_for_admins=3 \
         settled_by_bulk_approve=3 wellflow_credits=3 money_lost=0.00 paid_twice=0.00"
    );
}
