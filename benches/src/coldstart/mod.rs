//! The cold-start proxy: runs a release function binary (`target/lambda/<fn>/bootstrap`) as
//! Lambda would — fresh process, environment only, events from the Runtime API — against a
//! local stub of that API ([`runtime_api`]) and moto ([`moto`]), and measures exec → first
//! response posted, plus where the time goes:
//!
//! * `exec → GET /next`: process start, tokio, logging, config, SDK config and client (init);
//! * `first invocation`: GET /next → response, including the first DynamoDB call (redirect);
//! * `warm invocation`: the same request again in the same process;
//! * `exec → exit on config error`: the process floor (exec, dynamic loading, tokio runtime,
//!   logging) — the binary started without its first required variable exits right there;
//! * an in-process profile of each function's init steps ([`profile`]).
//!
//! Each run starts a new process and kills it after its responses; nothing is reused but moto.

pub mod moto;
pub mod profile;
pub mod runtime_api;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use adapters::domain::RefCode;
use adapters::store::{Codes, DynamoStore};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use runtime_api::{RunRecord, RuntimeApi};

/// The seeded code every redirect run clicks.
pub const CODE: &str = "K7M2XQ";

/// Where to find everything (paths relative to the repository root).
#[derive(Debug, Clone)]
pub struct Options {
    pub lambda_dir: PathBuf,
    pub functions: Vec<String>,
    pub runs: usize,
    pub local_stack: PathBuf,
    pub template: PathBuf,
    pub python: PathBuf,
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

/// Everything measured for one function (or the in-process profile).
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
}

/// How to drive one function.
struct FunctionSpec {
    name: &'static str,
    request: &'static str,
    expected: &'static str,
    expected_status: u64,
    event: Value,
    /// Removed for the "exit on config error" floor: the first variable `main` requires.
    first_required_var: &'static str,
}

fn spec(name: &str) -> Result<FunctionSpec, String> {
    match name {
        "redirect" => Ok(FunctionSpec {
            name: "redirect",
            request: "GET /?ref=K7M2XQ (API Gateway HTTP API v2 event)",
            expected: "302 + Set-Cookie ref=K7M2XQ; one UpdateItem on moto (click counted)",
            expected_status: 302,
            event: http_api_event("GET", "/", "ref=K7M2XQ", None),
            first_required_var: "SITE_ORIGIN",
        }),
        "webhook" => Ok(FunctionSpec {
            name: "webhook",
            request: "POST /webhooks/payments without X-Signature (API Gateway HTTP API v2 event)",
            expected: "400 invalid_signature_header; no network",
            expected_status: 400,
            event: http_api_event(
                "POST",
                "/webhooks/payments",
                "",
                Some(std::str::from_utf8(crate::fixtures::WEBHOOK_BODY).expect("utf-8 fixture")),
            ),
            // Checked before any network call (adapters::secrets::plan).
            first_required_var: "WEBHOOK_SECRETS_SECRET_ARN",
        }),
        other => Err(format!("no cold-start spec for function {other:?} (known: redirect, webhook)")),
    }
}

