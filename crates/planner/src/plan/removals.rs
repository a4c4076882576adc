//! What applying a plan removes from the accounts: what the `--allow-delete` guard counts.
//!
//! Counted from the operations and the template change of each stack set, never from the plan's
//! summary (a saved plan's summary is only a claim): instances deleted, and resources that an
//! update removes from each stack that stays.

use std::collections::BTreeMap;

use serde::Serialize;

use super::model::{OperationAction, Plan, StackSetAction};

/// What one account loses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct AccountRemovals {
    /// Stack instances deleted (those that keep their stacks included: they leave the stack set).
    pub instances: usize,
    /// Template resources removed, once per stack that loses them.
    pub resources: usize,
}

/// What a plan removes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Removals {
    /// Stack sets deleted.
    pub stack_sets: Vec<String>,
    /// Per account.
    pub by_account: BTreeMap<String, AccountRemovals>,
    /// The logical ids that leave, by stack set.
    pub resources: BTreeMap<String, Vec<String>>,
}

impl Removals {
    /// Instances deleted, all accounts together.
    pub fn instances(&self) -> usize {
        self.by_account.values().map(|a| a.instances).sum()
    }

    /// Resources removed, once per stack, all accounts together.
    pub fn resources_removed(&self) -> usize {
        self.by_account.values().map(|a| a.resources).sum()
    }

    /// Everything removed: instances plus resources.
    pub fn total(&self) -> usize {
        self.instances() + self.resources_removed()
    }

    /// Accounts that lose anything.
    pub fn accounts(&self) -> usize {
        self.by_account
            .values()
            .filter(|a| a.instances + a.resources > 0)
            .count()
    }

    /// In words, for the guard's message: "2 stack sets (a, b) and 7 instances in 3 accounts and
    /// 4 resources in 4 accounts (Rule, Topic from marker)"; empty when nothing is removed.
    pub fn describe(&self) -> String {
        let mut what = Vec::new();
        if !self.stack_sets.is_empty() {
            what.push(format!(
                "{} ({})",
                count(self.stack_sets.len(), "stack set", "stack sets"),
                self.stack_sets.join(", ")
            ));
        }
        let instances = self.instances();
        if instances > 0 {
            let accounts = self.by_account.values().filter(|a| a.instances > 0).count();
            what.push(format!(
                "{} in {}",
                count(instances, "instance", "instances"),
                count(accounts, "account", "accounts")
            ));
        }
        let resources = self.resources_removed();
        if resources > 0 {
            let names: Vec<String> = self
                .resources
                .iter()
                .map(|(set, ids)| format!("{} from {set}", ids.join(", ")))
                .collect();
            let accounts = self.by_account.values().filter(|a| a.resources > 0).count();
            what.push(format!(
                "{} in {} ({})",
                count(resources, "resource", "resources"),
                count(accounts, "account", "accounts"),
                names.join("; ")
            ));
        }
        what.join(" and ")
    }
}

/// What applying `plan` removes.
pub fn removals(plan: &Plan) -> Removals {
    let mut out = Removals::default();
    for set in &plan.stack_sets {
        if set.action == StackSetAction::Delete {
            out.stack_sets.push(set.name.clone());
        }
        for op in set
            .operations
            .iter()
            .filter(|o| o.action == OperationAction::DeleteInstances)
        {
            for account in &op.accounts {
                out.by_account.entry(account.clone()).or_default().instances += op.regions.len();
            }
        }
        let updates = set
            .operations
            .iter()
            .any(|o| o.action == OperationAction::UpdateStackSet);
        if updates && !set.removed_resources.is_empty() {
            out.resources
                .insert(set.name.clone(), set.removed_resources.clone());
            for cell in &set.update_instances {
                out.by_account
                    .entry(cell.account.clone())
                    .or_default()
                    .resources += set.removed_resources.len();
            }
        }
    }
    out
}

/// `n` with the singular or plural noun.
fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}
