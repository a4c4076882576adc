//! Reporting an error once, at the top of the binary: diagnostics with the line they point at.

use std::fmt::Write;

use annotate_snippets::{AnnotationKind, Level, Renderer, Snippet};

use stackfleet_executor::ExecError;
use stackfleet_planner::Diagnostic;
use stackfleet_planner::fleet::FleetError;
use stackfleet_planner::org::OrgError;

use crate::error::CliError;
use crate::printer::Printer;

/// Prints fleet.toml's warnings on stderr, each with its line, as errors are drawn (not with
/// `--quiet`).
pub fn warn(warnings: &[Diagnostic], printer: Printer) {
    for w in warnings {
        printer.status(snippet_at(w, true).trim_end());
    }
}

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
        out.push_str(&snippet_at(d, false));
    }
    let _ = writeln!(
        out,
        "error: {} in fleet.toml; {consequence}",
        crate::render::count(diagnostics.len(), "problem", "problems")
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

/// `error: file:line:column: message` (one line, for grep, editors and CI logs), then the line
/// with a caret under the column, drawn by annotate-snippets as cargo draws manifest errors. The
/// location stays in the title rather than in a `-->` line below it, so that the first line
/// alone says everything.
#[cfg(test)]
fn snippet(d: &Diagnostic) -> String {
    snippet_at(d, false)
}

/// [`snippet`] as an error, or as a warning.
fn snippet_at(d: &Diagnostic, warning: bool) -> String {
    let title = d.to_string();
    let (prefix, level) = if warning {
        ("warning", Level::WARNING)
    } else {
        ("error", Level::ERROR)
    };
    let line = std::fs::read(&d.location.file)
        .ok()
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .and_then(|text| text.lines().nth(d.location.line - 1).map(str::to_string));
    let Some(mut line) = line else {
        return format!("{prefix}: {title}\n");
    };
    if let Some(chars) = d.secret_chars {
        line = hide(&line, d.location.column, chars);
    }
    let (shown, column) = window(&line, d.location.column);
    let start = byte_offset(&shown, column);
    let end = shown[start..]
        .chars()
        .next()
        .map_or(start, |c| start + c.len_utf8());
    let report = &[level.primary_title(title.as_str()).element(
        Snippet::source(shown.as_str())
            .line_start(d.location.line)
            .annotation(AnnotationKind::Primary.span(start..end)),
    )];
    let mut out = Renderer::plain().render(report);
    out.push('\n');
    out
}

/// `line` with `chars` characters from 1-based `column` on replaced by `*`: a secret the
/// diagnostic points at is never drawn.
fn hide(line: &str, column: usize, chars: usize) -> String {
    let from = column.saturating_sub(1);
    line.chars()
        .enumerate()
        .map(|(i, c)| {
            if i >= from && i < from + chars {
                '*'
            } else {
                c
            }
        })
        .collect()
}

/// The byte offset of 1-based character `column` in `line` (its end when past it).
fn byte_offset(line: &str, column: usize) -> usize {
    line.char_indices()
        .nth(column.saturating_sub(1))
        .map_or(line.len(), |(i, _)| i)
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
    use stackfleet_planner::{Diagnostic, Location};

    use super::{WINDOW, hide, snippet, window};

    #[test]
    fn a_secret_in_the_line_is_never_drawn() {
        let line = r#"parameters = { Team = "a", Token = "hunter2" }"#;
        let column = line.find("\"hunter2\"").unwrap() + 1;
        assert_eq!(
            hide(line, column, 9),
            r#"parameters = { Team = "a", Token = ********* }"#
        );
    }

    #[test]
    fn a_snippet_shows_the_location_the_line_and_a_caret_under_the_column() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("fleet.toml");
        let lines: String = (1..=9).map(|i| format!("# {i}\n")).collect();
        std::fs::write(&file, format!("{lines}accounts = [\"é\", \"12345\"]\n")).unwrap();
        let location = Location {
            file: file.clone(),
            line: 10,
            column: 19,
        };
        let drawn = snippet(&Diagnostic::new(location, "malformed account id"));
        assert_eq!(
            drawn,
            format!(
                "error: {}:10:19: malformed account id\n   |\n10 | accounts = [\"é\", \"12345\"]\n   |                   ^\n",
                file.display()
            )
        );
    }

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
