//! What apply did, as a table or JSON.

use std::collections::BTreeMap;
use std::fmt::Write;

use stackfleet_executor::ApplyReport;
use stackfleet_planner::Plan;
use stackfleet_planner::fleet::CallAs;
use stackfleet_planner::plan::Operation;

use super::{count, new_table};
use crate::progress::action_label;

/// The calls that start a StackSets operation (or change a stack set): one in flight at Ctrl-C
/// may have reached AWS.
const MUTATING: &[&str] = &[
    "CreateStackInstances",
    "UpdateStackInstances",
    "DeleteStackInstances",
    "UpdateStackSet",
    "CreateStackSet",
    "DeleteStackSet",
];

/// What Ctrl-C says (after "interrupted; "): the operations this apply started that go on in AWS,
/// with the commands to follow and stop each, those that ended, those never started, and what to
/// do. `running` and `ended` are by operation id: stack set, and stack set with final status.
pub fn interrupted(
    plan: Option<&Plan>,
    running: &BTreeMap<String, String>,
    ended: &BTreeMap<String, (String, String)>,
    calls_in_flight: &[String],
) -> String {
    let Some(plan) = plan else {
        return "no StackSets operation was running: apply was still reading and planning, and changed nothing".to_string();
    };
    let find = |id: &str| -> Option<&Operation> {
        plan.stack_sets
            .iter()
            .flat_map(|s| &s.operations)
            .find(|o| o.id == id)
    };
    let what = |op: Option<&Operation>| {
        op.map(|o| {
            format!(
                " ({}, {})",
                action_label(o.action),
                count(o.instances, "instance", "instances")
            )
        })
        .unwrap_or_default()
    };
    let aws = |verb: &str, set: &str, id: &str| {
        format!(
            "aws cloudformation {verb} --region {}{} --stack-set-name {set} --operation-id {id}",
            plan.organization.home_region,
            match plan.organization.call_as {
                CallAs::DelegatedAdmin => " --call-as DELEGATED_ADMIN",
                CallAs::SelfAccount => "",
            }
        )
    };
    let mut out = String::new();
    if running.is_empty() {
        out.push_str("no StackSets operation was running");
    } else {
        out.push_str("these StackSets operations go on in AWS:");
        for (id, set) in running {
            let _ = write!(
                out,
                "\n    {set}: {id}{}\n      follow: {}\n      stop:   {}",
                what(find(id)),
                aws("describe-stack-set-operation", set, id),
                aws("stop-stack-set-operation", set, id)
            );
        }
    }
    if !ended.is_empty() {
        out.push_str("\n  ended before the interrupt:");
        // In the plan's order, then any other.
        let planned = plan.stack_sets.iter().flat_map(|s| &s.operations);
        let order: Vec<&String> = planned
            .map(|o| &o.id)
            .filter(|id| ended.contains_key(*id))
            .chain(ended.keys().filter(|id| find(id).is_none()))
            .collect();
        for id in order {
            let (set, status) = &ended[id];
            let _ = write!(out, "\n    {set}: {id} {status}{}", what(find(id)));
        }
    }
    let not_started: Vec<(&str, &Operation)> = plan
        .stack_sets
        .iter()
        .flat_map(|s| s.operations.iter().map(move |o| (s.name.as_str(), o)))
        .filter(|(_, o)| !running.contains_key(&o.id) && !ended.contains_key(&o.id))
        .collect();
    if !not_started.is_empty() {
        out.push_str("\n  not started:");
        for (set, op) in &not_started {
            let _ = write!(
                out,
                "\n    {set}: {} ({})",
                action_label(op.action),
                count(op.instances, "instance", "instances")
            );
        }
    }
    for call in calls_in_flight
        .iter()
        .filter(|c| MUTATING.iter().any(|m| c.ends_with(m)))
    {
        let _ = write!(
            out,
            "\n  a {call} call was under way: AWS may have started its operation; the next apply finds it by its id"
        );
    }
    out.push_str(if !running.is_empty() {
        "\n  stopping stackfleet does not stop them; run `stackfleet apply` again to wait for them and finish the rollout"
    } else if !not_started.is_empty() {
        "\n  run `stackfleet apply` again to finish the rollout"
    } else {
        "\n  run `stackfleet plan` to see where the fleet stands"
    });
    out
}

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
    // Five columns keep an operation id (35 characters) whole at 100 columns.
    let mut ops = new_table(&["Stack set", "Operation", "Id", "Instances", "Status"]);
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
                format!(
                    "{}{}{}",
                    op.status,
                    if op.failures.is_empty() {
                        String::new()
                    } else {
                        format!(", {} failed", op.failures.len())
                    },
                    op.status_reason
                        .as_ref()
                        .map(|r| format!(": {r}"))
                        .unwrap_or_default()
                ),
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
    super::wrap_text(out)
}
