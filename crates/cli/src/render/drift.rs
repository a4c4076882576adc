//! Drift as a table, JSON or Markdown, and what the report proves ([`verdict`]).

use std::collections::BTreeMap;
use std::fmt::Write;

use stackfleet_executor::drift::StackSetDrift;
use stackfleet_executor::events::OperationStatus;

use super::{count, md_cell, new_table};

const STATUSES: [&str; 4] = ["IN_SYNC", "DRIFTED", "NOT_CHECKED", "UNKNOWN"];

/// Everything `stackfleet drift` looked at: the stack sets it checked and those of fleet.toml that
/// do not exist, so that a missing stack set is never read as "no drift".
#[derive(Debug, Clone, Default)]
pub struct DriftReport {
    /// One report per existing stack set.
    pub stack_sets: Vec<StackSetDrift>,
    /// Stack sets of fleet.toml that StackSets does not have.
    pub missing: Vec<String>,
}

/// What a drift report proves: how many instances drifted, and every reason why the report does
/// not cover the whole fleet (a detection that did not succeed, instances it did not check, a
/// missing stack set). Drift is "none" only when both are empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Instances found DRIFTED.
    pub drifted: usize,
    /// Why part of the fleet was not checked, one sentence each; empty when everything was.
    pub not_checked: Vec<String>,
}

impl Verdict {
    /// Whether every instance of every stack set of fleet.toml was checked.
    pub fn complete(&self) -> bool {
        self.not_checked.is_empty()
    }
}

/// Decides what the report proves (pure).
pub fn verdict(report: &DriftReport) -> Verdict {
    let mut not_checked = Vec::new();
    for name in &report.missing {
        not_checked.push(format!(
            "stack set {name} does not exist, so nothing of it was checked"
        ));
    }
    for r in &report.stack_sets {
        match (&r.operation_id, &r.detection_status) {
            (Some(_), Some(OperationStatus::Succeeded)) => {}
            (Some(id), Some(status)) => not_checked.push(format!(
                "{}: drift detection {id} ended {status}, not SUCCEEDED",
                r.name
            )),
            _ => not_checked.push(format!("{}: no drift detection has ever run", r.name)),
        }
        let counts = counts(r);
        for status in ["NOT_CHECKED", "UNKNOWN"] {
            if let Some(&n) = counts.get(status) {
                not_checked.push(format!(
                    "{}: {} {status}",
                    r.name,
                    count(n, "instance is", "instances are")
                ));
            }
        }
    }
    Verdict {
        drifted: drifted(&report.stack_sets),
        not_checked,
    }
}

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
pub fn json(report: &DriftReport) -> String {
    let verdict = verdict(report);
    let value = serde_json::json!({
        "drifted_instances": verdict.drifted,
        "complete": verdict.complete(),
        "not_checked": verdict.not_checked,
        "missing_stack_sets": report.missing,
        "stack_sets": report.stack_sets,
    });
    let mut text = serde_json::to_string_pretty(&value).unwrap_or_default();
    text.push('\n');
    text
}

