//! The cold-start and memory bench: runs release bootstraps as Lambda would — fresh process,
//! environment only, events from the Runtime API — against a local stub of that API
//! ([`runtime_api`]), moto ([`moto`]) and the fake Wellflow, **side by side with the baselines
//! in one run**:
//!
//! * `floor`: lambda_http answering a static 302 (`benches/baselines/floor`);
//! * `naive`: lambda_http + `aws_config::load_defaults` + one UpdateItem (`benches/baselines/naive`);
//! * `python`: awslambdaric + boto3 doing the redirect's work (`benches/baselines/python`);
//! * our functions: the redirect (a counted click), the webhook (unsigned: 400; signed: a
//!   credited first top-up through Wellflow), the dashboard (KPIs) and the six others (init).
//!
//! Runs are interleaved — round 1: A B C D …, round 2: A B C D … — so every target sees the
//! same machine load; round 0 is unmeasured (page cache). Each run serves two events: exec →
//! first response, exec → `GET /next` (init), first invocation, and a warm invocation.
//!
//! Then the memory runs ([`memory`]): one process per target serving 1,000 warm invocations,
//! its RSS sampled between chunks, the DynamoDB and SQS requests it made counted by moto's call
//! log, its log bytes counted — the inputs of the cost table.

pub mod memory;
pub mod moto;
pub mod profile;
pub mod runtime_api;
pub mod seed;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use adapters::domain::RefCode;
use adapters::store::{Codes, DynamoStore};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use runtime_api::{RunRecord, RuntimeApi};
use seed::Payers;

/// The seeded code every click clicks (ours, the naive baseline's and the Python peer's).
pub const CODE: &str = "K7M2XQ";

/// Where to find everything (paths relative to the repository root).
#[derive(Debug, Clone)]
pub struct Options {
    /// `cargo lambda build --release` output of the functions (`<dir>/<fn>/bootstrap`).
    pub lambda_dir: PathBuf,
    /// The same for the baselines (`floor`, `naive`).
    pub baselines_dir: PathBuf,
    /// Our functions to measure (those present in `lambda_dir`).
    pub functions: Vec<String>,
    pub rounds: usize,
    pub memory_invocations: usize,
    pub local_stack: PathBuf,
    pub template: PathBuf,
    pub python: PathBuf,
    pub python_peer_dir: PathBuf,
    pub moto_script: PathBuf,
    pub out: PathBuf,
    pub profile: bool,
}

/// One measured quantity over all runs, in milliseconds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Measurement {
    pub name: String,
    pub ms: Vec<f64>,
}

/// Everything measured for one target.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ColdStartReport {
    pub function: String,
    pub binary: String,
    pub binary_bytes: u64,
    /// The request each run serves, and the response it must produce.
    pub request: String,
    pub expected: String,
    pub runs: usize,
    pub measurements: Vec<Measurement>,
}

impl ColdStartReport {
    fn push(&mut self, name: &str, ms: f64) {
        match self.measurements.iter_mut().find(|m| m.name == name) {
            Some(m) => m.ms.push(ms),
            None => self.measurements.push(Measurement { name: name.to_string(), ms: vec![ms] }),
        }
    }

    /// The series named `name`, if measured.
    pub fn series(&self, name: &str) -> Option<&[f64]> {
        self.measurements.iter().find(|m| m.name == name).map(|m| m.ms.as_slice())
    }
}

pub const FIRST_RESPONSE: &str = "exec → first response";
pub const INIT: &str = "exec → GET /next (init)";
pub const FIRST_INVOCATION: &str = "first invocation";
pub const WARM: &str = "warm invocation";

/// Everything one `coldstart` run measured (the input of docs/BENCHMARKS.md's generated section).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BenchResults {
    pub rounds: usize,
    /// `/proc/loadavg` (1, 5, 15 min) before and after the cold-start rounds and the memory runs.
    pub load_cold_start: (String, String),
    pub load_memory: (String, String),
    pub cold: Vec<ColdStartReport>,
    pub memory: Vec<memory::MemoryReport>,
    /// The largest item in the table after the runs (DynamoDB's size rules), and how many.
    pub max_item_bytes: u64,
    pub items: usize,
    pub profile: Vec<ColdStartReport>,
}

