//! The planner's integration tests: fleet.toml validation and the planning core, on plain values.

mod batching;
mod common;
mod coverage;
mod doctor;
mod fuzz;
mod org;
mod plan;
mod rng;
mod statuses;
mod validate;
