//! Cost per million operations from what the bench measured: warm durations (Lambda bills
//! each invocation's duration rounded up to the millisecond), the AWS requests counted by moto's
//! call log per invocation, the largest item in the table (DynamoDB's request units scale with
//! item size), the log bytes written, and the template's memory setting and architecture.

use std::collections::BTreeMap;

use crate::coldstart::memory::{CallStats, MemoryReport};
use crate::stats::Summary;

/// List prices, us-east-1, on-demand, in USD. Not fetched by the bench (this machine reaches no
/// AWS endpoint): update them here when AWS changes them, with [`PRICES_AS_OF`].
pub struct Prices {
    pub lambda_gb_s_arm64: f64,
    pub lambda_gb_s_x86_64: f64,
    pub lambda_per_million_requests: f64,
    pub dynamodb_per_million_wru: f64,
    pub dynamodb_per_million_rru: f64,
    pub http_api_per_million: f64,
    pub sqs_per_million: f64,
    pub logs_per_gb_ingested: f64,
}

pub const PRICES: Prices = Prices {
    lambda_gb_s_arm64: 0.000_013_333_4,
    lambda_gb_s_x86_64: 0.000_016_666_7,
    lambda_per_million_requests: 0.20,
    // On-demand throughput after the 2024-11-01 price cut.
    dynamodb_per_million_wru: 0.625,
    dynamodb_per_million_rru: 0.125,
    // HTTP API, first 300 million requests a month.
    http_api_per_million: 1.00,
    // Standard queue, after the first free million a month.
    sqs_per_million: 0.40,
    // CloudWatch Logs, standard class.
    logs_per_gb_ingested: 0.50,
};

/// The date of the list prices above (AWS price pages, us-east-1).
pub const PRICES_AS_OF: &str = "2024-11-01 (last change: DynamoDB on-demand −50 %); Lambda, HTTP API, SQS and CloudWatch Logs list prices unchanged since";

/// Request units per invocation.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Units {
    pub wru: f64,
    pub rru: f64,
    pub sqs_requests: f64,
    pub dynamodb_requests: f64,
}

fn is_dynamodb(target: &str) -> bool {
    target.starts_with("DynamoDB")
}

/// DynamoDB and SQS units of one invocation, from a memory run's counted calls.
pub fn units(calls: &BTreeMap<String, CallStats>, served: u64, max_item_bytes: u64) -> Units {
    let wkb = max_item_bytes.max(1).div_ceil(1024) as f64; // write units per item write
    let rkb = max_item_bytes.max(1).div_ceil(4096) as f64; // read units per strongly consistent item read
    let mut u = Units::default();
    for (target, s) in calls {
        let op = target.rsplit('.').next().unwrap_or("");
        let reqs = s.requests as f64;
        let consistency = if s.requests == 0 { 0.5 } else { 0.5 + 0.5 * (s.consistent as f64 / reqs) };
        if is_dynamodb(target) {
            u.dynamodb_requests += reqs;
            match op {
                "UpdateItem" | "PutItem" | "DeleteItem" => u.wru += reqs * wkb,
                "BatchWriteItem" => u.wru += s.items as f64 * wkb,
                "GetItem" | "BatchGetItem" => u.rru += s.items as f64 * rkb * consistency,
                "TransactGetItems" => u.rru += s.items as f64 * rkb * 2.0,
                "TransactWriteItems" => {
                    for (kind, n) in &s.kinds {
                        if kind == "ConditionCheck" {
                            u.rru += *n as f64 * rkb * 2.0;
                        } else {
                            u.wru += *n as f64 * wkb * 2.0;
                        }
                    }
                }
                "Query" | "Scan" => {
                    let per_request = (s.response_bytes as f64 / reqs.max(1.0) / 4096.0).ceil().max(1.0);
                    u.rru += reqs * per_request * consistency;
                }
                _ => {}
            }
        } else if target.starts_with("AmazonSQS") {
            u.sqs_requests += reqs;
        }
    }
    let n = served.max(1) as f64;
    Units {
        wru: u.wru / n,
        rru: u.rru / n,
        sqs_requests: u.sqs_requests / n,
        dynamodb_requests: u.dynamodb_requests / n,
    }
}

/// One column of the cost table: USD per million operations, by line.
#[derive(Debug, Clone, Default)]
pub struct Cost {
    pub billed_ms: f64,
    pub memory_mb: u64,
    pub arm64: bool,
    pub units: Units,
    pub log_bytes: f64,
    pub http_api: bool,
    pub lambda_compute: f64,
    pub lambda_requests: f64,
    pub dynamodb_writes: f64,
    pub dynamodb_reads: f64,
    pub http_api_cost: f64,
    pub sqs: f64,
    pub logs: f64,
}

impl Cost {
    pub fn total(&self) -> f64 {
        self.lambda_compute
            + self.lambda_requests
            + self.dynamodb_writes
            + self.dynamodb_reads
            + self.http_api_cost
            + self.sqs
            + self.logs
    }
}

/// The cost of a million invocations like the memory run's, billed at the median warm duration.
pub fn per_million(run: &MemoryReport, memory_mb: u64, arm64: bool, http_api: bool, max_item_bytes: u64) -> Cost {
    let p = &PRICES;
    let median = Summary::of(&run.warm_ms).map_or(0.0, |s| s.median);
    let billed_ms = median.ceil().max(1.0);
    let gb_s = memory_mb as f64 / 1024.0 * billed_ms / 1000.0;
    let units = units(&run.calls, run.served(), max_item_bytes);
    let log_bytes = run.log_bytes as f64 / run.served() as f64;
    Cost {
        billed_ms,
        memory_mb,
        arm64,
        units,
        log_bytes,
        http_api,
        lambda_compute: gb_s * if arm64 { p.lambda_gb_s_arm64 } else { p.lambda_gb_s_x86_64 } * 1e6,
        lambda_requests: p.lambda_per_million_requests,
        dynamodb_writes: units.wru * p.dynamodb_per_million_wru,
        dynamodb_reads: units.rru * p.dynamodb_per_million_rru,
        http_api_cost: if http_api { p.http_api_per_million } else { 0.0 },
        sqs: units.sqs_requests * p.sqs_per_million,
        logs: log_bytes * 1e6 / 1e9 * p.logs_per_gb_ingested,
    }
}

/// `MemorySize` and `Architectures` of a function resource in template.yaml (Globals apply).
pub fn template_settings(template: &str, resource: &str) -> (u64, bool) {
    let Ok(doc) = serde_yaml::from_str::<serde_yaml::Value>(template) else { return (128, false) };
    let globals = &doc["Globals"]["Function"];
    let props = &doc["Resources"][resource]["Properties"];
    let memory = props["MemorySize"].as_u64().or_else(|| globals["MemorySize"].as_u64()).unwrap_or(128);
    let arch = if props["Architectures"].is_sequence() { &props["Architectures"] } else { &globals["Architectures"] };
    let arm64 = arch.as_sequence().is_some_and(|a| a.iter().any(|v| v.as_str() == Some("arm64")));
    (memory, arm64)
}
