//! The plan as a table, JSON or Markdown.

use std::fmt::Write;

use stackfleet_planner::plan::MASK;
use stackfleet_planner::plan::{
    Cell, FieldChange, Operation, OperationAction, SkipReason, SkippedAccount, StackSetAction,
    StackSetPlan,
};
use std::collections::BTreeMap;

use stackfleet_planner::{Inventory, Plan, template};

use super::{count, estimate, md_cell, new_table};

/// Accounts listed per operation before the rest is counted.
const ACCOUNTS_SHOWN: usize = 6;

/// Account names by id, shown beside the ids.
pub type Names = BTreeMap<String, String>;

/// The names of the organization's accounts.
pub fn names(inventory: &Inventory) -> Names {
    inventory
        .accounts
        .values()
        .map(|a| (a.id.clone(), a.name.clone()))
        .collect()
}

/// `id (name)`, or the id alone when the organization does not know it.
fn named(id: &str, names: &Names) -> String {
    match names.get(id) {
        Some(name) if !name.is_empty() => format!("{id} ({name})"),
        _ => id.to_string(),
    }
}

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

/// The stack set's action, and whether the plan takes it over (`adopt = true`).
fn shown_action(s: &StackSetPlan) -> &'static str {
    if s.adopt {
        "adopt + update"
    } else {
        action(s.action)
    }
}

