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
    /// Show which accounts and regions are covered, missing, failed, suspended or excluded.
    ///
    /// Exits 2 when coverage of the required cells is below --min-coverage (default 100, for CI).
    /// Example: stackfleet coverage --output markdown --min-coverage 95
    Coverage(CoverageArgs),
    /// Detect whether anyone changed the deployed stacks outside StackSets, and show what changed.
    ///
    /// Example: stackfleet drift --fail-on-drift --output markdown
    Drift(DriftArgs),
}

/// `stackfleet drift`.
#[derive(Debug, Args)]
pub struct DriftArgs {
    /// How to print the report.
    #[arg(short, long, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
    /// Report the last completed drift detection instead of starting a new one.
    #[arg(long)]
    pub no_detect: bool,
    /// Exit 2 when any instance has drifted.
    #[arg(long)]
    pub fail_on_drift: bool,
}

/// `stackfleet coverage`.
#[derive(Debug, Args)]
pub struct CoverageArgs {
    /// How to print the report.
    #[arg(short, long, value_enum, default_value_t = CoverageFormat::Table)]
    pub output: CoverageFormat,
    /// Exit 2 when the percentage of required cells that are covered is below this.
    #[arg(long, value_name = "PCT", default_value_t = 100.0, value_parser = parse_percent)]
    pub min_coverage: f64,
    /// Also count active accounts that no target selects as required (whole-organization coverage).
    #[arg(long)]
    pub require_all_accounts: bool,
    /// Show every account, not only those that are not fully covered.
    #[arg(long)]
    pub detail: bool,
}

/// Output formats of coverage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CoverageFormat {
    /// Tables for people.
    Table,
    /// JSON on stdout for programs.
    Json,
    /// Markdown for pull-request comments.
    Markdown,
    /// One line per cell.
    Csv,
}

fn parse_percent(text: &str) -> Result<f64, String> {
    let value: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number"))?;
    if (0.0..=100.0).contains(&value) {
        Ok(value)
    } else {
        Err(format!("{value} is not between 0 and 100"))
    }
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
