//! A moto server for the cold-start runs (`infra/moto_server.py`, watchdog on our pid) and the
//! table it serves (created by `local-stack` from template.yaml, code K7M2XQ seeded).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The running server; stopped (killed) on drop.
pub struct Moto {
    child: Child,
    pub endpoint: String,
}

impl Moto {
    /// Starts `python moto_server.py --parent-pid <us> --call-log <calls>` and waits for its
    /// `MOTO_ENDPOINT=` line. `calls` gets one JSON line per request (see moto_server.py).
    pub fn start(python: &Path, script: &Path, log: &Path, calls: &Path) -> Result<Self, String> {
        let log_file = std::fs::File::create(log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
        let mut child = Command::new(python)
            .arg(script)
            .arg("--parent-pid")
            .arg(std::process::id().to_string())
            .arg("--call-log")
            .arg(calls)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log_file)
            .spawn()
            .map_err(|e| format!("cannot start {} {}: {e}", python.display(), script.display()))?;
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut first = String::new();
            let _ = reader.read_line(&mut first);
            let _ = tx.send(first);
            // Keep draining so moto never blocks on a full pipe.
            let _ = std::io::copy(&mut reader.take(u64::MAX), &mut std::io::sink());
        });
        let mut moto = Moto { child, endpoint: String::new() };
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .map_err(|_| format!("moto did not print MOTO_ENDPOINT within 60 s; see {}", log.display()))?;
        moto.endpoint = line
            .trim()
            .strip_prefix("MOTO_ENDPOINT=")
            .ok_or_else(|| format!("unexpected first line from moto: {line:?}; see {}", log.display()))?
            .to_string();
        Ok(moto)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `local-stack` against `endpoint` and returns the environment it prints
/// (`TABLE_NAME`, `CREDIT_RETRY_QUEUE_URL`, `WEBHOOK_SECRETS_SECRET_ARN`, …).
pub fn provision(local_stack: &Path, template: &Path, endpoint: &str) -> Result<BTreeMap<String, String>, String> {
    let out = Command::new(local_stack)
        .args(["--endpoint", endpoint, "--table", "referrals", "--prefix", "bench", "--seed", "demo=K7M2XQ"])
        // Every function reads its secrets from Secrets Manager at cold start, as in AWS.
        .arg("--secret")
        .arg(format!("WebhookSigningSecret={}", crate::fixtures::WEBHOOK_SECRET))
        .arg("--secret")
        .arg(format!("WellflowApiKeySecret={}", super::seed::WELLFLOW_KEY))
        .args(["--secret", "StripeWebhookSigningSecret=whsec_bench_0123456789abcdef"])
        .arg("--secret")
        .arg(format!("SignupSigningSecret={}", super::seed::SIGNUP_SECRET))
        .arg("--secret")
        .arg(format!("IpHashKeySecret={}", super::seed::IP_HASH_KEY))
        .arg("--secret")
        .arg(format!("LeaderboardKeySecret={}", super::seed::LEADERBOARD_SECRET))
        .arg("--template")
        .arg(template)
        .output()
        .map_err(|e| {
            format!("cannot run {}: {e} (build it with `cargo build -p local-stack`)", local_stack.display())
        })?;
    if !out.status.success() {
        return Err(format!("local-stack failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr).trim()));
    }
    let env: BTreeMap<String, String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    if !env.contains_key("TABLE_NAME") {
        return Err(format!("local-stack printed no TABLE_NAME: {env:?}"));
    }
    Ok(env)
}
