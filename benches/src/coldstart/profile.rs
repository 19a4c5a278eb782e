//! In-process profile of a cold start: the steps of `functions/<fn>/src/main.rs` (tokio runtime,
//! logging, config, SDK config, clients) and, for the redirect, its first and second DynamoDB
//! calls, each timed, in a fresh process per run (`coldstart --profile-child <fn>`, the same
//! environment as the real binary). Tells what dominates the init and the first invocation.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use adapters::billing::{settings, SqsRetryQueue};
use adapters::config::{self, ProcessEnv};
use adapters::domain::RefCode;
use adapters::secrets::Secret;
use adapters::store::{ClickOutcome, Codes, DynamoStore};
use redirect::RedirectConfig;
use serde::{Deserialize, Serialize};
use webhook::WebhookConfig;

use super::{ColdStartReport, CODE};

const MARKER: &str = "COLDSTART_PROFILE ";
const SDK_LOAD: &str = "SDK config (region, credentials, adapters::tls: compiled-in roots)";

/// What one child measured, in milliseconds (`main_entered_unix_ns` is wall-clock).
#[derive(Debug, Serialize, Deserialize)]
struct Steps {
    main_entered_unix_ns: u128,
    steps: Vec<(String, f64)>,
}

fn unix_ns() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1_000.0
}

/// Times one step of `main`.
fn step<T>(steps: &mut Vec<(String, f64)>, name: &str, f: impl FnOnce() -> T) -> T {
    let t = Instant::now();
    let out = f();
    steps.push((name.to_string(), ms(t.elapsed())));
    out
}

/// The redirect's `main` after the runtime, plus its first two DynamoDB calls.
async fn redirect_steps(steps: &mut Vec<(String, f64)>) -> Result<(), String> {
    step(steps, "telemetry::init (JSON subscriber)", adapters::telemetry::init);
    let table = step(steps, "config from env", || {
        RedirectConfig::from_env(&ProcessEnv).map_err(|e| e.to_string())?;
        config::table_name(&ProcessEnv).map_err(|e| e.to_string())
    })?;
    let t = Instant::now();
    let sdk = adapters::aws::sdk_config().await;
    steps.push((SDK_LOAD.into(), ms(t.elapsed())));
    let store = step(steps, "DynamoDB client + store", || DynamoStore::new(adapters::aws::dynamodb(&sdk), table));
    let code = RefCode::parse(CODE).map_err(|e| e.to_string())?;
    for label in [
        "1st UpdateItem (lazy HTTP client + credentials + connect + moto)",
        "2nd UpdateItem (warm connection: moto round trip)",
    ] {
        let t = Instant::now();
        let outcome = store.record_click(&code).await.map_err(|e| e.to_string())?;
        steps.push((label.into(), ms(t.elapsed())));
        if outcome != ClickOutcome::Counted {
            return Err(format!("{label}: expected Counted, got {outcome:?}"));
        }
    }
    Ok(())
}

