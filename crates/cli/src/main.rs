//! The `stackfleet` binary: parses arguments, runs one subcommand, reports errors once.

mod aws;
mod cli;
mod commands;
mod error;
mod printer;
mod progress;
mod render;
mod report;
mod state;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::error::CliError;
use crate::printer::Printer;

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("STACKFLEET_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let printer = Printer::new(cli.global.quiet);
    match run(cli, printer) {
        Ok(code) => code,
        Err(e) => {
            eprint!("{}", report::render(&e));
            ExitCode::from(e.exit_code())
        }
    }
}

fn run(cli: Cli, printer: Printer) -> Result<ExitCode, CliError> {
    let config = cli.global.config.as_path();
    match &cli.command {
        Command::Validate => {
            commands::validate::run(config, printer)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Plan(args) => {
            let outcome = runtime().block_on(commands::plan::run(
                config,
                cli.global.profile.as_deref(),
                args,
                printer,
            ))?;
            Ok(if args.detailed_exitcode && outcome.has_changes {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Coverage(args) => {
            let outcome = runtime().block_on(commands::coverage::run(
                config,
                cli.global.profile.as_deref(),
                args,
                printer,
            ))?;
            Ok(if outcome.below_minimum {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Drift(args) => {
            let drifted = runtime().block_on(commands::drift::run(
                config,
                cli.global.profile.as_deref(),
                args,
                printer,
            ))?;
            Ok(if args.fail_on_drift && drifted {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Apply(args) => {
            runtime().block_on(commands::apply::run(
                config,
                cli.global.profile.as_deref(),
                args,
                printer,
            ))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("the tokio runtime starts")
}
