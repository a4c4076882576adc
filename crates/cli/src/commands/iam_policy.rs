//! `stackfleet iam-policy`: prints the policy document of [`crate::iam`] for a role. No AWS call.

use crate::cli::{IamPolicyArgs, PolicyCallAs, PolicyFor};
use crate::commands::plan::write_stdout;
use crate::error::CliError;
use crate::iam::{self, Level};

/// Prints the policy as JSON on stdout.
pub fn run(args: &IamPolicyArgs) -> Result<(), CliError> {
    let level = match args.role {
        PolicyFor::Plan => Level::Read,
        PolicyFor::Apply => Level::Write,
    };
    let policy = iam::policy(level, args.call_as == PolicyCallAs::DelegatedAdmin);
    let text = serde_json::to_string_pretty(&policy).unwrap_or_default() + "\n";
    write_stdout(&mut std::io::stdout().lock(), &text)
}
