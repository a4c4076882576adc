//! `stackfleet validate`: the offline checks of fleet.toml and its templates.

use std::path::Path;

use stackfleet_planner::fleet;

use crate::error::CliError;
use crate::printer::Printer;

/// Validates fleet.toml without any AWS call.
pub fn run(config: &Path, printer: Printer) -> Result<(), CliError> {
    let fleet = fleet::load(config)?;
    let instances: usize = fleet.stack_sets.iter().map(|s| s.regions.len()).sum();
    printer.status(format!(
        "{} is valid: {} stack set(s), {} region target(s)",
        config.display(),
        fleet.stack_sets.len(),
        instances
    ));
    Ok(())
}
