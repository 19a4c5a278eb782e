//! The referral program's core: every rule of the product, in plain Rust.
//!
//! Domain types (money, ids, codes, tiers, …), the bonus lifecycle, the use cases that move
//! money (top-up, credit, refund, dispute, moderation, holding release, sweep, attribution)
//! and the ports they need (store, Wellflow ledger, retry queue, event outbox, clock). This
//! crate has no AWS SDK, Lambda, HTTP or reqwest dependency — `cargo tree -p referral-core`
//! proves it — so the rules cannot reach for infrastructure; `adapters` implements the ports.

pub mod bonus;
pub mod clock;
pub mod domain;
pub mod metrics;
pub mod payment;
pub mod ports;
pub mod store;
pub mod usecases;

pub use usecases::attribution;
