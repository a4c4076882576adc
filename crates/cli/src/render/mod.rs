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

/// A table in the house style. Columns wrap to fit the terminal (comfy-table's dynamic
/// arrangement, which measures only a terminal) or the width of [`set_table_width`]; account ids
/// are never broken.
pub fn new_table(header: &[&str]) -> Table {
    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header.to_vec());
    if let Some(Some(width)) = TABLE_WIDTH.get() {
        table.set_width(*width);
    }
    // Constraints only where there is a width to fit: piped output stays as wide as its content.
    let fitting = table.width().is_some();
    for (i, name) in header.iter().enumerate().filter(|_| fitting) {
        let constraint = match *name {
            // Ids and names are read whole; a region list wraps between regions.
            "Account" | "Stack set" | "Action" => ColumnConstraint::ContentWidth,
            "Regions" => ColumnConstraint::LowerBoundary(Width::Fixed(14)),
            _ => continue,
        };
        if let Some(column) = table.column_mut(i) {
            column.set_constraint(constraint);
        }
    }
    table
}

/// At most `max` items, then "… and N more".
pub fn abbreviate(items: &[String], max: usize) -> String {
    if items.len() <= max {
        return items.join(", ");
    }
    format!(
        "{}, … and {} more",
        items[..max].join(", "),
        items.len() - max
    )
}

/// "1 thing" / "2 things".
pub fn count(n: usize, singular: &str, plural: &str) -> String {
    format!("{n} {}", if n == 1 { singular } else { plural })
}

/// Escapes text for a Markdown table cell.
pub fn md_cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', "<br>")
}
