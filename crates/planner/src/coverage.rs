//! Coverage: for every stack set, every account × region of the organization gets one status with
//! a reason. Pure, like [`crate::plan::plan`]: same inputs, same report.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::diagnostic::Diagnostics;
use crate::fleet::Fleet;
use crate::inventory::{AccountStatus, Inventory};
use crate::monitor::{RegionDelivery, Selection};
use crate::observed::{DetailedStatus, DriftStatus, InstanceStatus, Observed, ObservedInstance};
use crate::plan::{FindingKind, InstanceFinding};
use crate::targets::{Resolver, SkipReason, ou_paths};

/// The status of one account × region of one stack set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CoverageStatus {
    /// The instance is current and its last operation succeeded.
    Covered,
    /// The instance exists but is not up to date (pending, running or skipped), or it is current
    /// but the stack set's template, parameters or tags differ from fleet.toml (an update apply
    /// has not made yet).
    Outdated,
    /// The instance's last operation failed, or it is inoperable.
    Failed,
    /// Desired, and there is no instance.
    Missing,
    /// The last drift detection found the stack changed outside StackSets.
    Drifted,
    /// The account is suspended or closed.
    Suspended,
    /// fleet.toml excludes the account.
    Excluded,
    /// The management account, which a service-managed stack set never deploys to.
    NotDeployable,
    /// An instance that fleet.toml no longer wants.
    Unmanaged,
    /// An active account that no target selects and no exclusion names.
    Untargeted,
    /// Covered by an instance, but no logging trail records the bucket calls in this region: the
    /// monitor cannot alert. Counts as not covered.
    Blind,
    /// Covered by an instance, but whether a trail records the calls is unknown (no organization
    /// trail visible). Counts as covered unless `--require-trail`.
    Unverified,
    /// An instance of an account that is no longer in the organization: never deleted by apply;
    /// the reason says how to remove it.
    Orphaned,
    /// A service-managed instance recorded under an OU the organization no longer has: no
    /// operation can reach it; the reason says what to do.
    Stranded,
    /// StackSets reports a status this version of stackfleet does not know: never counted as
    /// covered.
    Unknown,
}

impl CoverageStatus {
    /// How the status is written in reports.
    pub fn label(self) -> &'static str {
        match self {
            CoverageStatus::Covered => "covered",
            CoverageStatus::Outdated => "outdated",
            CoverageStatus::Failed => "failed",
            CoverageStatus::Missing => "missing",
            CoverageStatus::Drifted => "drifted",
            CoverageStatus::Suspended => "suspended",
            CoverageStatus::Excluded => "excluded",
            CoverageStatus::NotDeployable => "not-deployable",
            CoverageStatus::Unmanaged => "unmanaged",
            CoverageStatus::Untargeted => "untargeted",
            CoverageStatus::Blind => "blind",
            CoverageStatus::Unverified => "unverified",
            CoverageStatus::Orphaned => "orphaned",
            CoverageStatus::Stranded => "stranded",
            CoverageStatus::Unknown => "unknown",
        }
    }

    /// Every status, in legend order.
    pub const ALL: [CoverageStatus; 15] = [
        CoverageStatus::Covered,
        CoverageStatus::Missing,
        CoverageStatus::Failed,
        CoverageStatus::Outdated,
        CoverageStatus::Drifted,
        CoverageStatus::Suspended,
        CoverageStatus::Excluded,
        CoverageStatus::NotDeployable,
        CoverageStatus::Unmanaged,
        CoverageStatus::Untargeted,
        CoverageStatus::Blind,
        CoverageStatus::Unverified,
        CoverageStatus::Orphaned,
        CoverageStatus::Stranded,
        CoverageStatus::Unknown,
    ];
}

impl CoverageStatus {
    /// Whether a required cell with this status counts as covered; `unverified` does unless
    /// `require_trail`.
    pub fn counts_as_covered(self, require_trail: bool) -> bool {
        match self {
            CoverageStatus::Covered => true,
            CoverageStatus::Unverified => !require_trail,
            _ => false,
        }
    }
}