/// The webhook's `main` after the runtime: its two secrets from Secrets Manager (moto), then
/// the clients (built, not used).
async fn webhook_steps(steps: &mut Vec<(String, f64)>) -> Result<(), String> {
    step(steps, "telemetry::init (JSON subscriber)", adapters::telemetry::init);
    let plan = step(steps, "secrets plan (ARN variables)", || {
        adapters::secrets::plan(
            &ProcessEnv,
            &[
                Secret::text("WEBHOOK_SECRETS"),
                Secret::text("WELLFLOW_API_KEY"),
                Secret::text("STRIPE_WEBHOOK_SECRETS"),
            ],
        )
    })
    .map_err(|e| e.to_string())?;
    let t = Instant::now();
    let sdk = adapters::aws::sdk_config().await;
    steps.push((SDK_LOAD.into(), ms(t.elapsed())));
    let t = Instant::now();
    let env = plan.fetch(&adapters::aws::secretsmanager(&sdk), &ProcessEnv).await.map_err(|e| e.to_string())?;
    steps.push(("3 secrets, concurrent GetSecretValue (lazy HTTP client + connect + moto)".into(), ms(t.elapsed())));
    step(steps, "config from env + secrets", || WebhookConfig::from_env(&env).map_err(|e| e.to_string()))?;
    step(steps, "DynamoDB client + store", || {
        config::table_name(&env).map(|table| DynamoStore::new(adapters::aws::dynamodb(&sdk), table))
    })
    .map_err(|e| e.to_string())?;
    step(steps, "Wellflow client (reqwest + rustls)", || settings::wellflow_from_env(&env))
        .map_err(|e| e.to_string())?;
    step(steps, "SQS client + retry queue", || {
        config::required(&env, "CREDIT_RETRY_QUEUE_URL", "the credit retry queue")
            .map(|url| SqsRetryQueue::new(adapters::aws::sqs(&sdk), url, SqsRetryQueue::DEFAULT_BASE_DELAY_SECS))
    })
    .map_err(|e| e.to_string())?;
    step(steps, "bonus policy from env", || settings::policy_from_env(&env)).map_err(|e| e.to_string())?;
    Ok(())
}

/// The child side: mirrors `function`'s `main`, timing each step; prints one marker line.
pub fn child_main(function: &str) -> Result<(), String> {
    let entered = unix_ns();
    let mut steps = Vec::new();
    // What #[tokio::main] builds.
    let rt = step(&mut steps, "tokio runtime (multi-thread)", || {
        tokio::runtime::Builder::new_multi_thread().enable_all().build()
    })
    .map_err(|e| e.to_string())?;
    rt.block_on(async {
        match function {
            "redirect" => redirect_steps(&mut steps).await,
            "webhook" => webhook_steps(&mut steps).await,
            other => Err(format!("no profile for {other:?}")),
        }
    })?;
    let line = serde_json::to_string(&Steps { main_entered_unix_ns: entered, steps }).expect("serialisable");
    println!("{MARKER}{line}");
    Ok(())
}

fn run_child(exe: &std::path::Path, function: &str, env: &[(String, String)]) -> Result<(u128, Steps), String> {
    let spawned = unix_ns();
    let out = Command::new(exe)
        .args(["--profile-child", function])
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot exec {}: {e}", exe.display()))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let Some(line) = stdout.lines().find_map(|l| l.strip_prefix(MARKER)) else {
        return Err(format!(
            "profile child failed ({}): {}{}",
            out.status,
            stdout.trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    };
    let steps: Steps = serde_json::from_str(line).map_err(|e| format!("bad profile line ({e}): {line}"))?;
    Ok((spawned, steps))
}

/// The parent side: `runs` fresh children (after one warm-up), one report.
pub fn measure(function: &str, runs: usize, env: &[(String, String)]) -> Result<ColdStartReport, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut report = ColdStartReport {
        function: format!("{function} (in-process profile of main.rs)"),
        binary: format!("{} --profile-child {function}", exe.display()),
        binary_bytes: std::fs::metadata(&exe).map(|m| m.len()).unwrap_or(0),
        request: match function {
            "redirect" => format!("record_click({CODE}) twice through DynamoStore, as the handler does"),
            _ => "none: init only".into(),
        },
        expected: match function {
            "redirect" => "Counted twice".into(),
            _ => "every client built".into(),
        },
        runs,
        measurements: Vec::new(),
    };
    for run in 0..=runs {
        let (spawned, steps) = run_child(&exe, function, env)?;
        if run == 0 {
            continue; // warm-up: page cache
        }
        let exec_to_main = steps.main_entered_unix_ns.saturating_sub(spawned) as f64 / 1e6;
        report.push("exec → main() (this profiling binary, not the bootstrap)", exec_to_main);
        for (name, value) in steps.steps {
            report.push(&name, value);
        }
    }
    Ok(report)
}
