//! The binary's errors; `main` reports them once.

use stackfleet_executor::ExecError;
use stackfleet_planner::fleet::FleetError;
use stackfleet_planner::org::OrgError;
use stackfleet_planner::{Diagnostics, Location};

/// Everything that can make a command fail.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// fleet.toml could not be read or is invalid.
    #[error(transparent)]
    Fleet(#[from] FleetError),
    /// fleet.toml does not match the organization.
    #[error("{0}")]
    Plan(Diagnostics),
    /// Reading the organization failed.
    #[error(transparent)]
    Organization(#[from] OrgError),
    /// A StackSets call failed.
    #[error(transparent)]
    StackSets(#[from] ExecError),
    /// The caller is not who fleet.toml says it must be.
    #[error(
        "refusing to run as account {actual} ({arn}): {location}: organization.management_account is {expected}\n  use credentials of account {expected}, or change management_account"
    )]
    WrongAccount {
        actual: String,
        arn: String,
        expected: String,
        location: Location,
    },
    /// STS could not tell who the caller is.
    #[error(
        "cannot determine the caller's identity with STS GetCallerIdentity: {0}\n  check your AWS credentials (AWS_PROFILE, environment variables or SSO login)"
    )]
    Identity(String),
    /// Writing output failed.
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
}
