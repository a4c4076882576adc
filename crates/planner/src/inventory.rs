//! The organization as read from AWS Organizations: plain data, the planner's first input.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

/// Every OU and account of an organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inventory {
    /// `o-…`.
    pub organization_id: String,
    /// The management account's id.
    pub management_account: String,
    /// `r-…`.
    pub root_id: String,
    /// The root and every OU, by id.
    pub organizational_units: BTreeMap<String, OrganizationalUnit>,
    /// Every account, by id.
    pub accounts: BTreeMap<String, Account>,
    /// Governed opt-in regions that accounts have not enabled (Account `ListRegions`), read only
    /// when fleet.toml governs an opt-in region; empty otherwise, and when the read was denied.
    #[serde(default, skip_serializing_if = "RegionOptIn::is_empty")]
    pub region_opt_in: RegionOptIn,
}

/// Where governed opt-in regions are not enabled. An instance needs its region enabled in the
/// target account and in the StackSets administrator account (the management account for
/// service-managed stack sets), else it fails ("Prepare to perform StackSet operations in AWS
/// Regions that are disabled by default", CloudFormation User Guide,
/// https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stacksets-opt-in-regions.html).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegionOptIn {
    /// Governed regions not enabled in the caller's (the StackSets administrator's) account.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub administrator: BTreeSet<String>,
    /// Per account, each governed region it has not enabled, with its `RegionOptStatus`
    /// (`DISABLED`, `ENABLING`, `DISABLING`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub accounts: BTreeMap<String, BTreeMap<String, String>>,
}

impl RegionOptIn {
    /// From Account `ListRegions`' `RegionOptStatus` of the governed regions per account
    /// (`caller` is the StackSets administrator's account): keeps what is not enabled. A region
    /// missing from an account's answer is taken as enabled (nothing says otherwise).
    pub fn from_statuses(
        caller: &str,
        statuses: &BTreeMap<String, BTreeMap<String, String>>,
    ) -> RegionOptIn {
        let not_enabled = |regions: &BTreeMap<String, String>| -> BTreeMap<String, String> {
            regions
                .iter()
                .filter(|(_, status)| !matches!(status.as_str(), "ENABLED" | "ENABLED_BY_DEFAULT"))
                .map(|(r, s)| (r.clone(), s.clone()))
                .collect()
        };
        let mut out = RegionOptIn::default();
        for (account, regions) in statuses {
            let off = not_enabled(regions);
            if off.is_empty() {
                continue;
            }
            if account == caller {
                out.administrator = off.into_keys().collect();
            } else {
                out.accounts.insert(account.clone(), off);
            }
        }
        out
    }

    /// Whether every governed region is usable everywhere (or nothing was read).
    pub fn is_empty(&self) -> bool {
        self.administrator.is_empty() && self.accounts.is_empty()
    }
}

/// An OU, or the root (whose `parent_id` is `None` and whose path is `/`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrganizationalUnit {
    /// `ou-…` or `r-…`.
    pub id: String,
    /// The OU's name (`Root` for the root).
    pub name: String,
    /// The parent OU or root; `None` for the root.
    pub parent_id: Option<String>,
    /// Names from the root, such as `/Workloads/Prod`.
    pub path: String,
}

/// An account of the organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// 12 digits.
    pub id: String,
    /// The account's name.
    pub name: String,
    /// The account's e-mail address.
    pub email: String,
    /// Whether the account can take stacks.
    pub status: AccountStatus,
    /// The OU or root the account sits in.
    pub parent_id: String,
}

/// Organizations' account status.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AccountStatus {
    /// Usable.
    Active,
    /// Closed or suspended: StackSets skips it.
    Suspended,
    /// Closing: treated like suspended.
    PendingClosure,
    /// A status this version of stackfleet does not know; treated as not deployable.
    Other(String),
}

impl AccountStatus {
    /// Reads Organizations' status string.
    pub fn from_aws(status: &str) -> Self {
        match status {
            "ACTIVE" => AccountStatus::Active,
            "SUSPENDED" | "CLOSED" => AccountStatus::Suspended,
            "PENDING_CLOSURE" => AccountStatus::PendingClosure,
            other => AccountStatus::Other(other.to_string()),
        }
    }

    /// How the status reads in plans and reports.
    pub fn label(&self) -> &str {
        match self {
            AccountStatus::Active => "active",
            AccountStatus::Suspended => "suspended",
            AccountStatus::PendingClosure => "pending-closure",
            AccountStatus::Other(s) => s,
        }
    }
}

impl Inventory {
    /// Why `region` cannot hold an instance in `account`, if it cannot: an opt-in region that
    /// the account, or the StackSets administrator account, has not enabled.
    pub fn region_unavailable(&self, account: &str, region: &str) -> Option<String> {
        if let Some(status) = self
            .region_opt_in
            .accounts
            .get(account)
            .and_then(|regions| regions.get(region))
        {
            return Some(format!(
                "opt-in region {region} is {status} in this account: StackSets cannot deploy \
                 there until the account enables it"
            ));
        }
        self.region_opt_in.administrator.contains(region).then(|| {
            format!(
                "opt-in region {region} is not enabled in the StackSets administrator \
                     account: StackSets cannot deploy there until it is"
            )
        })
    }

    /// The OU (or root) at `path`, such as `/Workloads/Prod` or `/`.
    pub fn ou_by_path(&self, path: &str) -> Option<&OrganizationalUnit> {
        self.organizational_units
            .values()
            .find(|ou| ou.path == path)
    }

    /// The OU path of an account's parent, `/` for accounts directly under the root.
    pub fn account_ou_path(&self, account: &str) -> Option<&str> {
        let parent = &self.accounts.get(account)?.parent_id;
        self.organizational_units
            .get(parent)
            .map(|ou| ou.path.as_str())
    }

    /// Children of each OU (OUs and accounts), for walking subtrees without quadratic scans.
    pub fn children(&self) -> OrganizationTree<'_> {
        let mut ous: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        let mut accounts: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for ou in self.organizational_units.values() {
            if let Some(parent) = &ou.parent_id {
                ous.entry(parent.as_str()).or_default().push(&ou.id);
            }
        }
        for account in self.accounts.values() {
            accounts
                .entry(account.parent_id.as_str())
                .or_default()
                .push(&account.id);
        }
        OrganizationTree { ous, accounts }
    }
}

/// The parent → children index of an [`Inventory`].
#[derive(Debug)]
pub struct OrganizationTree<'a> {
    ous: BTreeMap<&'a str, Vec<&'a str>>,
    accounts: BTreeMap<&'a str, Vec<&'a str>>,
}

impl<'a> OrganizationTree<'a> {
    /// Every account in the OU `ou_id` and its nested OUs.
    pub fn accounts_under(&self, ou_id: &str) -> Vec<&'a str> {
        let mut out = Vec::new();
        let mut stack = vec![ou_id];
        while let Some(ou) = stack.pop() {
            if let Some(accounts) = self.accounts.get(ou) {
                out.extend(accounts.iter().copied());
            }
            if let Some(children) = self.ous.get(ou) {
                stack.extend(children.iter().copied());
            }
        }
        out
    }
}
