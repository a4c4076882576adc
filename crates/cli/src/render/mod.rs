//! Rendering: pure functions from data to text.

pub mod apply;
pub mod coverage;
pub mod coverage_html;
pub mod drift;
pub mod estimate;
pub mod init;
pub mod plan;

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{ContentArrangement, Table};

/// A table in the house style; columns wrap only on a terminal, so piped output is stable.
pub fn new_table(header: &[&str]) -> Table {
    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(header.to_vec());
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
