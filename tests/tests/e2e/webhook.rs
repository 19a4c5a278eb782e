//! The payment webhook through the real handler against moto and the fake Wellflow:
//! exact bonuses, idempotency (sequential and concurrent), anti-abuse holds, Wellflow
//! outages, refunds, hostile input, and DynamoDB round trips per top-up.

use adapters::domain::{BonusStatus, Usd};
use fake_wellflow::Fault;
use integration_tests::billing::{BillingHarness, REFERRER_IP, WEBHOOK_SECRET};
use integration_tests::stack::num;
use integration_tests::{body_json, header};
use rust_decimal::Decimal;

fn usd(s: &str) -> Decimal {
    s.parse().unwrap()
}

#[tokio::test]
async fn product_amounts_are_credited_to_the_cent() {
    let h = BillingHarness::new().await;
    h.refer("alice", "bob").await;
    let cases = [
        ("pay_50", "50.00", Some("2.50")),
        ("pay_300", "300.00", Some("15.00")),
        ("pay_1000", "1000.00", Some("50.00")),
        ("pay_5", "5.00", Some("0.25")),
        ("pay_499", "4.99", None),
    ];
    let mut expected_balance = Decimal::ZERO;
    for (payment, amount, bonus) in cases {
        let resp = h.topup(payment, "bob", amount).await;
        assert_eq!(resp.status(), 200, "{payment}");
        let v = body_json(&resp);
        match bonus {
            Some(bonus) => {
                assert_eq!(v["outcome"], "credited", "{payment}: {v}");
                let row = h.bonus(payment).await.expect("bonus row");
                assert_eq!(row.status, BonusStatus::Credited);
                assert_eq!(row.bonus_amount.to_string(), bonus);
                assert_eq!(row.topup_amount, Usd::parse_positive(amount).unwrap());
                assert_eq!(row.rate.to_string(), "0.05");
                assert_eq!(row.bonus_key, format!("ref:auto:{payment}"));
                assert_eq!(row.history.len(), 2, "created + credited");
                assert!(row.wellflow_transaction_id.is_some());
                expected_balance += usd(bonus);
            }
            None => {
                assert_eq!(v["outcome"], "below_minimum");
                assert!(h.bonus(payment).await.is_none(), "$4.99 writes no row at all");
            }
        }
        assert_eq!(h.wellflow.balance("alice"), expected_balance, "after {payment}");
    }
    assert_eq!(expected_balance, usd("67.75"));
    assert_eq!(h.bonus_rows().await.len(), 4);
    let stats = h.stack.item("USER#alice", "STATS").await.unwrap();
    assert_eq!(integration_tests::stack::text_or_num(&stats, "earned_total"), "67.75");
    // Every Wellflow credit carried the deterministic idempotency key.
    let keys: Vec<String> = h.wellflow.stats().transactions.iter().map(|t| t.idempotency_key.clone()).collect();
    assert_eq!(keys, ["ref:auto:pay_50", "ref:auto:pay_300", "ref:auto:pay_1000", "ref:auto:pay_5"]);
}

#[tokio::test]
async fn unreferred_payers_earn_nothing() {
    let h = BillingHarness::new().await;
    let v = body_json(&h.topup("pay_x", "stranger", "100.00").await);
    assert_eq!(v["outcome"], "not_referred");
    assert!(h.bonus_rows().await.is_empty());
    assert_eq!(h.wellflow.stats().requests, 0);
}

#[tokio::test]
async fn duplicate_delivery_writes_one_row_and_credits_once() {
    let h = BillingHarness::new().await;
    h.refer("alice", "bob").await;
    assert_eq!(body_json(&h.topup("pay_dup", "bob", "50.00").await)["outcome"], "credited");
    let second = h.topup("pay_dup", "bob", "50.00").await;
    assert_eq!(second.status(), 200);
    assert_eq!(body_json(&second)["outcome"], "duplicate");
    assert_eq!(h.bonus_rows().await.len(), 1);
    let stats = h.wellflow.stats();
    assert_eq!(stats.credits_applied, 1);
    assert_eq!(stats.requests, 1, "a duplicate must not even call Wellflow");
    assert_eq!(h.wellflow.balance("alice"), usd("2.50"));
}

