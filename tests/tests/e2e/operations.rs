//! Operations: EMF metric lines emitted by the real flows, and the failed-bonus sweeper
//! that re-enqueues stuck bonuses and reports the ones owed for over an hour.

use adapters::billing::{sweep, SqsRetryQueue};
use adapters::domain::BonusStatus;
use fake_wellflow::Fault;
use integration_tests::billing::BillingHarness;
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
    let mut h = BillingHarness::new().await;
    h.refer("alice", "bob").await;
    // The retry message cannot be sent (no such queue): the row is failed with nothing queued.
    let good_retry = h.billing.retry.clone();
    h.billing.retry =
        SqsRetryQueue::new(h.stack.sqs.clone(), format!("{}-missing", h.stack.queue_url("CreditRetryQueue")), 0);
    h.wellflow.set_fault(Fault::Down);
    let v = integration_tests::body_json(&h.topup("stuck", "bob", "50.00").await);
    assert_eq!(v["retry_scheduled"], false);
    h.wellflow.set_fault(Fault::Ok);
    assert!(h.drain_queue("CreditRetryQueue").await.is_empty());

    let now = adapters::clock::now();
    let fresh = sweep::sweep_failed(h.store(), &good_retry, now, time::Duration::minutes(15)).await.unwrap();
    assert_eq!((fresh.failed_seen, fresh.requeued, fresh.older_than_1h), (1, 0, 0), "too recent to touch");

    let later = now + time::Duration::minutes(61);
    let report = sweep::sweep_failed(h.store(), &good_retry, later, time::Duration::minutes(15)).await.unwrap();
    assert_eq!((report.failed_seen, report.requeued, report.older_than_1h), (1, 1, 1));

    h.billing.retry = good_retry;
    h.run_retries(5).await;
    assert_eq!(h.bonus("stuck").await.unwrap().status, BonusStatus::Credited);
    assert_eq!(h.wellflow.stats().credits_applied, 1);
}
