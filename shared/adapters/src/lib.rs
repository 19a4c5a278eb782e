//! Adapters of the referral backend: everything that talks to the outside world. DynamoDB
//! (the store ports of `referral_core`), SQS, the Wellflow HTTP client, configuration,
//! telemetry (JSON logs, EMF metrics) and the HTTP glue shared by the Lambda functions.
//! The rules live in `referral_core`; nothing here decides what money does.

pub mod auth;
pub mod aws;
pub mod billing;
pub mod config;
pub mod error;
pub mod http;
pub mod jwks;
pub mod metrics;
pub mod secrets;
pub mod store;
pub mod telemetry;
pub mod tls;
pub mod web;
pub mod wellflow;

pub use error::ApiError;
pub use referral_core::{attribution, clock, domain};