/// Makes one event (a fresh one each call: top-ups need a new payer and signature).
type EventFn = Box<dyn Fn() -> Result<Vec<u8>, String>>;

/// One runnable thing and how to drive it.
pub struct Target {
    pub name: String,
    pub program: PathBuf,
    pub args: Vec<String>,
    pub cwd: Option<PathBuf>,
    pub request: String,
    pub expected: String,
    /// The events of one run (first, second).
    pub events: Box<dyn Fn() -> Result<Vec<Vec<u8>>, String>>,
    pub check: fn(&Value) -> Result<(), String>,
    /// Clicks on [`CODE`] each event adds.
    pub clicks_per_event: u64,
}

impl Target {
    /// Starts the target with exactly `env` (as Lambda does), stdout and stderr piped.
    fn spawn(&self, env: &[(String, String)]) -> Result<std::process::Child, String> {
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args).env_clear().envs(env.iter().map(|(k, v)| (k, v)));
        if let Some(dir) = &self.cwd {
            cmd.current_dir(dir);
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot exec {}: {e}", self.program.display()))
    }
}

/// An API Gateway HTTP API (payload v2.0) event.
pub fn http_api_event(
    method: &str,
    path: &str,
    query: &str,
    extra_headers: &[(&str, &str)],
    body: Option<&str>,
) -> Value {
    let mut headers = json!({
        "accept": "*/*",
        "host": "abc123.execute-api.us-east-1.amazonaws.com",
        "user-agent": "Mozilla/5.0 (bench)",
        "x-forwarded-for": "203.0.113.7",
        "x-forwarded-port": "443",
        "x-forwarded-proto": "https",
    });
    if body.is_some() {
        headers["content-type"] = json!("application/json");
    }
    for (k, v) in extra_headers {
        headers[*k] = json!(v);
    }
    let query_params: serde_json::Map<String, Value> =
        form_urlencoded::parse(query.as_bytes()).map(|(k, v)| (k.into_owned(), json!(v))).collect();
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "queryStringParameters": if query_params.is_empty() { Value::Null } else { Value::Object(query_params) },
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "abc123",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "Mozilla/5.0 (bench)"
            },
            "requestId": "bench-request",
            "routeKey": "$default",
            "stage": "$default",
            "time": "25/Nov/2026:09:00:00 +0000",
            "timeEpoch": 1_795_597_200_000_i64
        },
        "body": body,
        "isBase64Encoded": false
    })
}

fn bytes(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).expect("serialisable event")
}

fn status(expected: u64) -> impl Fn(&Value) -> Result<(), String> {
    move |resp| match resp["statusCode"].as_u64() {
        Some(s) if s == expected => Ok(()),
        _ => Err(format!("expected status {expected}, got {resp}")),
    }
}

fn click_check(resp: &Value) -> Result<(), String> {
    status(302)(resp)?;
    let cookie = resp["cookies"].to_string() + &resp["headers"].to_string();
    if !cookie.contains("ref=K7M2XQ") {
        return Err(format!("no ref cookie: {resp}"));
    }
    Ok(())
}

fn credited_check(resp: &Value) -> Result<(), String> {
    status(200)(resp)?;
    let body: Value = serde_json::from_str(resp["body"].as_str().unwrap_or("null")).unwrap_or(Value::Null);
    if body["outcome"] != "credited" {
        return Err(format!("expected a credited top-up, got {resp}"));
    }
    Ok(())
}

fn any_response(resp: &Value) -> Result<(), String> {
    if resp.is_null() {
        return Err("empty response".into());
    }
    Ok(())
}

