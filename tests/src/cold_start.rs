//! The real function binaries (what `cargo lambda watch` serves and Lambda runs), started as
//! Lambda would: a fresh process per cold start with only its environment, events served by a
//! local Runtime API stub (`benches::coldstart::runtime_api`), AWS calls to moto. Proves what
//! each `main.rs` wires at cold start (secrets from Secrets Manager, config errors).

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

pub use benches::coldstart::http_api_event;
use benches::coldstart::runtime_api::RuntimeApi;
use serde_json::Value;

use crate::workspace_root;

/// The functions whose binaries these tests run.
const FUNCTIONS: [&str; 3] = ["signup", "webhook", "dashboard"];

/// `target/debug/<function>`, built (or confirmed up to date) once per test process, so a test
/// never runs a binary older than the code under test.
pub fn binary(function: &str) -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    let dir = BUILT.get_or_init(|| {
        let mut cmd = Command::new(env!("CARGO"));
        cmd.current_dir(workspace_root()).args(["build", "--quiet", "--locked"]);
        for f in FUNCTIONS {
            cmd.args(["-p", f, "--bin", f]);
        }
        let status = cmd.status().expect("run cargo build for the function binaries");
        assert!(status.success(), "cargo build of the function binaries failed");
        std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| workspace_root().join("target"))
            .join("debug")
    });
    assert!(FUNCTIONS.contains(&function), "{function} is not built by this harness");
    dir.join(function)
}

/// The Runtime API stub, one per test process (runs are sequential within a test).
pub fn runtime_api() -> &'static RuntimeApi {
    static API: OnceLock<RuntimeApi> = OnceLock::new();
    API.get_or_init(|| RuntimeApi::start().expect("runtime API stub"))
}

/// What Lambda gives `function` on `endpoint` (moto), plus `env` (the stack's names and ARNs
/// and the function's settings).
pub fn lambda_env(function: &str, endpoint: &str, env: &HashMap<String, String>) -> Vec<(String, String)> {
    let mut out = benches::coldstart::lambda_base_env(function, runtime_api(), endpoint);
    // Never called: these tests' requests are answered before any Wellflow work.
    out.push(("WELLFLOW_BASE_URL".into(), "http://127.0.0.1:9".into()));
    let stack: BTreeMap<&String, &String> = env.iter().collect();
    out.extend(stack.into_iter().map(|(k, v)| (k.clone(), v.clone())));
    out
}

/// One cold start serving `events` in order: the parsed API Gateway responses, or the
/// function's init/invocation error with its stderr.
pub fn serve(function: &str, env: &[(String, String)], events: Vec<Value>) -> Result<Vec<Value>, String> {
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let api = runtime_api();
    let expected = events.len();
    api.begin(events.into_iter().map(|e| e.to_string().into_bytes()).collect());
    let mut child = Command::new(binary(function))
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {function}: {e}"))?;
    let record = api.wait(Duration::from_secs(60));
    let _ = child.kill();
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if let Some(error) = record.error {
        return Err(format!("{error}\n{stderr}"));
    }
    if record.responses.len() < expected {
        return Err(format!("{function}: {} of {expected} responses\n{stderr}", record.responses.len()));
    }
    Ok(record.responses.iter().map(|r| serde_json::from_slice(r).expect("JSON response")).collect())
}

/// Runs `function` expecting it to fail at cold start (before serving): its exit status must
/// be a failure and its stderr is returned. Without a Runtime API, so a function that wrongly
/// starts fails at once too (and the caller's check of the message tells the difference).
pub fn fails_to_start(function: &str, env: &[(String, String)]) -> String {
    let out = Command::new(binary(function))
        .env_clear()
        .envs(env.iter().filter(|(k, _)| k != "AWS_LAMBDA_RUNTIME_API").map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .output()
        .expect("run the function binary");
    assert!(!out.status.success(), "{function} started although it should not have");
    String::from_utf8_lossy(&out.stderr).into_owned()
}
