//! Starts moto server (`infra/moto_server.py`) on a free 127.0.0.1 port and stops it again.
//!
//! The launcher watches our PID, so moto exits with the test process even when the shared
//! instance is never dropped (statics are not) or the run is killed.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use crate::workspace_root;

/// The venv's Python (`REFERRAL_PYTHON` overrides it).
pub fn python() -> std::path::PathBuf {
    std::env::var("REFERRAL_PYTHON")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| workspace_root().join(".venv/bin/python"))
}

/// Runs one of our Python servers (`infra/<script>`, watching our PID) and returns it with the
/// value of the `PREFIX=value` line it prints once it accepts requests. Its stderr goes to the
/// file named by the environment variable `log_var` (e.g. `MOTO_LOG`), if set.
pub fn spawn_server(script: &str, args: &[&str], prefix: &str, log_var: &str) -> (Child, String) {
    let python = python();
    let mut child = Command::new(&python)
        .arg(workspace_root().join("infra").join(script))
        .args(args)
        .arg("--parent-pid")
        .arg(std::process::id().to_string())
        .stdout(Stdio::piped())
        .stderr(
            std::env::var_os(log_var)
                .map(|p| Stdio::from(std::fs::File::create(p).expect("server log file")))
                .unwrap_or_else(Stdio::null),
        )
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {script} with {}: {e}; run `make venv` first", python.display()));
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(Duration::from_secs(30)).unwrap_or_default();
    let value = line
        .trim()
        .strip_prefix(&format!("{prefix}="))
        .unwrap_or_else(|| panic!("{script} did not start (got {line:?}); is the venv installed (`make venv`)?"))
        .to_string();
    (child, value)
}

pub struct Moto {
    pub endpoint: String,
    child: Child,
}

impl Moto {
    /// Starts a new moto server; panics with an actionable message if it cannot.
    pub fn start() -> Moto {
        let (child, endpoint) = spawn_server("moto_server.py", &[], "MOTO_ENDPOINT", "MOTO_LOG");
        Moto { endpoint, child }
    }

    /// Stops the server (connections are refused afterwards), e.g. to inject an outage.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One moto server for the whole test process; each test uses its own table and queues.
pub fn shared_moto() -> &'static Moto {
    static MOTO: OnceLock<Moto> = OnceLock::new();
    MOTO.get_or_init(Moto::start)
}
