//! The `stackfleet` binary: parses arguments, runs one subcommand, reports errors once.

mod aws;
mod checks;
mod cli;
mod commands;
mod diagnostics;
mod endpoint;
mod error;
mod iam;
mod logging;
mod out_file;
mod pending;
mod placeholders;
mod printer;
mod profiles;
mod progress;
mod render;
mod session;
mod settings;
mod stamp;

use std::ffi::OsString;
use std::process::ExitCode;
use std::time::Duration;

use clap::{ColorChoice, CommandFactory, FromArgMatches};

use crate::cli::{Cli, Command};
use crate::error::CliError;
use crate::printer::Printer;
use crate::settings::AwsSettings;

fn main() -> ExitCode {
    install_panic_hook();
    let args: Vec<OsString> = std::env::args_os().collect();
    let color = wants_color(&args, std::env::var_os("NO_COLOR"));
    let command = Cli::command().color(if color {
        ColorChoice::Auto
    } else {
        ColorChoice::Never
    });
    let cli = match command
        .try_get_matches_from(&args)
        .and_then(|m| Cli::from_arg_matches(&m))
    {
        Ok(cli) => cli,
        Err(e) => return usage_exit(&e),
    };
    logging::init(cli.global.verbose, color);
    // An exported COLUMNS sets the table width, as it does for many CLIs; otherwise tables fit
    // the terminal, and are not wrapped at all when stdout is not one.
    render::set_table_width(
        std::env::var("COLUMNS")
            .ok()
            .and_then(|c| c.trim().parse().ok())
            .filter(|w| *w > 0),
    );
    let printer = Printer::new(cli.global.quiet);
    match run(cli, printer) {
        Ok(code) => code,
        Err(e) => {
            eprint!("{}", diagnostics::render(&e));
            ExitCode::from(e.exit_code())
        }
    }
}

/// Prints clap's help, version or usage error and returns its exit code. Help and version exit
/// 0; a usage error exits 1, never clap's default 2, which means "changes", "below threshold" or
/// "drift" to CI (see [`cli::EXIT_CODES`]).
fn usage_exit(error: &clap::Error) -> ExitCode {
    // A closed stdout (`stackfleet --help | head -1`) is not an error worth reporting.
    let _ = error.print();
    ExitCode::from(usage_exit_code(error.kind()))
}

/// The exit code of a clap outcome: 0 for help and version, 1 for every usage error.
fn usage_exit_code(kind: clap::error::ErrorKind) -> u8 {
    use clap::error::ErrorKind;
    match kind {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => 0,
        // `stackfleet` alone prints the help to stderr: a usage error, as clap treats it.
        _ => 1,
    }
}

/// Colour unless `--no-color` is among the arguments or `NO_COLOR` is set and not empty
/// (<https://no-color.org>). Decided before parsing, since clap colours its own help and errors.
fn wants_color(args: &[OsString], no_color: Option<OsString>) -> bool {
    let flag = args
        .iter()
        .skip(1)
        .take_while(|a| *a != "--")
        .any(|a| a == "--no-color");
    !flag && no_color.is_none_or(|v| v.is_empty())
}

/// A bug must not greet the user with a Rust panic message and backtrace: one line that says
/// what happened and what to do. `STACKFLEET_BACKTRACE=1` shows the usual report, for developers.
fn install_panic_hook() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if std::env::var_os("STACKFLEET_BACKTRACE").is_some_and(|v| v != "0") {
            default(info);
            return;
        }
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown cause".to_string());
        let location = info
            .location()
            .map(|l| format!(" ({}:{})", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!(
            "error: stackfleet stopped on an internal error: {message}{location}\n  this is a bug; please report it with the command you ran (STACKFLEET_BACKTRACE=1 adds a backtrace)"
        );
    }));
}

