//! What apply did, as a table or JSON.

use std::fmt::Write;

use stackfleet_executor::ApplyReport;

use super::new_table;
use crate::progress::action_label;

/// The report as JSON: each operation with its id, status and counts.
pub fn json(report: &ApplyReport) -> String {
    let value = serde_json::json!({
        "converged": report.converged(),
        "stack_sets": report.stack_sets,
    });
    let mut text = serde_json::to_string_pretty(&value).unwrap_or_default();
    text.push('\n');
    text
}

/// The report for people: every operation, then every failed instance with its reason.
pub fn table(report: &ApplyReport) -> String {
    let mut out = String::new();
    let mut ops = new_table(&[
        "Stack set",
        "Operation",
        "Id",
        "Instances",
        "Status",
        "Failed",
    ]);
    let mut failures = new_table(&["Stack set", "Account", "Region", "Status", "Reason"]);
    let mut any_failure = false;
    let mut errors = Vec::new();
    for s in &report.stack_sets {
        for op in &s.operations {
            ops.add_row(vec![
                s.name.clone(),
                action_label(op.action).to_string(),
                op.operation_id.clone(),
                op.instances.to_string(),
                match &op.status_reason {
                    Some(reason) => format!("{}: {reason}", op.status),
                    None => op.status.to_string(),
                },
                op.failures.len().to_string(),
            ]);
            for f in &op.failures {
                any_failure = true;
                failures.add_row(vec![
                    s.name.clone(),
                    f.account.clone(),
                    f.region.clone(),
                    f.status.clone(),
                    f.reason.clone(),
                ]);
            }
        }
        if let Some(e) = &s.error {
            errors.push(format!("{}: {e}", s.name));
        }
    }
    let _ = writeln!(out, "{ops}");
    if any_failure {
        let _ = writeln!(out, "\nFailed instances:\n{failures}");
    }
    for e in &errors {
        let _ = writeln!(out, "\nerror: {e}");
    }
    let _ = writeln!(
        out,
        "\n{}",
        if report.converged() {
            "Apply complete: the fleet matches fleet.toml."
        } else {
            "Apply did not converge: see the failures above, fix them, and run apply again."
        }
    );
    out
}