#[tokio::test]
async fn twenty_concurrent_duplicates_write_one_row_and_credit_once() {
    let h = BillingHarness::new().await;
    h.refer("alice", "bob").await;
    let body = BillingHarness::event_body("pay_race", "bob", "300.00", "topup.succeeded");
    let responses = futures::future::join_all((0..20).map(|_| h.deliver_raw(&body))).await;
    for r in &responses {
        assert_eq!(r.status(), 200, "{:?}", body_json(r));
    }
    let outcomes: Vec<String> =
        responses.iter().map(|r| body_json(r)["outcome"].as_str().unwrap().to_string()).collect();
    assert_eq!(outcomes.iter().filter(|o| *o == "credited").count(), 1, "{outcomes:?}");
    assert_eq!(h.bonus_rows().await.len(), 1);
    assert_eq!(
        h.stack.all_items().await.iter().filter(|i| integration_tests::stack::text(i, "SK") == "PAYMENT").count(),
        1
    );
    assert_eq!(h.wellflow.stats().credits_applied, 1);
    assert_eq!(h.wellflow.balance("alice"), usd("15.00"));
    let row = h.bonus("pay_race").await.unwrap();
    assert_eq!(row.status, BonusStatus::Credited, "{row:#?}");
}

#[tokio::test]
async fn sixth_first_time_topup_in_24h_is_held_for_velocity() {
    let h = BillingHarness::new().await;
    for i in 1..=6 {
        h.refer("alice", &format!("user{i}")).await;
    }
    for i in 1..=5 {
        assert_eq!(
            body_json(&h.topup(&format!("first{i}"), &format!("user{i}"), "10.00").await)["outcome"],
            "credited"
        );
    }
    let sixth = body_json(&h.topup("first6", "user6", "10.00").await);
    assert_eq!(sixth["outcome"], "held", "{sixth}");
    let row = h.bonus("first6").await.unwrap();
    assert_eq!(row.status, BonusStatus::Pending);
    assert_eq!(row.reason.as_deref(), Some("velocity_cap"));
    assert_eq!(row.bonus_amount.to_string(), "0.50");
    // A second top-up of an already counted user is not a first-time top-up.
    assert_eq!(body_json(&h.topup("second1", "user1", "10.00").await)["outcome"], "credited");
    assert_eq!(h.wellflow.balance("alice"), usd("3.00"));
    assert!(h.stack.item("STATUS#pending", "x").await.is_none());
}

#[tokio::test]
async fn same_ip_signups_have_their_bonuses_held() {
    let h = BillingHarness::new().await;
    h.refer_from("alice", "puppet", REFERRER_IP).await;
    let v = body_json(&h.topup("pay_puppet", "puppet", "100.00").await);
    assert_eq!(v["outcome"], "held");
    let row = h.bonus("pay_puppet").await.unwrap();
    assert_eq!((row.status, row.reason.as_deref()), (BonusStatus::Pending, Some("same_ip")));
    assert_eq!(h.wellflow.stats().requests, 0);
}

#[tokio::test]
async fn amount_review_threshold_holds_large_bonuses() {
    let policy = adapters::domain::BonusPolicy { review_threshold: Some(Usd::cents(10_000)), ..Default::default() };
    let h = BillingHarness::with_policy(policy).await;
    h.refer("alice", "bigco").await;
    assert_eq!(body_json(&h.topup("p_ok", "bigco", "2000.00").await)["outcome"], "credited");
    assert_eq!(body_json(&h.topup("p_big", "bigco", "2000.20").await)["outcome"], "held");
    assert_eq!(h.bonus("p_big").await.unwrap().reason.as_deref(), Some("amount_review"));
}