/// Effective coverage: turns `covered` cells into `blind` or `unverified` by what CloudTrail
/// delivers in their region (`delivery`, per governed region; see [`crate::monitor::delivery`]),
/// notes missing S3 data events on the cell, and counts again (`require_trail`: unverified cells
/// count as not covered).
pub fn with_delivery(
    mut report: Coverage,
    inventory: &Inventory,
    delivery: &BTreeMap<String, RegionDelivery>,
    require_trail: bool,
) -> Coverage {
    for set in &mut report.stack_sets {
        for cell in &mut set.cells {
            if cell.status != CoverageStatus::Covered {
                continue;
            }
            match delivery.get(&cell.region) {
                Some(RegionDelivery::Delivered { object_acl, .. }) => {
                    cell.finding = match object_acl {
                        Selection::All => None,
                        Selection::Some(why) => Some(format!(
                            "S3 data events for some objects only ({why}): PutObjectAcl elsewhere does not alert"
                        )),
                        Selection::None => Some(
                            "no S3 data events: PutObjectAcl does not alert (the bucket calls do)"
                                .to_string(),
                        ),
                    };
                }
                Some(RegionDelivery::Blind { reason }) => {
                    cell.status = CoverageStatus::Blind;
                    cell.reason = format!("deployed, but {reason}");
                }
                Some(RegionDelivery::Unverified { reason }) => {
                    cell.status = CoverageStatus::Unverified;
                    cell.reason = format!("deployed; trail unverified: {reason}");
                }
                None => {}
            }
        }
        set.covered = set
            .cells
            .iter()
            .filter(|c| c.required && c.status.counts_as_covered(require_trail))
            .count();
        set.percent = percent(set.covered, set.required);
    }
    report.summary = summarize(inventory, &report.stack_sets, require_trail);
    report
}

/// One account × region of one stack set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoverageCell {
    /// The account.
    pub account: String,
    /// Its name.
    pub account_name: String,
    /// Its OU path (`/` for the root; empty for an account no longer in the organization).
    pub ou_path: String,
    /// The region.
    pub region: String,
    /// The status.
    pub status: CoverageStatus,
    /// Why, in words.
    pub reason: String,
    /// Whether the cell counts toward `required`.
    pub required: bool,
    /// Something that weakens the alert without blinding it (S3 data events not selected, so
    /// `PutObjectAcl` does not alert).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finding: Option<String>,
}

/// Coverage of one stack set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StackSetCoverage {
    /// The stack set.
    pub name: String,
    /// Governed regions.
    pub regions: Vec<String>,
    /// Cells that must be covered.
    pub required: usize,
    /// Required cells that are covered.
    pub covered: usize,
    /// `covered / required` in percent (0 when nothing is required: that proves nothing).
    pub percent: f64,
    /// Every cell, by account then region.
    pub cells: Vec<CoverageCell>,
}

/// Coverage of an OU (accounts directly in it and in nested OUs), over all stack sets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OuCoverage {
    /// The OU path.
    pub ou_path: String,
    /// Required cells.
    pub required: usize,
    /// Covered required cells.
    pub covered: usize,
    /// Percent.
    pub percent: f64,
}

/// An active account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountRef {
    /// The account.
    pub account: String,
    /// Its name.
    pub account_name: String,
    /// Its OU path.
    pub ou_path: String,
    /// Its statuses across the stack sets, such as `excluded` or `untargeted`.
    pub statuses: Vec<CoverageStatus>,
}

/// Totals over all stack sets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CoverageSummary {
    /// Required cells.
    pub required: usize,
    /// Covered required cells.
    pub covered: usize,
    /// Percent.
    pub percent: f64,
    /// Cells per status.
    pub by_status: BTreeMap<CoverageStatus, usize>,
    /// Active accounts that no stack set covers in any region.
    pub uncovered_accounts: Vec<AccountRef>,
    /// Per OU, root first.
    pub organizational_units: Vec<OuCoverage>,
    /// Whether `unverified` cells were counted as not covered (`--require-trail`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub require_trail: bool,
}

/// The whole coverage report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Coverage {
    /// `o-…`.
    pub organization_id: String,
    /// Per stack set.
    pub stack_sets: Vec<StackSetCoverage>,
    /// Totals.
    pub summary: CoverageSummary,
}

