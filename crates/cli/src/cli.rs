//! Command-line arguments (clap derive types), in one place.

use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};

/// The exit-code table, one text for `--help` and [`EXIT_CODES`] (README.md has the same table).
/// A literal behind a macro, because `concat!` in the clap attribute takes only literals.
macro_rules! exit_codes {
    () => {
        "Exit codes (every command):
  0    success; plan without changes; coverage at or above --min-coverage; no drift found
  1    error: usage (unknown flag, bad value), invalid fleet.toml, AWS or network failure,
       failed or refused apply; drift --fail-on-drift that could not check every instance
  2    plan --detailed-exitcode: there are changes; coverage: below --min-coverage (or no
       cell is required); drift --fail-on-drift: drift found
  130  interrupted (Ctrl-C)"
    };
}

/// The exit codes of every command, as `--help` prints them; a test keeps README.md in step.
#[cfg(test)]
pub const EXIT_CODES: &str = exit_codes!();

/// Keep one CloudFormation stack deployed across every account and region of an AWS
/// Organization through StackSets, and prove that it is there.
#[derive(Debug, Parser)]
#[command(
    name = "stackfleet",
    version,
    about,
    max_term_width = 100,
    after_help = concat!("Examples:
  stackfleet init                                   write a starter fleet.toml for your organization
  stackfleet plan --profile security-admin          what apply would change, with an SSO profile
  stackfleet apply --assume-role arn:aws:iam::123456789012:role/StackfleetAdmin
  stackfleet coverage --min-coverage 100            exit 2 unless every required cell is covered

Credentials come from the standard AWS chain (environment, profiles, SSO, web identity).
Results go to stdout; progress, logs and errors go to stderr. `stackfleet help <command>` explains a command.

", exit_codes!())
)]
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
    /// AWS profile to use (SSO, role or keys), over credentials in the environment; otherwise the
    /// standard chain: environment, AWS_PROFILE, SSO, web identity.
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Option<String>,
    /// Region of the stack sets and of the AWS calls, for this run (overrides organization.home_region).
    #[arg(long, global = true, value_name = "REGION", value_parser = parse_region)]
    pub region: Option<String>,
    /// Assume this IAM role through STS before anything else (overrides organization.assume_role_arn).
    #[arg(long, global = true, value_name = "ROLE_ARN", value_parser = parse_role_arn)]
    pub assume_role: Option<String>,
    /// Print only errors and the requested output (no progress).
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// More logs on stderr: -v info, -vv debug (STACKFLEET_LOG or RUST_LOG set the filter instead).
    #[arg(short, long, global = true, action = ArgAction::Count)]
    pub verbose: u8,
    /// No colours in help, logs and progress (also when NO_COLOR is set).
    #[arg(long, global = true)]
    pub no_color: bool,
    /// Stop the command after DURATION (e.g. 90s, 15m, 6h) with exit 1, saying what was still
    /// pending; StackSets operations already started go on in AWS.
    #[arg(long, global = true, value_name = "DURATION", value_parser = parse_timeout)]
    pub timeout: Option<Duration>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a commented starter fleet.toml for the caller's organization.
    ///
    /// Reads the organization (root, top-level OUs) and the account's enabled regions, and writes
    /// fleet.toml (or the -c file) with the S3 bucket-policy-change monitor as first stack set, and
    /// its template under templates/ unless one is there already. The file validates as written.
    #[command(after_help = "Examples:
  stackfleet init --profile management         write ./fleet.toml
  stackfleet init -c fleets/security.toml --region eu-west-1 --force")]
    Init(InitArgs),
    /// Check fleet.toml and its templates without calling AWS.
    #[command(after_help = "Examples:
  stackfleet validate
  stackfleet validate -c fleets/security.toml")]
    Validate,
    /// Show exactly which stack sets and account × region instances apply would create, update or delete.
    ///
    /// Exits 2 with --detailed-exitcode when there are changes.
    #[command(after_help = "Examples:
  stackfleet plan
  stackfleet plan --output markdown --out plan.json     (PR comment, and the plan to apply)
  stackfleet plan --output json --detailed-exitcode")]
    Plan(PlanArgs),
    /// Roll the plan out through StackSets and wait for every operation, showing progress.
    #[command(after_help = "Examples:
  stackfleet apply                              plan fleet.toml, confirm, apply
  stackfleet apply plan.json --auto-approve     apply a reviewed, saved plan (CI)")]
    Apply(ApplyArgs),
    /// Show which accounts and regions are covered, missing, failed, suspended or excluded.
    ///
    /// Exits 2 when coverage of the required cells is below --min-coverage (default 100, for CI).
    #[command(after_help = "Examples:
  stackfleet coverage
  stackfleet coverage --output markdown --min-coverage 95
  stackfleet coverage --output csv > coverage.csv
  stackfleet coverage --output html --out coverage.html   (the page in the file, the table on stdout)")]
    Coverage(CoverageArgs),
    /// Detect whether anyone changed the deployed stacks outside StackSets, and show what changed.
    #[command(after_help = "Examples:
  stackfleet drift
  stackfleet drift --fail-on-drift --output markdown")]
    Drift(DriftArgs),
    /// Check what the fleet's alerts need, without changing anything: StackSets access, CloudTrail,
    /// opt-in regions and the caller's read permissions.
    ///
    /// Exits 0 when everything holds, 2 when something does not, 1 on error.
    #[command(after_help = "Examples:
  stackfleet doctor
  stackfleet doctor --output markdown")]
    Doctor(DoctorArgs),
    /// Print the least-privilege IAM policy stackfleet needs, derived from the calls it makes.
    ///
    /// `--for plan` is read-only (plan, coverage, drift --no-detect, doctor); `--for apply` adds
    /// what apply and drift detection change. Makes no AWS call.
    #[command(after_help = "Examples:
  stackfleet iam-policy --for plan > stackfleet-plan-policy.json
  stackfleet iam-policy --for apply --call-as delegated-admin")]
    IamPolicy(IamPolicyArgs),
    /// Print a shell completion script.
    #[command(after_help = "Examples:
  stackfleet completions bash > ~/.local/share/bash-completion/completions/stackfleet
  stackfleet completions zsh > \"${fpath[1]}/_stackfleet\"
  stackfleet completions fish > ~/.config/fish/completions/stackfleet.fish")]
    Completions(CompletionsArgs),
    /// Print the manual page (roff).
    #[command(after_help = "Example:
  stackfleet man > stackfleet.1 && man ./stackfleet.1")]
    Man,
}

