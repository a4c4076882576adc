//! The instance diff: which account × region instances a stack set must create, delete or run
//! again, from the accounts it wants and the instances StackSets has.

use std::collections::{BTreeMap, BTreeSet};

use crate::observed::ObservedInstance;

use super::model::Cell;

/// Regions by account: the cells of one kind of change.
pub(super) type CellsByAccount = BTreeMap<String, BTreeSet<String>>;

/// A set of a stack set's regions, one bit each. fleet.toml only accepts known regions, and there
/// are fewer of them than bits.
type RegionMask = u128;
const _: () = assert!(crate::regions::KNOWN_REGIONS.len() <= RegionMask::BITS as usize);

/// What happens to a stack set's instances.
#[derive(Debug, Default)]
pub(super) struct InstanceDiff {
    /// Desired cells with no instance.
    pub create: CellsByAccount,
    /// Instances outside the desired cells, in accounts that can be touched.
    pub delete: CellsByAccount,
    /// Desired instances that failed, were cancelled, never ran, or were skipped while their
    /// account (active again) was suspended.
    pub repair: CellsByAccount,
}

/// Compares the desired cells (`desired` accounts × `regions`) with `instances`. Instances of
/// `untouchable` accounts are never deleted; `held` cells have an instance that is neither
/// deleted nor run again; `repair` is false when an update of the stack set runs every instance
/// again anyway.
pub(super) fn instance_diff(
    regions: &[String],
    desired: &BTreeSet<String>,
    instances: &[&ObservedInstance],
    held: &BTreeSet<(&str, &str)>,
    untouchable: &BTreeSet<&str>,
    repair: bool,
) -> InstanceDiff {
    // The governed regions as bits, and the ones each desired account has: one account look-up
    // per instance, instead of a search among all (account, region) pairs per desired instance.
    let mut region_bit: BTreeMap<&str, RegionMask> = BTreeMap::new();
    for region in regions {
        let next = 1 << region_bit.len();
        region_bit.entry(region.as_str()).or_insert(next);
    }
    let governed = region_bit.values().fold(0, |all, bit| all | bit);
    let mut present: BTreeMap<&str, RegionMask> = desired
        .iter()
        .map(|account| (account.as_str(), 0))
        .collect();
    let mut diff = InstanceDiff::default();
    for (account, region) in held {
        if let (Some(has), Some(bit)) = (present.get_mut(account), region_bit.get(region)) {
            *has |= bit;
        }
    }
    for instance in instances {
        let bit = region_bit.get(instance.region.as_str());
        match (present.get_mut(instance.account.as_str()), bit) {
            (Some(has), Some(bit)) => {
                *has |= bit;
                // A desired account is active: one skipped while it was suspended runs again.
                if repair && (instance.needs_repair() || instance.is_skipped_suspended()) {
                    diff.repair
                        .entry(instance.account.clone())
                        .or_default()
                        .insert(instance.region.clone());
                }
            }
            _ if !untouchable.contains(instance.account.as_str()) => {
                diff.delete
                    .entry(instance.account.clone())
                    .or_default()
                    .insert(instance.region.clone());
            }
            _ => {}
        }
    }
    for (account, has) in present {
        let missing = governed & !has;
        if missing != 0 {
            let regions = region_bit
                .iter()
                .filter(|(_, bit)| missing & **bit != 0)
                .map(|(region, _)| region.to_string())
                .collect();
            diff.create.insert(account.to_string(), regions);
        }
    }
    diff
}

/// Every instance, by account: what deleting a whole stack set removes.
pub(super) fn all_instances(instances: &[&ObservedInstance]) -> CellsByAccount {
    let mut by_account = CellsByAccount::new();
    for instance in instances {
        by_account
            .entry(instance.account.clone())
            .or_default()
            .insert(instance.region.clone());
    }
    by_account
}

/// How many cells.
pub(super) fn count(cells: &CellsByAccount) -> usize {
    cells.values().map(BTreeSet::len).sum()
}

/// The cells one by one, by account then region.
pub(super) fn cells(by_account: &CellsByAccount) -> Vec<Cell> {
    by_account
        .iter()
        .flat_map(|(account, regions)| {
            regions.iter().map(move |region| Cell {
                account: account.clone(),
                region: region.clone(),
            })
        })
        .collect()
}
