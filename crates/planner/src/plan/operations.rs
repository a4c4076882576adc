//! Operation building: cells to create, delete or repair become StackSets operations, batched
//! into rectangles of accounts × regions and, for service-managed stack sets, split by OU.

use std::collections::{BTreeMap, BTreeSet};

use crate::batch::{Rectangle, partition};
use crate::fleet::PermissionModel;
use crate::inventory::Inventory;
use crate::observed::ObservedInstance;

use super::model::{Operation, OperationAction};

/// StackSets takes at most 50 OUs in one operation's `DeploymentTargets`.
pub const MAX_OUS_PER_OPERATION: usize = 50;

/// The OUs each account's instances were deployed through, by account: looked up once per
/// account of an operation, so a map rather than a scan. Only service-managed operations name
/// OUs; for self-managed stack sets the map stays empty. An account that moved between OUs can
/// have instances recorded under several; an operation names them all, since StackSets selects
/// each instance by its own recorded OU.
pub(super) fn deployed_through(
    model: PermissionModel,
    instances: &[ObservedInstance],
) -> BTreeMap<&str, BTreeSet<&str>> {
    let mut by_account: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    if model == PermissionModel::SelfManaged {
        return by_account;
    }
    for instance in instances {
        let ous = by_account.entry(instance.account.as_str()).or_default();
        ous.extend(instance.organizational_unit_id.as_deref());
    }
    by_account
}

/// The OUs an update or delete names for `account`: those its instances were deployed through,
/// or its current parent when StackSets recorded none.
pub(super) fn recorded_ous(
    deployed_through: &BTreeMap<&str, BTreeSet<&str>>,
    inventory: &Inventory,
    account: &str,
) -> Vec<String> {
    match deployed_through.get(account) {
        Some(ous) if !ous.is_empty() => ous.iter().map(|ou| ou.to_string()).collect(),
        _ => current_parent(inventory, account),
    }
}

/// The OU a create names for `account`: its current parent.
pub(super) fn current_parent(inventory: &Inventory, account: &str) -> Vec<String> {
    inventory
        .accounts
        .get(account)
        .map(|a| vec![a.parent_id.clone()])
        .unwrap_or_default()
}

/// The rectangles of `cells` as operations; service-managed ones also name the accounts' OUs
/// (`ou_of`: sorted, empty when unknown), split so that no operation names more than
/// [`MAX_OUS_PER_OPERATION`].
pub(super) fn operations_for(
    action: OperationAction,
    cells: &BTreeMap<String, BTreeSet<String>>,
    model: PermissionModel,
    ou_of: &dyn Fn(&str) -> Vec<String>,
) -> Vec<Operation> {
    let mut out = Vec::new();
    for Rectangle { accounts, regions } in partition(cells) {
        if model == PermissionModel::SelfManaged {
            out.push(Operation {
                id: String::new(),
                action,
                instances: accounts.len() * regions.len(),
                accounts,
                regions,
                organizational_units: Vec::new(),
                retain_stacks: false,
                estimated_seconds: 0,
            });
            continue;
        }
        let mut by_ous: BTreeMap<Vec<String>, Vec<String>> = BTreeMap::new();
        for account in accounts {
            by_ous.entry(ou_of(&account)).or_default().push(account);
        }
        let mut chunk: (BTreeSet<String>, Vec<String>) = Default::default();
        let mut flush = |chunk: &mut (BTreeSet<String>, Vec<String>)| {
            let (ous, mut accounts) = std::mem::take(chunk);
            if accounts.is_empty() {
                return;
            }
            accounts.sort();
            out.push(Operation {
                id: String::new(),
                action,
                instances: accounts.len() * regions.len(),
                accounts,
                regions: regions.clone(),
                organizational_units: ous.into_iter().collect(),
                retain_stacks: false,
                estimated_seconds: 0,
            });
        };
        for (ous, accounts) in by_ous {
            let new = ous.iter().filter(|ou| !chunk.0.contains(*ou)).count();
            if chunk.0.len() + new > MAX_OUS_PER_OPERATION {
                flush(&mut chunk);
            }
            chunk.0.extend(ous);
            chunk.1.extend(accounts);
        }
        flush(&mut chunk);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_operation_names_more_than_fifty_ous_and_every_account_is_kept() {
        let cells: BTreeMap<String, BTreeSet<String>> = (0..120)
            .map(|i| {
                (
                    format!("{i:012}"),
                    BTreeSet::from(["us-east-1".to_string()]),
                )
            })
            .collect();
        // Every account in its own OU; every third one also recorded under a shared OU.
        let ou_of = |account: &str| {
            let i: usize = account.parse().unwrap();
            let mut ous = vec![format!("ou-{i:04}")];
            if i.is_multiple_of(3) {
                ous.insert(0, "ou-0000-shared".to_string());
            }
            ous
        };
        let ops = operations_for(
            OperationAction::DeleteInstances,
            &cells,
            PermissionModel::ServiceManaged,
            &ou_of,
        );
        assert!(
            ops.iter()
                .all(|op| op.organizational_units.len() <= MAX_OUS_PER_OPERATION)
        );
        let mut accounts: Vec<&String> = ops.iter().flat_map(|op| &op.accounts).collect();
        accounts.sort();
        assert_eq!(accounts, cells.keys().collect::<Vec<_>>());
        for op in &ops {
            for account in &op.accounts {
                for ou in ou_of(account) {
                    assert!(
                        op.organizational_units.contains(&ou),
                        "{account} needs {ou}"
                    );
                }
            }
        }
        assert_eq!(ops.len(), 3, "121 distinct OUs need three operations");
    }
}