fn binary_target(name: &str, program: PathBuf) -> Target {
    Target {
        name: name.to_string(),
        program,
        args: Vec::new(),
        cwd: None,
        request: String::new(),
        expected: String::new(),
        events: Box::new(|| Ok(Vec::new())),
        check: any_response,
        clicks_per_event: 0,
    }
}

fn click_event() -> Vec<u8> {
    bytes(&http_api_event("GET", "/", &format!("ref={CODE}"), &[], None))
}

/// The targets of one run, in their interleaving order.
pub fn targets(opts: &Options, payers: &Arc<Payers>) -> Vec<Target> {
    let click = |name: &str, program: PathBuf, request: &str| Target {
        request: format!("GET /?ref={CODE} (HTTP API v2 event); {request}"),
        expected: "302 + Set-Cookie ref=K7M2XQ".into(),
        events: Box::new(|| Ok(vec![click_event(), click_event()])),
        check: |v| click_check(v),
        clicks_per_event: 1,
        ..binary_target(name, program)
    };
    let mut targets = vec![
        Target {
            request: "any event: static 302 (no SDK, no TLS)".into(),
            check: |v| status(302)(v),
            events: Box::new(|| Ok(vec![click_event(), click_event()])),
            ..binary_target("floor", opts.baselines_dir.join("floor/bootstrap"))
        },
        click("naive", opts.baselines_dir.join("naive/bootstrap"), "aws-config defaults, one UpdateItem"),
        Target {
            args: vec!["-m".into(), "awslambdaric".into(), "handler.click".into()],
            cwd: Some(opts.python_peer_dir.clone()),
            // Absolute (the peer runs in its own directory), symlinks kept (the venv's python).
            ..click(
                "python",
                std::path::absolute(&opts.python).unwrap_or(opts.python.clone()),
                "awslambdaric + boto3, one UpdateItem",
            )
        },
    ];
    let bin = |f: &str| opts.lambda_dir.join(f).join("bootstrap");
    for f in &opts.functions {
        match f.as_str() {
            "redirect" => targets.push(click("redirect", bin(f), "one UpdateItem (click counted)")),
            "webhook" => {
                targets.push(Target {
                    request: "POST /webhooks/payments without X-Signature".into(),
                    expected: "400 invalid_signature_header (no network)".into(),
                    events: Box::new(|| {
                        let body = std::str::from_utf8(crate::fixtures::WEBHOOK_BODY).expect("utf-8");
                        let e = bytes(&http_api_event("POST", "/webhooks/payments", "", &[], Some(body)));
                        Ok(vec![e.clone(), e])
                    }),
                    check: |v| status(400)(v),
                    ..binary_target("webhook (unsigned)", bin(f))
                });
                let payers = payers.clone();
                targets.push(Target {
                    request: "POST /webhooks/payments, signed first top-up of $50.00 by a referred user".into(),
                    expected: "200 credited: 4 DynamoDB calls + a Wellflow credit".into(),
                    events: Box::new(move || (0..2).map(|_| topup_event(&payers)).collect()),
                    check: credited_check,
                    ..binary_target("webhook (signed top-up)", bin(f))
                });
            }
            "dashboard" => targets.push(Target {
                request: "GET /referrals/kpis with a bearer JWT".into(),
                expected: "200 KPIs".into(),
                events: Box::new(|| Ok(vec![kpis_event(), kpis_event()])),
                check: |v| status(200)(v),
                ..binary_target("dashboard (KPIs)", bin(f))
            }),
            "admin" | "signup" => {
                let (event, code) = if f == "admin" {
                    (http_api_event("GET", "/admin/bonuses", "", &[], None), 401)
                } else {
                    (http_api_event("POST", "/signups", "", &[], Some("{}")), 400)
                };
                targets.push(Target {
                    request: format!(
                        "{} {} without credentials",
                        event["requestContext"]["http"]["method"].as_str().unwrap_or("?"),
                        event["rawPath"].as_str().unwrap_or("?")
                    ),
                    expected: format!("{code} (no network)"),
                    events: Box::new(move || Ok(vec![bytes(&event), bytes(&event)])),
                    check: if f == "admin" { |v| status(401)(v) } else { |v| status(400)(v) },
                    ..binary_target(f, bin(f))
                });
            }
            "credit-retry" | "partner-webhooks" | "outbox-dispatcher" => targets.push(Target {
                request: format!(
                    "{} event with no records",
                    if f == "outbox-dispatcher" { "DynamoDB stream" } else { "SQS" }
                ),
                expected: "an empty batch response".into(),
                events: Box::new(|| Ok(vec![bytes(&json!({"Records": []})), bytes(&json!({"Records": []}))])),
                ..binary_target(f, bin(f))
            }),
            // One event only: a sweep walks moto's (unindexed, seconds-long) index queries.
            _ => targets.push(Target {
                request: "scheduled event (one per run)".into(),
                expected: "a run report (a sweep of the bench table)".into(),
                events: Box::new(|| Ok(vec![bytes(&json!({}))])),
                ..binary_target(f, bin(f))
            }),
        }
    }
    targets
}

