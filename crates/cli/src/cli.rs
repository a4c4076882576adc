//! Command-line arguments (clap derive types), in one place.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Keep one CloudFormation stack deployed across every account and region of an AWS
/// Organization through StackSets, and prove that it is there.
#[derive(Debug, Parser)]
#[command(name = "stackfleet", version, about, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every subcommand takes.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// The fleet file.
    #[arg(
        short = 'c',
        long = "config",
        global = true,
        default_value = "fleet.toml",
        value_name = "FILE"
    )]
    pub config: PathBuf,
    /// AWS profile to use (otherwise the standard credential chain: environment, profile, SSO, web identity).
    #[arg(long, global = true, env = "AWS_PROFILE", hide_env = true)]
    pub profile: Option<String>,
    /// Print only errors and the requested output.
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check fleet.toml and its templates without calling AWS.
    ///
    /// Example: stackfleet validate -c fleet.toml
    Validate,
    /// Show exactly which stack sets and account × region instances apply would create, update or delete.
    ///
    /// Example: stackfleet plan --output json --out plan.json --detailed-exitcode
    Plan(PlanArgs),
    /// Roll the plan out through StackSets and wait for every operation, showing progress.
    ///
    /// Examples: stackfleet apply --auto-approve        (plan fleet.toml and apply it)
    ///           stackfleet apply plan.json --auto-approve   (apply a reviewed, saved plan)
    Apply(ApplyArgs),
}

/// `stackfleet apply`.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// A plan saved with `stackfleet plan --out`; without it, apply plans fleet.toml afresh.
    #[arg(value_name = "PLAN_JSON")]
    pub plan: Option<PathBuf>,
    /// Apply without asking for confirmation (needed when there is no terminal, as in CI).
    #[arg(long)]
    pub auto_approve: bool,
    /// Allow deleting stack sets, or more than a few instances.
    #[arg(long)]
    pub allow_delete: bool,
    /// How to print the result.
    #[arg(short, long, value_enum, default_value_t = ReportFormat::Table)]
    pub output: ReportFormat,
}

/// Output formats of apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// Tables for people.
    Table,
    /// JSON on stdout for programs.
    Json,
}

/// `stackfleet plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// How to print the plan.
    #[arg(short, long, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
    /// Also save the full plan (for `apply plan.json`) to this file.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Exit 2 when the plan has changes, 0 when it has none (1 on error).
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// List every instance to create, delete or update, and every account of each operation.
    #[arg(long)]
    pub detail: bool,
}

/// Output formats of reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Tables for people.
    Table,
    /// JSON on stdout for programs.
    Json,
    /// Markdown for pull-request comments.
    Markdown,
}