/// The operation as the plan names it; a delete that keeps the stacks says so.
fn operation_label(op: &Operation) -> String {
    let label = operation_action(op.action);
    if op.retain_stacks {
        format!("{label} (keep stacks)")
    } else {
        label.to_string()
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

fn reason(k: &SkippedAccount) -> String {
    match k.reason {
        SkipReason::Suspended => "suspended: StackSets cannot deploy to it".to_string(),
        SkipReason::NotDeployable => {
            "management account: service-managed stack sets never deploy to it".to_string()
        }
        SkipReason::RegionNotEnabled => format!(
            "opt-in region {} not enabled (in the account or the administrator account): \
             StackSets cannot deploy there",
            k.regions.join(", ")
        ),
    }
}

/// Skipped cells, as coverage counts them: an account skipped as a whole in every region.
fn skipped_cells(s: &StackSetPlan) -> usize {
    s.skipped
        .iter()
        .map(|k| {
            if k.regions.is_empty() {
                s.regions.len()
            } else {
                k.regions.len()
            }
        })
        .sum()
}

/// The accounts of an operation with their names: one a line for a table (`separator` "\n"),
/// or in a row for Markdown; the first [`ACCOUNTS_SHOWN`] unless `all`.
fn operation_accounts(op: &Operation, names: &Names, all: bool, separator: &str) -> String {
    // Unscoped, an update runs on every instance; scoped, it names accounts like the others.
    if op.action == OperationAction::UpdateStackSet && op.accounts.is_empty() {
        return "every instance".to_string();
    }
    let shown: Vec<String> = op
        .accounts
        .iter()
        .take(if all { usize::MAX } else { ACCOUNTS_SHOWN })
        .map(|a| named(a, names))
        .collect();
    let rest = op.accounts.len() - shown.len();
    // One a line needs no commas.
    let joint = if separator == "\n" { "\n" } else { ", " };
    format!(
        "{}:{separator}{}{}",
        count(op.accounts.len(), "account", "accounts"),
        shown.join(joint),
        if rest > 0 {
            format!("{joint}… and {rest} more")
        } else {
            String::new()
        }
    )
}

/// The "Deployed" and "fleet.toml" cells of a changed setting. The template's change carries no
/// values: it says how many lines change and points at the diff, never "-" and "-".
fn change_cells(s: &StackSetPlan, c: &FieldChange) -> (String, String) {
    match (&s.template_diff, c.field.as_str()) {
        (Some(diff), "template") => {
            let lines = |sign: char, other: &str| {
                diff.lines()
                    .filter(|l| l.starts_with(sign) && !l.starts_with(other))
                    .count()
            };
            let (removed, added) = (lines('-', "---"), lines('+', "+++"));
            // Resources that leave every stack are a deletion reviewers must see by name.
            let leaving = if s.removed_resources.is_empty() {
                String::new()
            } else {
                format!(
                    "; removes {} from every stack: {}",
                    count(s.removed_resources.len(), "resource", "resources"),
                    s.removed_resources.join(", ")
                )
            };
            (
                format!("{} removed", count(removed, "line", "lines")),
                format!(
                    "{} added (template diff below){leaving}",
                    count(added, "line", "lines")
                ),
            )
        }
        _ => (
            c.before.clone().unwrap_or_else(|| "-".into()),
            c.after.clone().unwrap_or_else(|| "-".into()),
        ),
    }
}

/// What a stack set to create will hold, as (setting, value) rows: the template's size and
/// resources, every parameter (NoEcho ones masked, whatever the plan holds), tags, capabilities.
fn new_stack_set_rows(s: &StackSetPlan) -> Vec<(String, String)> {
    let Some(d) = &s.desired else {
        return Vec::new();
    };
    let resources = template::resource_types(&d.template_body);
    let listed: Vec<String> = resources
        .iter()
        .map(|(id, kind)| format!("{id} ({kind})"))
        .collect();
    let mut rows = vec![(
        "template".to_string(),
        // One resource a line, so that the column stays narrow.
        format!(
            "{}, {}:\n{}",
            count(d.template_body.lines().count(), "line", "lines"),
            count(resources.len(), "resource", "resources"),
            listed.join("\n")
        ),
    )];
    if let Some(description) = &d.description {
        rows.push(("description".to_string(), description.clone()));
    }
    for (key, value) in &d.parameters {
        let shown = if d.no_echo_parameters.contains(key) {
            MASK.to_string()
        } else {
            value.clone()
        };
        rows.push((format!("parameters.{key}"), shown));
    }
    for (key, value) in &d.tags {
        rows.push((format!("tags.{key}"), value.clone()));
    }
    let capabilities: Vec<&str> = d.capabilities.iter().map(String::as_str).collect();
    rows.push((
        "capabilities".to_string(),
        if capabilities.is_empty() {
            "none".to_string()
        } else {
            capabilities.join(", ")
        },
    ));
    rows.push((
        "managed_execution".to_string(),
        if s.managed_execution {
            "active"
        } else {
            "inactive"
        }
        .to_string(),
    ));
    rows
}

/// The line that says apply will refuse without `--allow-delete`, given what the guard refuses
/// (`None`: nothing, so no line); a Markdown callout or a plain line.
pub fn delete_guard_note(refused: Option<&str>, markdown: bool) -> String {
    match (refused, markdown) {
        (None, _) => String::new(),
        (Some(what), false) => {
            format!("\nApply will need --allow-delete: this plan deletes {what}.\n")
        }
        (Some(what), true) => format!(
            "\n> [!CAUTION]\n> Apply will need `--allow-delete`: this plan deletes {}.\n",
            md_cell(what)
        ),
    }
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
        (s.update_instances, "to update"),
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
pub fn table(plan: &Plan, names: &Names, detail: bool) -> String {
    table_with(plan, names, detail, true)
}

/// The plan as apply shows it before carrying it out: [`table`] without the hint about
/// `--detail`, a flag of `plan` only.
pub fn apply_table(plan: &Plan, names: &Names) -> String {
    table_with(plan, names, false, false)
}

fn table_with(plan: &Plan, names: &Names, detail: bool, detail_hint: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Plan for fleet {:?}\nOrganization {} (management account {}), stack sets in {}\n",
        plan.fleet,
        plan.organization.id,
        plan.organization.management_account,
        plan.organization.home_region
    );
    // Eight columns fit 100 with a stack set name of 17 characters unbroken: existing and
    // desired share one column, and the operations are counted in their own table below.
    let mut summary = new_table(&[
        "Stack set",
        "Action",
        "Regions",
        "Existing → desired",
        "Create",
        "Delete",
        "Update",
        "Skipped",
    ]);
    for s in &plan.stack_sets {
        summary.add_row(vec![
            s.name.clone(),
            shown_action(s).to_string(),
            s.regions.join(", "),
            format!("{} → {}", s.existing_instances, s.desired_instances),
            s.create_instances.len().to_string(),
            s.delete_instances.len().to_string(),
            s.update_instances.len().to_string(),
            skipped_cells(s).to_string(),
        ]);
    }
    let _ = writeln!(out, "{summary}");

    for s in plan.stack_sets.iter().filter(|s| !s.changes.is_empty()) {
        let mut changes = new_table(&["Setting", "Deployed", "fleet.toml"]);
        for c in &s.changes {
            let (before, after) = change_cells(s, c);
            changes.add_row(vec![c.field.clone(), before, after]);
        }
        let _ = writeln!(out, "\nChanges to stack set {}:\n{changes}", s.name);
        if let Some(diff) = &s.template_diff {
            let _ = writeln!(out, "\nTemplate diff of {}:\n{}", s.name, diff.trim_end());
        }
    }

    for s in plan
        .stack_sets
        .iter()
        .filter(|s| s.action == StackSetAction::Create)
    {
        let mut t = new_table(&["Setting", "fleet.toml"]);
        for (setting, value) in new_stack_set_rows(s) {
            t.add_row(vec![setting, value]);
        }
        let _ = writeln!(out, "\nNew stack set {}:\n{t}", s.name);
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
        // Operations apply starts together (ManagedExecution) share their number.
        let mut together = false;
        for s in &plan.stack_sets {
            let runs = stackfleet_planner::plan::concurrent_runs(s);
            together |= runs.iter().any(|r| r.len() > 1);
            let turn = |i: usize| runs.iter().position(|r| r.contains(&i)).unwrap_or(i) + 1;
            for (i, op) in s.operations.iter().enumerate() {
                ops.add_row(vec![
                    s.name.clone(),
                    turn(i).to_string(),
                    operation_label(op),
                    operation_accounts(op, names, detail, "\n"),
                    // One a line, like the accounts: the accounts' names get the width.
                    if op.regions.is_empty() {
                        "all".to_string()
                    } else {
                        op.regions.join("\n")
                    },
                    op.instances.to_string(),
                    estimate::duration(op.estimated_seconds),
                ]);
            }
        }
        let order = if together {
            "per stack set, one after another; the same # start together (ManagedExecution)"
        } else {
            "one at a time per stack set"
        };
        let _ = writeln!(out, "\nOperations, in order ({order}):\n{ops}");
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
                reason(k).to_string(),
            ]);
        }
        let _ = writeln!(out, "\nTargeted accounts that get no instance:\n{t}");
    }

    out.push_str(&super::findings::table(plan));

    if detail {
        let mut t = new_table(&["Stack set", "Change", "Account", "Region"]);
        let mut any = false;
        for s in &plan.stack_sets {
            for (what, cells) in [
                ("delete", &s.delete_instances),
                ("update", &s.update_instances),
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
    } else if plan.summary.has_changes() && detail_hint {
        let _ = writeln!(out, "\n(--detail lists every instance and account)");
    }
    let _ = writeln!(out, "\n{}", headline(plan));
    super::wrap_text(out)
}

/// The plan for a pull-request comment: the verdict and summary first, details folded.
pub fn markdown(plan: &Plan, names: &Names) -> String {
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
        "| Stack set | Action | Regions | Desired | Existing | Create | Delete | Update | Skipped | Operations |"
    );
    let _ = writeln!(out, "|---|---|---|--:|--:|--:|--:|--:|--:|--:|");
    for s in &plan.stack_sets {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            md_cell(&s.name),
            shown_action(s),
            s.regions.join(", "),
            s.desired_instances,
            s.existing_instances,
            s.create_instances.len(),
            s.delete_instances.len(),
            s.update_instances.len(),
            skipped_cells(s),
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
            let (before, after) = change_cells(s, c);
            let _ = writeln!(
                out,
                "| `{}` | {} | {} |",
                md_cell(&c.field),
                md_cell(&before),
                md_cell(&after)
            );
        }
        if let Some(diff) = &s.template_diff {
            let _ = writeln!(out, "\n```diff\n{}\n```", diff.trim_end());
        }
        let _ = writeln!(out, "\n</details>");
    }
    for s in plan
        .stack_sets
        .iter()
        .filter(|s| s.action == StackSetAction::Create)
    {
        let _ = writeln!(
            out,
            "\n<details><summary>New stack set <code>{}</code></summary>\n",
            md_cell(&s.name)
        );
        let _ = writeln!(out, "| Setting | fleet.toml |\n|---|---|");
        for (setting, value) in new_stack_set_rows(s) {
            let _ = writeln!(out, "| `{}` | {} |", md_cell(&setting), md_cell(&value));
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
                    operation_label(op),
                    md_cell(&operation_accounts(op, names, true, " ")),
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
                reason(k)
            );
        }
        let _ = writeln!(out, "\n</details>");
    }
    out.push_str(&super::findings::markdown(plan));
    out
}