#[tokio::test]
async fn wellflow_down_leaves_the_row_failed_answers_200_and_enqueues_a_retry() {
    let h = BillingHarness::new().await;
    h.refer("alice", "bob").await;
    for fault in [Fault::Down, Fault::Unavailable, Fault::Slow(std::time::Duration::from_millis(1500))] {
        h.wellflow.set_fault(fault);
        let payment = format!("pay_{fault:?}").replace(['(', ')', ' ', '.'], "_");
        let resp = h.topup(&payment, "bob", "50.00").await;
        assert_eq!(resp.status(), 200, "{fault:?}");
        let v = body_json(&resp);
        assert_eq!(v["outcome"], "credit_failed", "{fault:?}: {v}");
        assert_eq!(v["retry_scheduled"], true);
        let row = h.bonus(&payment).await.unwrap();
        assert_eq!(row.status, BonusStatus::Failed);
        assert_eq!(row.attempts, 1);
        assert!(row.last_error.as_deref().unwrap().starts_with("wellflow_"), "{:?}", row.last_error);
        // The retry was written to the outbox with the failure; the dispatcher enqueues it.
        assert!(h.drain_queue("CreditRetryQueue").await.is_empty(), "nothing is sent on the money path");
        h.drain_outbox().await;
        let messages = h.drain_queue("CreditRetryQueue").await;
        assert_eq!(messages, vec![format!(r#"{{"payment_id":"{payment}"}}"#)]);
    }
    h.wellflow.set_fault(Fault::Ok);
}

#[tokio::test]
async fn refund_reverses_a_credited_bonus_and_restores_the_balance() {
    let h = BillingHarness::new().await;
    h.refer("alice", "bob").await;
    h.topup("pay_r", "bob", "300.00").await;
    assert_eq!(h.wellflow.balance("alice"), usd("15.00"));
    let resp = h.refund("pay_r", "bob", "300.00").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(body_json(&resp)["outcome"], "reversed");
    let row = h.bonus("pay_r").await.unwrap();
    assert_eq!(row.status, BonusStatus::Reversed);
    assert_eq!(row.reason.as_deref(), Some("refunded"));
    assert_eq!(h.wellflow.balance("alice"), Decimal::ZERO);
    let debit =
        h.wellflow.stats().transactions.into_iter().find(|t| t.idempotency_key == "ref:auto:pay_r#debit-2").unwrap();
    assert_eq!(debit.amount, "15.00");
    let stats = h.stack.item("USER#alice", "STATS").await.unwrap();
    assert_eq!(integration_tests::stack::text_or_num(&stats, "earned_total"), "0.00");
    // A repeated refund does nothing more.
    assert_eq!(body_json(&h.refund("pay_r", "bob", "300.00").await)["outcome"], "duplicate");
    assert_eq!(h.wellflow.stats().debits_applied, 1);
}

#[tokio::test]
async fn refund_of_a_held_bonus_just_reverses_and_a_refund_without_a_bonus_is_recorded() {
    let h = BillingHarness::new().await;
    h.refer_from("alice", "puppet", REFERRER_IP).await;
    h.topup("pay_held", "puppet", "50.00").await;
    assert_eq!(body_json(&h.refund("pay_held", "puppet", "50.00").await)["outcome"], "reversed");
    assert_eq!(h.bonus("pay_held").await.unwrap().status, BonusStatus::Reversed);
    assert_eq!(h.wellflow.stats().requests, 0, "nothing was paid, nothing to debit");
    assert_eq!(body_json(&h.refund("pay_none", "puppet", "50.00").await)["outcome"], "recorded");
    let record = h.stack.item("PAYMENT#pay_none", "PAYMENT").await.expect("the refund is on record");
    assert_eq!(integration_tests::stack::text(&record, "refunded"), "50.00");
}

#[tokio::test]
async fn refund_while_wellflow_is_down_is_answered_and_the_debit_is_retried_by_us() {
    let h = BillingHarness::new().await;
    h.refer("alice", "bob").await;
    h.topup("pay_r2", "bob", "50.00").await;
    h.wellflow.set_fault(Fault::Unavailable);
    let resp = h.refund("pay_r2", "bob", "50.00").await;
    assert_eq!(resp.status(), 200, "the refund is recorded: the provider need not retry");
    let v = body_json(&resp);
    assert_eq!((v["outcome"].as_str(), v["retry_scheduled"].as_bool()), (Some("debit_failed"), Some(true)), "{v}");
    assert_eq!(h.bonus("pay_r2").await.unwrap().status, BonusStatus::Failed);
    assert_eq!(h.wellflow.balance("alice"), usd("2.50"), "not yet taken back");
    h.wellflow.set_fault(Fault::Ok);
    h.run_retries(5).await;
    assert_eq!(h.bonus("pay_r2").await.unwrap().status, BonusStatus::Reversed);
    assert_eq!(h.wellflow.balance("alice"), Decimal::ZERO);
    assert_eq!(h.wellflow_net("pay_r2"), Decimal::ZERO);
}

/// Issue reproduction 1: the refund arrives before the success.
#[tokio::test]
async fn a_refund_before_its_success_pays_nothing() {
    let h = BillingHarness::new().await;
    h.refer("alice", "bob").await;
    assert_eq!(body_json(&h.refund("pay_rb", "bob", "50.00").await)["outcome"], "recorded");
    let v = body_json(&h.topup("pay_rb", "bob", "50.00").await);
    assert_eq!((v["outcome"].as_str(), v["bonus"]["amount"].as_str()), (Some("reversed"), Some("0.00")), "{v}");
    assert_eq!(h.wellflow_net("pay_rb"), Decimal::ZERO);
    assert_eq!(h.wellflow.stats().requests, 0);
    // Re-deliveries of either event change nothing.
    assert_eq!(body_json(&h.topup("pay_rb", "bob", "50.00").await)["outcome"], "duplicate");
    assert_eq!(body_json(&h.refund("pay_rb", "bob", "50.00").await)["outcome"], "duplicate");
    assert_eq!(h.wellflow_net("pay_rb"), Decimal::ZERO);
}

/// Issue reproduction 1, at the same instant: success and refund of each payment from two
/// tasks at once, ten payments.
#[tokio::test]
async fn concurrent_success_and_refund_never_leave_money_for_a_refunded_payment() {
    let h = std::sync::Arc::new(BillingHarness::new().await);
    h.refer("alice", "bob").await;
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..10 {
        let payment = format!("pay_cc{n}");
        for refund in [false, true] {
            let (h, payment) = (h.clone(), payment.clone());
            tasks.spawn(async move {
                let resp = if refund {
                    h.refund(&payment, "bob", "200.00").await
                } else {
                    h.topup(&payment, "bob", "200.00").await
                };
                assert_eq!(resp.status(), 200, "{payment} refund={refund}");
            });
        }
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    for n in 0..10 {
        let payment = format!("pay_cc{n}");
        assert_eq!(h.wellflow_net(&payment), Decimal::ZERO, "{payment}");
        let row = h.bonus(&payment).await.unwrap();
        assert_eq!((row.status, row.paid_amount), (BonusStatus::Reversed, Usd::ZERO), "{payment}");
    }
    assert_eq!(h.wellflow.balance("alice"), Decimal::ZERO);
}

/// Issue reproduction 2: Wellflow applies the credit after our client gave up (outcome
/// unknown), then the payment is refunded. The row never says "nothing was paid": the credit
/// is re-issued with its key (a replay) and debited back.
#[tokio::test]
async fn an_unknown_credit_outcome_then_a_refund_nets_zero() {
    let h = BillingHarness::new().await;
    h.refer("alice", "bob").await;
    // The client times out at 800 ms; Wellflow applies the credit at 1,500 ms.
    h.wellflow.set_fault(Fault::Slow(std::time::Duration::from_millis(1500)));
    let v = body_json(&h.topup("pay_slow", "bob", "200.00").await);
    assert_eq!(v["outcome"], "credit_failed", "{v}");
    h.wellflow.set_fault(Fault::Ok);
    integration_tests::poll_until(std::time::Duration::from_secs(5), || async {
        h.wellflow.stats().credits_applied == 1
    })
    .await;
    assert_eq!(h.wellflow.balance("alice"), usd("10.00"), "applied late, not recorded by us");
    let row = h.bonus("pay_slow").await.unwrap();
    assert_eq!((row.status, row.paid_amount), (BonusStatus::Failed, Usd::ZERO));
    let v = body_json(&h.refund("pay_slow", "bob", "200.00").await);
    assert_eq!(v["outcome"], "reversed", "{v}");
    assert_eq!(h.wellflow_net("pay_slow"), Decimal::ZERO);
    assert_eq!(h.wellflow.balance("alice"), Decimal::ZERO);
    let stats = h.wellflow.stats();
    assert_eq!((stats.credits_applied, stats.debits_applied), (1, 1), "one credit (replayed), one debit");
    let keys: Vec<_> = stats.transactions.iter().map(|t| t.idempotency_key.as_str()).collect();
    assert_eq!(keys, ["ref:auto:pay_slow", "ref:auto:pay_slow#debit-2"]);
}

/// Issue reproduction 3: partial refunds reverse in proportion; the refunded total only grows.
#[tokio::test]
async fn partial_refunds_reverse_in_proportion_and_re_deliveries_change_nothing() {
    let h = BillingHarness::new().await;
    h.refer("alice", "bob").await;
    h.topup("pay_p", "bob", "100.00").await;
    assert_eq!(h.wellflow_net("pay_p"), usd("5.00"));
    let v = body_json(&h.refund("pay_p", "bob", "40.00").await);
    assert_eq!((v["outcome"].as_str(), v["bonus"]["amount"].as_str()), (Some("credited"), Some("3.00")), "{v}");
    assert_eq!(h.wellflow_net("pay_p"), usd("3.00"));
    assert_eq!(body_json(&h.refund("pay_p", "bob", "40.00").await)["outcome"], "duplicate");
    assert_eq!(h.wellflow_net("pay_p"), usd("3.00"));
    let row = h.bonus("pay_p").await.unwrap();
    assert_eq!(
        (row.status, row.reason.as_deref(), row.net_amount),
        (BonusStatus::Credited, Some("refunded"), Usd::cents(300))
    );
    let stats = h.stack.item("USER#alice", "STATS").await.unwrap();
    assert_eq!(integration_tests::stack::text_or_num(&stats, "earned_total"), "3.00");
    assert_eq!(body_json(&h.refund("pay_p", "bob", "100.00").await)["outcome"], "reversed");
    assert_eq!(h.wellflow_net("pay_p"), Decimal::ZERO);
    // A late, smaller total (reordered delivery) changes nothing.
    assert_eq!(body_json(&h.refund("pay_p", "bob", "40.00").await)["outcome"], "duplicate");
    assert_eq!(h.wellflow_net("pay_p"), Decimal::ZERO);
    let keys: Vec<_> =
        h.wellflow.stats().transactions.iter().map(|t| (t.idempotency_key.clone(), t.amount.clone())).collect();
    assert_eq!(
        keys,
        [
            ("ref:auto:pay_p".to_string(), "5.00".to_string()),
            ("ref:auto:pay_p#debit-2".to_string(), "2.00".to_string()),
            ("ref:auto:pay_p#debit-3".to_string(), "3.00".to_string()),
        ]
    );
}

#[tokio::test]
async fn a_dispute_holds_the_bonus_back_and_a_won_dispute_restores_it() {
    let h = BillingHarness::new().await;
    h.refer("alice", "bob").await;
    h.topup("pay_d", "bob", "100.00").await;
    let disputed = BillingHarness::event_body("pay_d", "bob", "100.00", "topup.disputed");
    let v = body_json(&h.deliver_raw(&disputed).await);
    assert_eq!((v["outcome"].as_str(), v["bonus"]["reason"].as_str()), (Some("reversed"), Some("disputed")), "{v}");
    assert_eq!(h.wellflow_net("pay_d"), Decimal::ZERO);
    let won = BillingHarness::event_body("pay_d", "bob", "100.00", "topup.dispute_won");
    assert_eq!(body_json(&h.deliver_raw(&won).await)["outcome"], "credited");
    assert_eq!(h.wellflow_net("pay_d"), usd("5.00"));
    // A late "disputed" after the win changes nothing.
    assert_eq!(body_json(&h.deliver_raw(&disputed).await)["outcome"], "duplicate");
    assert_eq!(h.wellflow_net("pay_d"), usd("5.00"));
    // A dispute lost before we heard it was opened stays reversed.
    h.topup("pay_d2", "bob", "100.00").await;
    let lost = BillingHarness::event_body("pay_d2", "bob", "60.00", "topup.dispute_lost");
    assert_eq!(body_json(&h.deliver_raw(&lost).await)["outcome"], "credited");
    assert_eq!(h.wellflow_net("pay_d2"), usd("2.00"));
}

#[tokio::test]
async fn hostile_and_malformed_requests_are_4xx_and_write_nothing() {
    let h = BillingHarness::new().await;
    h.refer("alice", "bob").await;
    let before = h.stack.all_items().await.len();
    let good = BillingHarness::event_body("pay_h", "bob", "50.00", "topup.succeeded");
    let now = adapters::clock::now().unix_timestamp();
    let sig = |t: i64, body: &str, secret: &str| adapters::domain::signature::sign(secret, t, body.as_bytes());
    let post = |headers: Vec<(&str, String)>, body: String| {
        let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        integration_tests::requests::request("POST", "/webhooks/payments", &h, lambda_http::Body::Text(body))
    };
    let body_with = |field: &str, value: serde_json::Value| {
        let mut v: serde_json::Value = serde_json::from_str(&good).unwrap();
        v[field] = value;
        v.to_string()
    };
    let huge = format!("{{\"pad\":\"{}\"}}", "x".repeat(20_000));
    let nested = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let cases: Vec<(lambda_http::Request, u16, &str)> = vec![
        (post(vec![], good.clone()), 400, "invalid_signature_header"),
        (post(vec![("x-signature", "t=abc,v1=zz".into())], good.clone()), 400, "invalid_signature_header"),
        (
            post(vec![("x-signature", sig(now, &good, "wrong-secret-0123456789"))], good.clone()),
            401,
            "invalid_signature",
        ),
        (post(vec![("x-signature", sig(now - 301, &good, WEBHOOK_SECRET))], good.clone()), 401, "signature_expired"),
        (
            post(vec![("x-signature", sig(now, &good, WEBHOOK_SECRET))], good.replace("50.00", "5000.00")),
            401,
            "invalid_signature",
        ),
        (post(vec![("x-signature", sig(now, &huge, WEBHOOK_SECRET))], huge.clone()), 413, "payload_too_large"),
        (post(vec![("x-signature", sig(now, "{oops", WEBHOOK_SECRET))], "{oops".into()), 400, "invalid_json"),
        (post(vec![("x-signature", sig(now, &nested, WEBHOOK_SECRET))], nested.clone()), 400, "invalid_body"),
    ];
    for (req, status, code) in cases {
        let resp = webhook::handle(&h.billing, &h.webhook_cfg, &req).await;
        assert_eq!(resp.status(), status, "{code}");
        assert_eq!(header(&resp, "content-type"), Some("application/json"));
        assert_eq!(body_json(&resp)["error"]["code"], code);
    }
    let invalid_bodies = [
        (body_with("amount", "-5.00".into()), 400, "invalid_amount"),
        (body_with("amount", "0".into()), 400, "invalid_amount"),
        (body_with("amount", "fifty".into()), 400, "invalid_amount"),
        (body_with("amount", serde_json::json!(50.0)), 400, "invalid_body"),
        (body_with("currency", "EUR".into()), 422, "unsupported_currency"),
        (body_with("type", "topup.exploded".into()), 400, "unknown_event_type"),
        (body_with("payment_id", "pay#1".into()), 400, "invalid_payment_id"),
        (body_with("payment_id", serde_json::json!({"$ne": null})), 400, "invalid_body"),
        (body_with("user_id", "' OR 1=1 --".into()), 400, "invalid_user_id"),
        (body_with("occurred_at", "yesterday".into()), 400, "invalid_occurred_at"),
    ];
    for (body, status, code) in invalid_bodies {
        let resp = h.deliver_raw(&body).await;
        assert_eq!(resp.status(), status, "{body}");
        assert_eq!(body_json(&resp)["error"]["code"], code, "{body}");
    }
    let get = integration_tests::get("/webhooks/payments", &[]);
    assert_eq!(webhook::handle(&h.billing, &h.webhook_cfg, &get).await.status(), 405);
    assert_eq!(h.stack.all_items().await.len(), before, "no rejected request may write anything");
    assert_eq!(h.wellflow.stats().requests, 0);
}

#[tokio::test]
async fn dynamodb_round_trips_per_topup() {
    let h = BillingHarness::new().await;
    h.refer("alice", "bob").await;
    h.refer_from("alice", "puppet", REFERRER_IP).await;
    h.calls.reset();
    h.topup("pay_rt", "bob", "50.00").await;
    let first = h.calls.take();
    // A payer's first top-up reads the referrer's velocity window: payment record + bonus +
    // payer + rate tiers; referrer + month volume; create-and-claim; record Wellflow's answer.
    assert_eq!(first, ["BatchGetItem", "BatchGetItem", "TransactWriteItems", "TransactWriteItems"], "first top-up");
    h.topup("pay_rt2", "bob", "30.00").await;
    let credited = h.calls.take();
    // A repeat top-up uses the payer's copy of the referrer context (checked in the write).
    assert_eq!(credited, ["BatchGetItem", "TransactWriteItems", "TransactWriteItems"], "credited top-up");
    assert_eq!(h.bonus("pay_rt2").await.unwrap().status, BonusStatus::Credited);
    h.calls.reset();
    h.topup("pay_rt", "bob", "50.00").await;
    assert_eq!(h.calls.take(), ["BatchGetItem"], "duplicate delivery");
    h.topup("pay_small", "bob", "4.99").await;
    assert_eq!(h.calls.count(), 0, "below the minimum costs nothing");
    h.topup("pay_stranger", "nobody", "50.00").await;
    assert_eq!(h.calls.take(), ["BatchGetItem"], "unreferred payer");
    h.topup("pay_held1", "puppet", "50.00").await;
    assert_eq!(h.calls.take(), ["BatchGetItem", "BatchGetItem", "TransactWriteItems"], "held, first top-up");
    h.topup("pay_held2", "puppet", "50.00").await;
    assert_eq!(h.calls.take(), ["BatchGetItem", "TransactWriteItems"], "held, repeat top-up");
    println!(
        "ROUND_TRIPS credited={} first_topup={} duplicate=1 unreferred=1 held=2 held_first=3 below_minimum=0",
        credited.len(),
        first.len()
    );
    let stats = h.stack.item("USER#alice", "STATS").await.unwrap();
    assert_eq!(num(&stats, "credited_count"), 2);
    // A refund of a credited bonus: plan the debit with the record, then record Wellflow's answer.
    h.calls.reset();
    h.refund("pay_rt2", "bob", "30.00").await;
    assert_eq!(h.calls.take(), ["BatchGetItem", "TransactWriteItems", "TransactWriteItems"], "refund");
    // Wellflow down: the credit fails (recorded), the outbox enqueues the retry, the retry
    // credits it.
    h.wellflow.set_fault(Fault::Unavailable);
    h.calls.reset();
    h.topup("pay_rt3", "bob", "30.00").await;
    assert_eq!(h.calls.take(), ["BatchGetItem", "TransactWriteItems", "TransactWriteItems"], "failed credit");
    h.wellflow.set_fault(Fault::Ok);
    h.run_retries(5).await;
    // The retry re-reads the bonus and sends the same move (same idempotency key) again.
    assert_eq!(h.calls.take(), ["GetItem", "TransactWriteItems"], "retry that credits");
    assert_eq!(h.bonus("pay_rt3").await.unwrap().status, BonusStatus::Credited);
}

#[tokio::test]
async fn a_rate_change_reaches_repeat_top_ups_at_once_despite_the_payers_copy() {
    let h = BillingHarness::new().await;
    h.refer("alice", "bob").await;
    h.topup("pay_c1", "bob", "100.00").await; // first: reads alice, bob keeps a copy (5 %)
    let ops = integration_tests::billing::token("ops", Some("admin"), 600);
    let resp =
        h.admin_call("PUT", "/admin/referrers/alice/rate", Some(&ops), Some(serde_json::json!({"rate": "0.08"}))).await;
    assert_eq!(resp.status(), 200);
    h.calls.reset();
    let v = body_json(&h.topup("pay_c2", "bob", "100.00").await);
    assert_eq!(v["bonus"]["amount"], "8.00", "the new rate, not bob's stale copy: {v}");
    // The copy was refused once (the write's condition), then the referrer read afresh.
    assert_eq!(
        h.calls.take(),
        [
            "BatchGetItem",
            "TransactWriteItems",
            "BatchGetItem",
            "BatchGetItem",
            "TransactWriteItems",
            "TransactWriteItems"
        ]
    );
    // … and the refreshed copy serves the next one in 3.
    h.topup("pay_c3", "bob", "100.00").await;
    assert_eq!(h.calls.take(), ["BatchGetItem", "TransactWriteItems", "TransactWriteItems"]);
    assert_eq!(h.wellflow.balance("alice"), usd("21.00"));
}
