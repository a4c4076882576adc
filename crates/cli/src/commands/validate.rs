//! `stackfleet validate`: the offline checks of fleet.toml and its templates.

use std::path::Path;

use stackfleet_planner::fleet;

use crate::error::CliError;
use crate::printer::Printer;

/// Validates fleet.toml without any AWS call.
pub fn run(config: &Path, printer: Printer) -> Result<(), CliError> {
    let fleet = fleet::load(config)?;
    crate::diagnostics::warn(&fleet.warnings, printer);
    crate::placeholders::warn(&fleet, printer);
    let sets: Vec<String> = fleet
        .stack_sets
        .iter()
        .map(|s| format!("{} in {}", s.name, s.regions.join(", ")))
        .collect();
    printer.status(format!(
        "{} is valid: {}",
        config.display(),
        sets.join("; ")
    ));
    Ok(())
}
