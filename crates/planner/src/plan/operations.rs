//! Operation building: cells to create, delete or repair become StackSets operations, batched
//! into rectangles of accounts × regions and, for service-managed stack sets, split by OU.

use std::collections::{BTreeMap, BTreeSet};

use crate::batch::{Rectangle, partition};
use crate::fleet::PermissionModel;
use crate::observed::ObservedInstance;

use super::model::{Operation, OperationAction};

/// StackSets takes at most 50 OUs in one operation's `DeploymentTargets`.
pub const MAX_OUS_PER_OPERATION: usize = 50;

/// The OU each account was deployed through, by account: looked up once per account of an
/// operation, so a map rather than a scan. Only service-managed operations name OUs; for
/// self-managed stack sets the map stays empty. Where an account's instances name different OUs,
/// its least instance (by region first) decides, whatever order StackSets listed them in.
pub(super) fn deployed_through(
    model: PermissionModel,
    instances: &[ObservedInstance],
) -> BTreeMap<&str, Option<&str>> {
    if model == PermissionModel::SelfManaged {
        return BTreeMap::new();
    }
    let mut first: BTreeMap<&str, &ObservedInstance> = BTreeMap::new();
    for instance in instances {
        first
            .entry(instance.account.as_str())
            .and_modify(|least| *least = (*least).min(instance))
            .or_insert(instance);
    }
    first
        .into_iter()
        .map(|(account, instance)| (account, instance.organizational_unit_id.as_deref()))
        .collect()
}

/// The rectangles of `cells` as operations; service-managed ones also name the accounts' OUs,
/// split so that no operation names more than [`MAX_OUS_PER_OPERATION`].
pub(super) fn operations_for(
    action: OperationAction,
    cells: &BTreeMap<String, BTreeSet<String>>,
    model: PermissionModel,
    ou_of: &dyn Fn(&str) -> Option<String>,
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
                estimated_seconds: 0,
            });
            continue;
        }
        let mut by_ou: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for account in accounts {
            let ou = ou_of(&account).unwrap_or_default();
            by_ou.entry(ou).or_default().push(account);
        }
        let groups: Vec<(String, Vec<String>)> = by_ou.into_iter().collect();
        for chunk in groups.chunks(MAX_OUS_PER_OPERATION) {
            let mut accounts: Vec<String> = chunk.iter().flat_map(|(_, a)| a.clone()).collect();
            accounts.sort();
            out.push(Operation {
                id: String::new(),
                action,
                instances: accounts.len() * regions.len(),
                accounts,
                regions: regions.clone(),
                organizational_units: chunk
                    .iter()
                    .map(|(ou, _)| ou.clone())
                    .filter(|ou| !ou.is_empty())
                    .collect(),
                estimated_seconds: 0,
            });
        }
    }
    out
}