/// Computes coverage. `require_all_accounts` counts untargeted active accounts as required.
pub fn coverage(
    fleet: &Fleet,
    inventory: &Inventory,
    observed: &Observed,
    require_all_accounts: bool,
) -> Result<Coverage, Diagnostics> {
    let tree = inventory.children();
    let ou_by_path = ou_paths(inventory);
    let resolver = Resolver {
        inventory,
        tree: &tree,
        ou_by_path: &ou_by_path,
    };
    let mut diagnostics = Vec::new();
    let mut stack_sets = Vec::new();
    for spec in &fleet.stack_sets {
        let selection = match resolver.desired_accounts(spec) {
            Ok(s) => s,
            Err(mut d) => {
                diagnostics.append(&mut d);
                continue;
            }
        };
        let instances: BTreeMap<(&str, &str), &ObservedInstance> = observed
            .stack_sets
            .get(&spec.name)
            .map(|o| {
                o.instances
                    .iter()
                    .map(|i| ((i.account.as_str(), i.region.as_str()), i))
                    .collect()
            })
            .unwrap_or_default();
        let skipped: BTreeMap<&str, SkipReason> = selection
            .skipped
            .iter()
            .map(|s| (s.account.as_str(), s.reason))
            .collect();
        // An update that fleet.toml asks for and apply has not made: the instances run
        // something else than fleet.toml says, even when StackSets calls them CURRENT.
        let pending = observed
            .stack_sets
            .get(&spec.name)
            .map(|o| crate::plan::pending_stack_changes(fleet, spec, o))
            .filter(|fields| !fields.is_empty())
            .map(|fields| {
                format!(
                    "fleet.toml changes {} of the stack set; apply updates it",
                    fields.join(", ")
                )
            });
        // The plan's own triage, so that coverage and plan tell the same story about an instance.
        let found: BTreeMap<(String, String), InstanceFinding> = observed
            .stack_sets
            .get(&spec.name)
            .map(|o| {
                crate::plan::instance_findings(spec, &selection, inventory, o, pending.is_some())
            })
            .unwrap_or_default()
            .into_iter()
            .map(|f| ((f.account.clone(), f.region.clone()), f))
            .collect();
        let mut regions: BTreeSet<&str> = spec.regions.iter().map(String::as_str).collect();
        regions.extend(instances.keys().map(|(_, r)| *r));
        let mut accounts: BTreeSet<&str> = inventory.accounts.keys().map(String::as_str).collect();
        accounts.extend(instances.keys().map(|(a, _)| *a));

        let mut cells = Vec::new();
        for account in &accounts {
            let known = inventory.accounts.get(*account);
            for region in &regions {
                let governed = spec.regions.iter().any(|r| r == region);
                let instance = instances.get(&(*account, *region)).copied();
                let mut desired = governed && selection.desired.contains(*account);
                // A region the account (or the administrator account) has not enabled holds no
                // resources to watch and can take no instance: not deployable, not required.
                let unavailable = (desired && instance.is_none())
                    .then(|| inventory.region_unavailable(account, region))
                    .flatten();
                if unavailable.is_some() {
                    desired = false;
                }
                let (status, reason) = if let Some(reason) = unavailable {
                    (CoverageStatus::NotDeployable, reason)
                } else {
                    classify(
                        known.map(|a| &a.status),
                        governed,
                        desired,
                        selection.excluded.contains(*account),
                        skipped.get(*account).copied(),
                        instance,
                        found.get(&(account.to_string(), region.to_string())),
                        pending.as_deref(),
                    )
                };
                // Only governed regions and real instances make cells: an ungoverned region with
                // no instance says nothing.
                if !governed && instance.is_none() {
                    continue;
                }
                let required = desired
                    || (require_all_accounts && governed && status == CoverageStatus::Untargeted);
                cells.push(CoverageCell {
                    account: account.to_string(),
                    account_name: known.map(|a| a.name.clone()).unwrap_or_default(),
                    ou_path: inventory.account_ou_path(account).unwrap_or("").to_string(),
                    region: region.to_string(),
                    status,
                    reason,
                    required,
                    finding: None,
                });
            }
        }
        let required = cells.iter().filter(|c| c.required).count();
        let covered = cells
            .iter()
            .filter(|c| c.required && c.status.counts_as_covered(false))
            .count();
        stack_sets.push(StackSetCoverage {
            name: spec.name.clone(),
            regions: spec.regions.clone(),
            required,
            covered,
            percent: percent(covered, required),
            cells,
        });
    }
    if !diagnostics.is_empty() {
        diagnostics.sort();
        diagnostics.dedup();
        return Err(Diagnostics(diagnostics));
    }
    let summary = summarize(inventory, &stack_sets, false);
    Ok(Coverage {
        organization_id: inventory.organization_id.clone(),
        stack_sets,
        summary,
    })
}