pub fn topup_event(payers: &Payers) -> Result<Vec<u8>, String> {
    let (body, signature) = payers.next_topup()?;
    Ok(bytes(&http_api_event("POST", "/webhooks/payments", "", &[("x-signature", &signature)], Some(&body))))
}

fn python_topup_event(payers: &Payers) -> Result<Vec<u8>, String> {
    let (body, signature) = payers.python_topup()?;
    Ok(bytes(&http_api_event("POST", "/webhooks/payments", "", &[("x-signature", &signature)], Some(&body))))
}

/// The Python peer of another function (memory and cost runs only), `handler.<handler>`.
fn python_peer(opts: &Options, name: &str, handler: &str, check: fn(&Value) -> Result<(), String>) -> Target {
    Target {
        args: vec!["-m".into(), "awslambdaric".into(), format!("handler.{handler}")],
        cwd: Some(opts.python_peer_dir.clone()),
        check,
        ..binary_target(name, std::path::absolute(&opts.python).unwrap_or(opts.python.clone()))
    }
}

pub fn kpis_event() -> Vec<u8> {
    let auth = format!("Bearer {}", seed::bearer_token(&Payers::dashboard_user()));
    bytes(&http_api_event("GET", "/referrals/kpis", "", &[("authorization", &auth)], None))
}