/// The closing sentence: drift found, none found, or not known, never "no drift" unless every
/// instance was checked.
fn conclusion(verdict: &Verdict) -> String {
    let mut out = if verdict.drifted > 0 {
        format!(
            "{} drifted: someone changed {} outside StackSets. `stackfleet apply` does not revert drift; update the stack set or fix the resources.",
            count(verdict.drifted, "instance", "instances"),
            if verdict.drifted == 1 { "it" } else { "them" }
        )
    } else if verdict.complete() {
        "No drift: every instance matches its template.".to_string()
    } else {
        "Drift unknown: no drift was found in what was checked, but not everything was checked."
            .to_string()
    };
    if !verdict.complete() {
        out.push_str("\nNot checked:");
        for reason in &verdict.not_checked {
            let _ = write!(out, "\n  - {reason}");
        }
    }
    out
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
pub fn table(report: &DriftReport) -> String {
    let reports = &report.stack_sets;
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
    for name in &report.missing {
        let mut row = vec![name.clone(), "stack set does not exist".to_string()];
        row.extend(STATUSES.iter().map(|_| "-".to_string()));
        t.add_row(row);
    }
    let _ = writeln!(out, "{t}");
    // One table per drifted instance, named above it: nine columns do not fit 100.
    let mut groups: Vec<(Vec<String>, Vec<Vec<String>>)> = Vec::new();
    for row in differences(reports) {
        let instance = row[..3].to_vec();
        match groups.last_mut() {
            Some((seen, rows)) if *seen == instance => rows.push(row),
            _ => groups.push((instance, vec![row])),
        }
    }
    if !groups.is_empty() {
        let _ = writeln!(out, "\nChanged outside StackSets:");
    }
    for (instance, rows) in groups {
        let mut d = new_table(&["Resource", "Drift", "Property", "Expected", "Actual"]);
        for row in rows {
            let resource = if row[4] == "-" {
                row[3].clone()
            } else {
                format!("{}\n({})", row[3], row[4])
            };
            d.add_row(vec![
                resource,
                row[5].clone(),
                row[6].clone(),
                row[7].clone(),
                row[8].clone(),
            ]);
        }
        let _ = writeln!(
            out,
            "{}, account {}, {}:\n{d}",
            instance[0], instance[1], instance[2]
        );
    }
    let _ = writeln!(out, "\n{}", conclusion(&verdict(report)));
    super::wrap_text(out)
}

/// The report for a pull-request comment or issue.
pub fn markdown(report: &DriftReport) -> String {
    let reports = &report.stack_sets;
    let verdict = verdict(report);
    let mut out = String::new();
    let title = match (verdict.drifted, verdict.complete()) {
        (0, true) => "no drift".to_string(),
        (0, false) => "drift unknown, not everything was checked".to_string(),
        (n, _) => format!("{} drifted", count(n, "instance", "instances")),
    };
    let _ = writeln!(out, "### stackfleet drift: {title}\n");
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
    for name in &report.missing {
        let _ = writeln!(
            out,
            "| `{}` | stack set does not exist |{}",
            md_cell(name),
            " - |".repeat(STATUSES.len())
        );
    }
    if !verdict.complete() {
        let _ = writeln!(out, "\n**Not checked:**\n");
        for reason in &verdict.not_checked {
            let _ = writeln!(out, "- {}", md_cell(reason));
        }
    }
    let rows = differences(reports);
    if !rows.is_empty() {
        let _ = writeln!(
            out,
            "\n<details><summary>Changed outside StackSets ({})</summary>\n",
            count(rows.len(), "difference", "differences")
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

    use super::{DriftReport, conclusion, differences, verdict};

    fn instance(status: &str) -> InstanceDrift {
        InstanceDrift {
            account: "111111111111".to_string(),
            region: "us-east-1".to_string(),
            drift_status: status.to_string(),
            resources: vec![],
        }
    }

    fn stack_set(detection: Option<OperationStatus>, statuses: &[&str]) -> StackSetDrift {
        StackSetDrift {
            name: "monitor".to_string(),
            operation_id: detection.as_ref().map(|_| "d-1".to_string()),
            detection_status: detection,
            instances: statuses.iter().map(|s| instance(s)).collect(),
        }
    }

    fn report(sets: Vec<StackSetDrift>, missing: &[&str]) -> DriftReport {
        DriftReport {
            stack_sets: sets,
            missing: missing.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn no_drift_only_when_a_succeeded_detection_checked_every_instance() {
        let all_in_sync = report(
            vec![stack_set(
                Some(OperationStatus::Succeeded),
                &["IN_SYNC", "IN_SYNC"],
            )],
            &[],
        );
        let v = verdict(&all_in_sync);
        assert!(v.complete() && v.drifted == 0, "{v:?}");
        assert_eq!(
            conclusion(&v),
            "No drift: every instance matches its template."
        );

        for (case, r, reason) in [
            (
                "failed detection",
                report(
                    vec![stack_set(Some(OperationStatus::Failed), &["IN_SYNC"])],
                    &[],
                ),
                "monitor: drift detection d-1 ended FAILED, not SUCCEEDED",
            ),
            (
                "stopped detection",
                report(
                    vec![stack_set(Some(OperationStatus::Stopped), &["IN_SYNC"])],
                    &[],
                ),
                "monitor: drift detection d-1 ended STOPPED, not SUCCEEDED",
            ),
            (
                "never run",
                report(vec![stack_set(None, &["NOT_CHECKED"])], &[]),
                "monitor: no drift detection has ever run",
            ),
            (
                "unknown instance",
                report(
                    vec![stack_set(
                        Some(OperationStatus::Succeeded),
                        &["IN_SYNC", "UNKNOWN"],
                    )],
                    &[],
                ),
                "monitor: 1 instance is UNKNOWN",
            ),
            (
                "not checked instances",
                report(
                    vec![stack_set(
                        Some(OperationStatus::Succeeded),
                        &["NOT_CHECKED", "NOT_CHECKED"],
                    )],
                    &[],
                ),
                "monitor: 2 instances are NOT_CHECKED",
            ),
            (
                "missing stack set",
                report(vec![], &["monitor"]),
                "stack set monitor does not exist, so nothing of it was checked",
            ),
        ] {
            let v = verdict(&r);
            assert!(!v.complete(), "{case}: {v:?}");
            assert!(v.not_checked.iter().any(|n| n == reason), "{case}: {v:?}");
            let text = conclusion(&v);
            assert!(!text.contains("No drift"), "{case}: {text}");
            assert!(text.contains(reason), "{case}: {text}");
        }
    }

    #[test]
    fn drift_found_is_counted_grammatically_and_keeps_the_unchecked_reasons() {
        let r = report(vec![stack_set(None, &["DRIFTED", "NOT_CHECKED"])], &[]);
        let v = verdict(&r);
        assert_eq!(v.drifted, 1);
        let text = conclusion(&v);
        assert!(text.starts_with("1 instance drifted:"), "{text}");
        assert!(
            text.contains("monitor: 1 instance is NOT_CHECKED"),
            "{text}"
        );
    }

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
