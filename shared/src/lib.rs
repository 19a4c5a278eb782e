//! Shared crate of the referral backend: domain rules (plain Rust, no AWS types),
//! storage (traits + DynamoDB), clients, configuration, HTTP and logging helpers.
//! Every `functions/*` crate is thin wiring around what lives here.

pub mod attribution;
pub mod auth;
pub mod aws;
pub mod billing;
pub mod clock;
pub mod config;
pub mod domain;
pub mod error;
pub mod http;
pub mod metrics;
pub mod store;
pub mod telemetry;
pub mod wellflow;

pub use error::ApiError;