/// What Lambda itself gives a function (runtime API, identity, region, credentials) on
/// `endpoint` (moto). Shared with the tests that start the real binaries (`tests/src/cold_start.rs`).
pub fn lambda_base_env(function: &str, api: &RuntimeApi, endpoint: &str) -> Vec<(String, String)> {
    [
        ("AWS_LAMBDA_RUNTIME_API", api.addr.to_string()),
        ("AWS_LAMBDA_FUNCTION_NAME", function.to_string()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256".into()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "1".into()),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "x".into()),
        ("AWS_LAMBDA_LOG_GROUP_NAME", "x".into()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_DEFAULT_REGION", "us-east-1".into()),
        ("AWS_ACCESS_KEY_ID", "test".into()),
        ("AWS_SECRET_ACCESS_KEY", "test".into()),
        ("AWS_ENDPOINT_URL", endpoint.to_string()),
        ("RUST_LOG", "info".into()),
        ("SITE_ORIGIN", "https://www.example.com".into()),
        // As template.yaml sets it (the Stripe endpoint is configured).
        ("STRIPE_LIVEMODE", "false".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// The environment Lambda would give the functions (plus moto, Wellflow and the stack's names
/// and secret ARNs: values are read from moto's Secrets Manager at cold start).
pub fn lambda_env(
    api: &RuntimeApi,
    endpoint: &str,
    wellflow: &str,
    jwt_secret_arn: &str,
    stack: &BTreeMap<String, String>,
) -> Vec<(String, String)> {
    let mut env = lambda_base_env("bench", api, endpoint);
    env.extend(
        [
            // As on this machine and many hosts: rustls-native-certs then also scans the directory.
            ("SSL_CERT_FILE", "/etc/ssl/certs/ca-certificates.crt".to_string()),
            ("SSL_CERT_DIR", "/etc/ssl/certs".into()),
            ("JWT_ALLOW_HS256", "true".into()),
            ("JWT_HS256_SECRET_SECRET_ARN", jwt_secret_arn.to_string()),
            ("WELLFLOW_BASE_URL", wellflow.to_string()),
            ("LINK_BASE_URL", "https://go.example.com".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v)),
    );
    env.extend(stack.iter().map(|(k, v)| (k.clone(), v.clone())));
    env
}

type Lines = Vec<(Instant, String)>;

fn collect_lines<R: Read + Send + 'static>(stream: Option<R>) -> JoinHandle<Lines> {
    std::thread::spawn(move || {
        let Some(stream) = stream else { return Vec::new() };
        BufReader::new(stream).lines().map_while(Result::ok).map(|l| (Instant::now(), l)).collect()
    })
}

fn tail(lines: &Lines) -> String {
    let start = lines.len().saturating_sub(8);
    lines[start..].iter().map(|(_, l)| l.as_str()).collect::<Vec<_>>().join("\n")
}

struct Observed {
    t0: Instant,
    record: RunRecord,
}

/// One cold start: exec, serve the run's events, kill.
fn one_run(api: &RuntimeApi, target: &Target, env: &[(String, String)]) -> Result<Observed, String> {
    let events = (target.events)()?;
    let expected = events.len();
    api.begin(events);
    let t0 = Instant::now();
    let mut child = target.spawn(env)?;
    let stdout = collect_lines(child.stdout.take());
    let stderr = collect_lines(child.stderr.take());
    let record = api.wait(Duration::from_secs(30));
    let _ = child.kill();
    let _ = child.wait();
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    if let Some(error) = &record.error {
        return Err(format!("{error}\nstdout:\n{}\nstderr:\n{}", tail(&stdout), tail(&stderr)));
    }
    if record.responses.len() < expected {
        return Err(format!(
            "{} of {expected} responses within 30 s\nstdout:\n{}\nstderr:\n{}",
            record.responses.len(),
            tail(&stdout),
            tail(&stderr)
        ));
    }
    for body in &record.responses {
        let resp: Value = serde_json::from_slice(body).map_err(|e| format!("response is not JSON ({e}): {body:?}"))?;
        (target.check)(&resp)?;
    }
    Ok(Observed { t0, record })
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1_000.0
}

/// Clicks counted on [`CODE`] so far (to prove the runs really wrote to DynamoDB).
fn clicks(endpoint: &str, table: &str) -> Result<u64, String> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    rt.block_on(async {
        let sdk = local_stack::local_sdk_config(endpoint);
        let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), table.to_string());
        let code = RefCode::parse(CODE).map_err(|e| e.to_string())?;
        let record = store.code(&code).await.map_err(|e| e.to_string())?;
        Ok(record.map(|r| r.clicks).unwrap_or(0))
    })
}

pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// The fake Wellflow on its own thread and runtime, for as long as the process lives.
fn start_wellflow() -> Result<String, String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("fake-wellflow".into())
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            rt.block_on(async move {
                match fake_wellflow::FakeWellflow::start(seed::WELLFLOW_KEY).await {
                    Ok(w) => {
                        let _ = tx.send(Ok(w.base_url.clone()));
                        std::future::pending::<()>().await;
                        drop(w);
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e.to_string()));
                    }
                }
            });
        })
        .map_err(|e| e.to_string())?;
    rx.recv_timeout(Duration::from_secs(10)).map_err(|_| "fake Wellflow did not start".to_string())?
}

