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
    /// `AWS_ENDPOINT_URL` is set to nothing.
    #[error(
        "AWS_ENDPOINT_URL is set but empty\n  unset it to reach AWS, or set it to the endpoint's URL"
    )]
    EmptyEndpoint,
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
    /// An AWS call failed before any change: credentials, roles, network.
    #[error("cannot {doing}: {reason}\n  {hint}")]
    Aws {
        /// What stackfleet tried to do.
        doing: String,
        /// AWS's code and message, or the chain of causes.
        reason: String,
        /// What to do next.
        hint: &'static str,
    },
    /// The organization could not be read because the caller is a member account.
    #[error(
        "you are {caller}, a member account{not_admin}; the management account of organization {organization} is {management}\n  {hint}"
    )]
    MemberAccount {
        /// The calling account.
        caller: String,
        /// `o-…`.
        organization: String,
        /// The organization's management account.
        management: String,
        /// `", not a delegated administrator"` when fleet.toml says it is one, else empty.
        not_admin: &'static str,
        /// What to do.
        hint: &'static str,
    },
    /// `--profile` names a profile that the AWS config and credentials files do not define.
    #[error("profile {name:?} does not exist\n  {hint}")]
    UnknownProfile {
        /// The name given.
        name: String,
        /// The profiles that exist, and the closest.
        hint: String,
    },
    /// `init` would overwrite a file.
    #[error(
        "{0} already exists; nothing was written\n  pass --force to overwrite it, or -c to write another file"
    )]
    Exists(String),
    /// No region to work in.
    #[error(
        "no AWS region: pass --region (the region where the stack sets will live), or set AWS_REGION or the profile's region"
    )]
    NoRegion,
    /// `--region` contradicts a saved plan.
    #[error(
        "plan {path} was made for stack sets in {planned}, not {requested}; nothing was applied\n  apply it without --region, or plan again with --region {requested}"
    )]
    RegionMismatch {
        path: String,
        planned: String,
        requested: String,
    },
    /// The async runtime could not start (out of threads or memory).
    #[error("cannot start: {0}\n  the machine is short of threads or memory; retry")]
    Runtime(#[source] std::io::Error),
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
    /// `--timeout` ran out; says what was still pending.
    #[error("{0}")]
    TimedOut(String),
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
