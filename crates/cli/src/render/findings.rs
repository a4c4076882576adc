//! The instances a plan acts on in a way of their own or cannot reach (inoperable, re-activated,
//! orphaned, stranded, unknown status), with what happens to each: a table or Markdown.

use std::fmt::Write;

use stackfleet_planner::Plan;
use stackfleet_planner::plan::InstanceFinding;

use super::{md_cell, new_table};

fn rows(plan: &Plan) -> Vec<(&str, &InstanceFinding)> {
    plan.stack_sets
        .iter()
        .flat_map(|s| s.findings.iter().map(move |f| (s.name.as_str(), f)))
        .collect()
}

fn what(f: &InstanceFinding) -> String {
    let planned = if f.kind.is_planned() {
        "planned"
    } else {
        "not planned"
    };
    format!("{} ({planned})", f.kind.label())
}

/// The findings as a table section, or nothing when there are none.
pub fn table(plan: &Plan) -> String {
    let rows = rows(plan);
    if rows.is_empty() {
        return String::new();
    }
    let mut t = new_table(&["Stack set", "Account", "Region", "Found", "What happens"]);
    for (set, f) in rows {
        t.add_row(vec![
            set.to_string(),
            f.account.clone(),
            f.region.clone(),
            what(f),
            f.remedy.clone(),
        ]);
    }
    format!("\nInstances that need attention:\n{t}\n")
}

/// The findings as a Markdown section, or nothing when there are none.
pub fn markdown(plan: &Plan) -> String {
    let rows = rows(plan);
    if rows.is_empty() {
        return String::new();
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n> [!IMPORTANT]\n> {} {}.\n",
        crate::render::count(rows.len(), "instance", "instances"),
        if rows.len() == 1 {
            "needs attention"
        } else {
            "need attention"
        }
    );
    let _ = writeln!(
        out,
        "| Stack set | Account | Region | Found | What happens |\n|---|---|---|---|---|"
    );
    for (set, f) in rows {
        let _ = writeln!(
            out,
            "| `{}` | `{}` | {} | {} | {} |",
            md_cell(set),
            f.account,
            f.region,
            what(f),
            md_cell(&f.remedy)
        );
    }
    out
}
