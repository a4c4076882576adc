//! The binary's errors; `main` reports them once.

use stackfleet_executor::ExecError;
use stackfleet_planner::fleet::FleetError;
use stackfleet_planner::org::OrgError;
use stackfleet_planner::{Diagnostics, Location};

impl CliError {
    /// The process exit code for this error: 130 for Ctrl-C (as shells do), 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Interrupted(_) => 130,
            _ => 1,
        }
    }
}

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
    /// The organization is not the one fleet.toml names.
    #[error(
        "refusing to act on organization {organization}, whose management account is {actual}: {location}: organization.management_account is {expected}"
    )]
    WrongOrganization {
        organization: String,
        actual: String,
        expected: String,
        location: Location,
    },
    /// STS could not tell who the caller is.
    #[error(
        "cannot determine the caller's identity with STS GetCallerIdentity: {0}\n  check your AWS credentials (AWS_PROFILE, environment variables or SSO login)"
    )]
    Identity(String),
    /// A saved plan cannot be read.
    #[error("cannot use plan {path}: {reason}")]
    PlanFile { path: String, reason: String },
    /// The saved plan no longer matches the organization or StackSets.
    #[error("{0}")]
    StalePlan(String),
    /// Applying would delete more than the user allowed.
    #[error(
        "the plan deletes {0}; nothing was changed\n  review it with `stackfleet plan --detail`, then rerun with --allow-delete"
    )]
    DeleteNotAllowed(String),
    /// Nobody confirmed the plan.
    #[error("{0}")]
    NotConfirmed(String),
    /// Apply finished but not everything converged.
    #[error("apply did not converge: {0}")]
    NotConverged(String),
    /// Ctrl-C during apply.
    #[error("interrupted; {0}")]
    Interrupted(String),
    /// Writing output failed.
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
}
