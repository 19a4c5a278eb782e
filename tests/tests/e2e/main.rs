//! End-to-end tests: the real handler code against moto server (and the fake Wellflow).
//! One test binary (one link step, one moto) with a module per feature.

mod admin;
mod authz;
mod codes;
mod dashboard;
mod history_export;
mod holding;
mod hostile;
mod hostile_routes;
mod iam;
mod jwks;
mod leaderboard;
mod openapi;
mod operations;
mod partner_api;
mod partner_webhooks;
mod reconcile;
mod redirect;
mod reliability;
mod retry;
mod secrets;
mod sharding;
mod signup;
mod stats;
mod stripe;
mod tiers;
mod webhook;