#[cfg(test)]
mod tests {
    use stackfleet_planner::fleet::PermissionModel;
    use stackfleet_planner::plan::{
        DesiredStackSet, FieldChange, MASK, StackSetAction, StackSetPlan,
    };

    use super::{change_cells, delete_guard_note, new_stack_set_rows};

    fn created(parameters: &[(&str, &str)], no_echo: &[&str]) -> StackSetPlan {
        StackSetPlan {
            name: "monitor".into(),
            action: StackSetAction::Create,
            adopt: false,
            instance_time: None,
            managed_execution: false,
            permission_model: PermissionModel::SelfManaged,
            call_as: stackfleet_planner::fleet::CallAs::SelfAccount,
            regions: vec!["us-east-1".into()],
            changes: vec![],
            template_diff: None,
            desired_instances: 1,
            existing_instances: 0,
            create_instances: vec![],
            delete_instances: vec![],
            update_instances: vec![],
            skipped: vec![],
            operations: vec![],
            desired: Some(DesiredStackSet {
                description: None,
                template_body: "Resources:\n  Role:\n    Type: AWS::IAM::Role\n".into(),
                parameters: parameters
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                no_echo_parameters: no_echo.iter().map(|k| k.to_string()).collect(),
                tags: [("owner".to_string(), "security".to_string())].into(),
                capabilities: ["CAPABILITY_IAM".to_string()].into(),
                administration_role_arn: None,
                execution_role_name: None,
                auto_deployment: None,
                retain_stacks_on_delete: false,
                rollout: Default::default(),
                managed_execution: None,
            }),
            removed_resources: Vec::new(),
            findings: Vec::new(),
            rollout: None,
        }
    }

