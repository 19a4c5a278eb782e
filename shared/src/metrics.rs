//! Business and dependency metrics as CloudWatch Embedded Metric Format (EMF): one JSON
//! line on stdout per event, turned into metrics by CloudWatch Logs — no API call on the
//! hot path. Namespace `Referrals`, one dimension `Service=referrals` (so alarms need no
//! generated function names); identifiers such as `payment_id` ride along as properties
//! for log search, never as dimensions (cardinality).
//!
//! Metric names: `BonusCreated`, `BonusCredited`, `BonusFailed`, `BonusHeld`,
//! `BonusReversed`, `WellflowLatencyMs`, `WellflowErrors`, `WebhookDuplicates`, `Clicks`,
//! `FailedBonusesOlderThan1h`, `FailedBonusesRequeued`, `PartnerEventEmitFailed`,
//! `PartnerWebhookDelivered`, `PartnerWebhookFailed`, `PartnerWebhookLatencyMs`.

use std::sync::Mutex;

use serde_json::{json, Map, Value};

pub const NAMESPACE: &str = "Referrals";
pub const SERVICE: &str = "referrals";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Milliseconds,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
        }
    }
}

/// One EMF document: the metrics, then string properties (e.g. `payment_id`, `reason`).
pub fn emf_line(metrics: &[(&str, f64, Unit)], properties: &[(&str, &str)], timestamp_ms: i64) -> String {
    let mut doc = Map::new();
    doc.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["Service"]],
                "Metrics": metrics.iter().map(|(name, _, unit)| json!({"Name": name, "Unit": unit.as_str()})).collect::<Vec<_>>(),
            }],
        }),
    );
    doc.insert("Service".into(), Value::String(SERVICE.into()));
    for (key, value) in properties {
        doc.insert((*key).into(), Value::String((*value).into()));
    }
    for (name, value, _) in metrics {
        doc.insert((*name).into(), json!(value));
    }
    Value::Object(doc).to_string()
}

static CAPTURE: Mutex<Option<Vec<String>>> = Mutex::new(None);

/// Emits metrics now (stdout, or the test capture buffer when one is installed).
pub fn emit(metrics: &[(&str, f64, Unit)], properties: &[(&str, &str)]) {
    let line = emf_line(metrics, properties, crate::clock::now().unix_timestamp() * 1000);
    if let Ok(mut capture) = CAPTURE.lock() {
        if let Some(lines) = capture.as_mut() {
            lines.push(line);
            return;
        }
    }
    // println! (not a raw stdout handle): Lambda ships stdout to CloudWatch Logs, and the
    // test harness captures it per test.
    println!("{line}");
}

/// Counts one event.
pub fn count(name: &str, properties: &[(&str, &str)]) {
    emit(&[(name, 1.0, Unit::Count)], properties);
}

/// Tests: from now on, collect emitted lines instead of printing them (process-wide).
pub fn start_capture() {
    if let Ok(mut capture) = CAPTURE.lock() {
        capture.get_or_insert_with(Vec::new);
    }
}

/// Tests: the lines captured so far (capture stays on).
pub fn captured() -> Vec<String> {
    CAPTURE.lock().map(|c| c.clone().unwrap_or_default()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emf_document_structure() {
        let line = emf_line(
            &[("BonusCredited", 1.0, Unit::Count), ("WellflowLatencyMs", 12.0, Unit::Milliseconds)],
            &[("payment_id", "p1")],
            1_700_000_000_000,
        );
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["_aws"]["Timestamp"], 1_700_000_000_000i64);
        let spec = &v["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(spec["Namespace"], "Referrals");
        assert_eq!(spec["Dimensions"], json!([["Service"]]));
        assert_eq!(spec["Metrics"][1], json!({"Name": "WellflowLatencyMs", "Unit": "Milliseconds"}));
        assert_eq!(v["Service"], "referrals");
        assert_eq!(v["BonusCredited"], 1.0);
        assert_eq!(v["payment_id"], "p1");
        assert!(!line.contains('\n'));
    }
}
