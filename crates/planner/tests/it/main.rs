//! The planner's integration tests: fleet.toml validation and the planning core, on plain values.

mod common;
mod coverage;
mod org;
mod plan;
mod validate;
