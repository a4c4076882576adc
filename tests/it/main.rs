//! The end-to-end suite: the real `stackfleet` binary, through the real AWS SDK, against a moto
//! server per test (see `harness`). Run with `cargo test --test it`; `scripts/ensure-venv`
//! provides moto.
//!
//! Output snapshots live in `snapshots/`. After an intended change of output, rewrite them with
//! `INSTA_UPDATE=always cargo test --test it` (or `cargo insta review`) and review the diff.

mod apply;
mod apply_log;
mod autodeploy;
mod cli;
mod coverage;
mod coverage_html;
mod doctor;
mod drift;
mod errors;
mod exit_codes;
mod harness;
mod iam_policy;
mod interrupt;
mod managed_execution;
mod noecho;
mod plan;
mod proxy;
mod reliability;
mod stacksets;
mod statuses;
mod templates;
mod timeouts;
mod validate;