/// `stackfleet init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Overwrite the fleet file if it exists.
    #[arg(long)]
    pub force: bool,
}

/// `stackfleet completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// A well-formed region name; one this version does not know is warned about when used
/// (`session::open`), since AWS adds regions after a release (issue 18 item 11).
fn parse_region(text: &str) -> Result<String, String> {
    if stackfleet_planner::regions::is_well_formed_region(text) {
        Ok(text.to_string())
    } else {
        Err(format!(
            "{text:?} is not an AWS region name such as us-east-1{}",
            stackfleet_planner::suggest::did_you_mean(
                text,
                stackfleet_planner::regions::KNOWN_REGIONS.iter().copied()
            )
        ))
    }
}

fn parse_timeout(text: &str) -> Result<Duration, String> {
    match humantime::parse_duration(text) {
        Ok(d) if d.is_zero() => Err("the timeout must be longer than 0s".to_string()),
        Ok(d) => Ok(d),
        Err(e) => Err(format!(
            "{text:?} is not a duration such as 90s, 15m or 6h ({e})"
        )),
    }
}

fn parse_role_arn(text: &str) -> Result<String, String> {
    if stackfleet_planner::fleet::is_role_arn(text) {
        Ok(text.to_string())
    } else {
        Err(format!(
            "{text:?} is not an IAM role ARN such as arn:aws:iam::123456789012:role/StackfleetAdmin"
        ))
    }
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
    /// Exit 2 when any instance has drifted, and 1 when drift could not be checked everywhere (a
    /// detection that failed, was stopped or never ran, instances NOT_CHECKED or UNKNOWN, a
    /// stack set that does not exist).
    #[arg(long)]
    pub fail_on_drift: bool,
}

/// `stackfleet doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// How to print the findings.
    #[arg(short, long, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
}

/// `stackfleet iam-policy`.
#[derive(Debug, Args)]
pub struct IamPolicyArgs {
    /// Which role: `plan` (read-only) or `apply`.
    #[arg(long = "for", value_enum, value_name = "ROLE")]
    pub role: PolicyFor,
    /// As whom stackfleet calls StackSets (organization.call_as).
    #[arg(long, value_enum, default_value_t = PolicyCallAs::SelfAccount)]
    pub call_as: PolicyCallAs,
}

/// `iam-policy --for`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PolicyFor {
    /// plan, coverage, drift --no-detect, doctor: reads only.
    Plan,
    /// Everything, including apply and drift detection.
    Apply,
}

/// `iam-policy --call-as`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PolicyCallAs {
    /// The management account.
    #[value(name = "self")]
    SelfAccount,
    /// A delegated StackSets administrator.
    DelegatedAdmin,
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
    /// Count cells whose CloudTrail delivery is unverified (no organization trail visible) as
    /// not covered.
    #[arg(long)]
    pub require_trail: bool,
    /// Write the report in the --output format to FILE, and print the table on stdout (CI: a file
    /// to keep and a table in the log). Checked before any AWS call.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
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
    /// One self-contained HTML page (heat map, account grid, filters), best with --out.
    Html,
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
    /// Also save the full plan as JSON (for `apply plan.json`) to this file, whatever --output
    /// prints on stdout. Checked before any AWS call.
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

#[cfg(test)]
mod tests {
    use super::parse_region;

    #[test]
    fn a_well_formed_region_is_taken_even_when_unknown_and_a_malformed_one_is_refused() {
        assert_eq!(parse_region("eu-west-1").as_deref(), Ok("eu-west-1"));
        // A region AWS added after this release: used as given (with a warning when used).
        assert_eq!(parse_region("eu-west-9").as_deref(), Ok("eu-west-9"));
        let refused = parse_region("eu-wset1").unwrap_err();
        assert!(refused.contains("not an AWS region name"), "{refused}");
    }
}
