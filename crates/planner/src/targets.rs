//! Target resolution: which accounts of the organization a stack set's `targets` select, which it
//! excludes, and which it selects but cannot deploy to. The plan and the coverage report share it.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::diagnostic::Diagnostic;
use crate::fleet::{Located, OuRef, PermissionModel, StackSetSpec};
use crate::inventory::{AccountStatus, Inventory, OrganizationTree};

/// A targeted account that gets no instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedAccount {
    /// The account.
    pub account: String,
    /// Its name in the organization.
    pub account_name: String,
    /// Why it is skipped.
    pub reason: SkipReason,
    /// The regions it is skipped in, for a reason that holds per region; empty for all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regions: Vec<String>,
}

/// Why a targeted account gets no instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SkipReason {
    /// The account is suspended, closed or closing.
    Suspended,
    /// The management account, which service-managed stack sets never deploy to.
    NotDeployable,
    /// Opt-in regions (listed in [`SkippedAccount::regions`]) that the account, or the
    /// StackSets administrator account, has not enabled.
    RegionNotEnabled,
}

/// The accounts a stack set wants, and the targeted accounts it cannot have.
pub(crate) struct Selection {
    /// Targeted, not excluded, active and deployable.
    pub desired: BTreeSet<String>,
    /// Targeted and not excluded, but suspended or not deployable.
    pub skipped: Vec<SkippedAccount>,
    /// Named by an exclusion (whether or not a target selects them).
    pub excluded: BTreeSet<String>,
    /// The OUs (and root) fleet.toml targets, resolved to ids.
    pub target_ous: BTreeSet<String>,
}

/// Resolves fleet.toml's targets against the organization.
pub(crate) struct Resolver<'a> {
    pub inventory: &'a Inventory,
    pub tree: &'a OrganizationTree<'a>,
    pub ou_by_path: &'a BTreeMap<&'a str, &'a str>,
}

/// Every active account that some stack set of `fleet` wants (targets that do not resolve are
/// left out here; planning reports them).
pub fn desired_accounts(fleet: &crate::fleet::Fleet, inventory: &Inventory) -> BTreeSet<String> {
    let tree = inventory.children();
    let ou_by_path = ou_paths(inventory);
    let resolver = Resolver {
        inventory,
        tree: &tree,
        ou_by_path: &ou_by_path,
    };
    fleet
        .stack_sets
        .iter()
        .filter_map(|spec| resolver.desired_accounts(spec).ok())
        .flat_map(|selection| selection.desired)
        .collect()
}

/// Every OU and the root by path.
pub(crate) fn ou_paths(inventory: &Inventory) -> BTreeMap<&str, &str> {
    inventory
        .organizational_units
        .values()
        .map(|ou| (ou.path.as_str(), ou.id.as_str()))
        .collect()
}

impl Resolver<'_> {
    fn ou(&self, ou: &Located<OuRef>) -> Result<String, Diagnostic> {
        let found = match &ou.value {
            OuRef::Path(path) => self.ou_by_path.get(path.as_str()).map(|id| id.to_string()),
            OuRef::Id(id) => self
                .inventory
                .organizational_units
                .contains_key(id)
                .then(|| id.clone()),
        };
        found.ok_or_else(|| {
            let (what, hint) = match &ou.value {
                OuRef::Path(p) => (
                    format!("OU path {p:?}"),
                    crate::suggest::did_you_mean(p, self.ou_by_path.keys().copied()),
                ),
                OuRef::Id(id) => (format!("OU {id}"), String::new()),
            };
            Diagnostic::new(
                ou.location.clone(),
                format!(
                    "{what} does not exist in organization {}{hint}",
                    self.inventory.organization_id
                ),
            )
        })
    }

    fn account(&self, account: &Located<String>) -> Result<String, Diagnostic> {
        if self.inventory.accounts.contains_key(&account.value) {
            Ok(account.value.clone())
        } else {
            Err(Diagnostic::new(
                account.location.clone(),
                format!(
                    "account {} is not in organization {}",
                    account.value, self.inventory.organization_id
                ),
            ))
        }
    }

    pub fn desired_accounts(&self, spec: &StackSetSpec) -> Result<Selection, Vec<Diagnostic>> {
        let mut errors = Vec::new();
        let mut targeted = BTreeSet::new();
        let mut excluded = BTreeSet::new();
        let mut target_ous = BTreeSet::new();
        for ou in &spec.targets.organizational_units {
            match self.ou(ou) {
                Ok(id) => {
                    targeted.extend(self.tree.accounts_under(&id));
                    target_ous.insert(id);
                }
                Err(e) => errors.push(e),
            }
        }
        for ou in &spec.targets.exclude_organizational_units {
            match self.ou(ou) {
                Ok(id) => excluded.extend(self.tree.accounts_under(&id)),
                Err(e) => errors.push(e),
            }
        }
        let mut explicit = Vec::new();
        for account in &spec.targets.accounts {
            match self.account(account) {
                Ok(id) => explicit.push(id),
                Err(e) => errors.push(e),
            }
        }
        for account in &spec.targets.exclude_accounts {
            match self.account(account) {
                Ok(id) => {
                    excluded.insert(self.inventory.accounts[&id].id.as_str());
                }
                Err(e) => errors.push(e),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        targeted.extend(
            explicit
                .iter()
                .map(|a| self.inventory.accounts[a].id.as_str()),
        );

        let mut selection = Selection {
            desired: BTreeSet::new(),
            skipped: Vec::new(),
            excluded: excluded.iter().map(|a| a.to_string()).collect(),
            target_ous,
        };
        for id in targeted.difference(&excluded) {
            let account = &self.inventory.accounts[*id];
            let reason = if account.status != AccountStatus::Active {
                Some(SkipReason::Suspended)
            } else if spec.permission_model == PermissionModel::ServiceManaged
                && account.id == self.inventory.management_account
            {
                Some(SkipReason::NotDeployable)
            } else {
                None
            };
            match reason {
                Some(reason) => selection.skipped.push(SkippedAccount {
                    account: account.id.clone(),
                    account_name: account.name.clone(),
                    reason,
                    regions: Vec::new(),
                }),
                None => {
                    selection.desired.insert(account.id.clone());
                }
            }
        }
        Ok(selection)
    }
}
