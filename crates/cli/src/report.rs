//! Reporting an error once, at the top of the binary: diagnostics with the line they point at.

use std::fmt::Write;

use stackfleet_executor::ExecError;
use stackfleet_planner::Diagnostic;
use stackfleet_planner::fleet::FleetError;
use stackfleet_planner::org::OrgError;

use crate::error::CliError;

/// The text shown for `error`: one screen, no backtrace, what to do next.
pub fn render(error: &CliError) -> String {
    let (diagnostics, consequence) = match error {
        CliError::Fleet(FleetError::Invalid(d)) => (&d.0, "nothing was sent to AWS"),
        CliError::Plan(d) => (&d.0, "nothing was changed in AWS"),
        other => {
            return match next_step(other) {
                Some(hint) => format!("error: {other}\n  {hint}\n"),
                None => format!("error: {other}\n"),
            };
        }
    };
    let mut out = String::new();
    for d in diagnostics {
        out.push_str(&snippet(d));
    }
    let _ = writeln!(
        out,
        "error: {} problem(s) in fleet.toml; {consequence}",
        diagnostics.len()
    );
    out
}

/// What to do next, for errors whose message does not say it already.
fn next_step(error: &CliError) -> Option<&'static str> {
    match error {
        CliError::Organization(OrgError::NotInOrganization) => Some(
            "use credentials of the organization's management account or of a delegated administrator (--profile, --assume-role)",
        ),
        CliError::Organization(OrgError::Call { .. } | OrgError::Incomplete { .. })
        | CliError::StackSets(ExecError::Call { .. }) => {
            Some("rerun with -vv to see the AWS calls, and check the caller's permissions")
        }
        _ => None,
    }
}

/// `error: file:line:column: message` (one line, for grep and CI logs), then the line with a
/// caret under the column.
fn snippet(d: &Diagnostic) -> String {
    let mut out = format!("error: {d}\n");
    let line = std::fs::read(&d.location.file)
        .ok()
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .and_then(|text| text.lines().nth(d.location.line - 1).map(str::to_string));
    if let Some(line) = line {
        let number = d.location.line.to_string();
        let pad = " ".repeat(number.len());
        let caret = " ".repeat(d.location.column.saturating_sub(1));
        let _ = write!(out, "{pad} |\n{number} | {line}\n{pad} | {caret}^\n");
    }
    out
}