fn percent(covered: usize, required: usize) -> f64 {
    if required == 0 {
        // Nothing required proves nothing: 0 of 0 is not "fully covered".
        0.0
    } else {
        // Rounded down to 0.1 so that 99.96 % never reads as 100 %.
        (covered as f64 * 1000.0 / required as f64).floor() / 10.0
    }
}

#[allow(clippy::too_many_arguments)]
fn classify(
    account_status: Option<&AccountStatus>,
    governed: bool,
    desired: bool,
    excluded: bool,
    skipped: Option<SkipReason>,
    instance: Option<&ObservedInstance>,
    finding: Option<&InstanceFinding>,
    pending_update: Option<&str>,
) -> (CoverageStatus, String) {
    use CoverageStatus::*;
    // Instances apply cannot act on are named for what they are, with the remedy, before
    // anything else: none of them counts as covered.
    if let Some(f) = finding {
        match f.kind {
            FindingKind::Orphaned => return (Orphaned, f.remedy.clone()),
            FindingKind::Stranded => return (Stranded, f.remedy.clone()),
            FindingKind::UnknownStatus => return (Unknown, f.remedy.clone()),
            FindingKind::Inoperable | FindingKind::Reactivated => {}
        }
    }
    let suspended_account = account_status.is_some_and(|s| *s != AccountStatus::Active);
    if suspended_account {
        let what = account_status.map_or("suspended", AccountStatus::label);
        return (
            Suspended,
            format!("account is {what}: StackSets cannot deploy to it"),
        );
    }
    if instance.is_some() && !desired {
        let why = if account_status.is_none() {
            "the account is no longer in the organization"
        } else if !governed {
            "the region is not governed by fleet.toml"
        } else if excluded {
            "fleet.toml excludes the account"
        } else {
            "no target of fleet.toml selects the account"
        };
        return (
            Unmanaged,
            format!("an instance exists but {why}; apply deletes it"),
        );
    }
    if !desired {
        if skipped == Some(SkipReason::NotDeployable) {
            return (
                NotDeployable,
                "management account: service-managed stack sets never deploy to it".to_string(),
            );
        }
        if excluded {
            return (Excluded, "excluded by fleet.toml".to_string());
        }
        return (
            Untargeted,
            "no target of fleet.toml selects this account".to_string(),
        );
    }
    let Some(instance) = instance else {
        return (Missing, "no stack instance; apply creates it".to_string());
    };
    let reason = instance.status_reason.clone().unwrap_or_default();
    let detailed = instance.detailed_status.as_ref();
    // Every documented detailed status is named: a new one must say where it belongs.
    let failed = match detailed {
        Some(
            DetailedStatus::Failed | DetailedStatus::Inoperable | DetailedStatus::FailedImport,
        ) => true,
        Some(
            DetailedStatus::Pending
            | DetailedStatus::Running
            | DetailedStatus::Succeeded
            | DetailedStatus::Cancelled
            | DetailedStatus::SkippedSuspendedAccount,
        )
        | None => false,
        // Unknown values were taken by the finding above; if one gets here, it is no success.
        Some(DetailedStatus::Other(_)) => true,
    };
    if instance.status == InstanceStatus::Inoperable || failed {
        let mut reason = if reason.is_empty() {
            format!(
                "last operation {}",
                detailed.map_or("failed", DetailedStatus::as_str)
            )
        } else {
            reason
        };
        if let Some(f) = finding {
            reason = format!("{reason}; {}", f.remedy);
        }
        return (Failed, reason);
    }
    let drifted = match &instance.drift_status {
        Some(DriftStatus::Drifted) => true,
        Some(DriftStatus::InSync | DriftStatus::NotChecked | DriftStatus::Unknown) | None => false,
        Some(DriftStatus::Other(_)) => false,
    };
    if drifted {
        return (
            Drifted,
            "the stack was changed outside StackSets (last drift detection)".to_string(),
        );
    }
    if let Some(f) = finding.filter(|f| f.kind == FindingKind::Reactivated) {
        return (Outdated, f.remedy.clone());
    }
    match &instance.status {
        InstanceStatus::Current => match pending_update {
            Some(why) => (Outdated, why.to_string()),
            None => (Covered, "current".to_string()),
        },
        other => {
            let what = match other {
                InstanceStatus::Outdated => "outdated",
                InstanceStatus::Other(s) => s.as_str(),
                InstanceStatus::Current | InstanceStatus::Inoperable => "not current",
            };
            let detail = detailed.map(|d| format!(" ({d})")).unwrap_or_default();
            let reason = if reason.is_empty() {
                format!("instance is {what}{detail}")
            } else {
                format!("{reason}{detail}")
            };
            if detailed == Some(&DetailedStatus::Cancelled) {
                (Failed, reason)
            } else {
                (Outdated, reason)
            }
        }
    }
}

