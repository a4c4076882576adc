//! Values that `stackfleet init` writes for the user to change, flagged until they are changed.

use stackfleet_planner::Fleet;

use crate::printer::Printer;

/// The alert address `init` writes: valid, so that the starter validates and plans, but nobody
/// reads it.
pub const PLACEHOLDER_EMAIL: &str = "change-me@example.com";

/// One warning per parameter of fleet.toml that still holds an init placeholder (pure).
pub fn warnings(fleet: &Fleet) -> Vec<String> {
    fleet
        .stack_sets
        .iter()
        .flat_map(|set| {
            set.parameters
                .iter()
                .filter(|(_, value)| value.as_str() == PLACEHOLDER_EMAIL)
                .map(move |(key, value)| {
                    format!(
                        "warning: stack set {}: parameters.{key} is still init's placeholder {value:?}: \
                         nobody receives these alerts until you set a real address",
                        set.name
                    )
                })
        })
        .collect()
}

/// Prints [`warnings`] on stderr (not with --quiet).
pub fn warn(fleet: &Fleet, printer: Printer) {
    for warning in warnings(fleet) {
        printer.status(warning);
    }
}
