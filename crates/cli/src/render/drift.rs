//! Drift as a table, JSON or Markdown.

use std::collections::BTreeMap;
use std::fmt::Write;

use stackfleet_executor::drift::StackSetDrift;

use super::{md_cell, new_table};

const STATUSES: [&str; 4] = ["IN_SYNC", "DRIFTED", "NOT_CHECKED", "UNKNOWN"];

/// Drifted instances over all stack sets.
pub fn drifted(reports: &[StackSetDrift]) -> usize {
    reports
        .iter()
        .flat_map(|r| &r.instances)
        .filter(|i| i.drift_status == "DRIFTED")
        .count()
}

fn counts(report: &StackSetDrift) -> BTreeMap<&str, usize> {
    let mut out = BTreeMap::new();
    for i in &report.instances {
        *out.entry(i.drift_status.as_str()).or_default() += 1;
    }
    out
}

/// The report as JSON.
pub fn json(reports: &[StackSetDrift]) -> String {
    let value = serde_json::json!({
        "drifted_instances": drifted(reports),
        "stack_sets": reports,
    });
    let mut text = serde_json::to_string_pretty(&value).unwrap_or_default();
    text.push('\n');
    text
}

/// Rows of resource-level differences: stack set, account, region, resource, type, status,
/// property, expected, actual.
fn differences(reports: &[StackSetDrift]) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    for r in reports {
        for i in r.instances.iter().filter(|i| i.drift_status == "DRIFTED") {
            // One row per property difference; "-" where the report has nothing finer.
            let mut push = |resource: [&str; 3], diff: [&str; 3]| {
                let row = [r.name.as_str(), &i.account, &i.region]
                    .into_iter()
                    .chain(resource)
                    .chain(diff)
                    .map(str::to_string)
                    .collect();
                rows.push(row);
            };
            if i.resources.is_empty() {
                push(["-", "-", "DRIFTED"], ["-", "-", "-"]);
            }
            for res in &i.resources {
                let resource = [
                    res.logical_id.as_str(),
                    res.resource_type.as_str(),
                    res.status.as_str(),
                ];
                if res.differences.is_empty() {
                    push(resource, ["-", "-", "-"]);
                }
                for d in &res.differences {
                    push(
                        resource,
                        [d.path.as_str(), d.expected.as_str(), d.actual.as_str()],
                    );
                }
            }
        }
    }
    rows
}

const DIFF_HEADER: [&str; 9] = [
    "Stack set",
    "Account",
    "Region",
    "Resource",
    "Type",
    "Drift",
    "Property",
    "Expected",
    "Actual",
];

/// The report for people.
pub fn table(reports: &[StackSetDrift]) -> String {
    let mut out = String::new();
    let mut header = vec!["Stack set", "Detection"];
    header.extend(STATUSES);
    let mut t = new_table(&header);
    for r in reports {
        let counts = counts(r);
        let mut row = vec![
            r.name.clone(),
            match (&r.operation_id, &r.detection_status) {
                (Some(id), Some(status)) => format!("{id} ({status})"),
                _ => "never run".to_string(),
            },
        ];
        row.extend(
            STATUSES
                .iter()
                .map(|s| counts.get(s).copied().unwrap_or(0).to_string()),
        );
        t.add_row(row);
    }
    let _ = writeln!(out, "{t}");
    let rows = differences(reports);
    if !rows.is_empty() {
        let mut d = new_table(&DIFF_HEADER);
        for row in rows {
            d.add_row(row);
        }
        let _ = writeln!(out, "\nChanged outside StackSets:\n{d}");
    }
    let n = drifted(reports);
    let _ = writeln!(
        out,
        "\n{}",
        if n == 0 {
            "No drift: every checked instance matches its template.".to_string()
        } else {
            format!(
                "{n} instance(s) drifted: someone changed them outside StackSets. `stackfleet apply` does not revert drift; update the stack set or fix the resources."
            )
        }
    );
    out
}

/// The report for a pull-request comment or issue.
pub fn markdown(reports: &[StackSetDrift]) -> String {
    let mut out = String::new();
    let n = drifted(reports);
    let _ = writeln!(
        out,
        "### stackfleet drift: {}\n",
        if n == 0 {
            "no drift".to_string()
        } else {
            format!("{n} instance(s) drifted")
        }
    );
    let _ = writeln!(
        out,
        "| Stack set | Detection | {} |\n|---|---|{}",
        STATUSES.join(" | "),
        "--:|".repeat(STATUSES.len())
    );
    for r in reports {
        let counts = counts(r);
        let detection = match (&r.operation_id, &r.detection_status) {
            (Some(id), Some(status)) => format!("`{id}` ({status})"),
            _ => "never run".to_string(),
        };
        let cells: Vec<String> = STATUSES
            .iter()
            .map(|s| counts.get(s).copied().unwrap_or(0).to_string())
            .collect();
        let _ = writeln!(
            out,
            "| `{}` | {} | {} |",
            md_cell(&r.name),
            detection,
            cells.join(" | ")
        );
    }
    let rows = differences(reports);
    if !rows.is_empty() {
        let _ = writeln!(
            out,
            "\n<details><summary>Changed outside StackSets ({} difference(s))</summary>\n",
            rows.len()
        );
        let _ = writeln!(
            out,
            "| {} |\n|{}",
            DIFF_HEADER.join(" | "),
            "---|".repeat(DIFF_HEADER.len())
        );
        for row in rows {
            let cells: Vec<String> = row.iter().map(|c| md_cell(c)).collect();
            let _ = writeln!(out, "| {} |", cells.join(" | "));
        }
        let _ = writeln!(out, "\n</details>");
    }
    out
}

#[cfg(test)]
mod tests {
    use stackfleet_executor::drift::{InstanceDrift, PropertyDrift, ResourceDrift, StackSetDrift};
    use stackfleet_executor::events::OperationStatus;

    use super::differences;

    #[test]
    fn one_row_per_difference_with_dashes_where_nothing_is_finer() {
        let instance = |account: &str, status: &str, resources| InstanceDrift {
            account: account.to_string(),
            region: "us-east-1".to_string(),
            drift_status: status.to_string(),
            resources,
        };
        let resource = |id: &str, differences| ResourceDrift {
            logical_id: id.to_string(),
            resource_type: "AWS::Events::Rule".to_string(),
            status: "MODIFIED".to_string(),
            differences,
        };
        let report = StackSetDrift {
            name: "monitor".to_string(),
            operation_id: Some("d-1".to_string()),
            detection_status: Some(OperationStatus::Succeeded),
            instances: vec![
                instance("111111111111", "IN_SYNC", vec![]),
                instance("222222222222", "DRIFTED", vec![]),
                instance(
                    "333333333333",
                    "DRIFTED",
                    vec![
                        resource("Gone", vec![]),
                        resource(
                            "Rule",
                            vec![PropertyDrift {
                                path: "/State".to_string(),
                                expected: "ENABLED".to_string(),
                                actual: "DISABLED".to_string(),
                                kind: "NOT_EQUAL".to_string(),
                            }],
                        ),
                    ],
                ),
            ],
        };
        let rows: Vec<String> = differences(&[report]).iter().map(|r| r.join(" ")).collect();
        assert_eq!(
            rows,
            [
                "monitor 222222222222 us-east-1 - - DRIFTED - - -",
                "monitor 333333333333 us-east-1 Gone AWS::Events::Rule MODIFIED - - -",
                "monitor 333333333333 us-east-1 Rule AWS::Events::Rule MODIFIED /State ENABLED DISABLED",
            ]
        );
    }
}