fn summarize(
    inventory: &Inventory,
    stack_sets: &[StackSetCoverage],
    require_trail: bool,
) -> CoverageSummary {
    let mut by_status: BTreeMap<CoverageStatus, usize> = BTreeMap::new();
    let mut covered_accounts: BTreeSet<&str> = BTreeSet::new();
    let mut statuses: BTreeMap<&str, BTreeSet<CoverageStatus>> = BTreeMap::new();
    // Per OU path, counting each cell in its OU and every ancestor.
    let mut per_ou: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for set in stack_sets {
        for cell in &set.cells {
            *by_status.entry(cell.status).or_default() += 1;
            statuses
                .entry(&cell.account)
                .or_default()
                .insert(cell.status);
            if cell.status.counts_as_covered(require_trail) {
                covered_accounts.insert(&cell.account);
            }
            if !cell.required || cell.ou_path.is_empty() {
                continue;
            }
            let covered = usize::from(cell.status.counts_as_covered(require_trail));
            for ancestor in ancestors(&cell.ou_path) {
                let entry = per_ou.entry(ancestor).or_default();
                entry.0 += 1;
                entry.1 += covered;
            }
        }
    }
    let required: usize = stack_sets.iter().map(|s| s.required).sum();
    let covered: usize = stack_sets.iter().map(|s| s.covered).sum();
    let uncovered_accounts = inventory
        .accounts
        .values()
        .filter(|a| a.status == AccountStatus::Active && !covered_accounts.contains(a.id.as_str()))
        .map(|a| AccountRef {
            account: a.id.clone(),
            account_name: a.name.clone(),
            ou_path: inventory.account_ou_path(&a.id).unwrap_or("").to_string(),
            statuses: statuses
                .get(a.id.as_str())
                .map(|s| s.iter().copied().collect())
                .unwrap_or_default(),
        })
        .collect();
    CoverageSummary {
        require_trail,
        required,
        covered,
        percent: percent(covered, required),
        by_status,
        uncovered_accounts,
        organizational_units: per_ou
            .into_iter()
            .map(|(ou_path, (required, covered))| OuCoverage {
                ou_path,
                required,
                covered,
                percent: percent(covered, required),
            })
            .collect(),
    }
}

/// `/A/B` → `/`, `/A`, `/A/B`.
fn ancestors(path: &str) -> Vec<String> {
    let mut out = vec!["/".to_string()];
    let mut current = String::new();
    for part in path.split('/').filter(|p| !p.is_empty()) {
        current.push('/');
        current.push_str(part);
        out.push(current.clone());
    }
    out
}
