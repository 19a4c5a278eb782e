//! Starts moto server (`infra/moto_server.py`) on a free 127.0.0.1 port and stops it again.
//!
//! The launcher watches our PID, so moto exits with the test process even when the shared
//! instance is never dropped (statics are not) or the run is killed.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use crate::workspace_root;

pub struct Moto {
    pub endpoint: String,
    child: Child,
}

impl Moto {
    /// Starts a new moto server; panics with an actionable message if it cannot.
    pub fn start() -> Moto {
        let root = workspace_root();
        let python = std::env::var("REFERRAL_PYTHON")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|_| root.join(".venv/bin/python"));
        let mut child = Command::new(&python)
            .arg(root.join("infra/moto_server.py"))
            .arg("--parent-pid")
            .arg(std::process::id().to_string())
            .stdout(Stdio::piped())
            .stderr(
                std::env::var_os("MOTO_LOG")
                    .map(|p| Stdio::from(std::fs::File::create(p).expect("moto log")))
                    .unwrap_or_else(Stdio::null),
            )
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start moto with {}: {e}; run `make venv` first", python.display()));
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(Duration::from_secs(30)).unwrap_or_default();
        let endpoint = line
            .trim()
            .strip_prefix("MOTO_ENDPOINT=")
            .unwrap_or_else(|| panic!("moto did not start (got {line:?}); is moto[server] installed in .venv?"))
            .to_string();
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
