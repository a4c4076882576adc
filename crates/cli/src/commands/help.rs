//! `stackfleet completions` and `stackfleet man`: generated from the clap definition, so they
//! never disagree with `--help`.

use clap::CommandFactory;

use crate::cli::Cli;
use crate::commands::plan::write_stdout;
use crate::error::CliError;

/// Prints the completion script for `shell` on stdout.
pub fn completions(shell: clap_complete::Shell) -> Result<(), CliError> {
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "stackfleet", &mut script);
    write_stdout(
        &mut std::io::stdout().lock(),
        &String::from_utf8_lossy(&script),
    )
}

/// Prints the manual page (roff) on stdout: the top-level help with its examples and the list of
/// commands (`stackfleet help <command>` details each).
pub fn man() -> Result<(), CliError> {
    let mut page = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut page)
        .map_err(|source| CliError::Write {
            path: "stdout".to_string(),
            source,
        })?;
    write_stdout(
        &mut std::io::stdout().lock(),
        &String::from_utf8_lossy(&page),
    )
}