/// Every cold start of every target, interleaved round by round (round 0 unmeasured).
fn cold_starts(
    opts: &Options,
    targets: &[Target],
    api: &RuntimeApi,
    env: &[(String, String)],
) -> Result<Vec<ColdStartReport>, String> {
    let mut reports: Vec<ColdStartReport> = targets
        .iter()
        .map(|t| ColdStartReport {
            function: t.name.clone(),
            binary: t.program.display().to_string() + &t.args.iter().map(|a| format!(" {a}")).collect::<String>(),
            binary_bytes: std::fs::metadata(&t.program).map(|m| m.len()).unwrap_or(0),
            request: t.request.clone(),
            expected: t.expected.clone(),
            runs: opts.rounds,
            measurements: Vec::new(),
        })
        .collect();
    for round in 0..=opts.rounds {
        for (target, report) in targets.iter().zip(reports.iter_mut()) {
            let obs = one_run(api, target, env).map_err(|e| format!("{} round {round}: {e}", target.name))?;
            if round == 0 {
                continue;
            }
            let r = &obs.record;
            report.push(FIRST_RESPONSE, ms(r.response_at[0] - obs.t0));
            report.push(INIT, ms(r.next_at[0] - obs.t0));
            report.push(FIRST_INVOCATION, ms(r.response_at[0] - r.next_at[0]));
            if r.response_at.len() > 1 {
                report.push(WARM, ms(r.response_at[1] - r.next_at[1]));
            }
        }
        eprintln!("coldstart: round {round}/{} done (load {})", opts.rounds, load_average());
    }
    Ok(reports)
}

/// DynamoDB's item size: attribute names plus values (numbers: about one byte per two digits).
fn item_size(item: &std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>) -> u64 {
    use aws_sdk_dynamodb::types::AttributeValue as A;
    fn value(v: &A) -> u64 {
        match v {
            A::S(s) => s.len() as u64,
            A::N(n) => (n.trim_start_matches('-').replace('.', "").len() as u64).div_ceil(2) + 1,
            A::B(b) => b.as_ref().len() as u64,
            A::Bool(_) | A::Null(_) => 1,
            A::Ss(v) => v.iter().map(|s| s.len() as u64).sum(),
            A::Ns(v) => v.iter().map(|n| value(&A::N(n.clone()))).sum(),
            A::L(l) => 3 + l.iter().map(|e| 1 + value(e)).sum::<u64>(),
            A::M(m) => 3 + m.iter().map(|(k, e)| 1 + k.len() as u64 + value(e)).sum::<u64>(),
            _ => 0,
        }
    }
    item.iter().map(|(k, v)| k.len() as u64 + value(v)).sum()
}

fn largest_item(endpoint: &str, table: &str) -> Result<(u64, usize), String> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    rt.block_on(async {
        let client = aws_sdk_dynamodb::Client::new(&local_stack::local_sdk_config(endpoint));
        let (mut max, mut count, mut start) = (0, 0, None);
        loop {
            let page = client
                .scan()
                .table_name(table)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| format!("{}", aws_sdk_dynamodb::error::DisplayErrorContext(&e)))?;
            for item in page.items() {
                max = max.max(item_size(item));
                count += 1;
            }
            match page.last_evaluated_key() {
                Some(k) if !k.is_empty() => start = Some(k.clone()),
                _ => return Ok((max, count)),
            }
        }
    })
}

