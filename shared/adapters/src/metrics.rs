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

use std::fmt::Write;
use std::sync::Mutex;

pub const NAMESPACE: &str = "Referrals";
pub const SERVICE: &str = "referrals";

pub use referral_core::metrics::{count, emit, Unit};

/// One EMF document: the metrics, then string properties (e.g. `payment_id`, `reason`).
///
/// Written straight into one `String` (no `serde_json::Value` tree): this runs on every click,
/// and building the tree was a third of the redirect's CPU time (docs/BENCHMARKS.md).
pub fn emf_line(metrics: &[(&str, f64, Unit)], properties: &[(&str, &str)], timestamp_ms: i64) -> String {
    let mut out = String::with_capacity(200 + 48 * (metrics.len() + properties.len()));
    let _ = write!(out, r#"{{"_aws":{{"Timestamp":{timestamp_ms},"CloudWatchMetrics":[{{"Namespace":"#);
    json_string(&mut out, NAMESPACE);
    out.push_str(r#","Dimensions":[["Service"]],"Metrics":["#);
    for (i, (name, _, unit)) in metrics.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(r#"{"Name":"#);
        json_string(&mut out, name);
        let _ = write!(out, r#","Unit":"{}"}}"#, unit.as_str());
    }
    out.push_str(r#"]}]},"Service":"#);
    json_string(&mut out, SERVICE);
    for (key, value) in properties {
        out.push(',');
        json_string(&mut out, key);
        out.push(':');
        json_string(&mut out, value);
    }
    for (name, value, _) in metrics {
        out.push(',');
        json_string(&mut out, name);
        // Shortest round-trip form ("1.0", "12.5", "1e21"): valid JSON numbers. NaN/inf are not.
        if value.is_finite() {
            let _ = write!(out, ":{value:?}");
        } else {
            out.push_str(":null");
        }
    }
    out.push('}');
    out
}

/// Appends `raw` as a JSON string literal (quotes, backslashes and control characters escaped).
fn json_string(out: &mut String, raw: &str) {
    out.push('"');
    for c in raw.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

static CAPTURE: Mutex<Option<Vec<String>>> = Mutex::new(None);

/// Installs the EMF sink behind `referral_core::metrics` (idempotent; `telemetry::init`
/// calls it at start-up).
pub fn install() {
    let _ = referral_core::metrics::set_sink(write_emf);
}

/// The sink: one EMF line on stdout, or into the test capture buffer when one is installed.
fn write_emf(metrics: &[(&str, f64, Unit)], properties: &[(&str, &str)]) {
    let line = emf_line(metrics, properties, referral_core::clock::now().unix_timestamp() * 1000);
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

/// Tests: from now on, collect emitted lines instead of printing them (process-wide).
pub fn start_capture() {
    install();
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
    use serde_json::{json, Value};

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

    #[test]
    fn properties_are_escaped_and_the_line_stays_valid_json() {
        let nasty = "a\"b\\c\nd\u{1}e\u{7f}é";
        let line = emf_line(&[("Clicks", 1.0, Unit::Count)], &[("code", nasty), ("k\"", "v")], 1);
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["code"], nasty);
        assert_eq!(v["k\""], "v");
        assert_eq!(v["Clicks"], 1.0);
        assert!(!line.contains('\n'));
        let odd = emf_line(&[("Latency", f64::NAN, Unit::Milliseconds), ("Big", 1e21, Unit::Count)], &[], 1);
        let v: Value = serde_json::from_str(&odd).unwrap();
        assert_eq!(v["Latency"], Value::Null);
        assert_eq!(v["Big"], 1e21);
    }
}
