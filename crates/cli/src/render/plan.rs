//! The plan as a table, JSON or Markdown.

use std::fmt::Write;

use stackfleet_planner::Plan;
use stackfleet_planner::plan::{
    Cell, Operation, OperationAction, SkipReason, StackSetAction, StackSetPlan,
};

use super::{abbreviate, count, estimate, md_cell, new_table};

/// Accounts listed per operation before the rest is counted.
const ACCOUNTS_SHOWN: usize = 6;

/// The plan as JSON, the format `apply plan.json` reads.
pub fn json(plan: &Plan) -> String {
    let mut text = serde_json::to_string_pretty(plan).unwrap_or_default();
    text.push('\n');
    text
}

fn action(a: StackSetAction) -> &'static str {
    match a {
        StackSetAction::Create => "create",
        StackSetAction::Update => "update",
        StackSetAction::Delete => "delete",
        StackSetAction::None => "no change",
    }
}

fn operation_action(a: OperationAction) -> &'static str {
    match a {
        OperationAction::CreateInstances => "create instances",
        OperationAction::DeleteInstances => "delete instances",
        OperationAction::UpdateInstances => "retry instances",
        OperationAction::UpdateStackSet => "update stack set",
    }
}

fn reason(r: SkipReason) -> &'static str {
    match r {
        SkipReason::Suspended => "suspended: StackSets cannot deploy to it",
        SkipReason::NotDeployable => {
            "management account: service-managed stack sets never deploy to it"
        }
    }
}

fn operation_accounts(op: &Operation, all: bool) -> String {
    if op.action == OperationAction::UpdateStackSet {
        return "every instance".to_string();
    }
    let list = if all {
        op.accounts.join(", ")
    } else {
        abbreviate(&op.accounts, ACCOUNTS_SHOWN)
    };
    format!(
        "{}: {list}",
        count(op.accounts.len(), "account", "accounts")
    )
}

/// The one-line verdict at the end of every rendering.
pub fn headline(plan: &Plan) -> String {
    let s = &plan.summary;
    if !s.has_changes() {
        return "No changes: StackSets already matches fleet.toml.".to_string();
    }
    let mut parts = Vec::new();
    let sets = [
        (s.create_stack_sets, "to create"),
        (s.update_stack_sets, "to update"),
        (s.delete_stack_sets, "to delete"),
    ];
    let sets: Vec<String> = sets
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
    if !sets.is_empty() {
        parts.push(format!("stack sets: {}", sets.join(", ")));
    }
    let instances = [
        (s.create_instances, "to create"),
        (s.delete_instances, "to delete"),
        (s.update_instances, "to retry"),
    ];
    let instances: Vec<String> = instances
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
    if !instances.is_empty() {
        parts.push(format!("instances: {}", instances.join(", ")));
    }
    format!(
        "Plan: {}; in {}.",
        parts.join("; "),
        count(s.operations, "StackSets operation", "StackSets operations")
    )
}

/// The plan for people: a summary per stack set, changed settings, operations, skipped accounts;
/// with `detail`, every instance and every account.
pub fn table(plan: &Plan, detail: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Plan for fleet {:?}: organization {} (management account {}), stack sets in {}\n",
        plan.fleet,
        plan.organization.id,
        plan.organization.management_account,
        plan.organization.home_region
    );
    let mut summary = new_table(&[
        "Stack set",
        "Action",
        "Regions",
        "Desired",
        "Existing",
        "Create",
        "Delete",
        "Retry",
        "Skipped",
        "Operations",
    ]);
    for s in &plan.stack_sets {
        summary.add_row(vec![
            s.name.clone(),
            action(s.action).to_string(),
            s.regions.join(", "),
            s.desired_instances.to_string(),
            s.existing_instances.to_string(),
            s.create_instances.len().to_string(),
            s.delete_instances.len().to_string(),
            s.update_instances.len().to_string(),
            s.skipped.len().to_string(),
            s.operations.len().to_string(),
        ]);
    }
    let _ = writeln!(out, "{summary}");

    for s in plan.stack_sets.iter().filter(|s| !s.changes.is_empty()) {
        let mut changes = new_table(&["Setting", "Deployed", "fleet.toml"]);
        for c in &s.changes {
            changes.add_row(vec![
                c.field.clone(),
                c.before.clone().unwrap_or_else(|| "-".into()),
                c.after.clone().unwrap_or_else(|| "-".into()),
            ]);
        }
        let _ = writeln!(out, "\nChanges to stack set {}:\n{changes}", s.name);
        if let Some(diff) = &s.template_diff {
            let _ = writeln!(out, "\nTemplate diff of {}:\n{}", s.name, diff.trim_end());
        }
    }

    if plan.stack_sets.iter().any(|s| !s.operations.is_empty()) {
        let mut ops = new_table(&[
            "Stack set",
            "#",
            "Operation",
            "Accounts",
            "Regions",
            "Instances",
            "Estimate",
        ]);
        for s in &plan.stack_sets {
            for (i, op) in s.operations.iter().enumerate() {
                ops.add_row(vec![
                    s.name.clone(),
                    (i + 1).to_string(),
                    operation_action(op.action).to_string(),
                    operation_accounts(op, detail),
                    if op.regions.is_empty() {
                        "all".to_string()
                    } else {
                        op.regions.join(", ")
                    },
                    op.instances.to_string(),
                    estimate::duration(op.estimated_seconds),
                ]);
            }
        }
        let _ = writeln!(
            out,
            "\nOperations, in order (one at a time per stack set):\n{ops}"
        );
    }
    if let Some(total) = estimate::total(plan) {
        let _ = writeln!(out, "\n{total}");
    }
    for warning in estimate::warnings(plan) {
        let _ = writeln!(out, "{warning}");
    }

    let skipped: Vec<(&StackSetPlan, _)> = plan
        .stack_sets
        .iter()
        .flat_map(|s| s.skipped.iter().map(move |k| (s, k)))
        .collect();
    if !skipped.is_empty() {
        let mut t = new_table(&["Stack set", "Account", "Name", "Not deployed because"]);
        for (s, k) in skipped {
            t.add_row(vec![
                s.name.clone(),
                k.account.clone(),
                k.account_name.clone(),
                reason(k.reason).to_string(),
            ]);
        }
        let _ = writeln!(out, "\nTargeted accounts that get no instance:\n{t}");
    }

    if detail {
        let mut t = new_table(&["Stack set", "Change", "Account", "Region"]);
        let mut any = false;
        for s in &plan.stack_sets {
            for (what, cells) in [
                ("delete", &s.delete_instances),
                ("retry", &s.update_instances),
                ("create", &s.create_instances),
            ] {
                for Cell { account, region } in cells {
                    any = true;
                    t.add_row(vec![
                        s.name.clone(),
                        what.to_string(),
                        account.clone(),
                        region.clone(),
                    ]);
                }
            }
        }
        if any {
            let _ = writeln!(out, "\nInstances:\n{t}");
        }
    } else if plan.summary.has_changes() {
        let _ = writeln!(out, "\n(--detail lists every instance and account)");
    }
    let _ = writeln!(out, "\n{}", headline(plan));
    out
}