/// An API Gateway HTTP API (payload v2.0) event.
pub fn http_api_event(method: &str, path: &str, query: &str, body: Option<&str>) -> Value {
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
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
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

/// The environment Lambda would give the function (plus moto and the stack's names).
pub fn lambda_env(
    function: &str,
    api: &RuntimeApi,
    endpoint: &str,
    stack: &BTreeMap<String, String>,
) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = [
        ("AWS_LAMBDA_RUNTIME_API", api.addr.to_string()),
        ("AWS_LAMBDA_FUNCTION_NAME", function.to_string()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256".into()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "1".into()),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "x".into()),
        ("AWS_LAMBDA_LOG_GROUP_NAME", "x".into()),
        ("SITE_ORIGIN", "https://www.example.com".into()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_ACCESS_KEY_ID", "test".into()),
        ("AWS_SECRET_ACCESS_KEY", "test".into()),
        ("AWS_ENDPOINT_URL", endpoint.to_string()),
        ("RUST_LOG", "info".into()),
        // Never called: the cold-start request is rejected before any billing work. The
        // secrets (WEBHOOK_SECRETS, WELLFLOW_API_KEY) are read from moto: their ARNs come with `stack`.
        ("WELLFLOW_BASE_URL", "http://127.0.0.1:9".into()),
        // As template.yaml sets it (the Stripe endpoint is configured: its secret comes with `stack`).
        ("STRIPE_LIVEMODE", "false".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
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
    stdout: Lines,
}

/// One cold start: exec the binary, serve two events, kill it.
fn one_run(api: &RuntimeApi, binary: &Path, env: &[(String, String)], event: &[u8]) -> Result<Observed, String> {
    api.begin(vec![event.to_vec(), event.to_vec()]);
    let t0 = Instant::now();
    let mut child = Command::new(binary)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot exec {}: {e}", binary.display()))?;
    let stdout = collect_lines(child.stdout.take());
    let stderr = collect_lines(child.stderr.take());
    let record = api.wait(Duration::from_secs(30));
    let _ = child.kill();
    let _ = child.wait();
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    if let Some(error) = &record.error {
        return Err(format!("{error}\nstderr:\n{}", tail(&stderr)));
    }
    if record.responses.len() < 2 {
        return Err(format!(
            "{} of 2 responses within 30 s\nstdout:\n{}\nstderr:\n{}",
            record.responses.len(),
            tail(&stdout),
            tail(&stderr)
        ));
    }
    Ok(Observed { t0, record, stdout })
}

fn check_response(spec: &FunctionSpec, obs: &Observed) -> Result<(), String> {
    for body in &obs.record.responses {
        let resp: Value = serde_json::from_slice(body).map_err(|e| format!("response is not JSON ({e}): {body:?}"))?;
        if resp["statusCode"].as_u64() != Some(spec.expected_status) {
            return Err(format!("expected status {}, got {resp}", spec.expected_status));
        }
        if spec.name == "redirect" {
            let cookie = resp["cookies"].to_string() + &resp["headers"].to_string();
            if !cookie.contains("ref=K7M2XQ") {
                return Err(format!("redirect set no ref cookie: {resp}"));
            }
        }
    }
    if spec.name == "redirect" {
        let counted = obs.stdout.iter().filter(|(_, l)| l.contains(r#""outcome":"counted""#)).count();
        if counted != 2 {
            return Err(format!(
                "expected 2 counted clicks in the logs (one real UpdateItem each), found {counted}:\n{}",
                tail(&obs.stdout)
            ));
        }
    }
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1_000.0
}

/// `exec → exit` with the first required variable missing: the process floor.
fn exit_floor(binary: &Path, env: &[(String, String)], drop_var: &str) -> Result<f64, String> {
    let t0 = Instant::now();
    let out = Command::new(binary)
        .env_clear()
        .envs(env.iter().filter(|(k, _)| k != drop_var).map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot exec {}: {e}", binary.display()))?;
    let elapsed = ms(t0.elapsed());
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.success() || !stderr.contains(drop_var) {
        return Err(format!("expected a config error naming {drop_var}, got {}: {stderr}", out.status));
    }
    Ok(elapsed)
}

fn measure_function(
    opts: &Options,
    spec: &FunctionSpec,
    api: &RuntimeApi,
    env: &[(String, String)],
) -> Result<ColdStartReport, String> {
    let binary = opts.lambda_dir.join(spec.name).join("bootstrap");
    let binary_bytes = std::fs::metadata(&binary)
        .map_err(|e| format!("{}: {e} (run cargo lambda build --release)", binary.display()))?
        .len();
    let mut report = ColdStartReport {
        function: spec.name.to_string(),
        binary: binary.display().to_string(),
        binary_bytes,
        request: spec.request.to_string(),
        expected: spec.expected.to_string(),
        runs: opts.runs,
        measurements: Vec::new(),
    };
    let event = serde_json::to_vec(&spec.event).expect("serialisable event");
    // One unmeasured run first: pages the binary into the page cache, as a warm Lambda host
    // would have it, and fails fast on a misconfiguration.
    let warmup = one_run(api, &binary, env, &event)?;
    check_response(spec, &warmup)?;
    for run in 0..opts.runs {
        let obs = one_run(api, &binary, env, &event).map_err(|e| format!("{} run {run}: {e}", spec.name))?;
        check_response(spec, &obs).map_err(|e| format!("{} run {run}: {e}", spec.name))?;
        let r = &obs.record;
        report.push("exec → first response posted", ms(r.response_at[0] - obs.t0));
        report.push("exec → GET /next (init done)", ms(r.next_at[0] - obs.t0));
        report.push("first invocation (GET /next → response)", ms(r.response_at[0] - r.next_at[0]));
        report.push("warm invocation (2nd event, same process)", ms(r.response_at[1] - r.next_at[1]));
    }
    for _ in 0..opts.runs {
        let floor = exit_floor(&binary, env, spec.first_required_var)?;
        report.push(&format!("exec → exit on config error (no {}): process floor", spec.first_required_var), floor);
    }
    Ok(report)
}

/// Clicks counted on the seeded code so far (to prove the runs really wrote to DynamoDB).
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

/// Starts moto and the stub, measures every function in `opts.functions` (and the profile),
/// writes the reports as JSON to `opts.out` and returns them.
pub fn run(opts: &Options) -> Result<Vec<ColdStartReport>, String> {
    let log_dir = opts.out.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(log_dir).map_err(|e| format!("{}: {e}", log_dir.display()))?;
    let moto = moto::Moto::start(&opts.python, &opts.moto_script, &log_dir.join("moto.log"))?;
    let stack = moto::provision(&opts.local_stack, &opts.template, &moto.endpoint)?;
    let table = stack["TABLE_NAME"].clone();
    let api = RuntimeApi::start()?;
    eprintln!("coldstart: moto at {}, table {table}, runtime API at {}", moto.endpoint, api.addr);

    let mut reports = Vec::new();
    for name in &opts.functions {
        let spec = spec(name)?;
        let env = lambda_env(spec.name, &api, &moto.endpoint, &stack);
        let before = if spec.name == "redirect" { Some(clicks(&moto.endpoint, &table)?) } else { None };
        let report = measure_function(opts, &spec, &api, &env)?;
        if let Some(before) = before {
            let counted = clicks(&moto.endpoint, &table)? - before;
            let expected = 2 * (opts.runs as u64 + 1); // two events per run, plus the warm-up run
            if counted != expected {
                return Err(format!("moto counted {counted} clicks, expected {expected}"));
            }
        }
        eprintln!("coldstart: {} done ({} runs)", spec.name, opts.runs);
        reports.push(report);
    }
    if opts.profile {
        for name in &opts.functions {
            let env = lambda_env(name, &api, &moto.endpoint, &stack);
            reports.push(profile::measure(name, opts.runs, &env)?);
            eprintln!("coldstart: in-process profile of {name} done ({} runs)", opts.runs);
        }
    }
    let json = serde_json::to_string_pretty(&reports).expect("serialisable");
    std::fs::write(&opts.out, json).map_err(|e| format!("{}: {e}", opts.out.display()))?;
    Ok(reports)
}
