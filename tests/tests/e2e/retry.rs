//! The SQS-driven retry loop: an outage fails credits, the consumer credits them once
//! Wellflow is back (exactly once, to the cent), poison messages end in the DLQ.

use adapters::domain::BonusStatus;
use fake_wellflow::Fault;
use integration_tests::billing::BillingHarness;
use rust_decimal::Decimal;

#[tokio::test]
async fn outage_of_fifty_topups_is_fully_recovered_by_the_retry_consumer() {
    let h = BillingHarness::new().await;
    for u in 0..5 {
        h.refer("alice", &format!("payer{u}")).await;
    }
    h.wellflow.set_fault(Fault::Down);
    let mut expected = Decimal::ZERO;
    for i in 0..50 {
        // 10.00, 11.37, 12.74, … : bonuses with odd cents (5 % rounded half away from zero).
        let amount = Decimal::new(1000 + 137 * i, 2);
        let resp = h.topup(&format!("out{i}"), &format!("payer{}", i % 5), &amount.to_string()).await;
        assert_eq!(resp.status(), 200);
        let row = h.bonus(&format!("out{i}")).await.unwrap();
        assert_eq!(row.status, BonusStatus::Failed);
        expected += row.bonus_amount.decimal();
    }
    assert_eq!(h.bonus_rows().await.len(), 50);

    // Still down: the consumer records attempts and leaves every row failed.
    h.run_retries(5).await;
    assert!(h.bonus("out0").await.unwrap().attempts >= 2);
    assert_eq!(h.wellflow.stats().credits_applied, 0);

    h.wellflow.set_fault(Fault::Ok);
    let batches = h.run_retries(200).await;
    assert!(batches >= 5, "50 messages in batches of 10");
    for i in 0..50 {
        let row = h.bonus(&format!("out{i}")).await.unwrap();
        assert_eq!(row.status, BonusStatus::Credited, "out{i}: {:?}", row.last_error);
        assert_eq!(row.last_error, None);
    }
    assert_eq!(h.wellflow.balance("alice"), expected, "Wellflow total equals the exact sum");
    assert_eq!(h.wellflow.stats().credits_applied, 50);
    assert_eq!(h.drain_queue("CreditRetryDLQ").await.len(), 0);
}

#[tokio::test]
async fn the_same_message_delivered_twice_credits_once() {
    let h = BillingHarness::new().await;
    h.refer("alice", "bob").await;
    h.wellflow.set_fault(Fault::Unavailable);
    h.topup("twice", "bob", "80.00").await;
    h.wellflow.set_fault(Fault::Ok);
    h.drain_outbox().await;
    let event =
        local_stack::esm::receive(&h.stack.sqs, h.stack.queue_url("CreditRetryQueue"), 10, 0).await.unwrap().unwrap();
    assert_eq!(event.records.len(), 1);
    let backoff = h.backoff();
    // Concurrent duplicates, then a late sequential one.
    let (a, b) = tokio::join!(
        credit_retry::handle_batch(&h.billing, &backoff, event.clone()),
        credit_retry::handle_batch(&h.billing, &backoff, event.clone())
    );
    assert!(a.batch_item_failures.is_empty() && b.batch_item_failures.is_empty());
    let c = credit_retry::handle_batch(&h.billing, &backoff, event).await;
    assert!(c.batch_item_failures.is_empty());
    assert_eq!(h.wellflow.stats().credits_applied, 1);
    assert_eq!(h.wellflow.balance("alice"), Decimal::new(400, 2));
    let row = h.bonus("twice").await.unwrap();
    assert_eq!(row.status, BonusStatus::Credited);
    assert_eq!(row.history.iter().filter(|e| e.status == BonusStatus::Credited).count(), 1);
}

#[tokio::test]
async fn poison_messages_end_in_the_dlq_without_blocking_others() {
    let h = BillingHarness::new().await;
    h.refer("alice", "bob").await;
    h.wellflow.set_fault(Fault::Down);
    h.topup("good", "bob", "20.00").await;
    h.wellflow.set_fault(Fault::Ok);
    let queue = h.stack.queue_url("CreditRetryQueue");
    for body in [r#"{"payment_id":"ghost"}"#, "not json", r#"{"payment_id":"bad id with spaces"}"#] {
        h.stack.sqs.send_message().queue_url(queue).message_body(body).send().await.unwrap();
    }
    h.run_retries(60).await;
    assert_eq!(h.bonus("good").await.unwrap().status, BonusStatus::Credited);
    let mut dlq = h.drain_queue("CreditRetryDLQ").await;
    dlq.sort();
    assert_eq!(dlq, vec!["not json", r#"{"payment_id":"bad id with spaces"}"#, r#"{"payment_id":"ghost"}"#]);
    assert!(h.drain_queue("CreditRetryQueue").await.is_empty());
}

#[tokio::test]
async fn a_failed_credit_refunded_meanwhile_is_settled_through_its_key_and_nets_zero() {
    let h = BillingHarness::new().await;
    h.refer("alice", "bob").await;
    h.wellflow.set_fault(Fault::Unavailable);
    h.topup("refunded", "bob", "50.00").await;
    // The credit's outcome is unknown (a 5xx may or may not have been applied): the refund
    // does not assume it was not paid.
    h.refund("refunded", "bob", "50.00").await;
    assert_eq!(h.bonus("refunded").await.unwrap().status, BonusStatus::Failed);
    h.wellflow.set_fault(Fault::Ok);
    h.run_retries(5).await;
    let row = h.bonus("refunded").await.unwrap();
    assert_eq!(row.status, BonusStatus::Reversed);
    assert_eq!(h.wellflow_net("refunded"), Decimal::ZERO);
    let keys: Vec<_> = h.wellflow.stats().transactions.iter().map(|t| t.idempotency_key.clone()).collect();
    assert_eq!(keys, ["ref:auto:refunded", "ref:auto:refunded#debit-2"], "same key re-issued, then debited");
    // Nothing more happens on further retries.
    h.run_retries(5).await;
    assert_eq!(h.wellflow.stats().transactions.len(), 2);
}