/// The plan for a pull-request comment: the verdict and summary first, details folded.
pub fn markdown(plan: &Plan) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "### stackfleet plan: `{}`\n", md_cell(&plan.fleet));
    let _ = writeln!(out, "**{}**\n", headline(plan));
    if let Some(total) = estimate::total(plan) {
        let _ = writeln!(out, "{total}\n");
    }
    let warnings = estimate::warnings(plan);
    if !warnings.is_empty() {
        let _ = writeln!(out, "> [!WARNING]");
        for w in &warnings {
            let _ = writeln!(
                out,
                "> {}",
                md_cell(w.trim_start_matches("warning: ").trim())
            );
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(
        out,
        "Organization `{}`, management account `{}`, stack sets in `{}`.\n",
        plan.organization.id, plan.organization.management_account, plan.organization.home_region
    );
    let _ = writeln!(
        out,
        "| Stack set | Action | Regions | Desired | Existing | Create | Delete | Retry | Skipped | Operations |"
    );
    let _ = writeln!(out, "|---|---|---|--:|--:|--:|--:|--:|--:|--:|");
    for s in &plan.stack_sets {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            md_cell(&s.name),
            action(s.action),
            s.regions.join(", "),
            s.desired_instances,
            s.existing_instances,
            s.create_instances.len(),
            s.delete_instances.len(),
            s.update_instances.len(),
            s.skipped.len(),
            s.operations.len()
        );
    }
    for s in plan.stack_sets.iter().filter(|s| !s.changes.is_empty()) {
        let _ = writeln!(
            out,
            "\n<details><summary>Changes to <code>{}</code></summary>\n",
            md_cell(&s.name)
        );
        let _ = writeln!(out, "| Setting | Deployed | fleet.toml |\n|---|---|---|");
        for c in &s.changes {
            let _ = writeln!(
                out,
                "| `{}` | {} | {} |",
                md_cell(&c.field),
                md_cell(c.before.as_deref().unwrap_or("-")),
                md_cell(c.after.as_deref().unwrap_or("-"))
            );
        }
        if let Some(diff) = &s.template_diff {
            let _ = writeln!(out, "\n```diff\n{}\n```", diff.trim_end());
        }
        let _ = writeln!(out, "\n</details>");
    }
    if plan.stack_sets.iter().any(|s| !s.operations.is_empty()) {
        let _ = writeln!(out, "\n<details><summary>Operations</summary>\n");
        let _ = writeln!(
            out,
            "| Stack set | # | Operation | Accounts | Regions | Instances | Estimate |\n|---|--:|---|---|---|--:|--:|"
        );
        for s in &plan.stack_sets {
            for (i, op) in s.operations.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "| `{}` | {} | {} | {} | {} | {} | {} |",
                    md_cell(&s.name),
                    i + 1,
                    operation_action(op.action),
                    md_cell(&operation_accounts(op, true)),
                    if op.regions.is_empty() {
                        "all".to_string()
                    } else {
                        op.regions.join(", ")
                    },
                    op.instances,
                    estimate::duration(op.estimated_seconds)
                );
            }
        }
        let _ = writeln!(out, "\n</details>");
    }
    let skipped: Vec<_> = plan
        .stack_sets
        .iter()
        .flat_map(|s| s.skipped.iter().map(move |k| (s, k)))
        .collect();
    if !skipped.is_empty() {
        let _ = writeln!(
            out,
            "\n<details><summary>Targeted accounts that get no instance ({})</summary>\n",
            skipped.len()
        );
        let _ = writeln!(
            out,
            "| Stack set | Account | Name | Not deployed because |\n|---|---|---|---|"
        );
        for (s, k) in skipped {
            let _ = writeln!(
                out,
                "| `{}` | `{}` | {} | {} |",
                md_cell(&s.name),
                k.account,
                md_cell(&k.account_name),
                reason(k.reason)
            );
        }
        let _ = writeln!(out, "\n</details>");
    }
    out
}
