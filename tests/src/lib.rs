//! Test harness shared by every end-to-end test: a moto server per test process (started on
//! a free loopback port, stopped with the process), a fresh table + queues per test created
//! from template.yaml, and small helpers to build requests and read responses.

pub mod billing;
pub mod cold_start;
pub mod counting;
pub mod fault_proxy;
pub mod figures;
pub mod http_adapter;
pub mod iam;
pub mod issuer;
pub mod load;
pub mod moto;
pub mod requests;
pub mod seed;
pub mod stack;

pub use moto::{shared_moto, Moto};
pub use requests::{body_json, get, header, header_all};
pub use stack::TestStack;

/// Polls `condition` (every 20 ms) until it holds; fails the test after `limit`.
pub async fn poll_until<F, Fut>(limit: std::time::Duration, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + limit;
    while !condition().await {
        assert!(std::time::Instant::now() < deadline, "condition not reached within {limit:?}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// A clock stopped at one instant (runs a real flow "at" another time).
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub time::OffsetDateTime);

impl referral_core::clock::Clock for FixedClock {
    fn now(&self) -> time::OffsetDateTime {
        self.0
    }
}

/// The workspace root (where template.yaml and .venv live).
pub fn workspace_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ is inside the workspace").to_path_buf()
}
