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
        let (shown, column) = window(&line, d.location.column);
        let number = d.location.line.to_string();
        let pad = " ".repeat(number.len());
        let caret = " ".repeat(column.saturating_sub(1));
        let _ = write!(out, "{pad} |\n{number} | {shown}\n{pad} | {caret}^\n");
    }
    out
}

/// Characters of a source line shown around the column, so that a huge one-line file still
/// gives an error of one screen.
const WINDOW: usize = 100;

/// At most [`WINDOW`] characters of `line` around `column`, marked with `…` where cut, and the
/// column within what is shown.
fn window(line: &str, column: usize) -> (String, usize) {
    let chars: Vec<char> = line.chars().collect();
    if chars.len() <= WINDOW {
        return (line.to_string(), column);
    }
    let start = column
        .saturating_sub(1)
        .saturating_sub(WINDOW / 2)
        .min(chars.len() - WINDOW);
    let end = start + WINDOW;
    let mut shown: String = chars[start..end].iter().collect();
    let mut column = column - start;
    if start > 0 {
        shown.insert(0, '…');
        column += 1;
    }
    if end < chars.len() {
        shown.push('…');
    }
    (shown, column)
}

#[cfg(test)]
mod tests {
    use super::{WINDOW, window};

    #[test]
    fn short_lines_are_shown_whole() {
        assert_eq!(
            window("regions = [\"x\"]", 12),
            ("regions = [\"x\"]".to_string(), 12)
        );
    }

    #[test]
    fn long_lines_are_cut_around_the_column() {
        let line = format!("{}X{}", "a".repeat(5000), "b".repeat(5000));
        let (shown, column) = window(&line, 5001);
        assert!(shown.chars().count() <= WINDOW + 2);
        assert_eq!(shown.chars().nth(column - 1), Some('X'));
        assert!(shown.starts_with('…') && shown.ends_with('…'));
        let (start, column) = window(&line, 3);
        assert_eq!(
            (start.chars().nth(column - 1), start.starts_with('…')),
            (Some('a'), false)
        );
    }
}
