//! Rendering: pure functions from data to text.

pub mod apply;
pub mod coverage;
pub mod coverage_html;
pub mod doctor;
pub mod drift;
pub mod estimate;
pub mod findings;
pub mod init;
pub mod plan;

use std::sync::OnceLock;

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{ColumnConstraint, ContentArrangement, Table, Width};

/// The width tables must fit, set once per run by [`set_table_width`].
static TABLE_WIDTH: OnceLock<Option<u16>> = OnceLock::new();

/// Sets the width every table of this run fits: `Some` for an explicit width (`$COLUMNS`, when
/// exported), `None` for the terminal's own width when stdout is a terminal and no limit when it
/// is not, so that piped output is never wrapped or cut.
pub fn set_table_width(width: Option<u16>) {
    let _ = TABLE_WIDTH.set(width);
}

/// A table in the house style: a comfy-table [`Table`] that fits its columns when displayed.
pub struct Grid(Table);

impl std::ops::Deref for Grid {
    type Target = Table;
    fn deref(&self) -> &Table {
        &self.0
    }
}

impl std::ops::DerefMut for Grid {
    fn deref_mut(&mut self) -> &mut Table {
        &mut self.0
    }
}

impl std::fmt::Display for Grid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut table = self.0.clone();
        fit(&mut table);
        write!(f, "{table}")
    }
}

/// A table in the house style. Columns wrap to fit the terminal (comfy-table's dynamic
/// arrangement, which measures only a terminal) or the width of [`set_table_width`], between
/// words and never inside a header's word; piped output is not wrapped at all.
pub fn new_table(header: &[&str]) -> Grid {
    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header.to_vec());
    if let Some(Some(width)) = TABLE_WIDTH.get() {
        table.set_width(*width);
    }
    Grid(table)
}

/// Gives each column a lower bound: its header's longest word, and its content's longest word
/// (an account id, a stack set's name) as far as the width allows, so that the dynamic
/// arrangement breaks lines between words. Nothing where there is no width to fit.
fn fit(table: &mut Table) {
    let Some(width) = table.width() else {
        return;
    };
    let longest = |text: &str| {
        text.split_whitespace()
            .map(|w| w.chars().count())
            .max()
            .unwrap_or(0)
    };
    let columns = table.column_iter().count();
    let header: Vec<usize> = (0..columns)
        .map(|i| {
            table
                .header()
                .and_then(|h| h.cell_iter().nth(i))
                .map_or(0, |c| longest(&c.content()))
        })
        .collect();
    let content: Vec<usize> = (0..columns)
        .map(|i| {
            table
                .column_cells_iter(i)
                .flatten()
                .map(|c| longest(&c.content()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    // Borders (one more than the columns) and one space of padding either side of each column.
    let budget = usize::from(width).saturating_sub(columns + 1 + 2 * columns);
    let mins = |cap: usize| -> Vec<usize> {
        header
            .iter()
            .zip(&content)
            .map(|(h, c)| (*h).max((*c).min(cap)))
            .collect()
    };
    // The widest cap at which every column's lower bound still fits; headers are kept whole
    // even when they alone do not fit (then the table is wider than asked).
    let chosen = [usize::MAX, 40, 32, 24, 20, 16, 14, 12, 10, 8, 6, 4, 1]
        .into_iter()
        .map(mins)
        .find(|m| m.iter().sum::<usize>() <= budget)
        .unwrap_or_else(|| mins(1));
    for (i, min) in chosen.into_iter().enumerate() {
        if let (Some(column), Ok(min)) = (table.column_mut(i), u16::try_from(min + 2)) {
            column.set_constraint(ColumnConstraint::LowerBoundary(Width::Fixed(min)));
        }
    }
}

/// The width output must fit: `$COLUMNS` when exported, else the terminal's when stdout is one
/// (comfy-table measures it), else none.
fn screen_width() -> Option<u16> {
    match TABLE_WIDTH.get() {
        Some(Some(width)) => Some(*width),
        _ => Table::new().width(),
    }
}

/// Wraps the lines of a rendering that are not table rows to the screen's width, between words,
/// continuation lines indented two more spaces; nothing when there is no width to fit.
pub fn wrap_text(text: String) -> String {
    match screen_width() {
        Some(width) => wrap_to(&text, usize::from(width)),
        None => text,
    }
}

fn wrap_to(text: &str, width: usize) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let (body, end) = match line.strip_suffix('\n') {
            Some(body) => (body, "\n"),
            None => (line, ""),
        };
        let boxed = body.chars().any(|c| ('\u{2500}'..='\u{257f}').contains(&c));
        if boxed || body.chars().count() <= width {
            out.push_str(line);
            continue;
        }
        let indent = body.len() - body.trim_start().len();
        let mut lines = Vec::new();
        let mut current = body[..indent].to_string();
        let mut empty = true;
        // Split at single spaces, so that double spaces (the legend's) survive where not wrapped.
        for word in body[indent..].split(' ') {
            let used = current.chars().count();
            if !empty && used + 1 + word.chars().count() > width {
                lines.push(std::mem::replace(&mut current, " ".repeat(indent + 2)));
                empty = true;
            }
            if empty && word.is_empty() {
                continue;
            }
            if !empty {
                current.push(' ');
            }
            current.push_str(word);
            empty = false;
        }
        lines.push(current);
        out.push_str(&lines.join("\n"));
        out.push_str(end);
    }
    out
}

/// "1 thing" / "2 things".
pub fn count(n: usize, singular: &str, plural: &str) -> String {
    format!("{n} {}", if n == 1 { singular } else { plural })
}

/// Escapes text for a Markdown table cell.
pub fn md_cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', "<br>")
}

#[cfg(test)]
mod tests {
    use super::wrap_to;

    #[test]
    fn long_text_lines_wrap_between_words_and_table_rows_do_not() {
        let text = "PASS: 34 of 34 cells covered, at or above the minimum\n│ a ┆ b │\nshort\n";
        assert_eq!(
            wrap_to(text, 20),
            "PASS: 34 of 34 cells\n  covered, at or\n  above the minimum\n│ a ┆ b │\nshort\n"
        );
        assert_eq!(
            wrap_to("  indented words here", 12),
            "  indented\n    words\n    here"
        );
    }
}