/// Starts moto, Wellflow and the stub, seeds, measures, writes the results as JSON to
/// `opts.out` and returns them. Fails (after writing) if a memory run grew.
pub fn run(opts: &Options) -> Result<BenchResults, String> {
    let log_dir = opts.out.parent().unwrap_or(Path::new(".")).to_path_buf();
    std::fs::create_dir_all(&log_dir).map_err(|e| format!("{}: {e}", log_dir.display()))?;
    let calls_log = log_dir.join("moto-calls.jsonl");
    let _ = std::fs::remove_file(&calls_log);
    let moto = moto::Moto::start(&opts.python, &opts.moto_script, &log_dir.join("moto.log"), &calls_log)?;
    let stack = moto::provision(&opts.local_stack, &opts.template, &moto.endpoint)?;
    let table = stack["TABLE_NAME"].clone();
    let wellflow = start_wellflow()?;
    let topups_needed = 2 * (opts.rounds + 1) + opts.memory_invocations + 1;
    let payers = Arc::new(seed::seed_payers(&moto.endpoint, &table, topups_needed)?);
    let api = RuntimeApi::start()?;
    eprintln!(
        "coldstart: moto at {}, table {table}, Wellflow at {wellflow}, runtime API at {}",
        moto.endpoint, api.addr
    );
    let jwt_secret_arn = seed::create_jwt_secret(&moto.endpoint)?;
    let env = lambda_env(&api, &moto.endpoint, &wellflow, &jwt_secret_arn, &stack);

    let targets = targets(opts, &payers);
    let clicks_before = clicks(&moto.endpoint, &table)?;
    let load_before = load_average();
    let cold = cold_starts(opts, &targets, &api, &env)?;
    let load_after = load_average();
    let expected_clicks: u64 = targets.iter().map(|t| t.clicks_per_event * 2 * (opts.rounds as u64 + 1)).sum();
    let counted = clicks(&moto.endpoint, &table)? - clicks_before;
    if counted != expected_clicks {
        return Err(format!("moto counted {counted} clicks, expected {expected_clicks}: a click target did not write"));
    }

    let memory_load_before = load_average();
    let mut memory = Vec::new();
    let from_payers = |make: fn(&Payers) -> Result<Vec<u8>, String>| -> EventFn {
        let payers = payers.clone();
        Box::new(move || make(&payers))
    };
    let memory_targets: Vec<(&str, EventFn)> = vec![
        ("redirect", Box::new(|| Ok(click_event()))),
        ("webhook (signed top-up)", from_payers(topup_event)),
        ("dashboard (KPIs)", Box::new(|| Ok(kpis_event()))),
        ("python", Box::new(|| Ok(click_event()))),
        ("python (top-up)", from_payers(python_topup_event)),
        ("python (KPIs)", Box::new(|| Ok(kpis_event()))),
    ];
    let peers = [
        python_peer(opts, "python (top-up)", "topup", credited_check),
        python_peer(opts, "python (KPIs)", "kpis", |v| status(200)(v)),
    ];
    for (name, event) in &memory_targets {
        let Some(target) = targets.iter().chain(&peers).find(|t| t.name == *name) else { continue };
        let report = memory::measure(&api, target, &env, opts.memory_invocations, event.as_ref(), &calls_log)?;
        eprintln!(
            "coldstart: memory of {name}: peak {} KiB over {} invocations",
            report.peak_rss_kib, report.invocations
        );
        memory.push(report);
    }
    let memory_load_after = load_average();
    let (max_item_bytes, items) = largest_item(&moto.endpoint, &table)?;

    let mut profile = Vec::new();
    if opts.profile {
        let profile_env: Vec<(String, String)> = env.clone();
        for name in ["redirect", "webhook"] {
            profile.push(profile::measure(name, opts.rounds, &profile_env)?);
        }
    }
    let results = BenchResults {
        rounds: opts.rounds,
        load_cold_start: (load_before, load_after),
        load_memory: (memory_load_before, memory_load_after),
        cold,
        memory,
        max_item_bytes,
        items,
        profile,
    };
    let json = serde_json::to_string_pretty(&results).expect("serialisable");
    std::fs::write(&opts.out, json).map_err(|e| format!("{}: {e}", opts.out.display()))?;
    let grown: Vec<String> = results.memory.iter().filter(|m| !m.steady()).map(|m| m.target.clone()).collect();
    if !grown.is_empty() {
        return Err(format!("RSS grew across warm invocations: {}", grown.join(", ")));
    }
    Ok(results)
}
