//! Operations: EMF metric lines emitted by the real flows, and the sweeper that re-enqueues
//! bonuses whose Wellflow move sits idle and reports the ones owed for over an hour.

use adapters::domain::BonusStatus;
use fake_wellflow::Fault;
use integration_tests::billing::BillingHarness;
use referral_core::usecases::sweep;
use serde_json::Value;

fn lines_for(payment: &str) -> Vec<Value> {
    adapters::metrics::captured()
        .iter()
        .map(|l| serde_json::from_str::<Value>(l).expect("every EMF line is JSON"))
        .filter(|v| v["payment_id"] == payment)
        .collect()
}

fn assert_emf(doc: &Value) {
    let spec = &doc["_aws"]["CloudWatchMetrics"][0];
    assert_eq!(spec["Namespace"], "Referrals");
    assert_eq!(spec["Dimensions"], serde_json::json!([["Service"]]));
    assert_eq!(doc["Service"], "referrals");
    assert!(doc["_aws"]["Timestamp"].as_i64().unwrap() > 1_700_000_000_000);
    for metric in spec["Metrics"].as_array().unwrap() {
        let name = metric["Name"].as_str().unwrap();
        assert!(doc[name].is_number(), "metric {name} has a numeric value: {doc}");
        assert!(["Count", "Milliseconds"].contains(&metric["Unit"].as_str().unwrap()));
    }
}

fn metric_names(docs: &[Value]) -> Vec<String> {
    let mut names: Vec<String> = docs
        .iter()
        .flat_map(|d| d["_aws"]["CloudWatchMetrics"][0]["Metrics"].as_array().unwrap().clone())
        .map(|m| m["Name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn money_flows_emit_embedded_metric_format_lines() {
    adapters::metrics::start_capture();
    let h = BillingHarness::new().await;
    h.refer("alice", "bob").await;
    h.topup("emf_ok", "bob", "50.00").await;
    h.topup("emf_ok", "bob", "50.00").await;
    h.wellflow.set_fault(Fault::Unavailable);
    h.topup("emf_fail", "bob", "20.00").await;
    h.wellflow.set_fault(Fault::Ok);

    let ok = lines_for("emf_ok");
    ok.iter().for_each(assert_emf);
    assert_eq!(metric_names(&ok), ["BonusCreated", "BonusCredited", "WebhookDuplicates", "WellflowLatencyMs"]);
    let failed = lines_for("emf_fail");
    failed.iter().for_each(assert_emf);
    assert_eq!(metric_names(&failed), ["BonusCreated", "BonusFailed", "WellflowErrors", "WellflowLatencyMs"]);
    assert!(failed.iter().any(|d| d["error_code"] == "wellflow_5xx"));
}

#[tokio::test]
async fn the_sweeper_requeues_stuck_failed_bonuses_and_reports_old_ones() {
    let h = BillingHarness::new().await;
    h.refer("alice", "bob").await;
    // Wellflow is down: the row is failed and its retry sits in the outbox; the outbox is
    // never delivered here (as if the dispatcher were broken), so no retry message exists.
    h.wellflow.set_fault(Fault::Down);
    let v = integration_tests::body_json(&h.topup("stuck", "bob", "50.00").await);
    assert_eq!((v["outcome"].as_str(), v["retry_scheduled"].as_bool()), (Some("credit_failed"), Some(true)), "{v}");
    h.wellflow.set_fault(Fault::Ok);
    assert!(h.drain_queue("CreditRetryQueue").await.is_empty());

    let now = adapters::clock::now();
    let fresh = sweep::sweep_unsettled(h.store(), &h.retry, now, time::Duration::minutes(15)).await.unwrap();
    assert_eq!((fresh.unsettled_seen, fresh.requeued, fresh.older_than_1h), (0, 0, 0), "too recent to touch");

    let later = now + time::Duration::minutes(61);
    let report = sweep::sweep_unsettled(h.store(), &h.retry, later, time::Duration::minutes(15)).await.unwrap();
    assert_eq!((report.unsettled_seen, report.requeued, report.older_than_1h), (1, 1, 1));

    // The sweeper's message settles it (the retry consumer sends the same key once).
    let backoff = h.backoff();
    local_stack::esm::poll_once(&h.stack.sqs, &backoff.queue_url, 0, |event| async {
        Ok(credit_retry::handle_batch(&h.billing, &backoff, event).await)
    })
    .await
    .unwrap()
    .expect("the sweeper queued one message");
    assert_eq!(h.bonus("stuck").await.unwrap().status, BonusStatus::Credited);
    assert_eq!(h.wellflow.stats().credits_applied, 1);
    // The outbox's own (late) retry then changes nothing.
    h.run_retries(5).await;
    assert_eq!(h.wellflow.stats().credits_applied, 1);
}