    #[test]
    fn a_new_stack_set_shows_template_parameters_masked_tags_and_capabilities() {
        let rows = new_stack_set_rows(&created(
            &[("Email", "sec@example.com"), ("Token", "hunter2")],
            &["Token"],
        ));
        let text: Vec<String> = rows.iter().map(|(k, v)| format!("{k}={v}")).collect();
        assert_eq!(
            text,
            [
                "template=3 lines, 1 resource:\nRole (AWS::IAM::Role)".to_string(),
                "parameters.Email=sec@example.com".to_string(),
                format!("parameters.Token={MASK}"),
                "tags.owner=security".to_string(),
                "capabilities=CAPABILITY_IAM".to_string(),
                "managed_execution=inactive".to_string(),
            ]
        );
        assert!(!text.concat().contains("hunter2"));
    }

    #[test]
    fn a_template_change_counts_its_lines_instead_of_dashes() {
        let mut plan = created(&[], &[]);
        plan.template_diff =
            Some("--- deployed\n+++ fleet.toml\n@@ -1,2 +1,3 @@\n a\n-b\n+c\n+d\n".to_string());
        let change = FieldChange {
            field: "template".into(),
            before: None,
            after: None,
        };
        assert_eq!(
            change_cells(&plan, &change),
            (
                "1 line removed".to_string(),
                "2 lines added (template diff below)".to_string()
            )
        );
    }

    #[test]
    fn the_guard_note_appears_only_when_apply_would_refuse() {
        assert_eq!(delete_guard_note(None, false), "");
        assert_eq!(
            delete_guard_note(Some("6 instances"), false),
            "\nApply will need --allow-delete: this plan deletes 6 instances.\n"
        );
        assert!(delete_guard_note(Some("6 instances"), true).contains("> [!CAUTION]"));
    }
}
