//! End-to-end tests: the real handler code against moto server (and the fake Wellflow).
//! One test binary (one link step, one moto) with a module per feature.

mod admin;
mod codes;
mod dashboard;
mod redirect;
mod retry;
mod signup;
mod webhook;