fn run(cli: Cli, printer: Printer) -> Result<ExitCode, CliError> {
    let config = cli.global.config.as_path();
    let aws = AwsSettings::from_args(&cli.global);
    match &cli.command {
        Command::Init(args) => {
            block_on(&aws, commands::init::run(config, &aws, args, printer))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Validate => {
            commands::validate::run(config, printer)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Plan(args) => {
            let outcome = block_on(&aws, commands::plan::run(config, &aws, args, printer))?;
            Ok(if args.detailed_exitcode && outcome.has_changes {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Coverage(args) => {
            let outcome = block_on(&aws, commands::coverage::run(config, &aws, args, printer))?;
            Ok(if outcome.below_minimum {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Drift(args) => {
            let verdict = block_on(&aws, commands::drift::run(config, &aws, args, printer))?;
            // Drift found is 2; drift that could not be checked everywhere is 1: CI cannot
            // vouch for what was not looked at.
            Ok(
                match (args.fail_on_drift, verdict.drifted, verdict.complete()) {
                    (false, _, _) => ExitCode::SUCCESS,
                    (true, 1.., _) => ExitCode::from(2),
                    (true, 0, false) => ExitCode::from(1),
                    (true, 0, true) => ExitCode::SUCCESS,
                },
            )
        }
        Command::Doctor(args) => {
            let fails = block_on(&aws, commands::doctor::run(config, &aws, args, printer))?;
            Ok(if fails {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Apply(args) => {
            block_on(&aws, commands::apply::run(config, &aws, args, printer))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::IamPolicy(args) => {
            commands::iam_policy::run(args)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Completions(args) => {
            commands::help::completions(args.shell)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Man => {
            commands::help::man()?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Runs a command's future to its end, or until `--timeout`: then it stops with
/// [`CliError::TimedOut`], naming what was still pending.
fn block_on<T>(
    aws: &AwsSettings,
    command: impl Future<Output = Result<T, CliError>>,
) -> Result<T, CliError> {
    let runtime = runtime()?;
    let Some(limit) = aws.timeout else {
        return runtime.block_on(command);
    };
    let outcome = runtime.block_on(async { tokio::time::timeout(limit, command).await });
    match outcome {
        Ok(result) => result,
        Err(_) => {
            // A resolver thread stuck on DNS must not hold the exit up.
            runtime.shutdown_timeout(Duration::from_millis(100));
            Err(CliError::TimedOut(timeout_message(
                limit,
                &aws.pending.snapshot(),
            )))
        }
    }
}

/// What `--timeout` says: what was in flight, and what goes on in AWS regardless.
fn timeout_message(limit: Duration, pending: &pending::Snapshot) -> String {
    let mut text = format!(
        "stopped after --timeout {}",
        humantime::format_duration(limit)
    );
    if pending.calls.is_empty() {
        text.push_str("; no AWS call was in flight");
    } else {
        text.push_str(&format!(
            "; still waiting for: {}",
            pending.calls.join(", ")
        ));
    }
    if pending.operations.is_empty() {
        text.push_str(
            "
  no StackSets operation of this run was running",
        );
    } else {
        text.push_str(&format!(
            "
  these StackSets operations go on in AWS:
    {}
  run `stackfleet apply` again to wait for them and finish the rollout",
            pending.operations.join(
                "
    "
            )
        ));
    }
    text
}

fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(CliError::Runtime)
}

#[cfg(test)]
mod tests {
    use std::ffi::OsString;

    use std::time::Duration;

    use clap::error::ErrorKind;

    use super::{pending::Snapshot, timeout_message, usage_exit_code, wants_color};
    use crate::cli::EXIT_CODES;

    #[test]
    fn the_timeout_message_names_the_calls_and_the_operations_left_running() {
        let pending = Snapshot {
            calls: vec!["CloudFormation DescribeStackSetOperation".to_string()],
            operations: vec!["monitor: op-1".to_string(), "spokes: op-2".to_string()],
        };
        assert_eq!(
            timeout_message(Duration::from_secs(5400), &pending),
            "stopped after --timeout 1h 30m; still waiting for: CloudFormation DescribeStackSetOperation
  these StackSets operations go on in AWS:
    monitor: op-1
    spokes: op-2
  run `stackfleet apply` again to wait for them and finish the rollout"
        );
        assert_eq!(
            timeout_message(Duration::from_secs(15), &Snapshot::default()),
            "stopped after --timeout 15s; no AWS call was in flight\n  no StackSets operation of this run was running"
        );
    }

    #[test]
    fn usage_errors_exit_1_and_help_exits_0() {
        for kind in [
            ErrorKind::UnknownArgument,
            ErrorKind::InvalidValue,
            ErrorKind::ValueValidation,
            ErrorKind::MissingRequiredArgument,
            ErrorKind::InvalidSubcommand,
            ErrorKind::ArgumentConflict,
            ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand,
        ] {
            assert_eq!(usage_exit_code(kind), 1, "{kind:?}");
        }
        assert_eq!(usage_exit_code(ErrorKind::DisplayHelp), 0);
        assert_eq!(usage_exit_code(ErrorKind::DisplayVersion), 0);
    }

    #[test]
    fn the_readme_shows_the_exit_code_table_of_help() {
        let readme = include_str!("../../../README.md");
        assert!(
            readme.contains(EXIT_CODES),
            "README.md must contain the table of cli::EXIT_CODES:\n{EXIT_CODES}"
        );
    }

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn colour_follows_the_flag_and_no_color() {
        assert!(wants_color(&args(&["stackfleet", "plan"]), None));
        assert!(!wants_color(
            &args(&["stackfleet", "plan", "--no-color"]),
            None
        ));
        assert!(!wants_color(
            &args(&["stackfleet", "plan"]),
            Some("1".into())
        ));
        // An empty NO_COLOR does not count (no-color.org).
        assert!(wants_color(&args(&["stackfleet", "plan"]), Some("".into())));
        // After `--`, it is a value, not the flag.
        assert!(wants_color(
            &args(&["stackfleet", "apply", "--", "--no-color"]),
            None
        ));
    }
}
