//! Triage of a stack set's instances before the diff: the ones StackSets reports in a state that
//! the usual create/delete/repair cannot handle, each turned into a plan step or a finding.
//!
//! Documents followed:
//! - "StackInstanceComprehensiveStatus", CloudFormation API Reference,
//!   <https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_StackInstanceComprehensiveStatus.html>:
//!   INOPERABLE instances "are excluded from further UpdateStackSet operations. You might need to
//!   perform a DeleteStackInstances operation, with RetainStacks set to true, to delete the stack
//!   instance, and then delete the stack manually"; SKIPPED_SUSPENDED_ACCOUNT means the operation
//!   "has been skipped because the account was suspended at the time of the operation".
//! - "StackInstanceSummary", CloudFormation API Reference,
//!   <https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_StackInstanceSummary.html>:
//!   OUTDATED, "the stack isn't currently up to date with the stack set", stays until an operation
//!   updates the instance; nothing in AWS re-runs a skipped instance by itself.
//! - "How do I delete a stack instance from a CloudFormation stack set in a closed or suspended AWS
//!   account?", AWS re:Post Knowledge Center,
//!   <https://repost.aws/knowledge-center/cloudformation-removal-stacksets>: `RetainStacks = true`
//!   "disconnects the stack instance from the stack set and doesn't delete the stack instance in
//!   the target account", the way to remove instances StackSets can no longer reach.
//! - "DeploymentTargets", CloudFormation API Reference,
//!   <https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DeploymentTargets.html>
//!   and aws/aws-cli #8248: service-managed deletes name OUs only, and StackSets selects an
//!   instance by the OU recorded on it. An OU that no longer exists cannot be named.

use std::collections::BTreeSet;

use crate::fleet::PermissionModel;
use crate::inventory::{Account, AccountStatus, Inventory};
use crate::observed::ObservedInstance;

use super::instance_diff::CellsByAccount;
use super::model::{FindingKind, InstanceFinding};

/// A stack set's instances, sorted by what the plan does with them.
#[derive(Debug, Default)]
pub(super) struct Triage<'a> {
    /// Instances the usual diff handles.
    pub usual: Vec<&'a ObservedInstance>,
    /// Instances that stay as they are: never deleted nor run again (orphaned, stranded, unknown
    /// status), as `(account, region)`.
    pub held: BTreeSet<(&'a str, &'a str)>,
    /// Inoperable instances to release with `RetainStacks`.
    pub release: CellsByAccount,
    /// What was found, by account then region.
    pub findings: Vec<InstanceFinding>,
}

/// Sorts `instances` of the stack set `name`. fleet.toml wants a cell when `wanted(account)` and
/// its region is one of `regions`; `runs_all` is true when a stack set update runs every
/// instance anyway.
pub(super) fn triage<'a>(
    name: &str,
    model: PermissionModel,
    inventory: &Inventory,
    instances: &'a [ObservedInstance],
    wanted: &dyn Fn(&str) -> bool,
    regions: &[String],
    runs_all: bool,
) -> Triage<'a> {
    let mut out = Triage::default();
    // StackSets lists an account's instances together: its lookups are made once, not once per
    // region (at 10,000 accounts × 30 regions they were a fifth of the planner's time).
    let mut last: Option<(&str, Option<&Account>, bool)> = None;
    for instance in instances {
        let (account, region) = (instance.account.as_str(), instance.region.as_str());
        let (found, wants_account) = match last {
            Some((seen, found, wants)) if seen == account => (found, wants),
            _ => {
                let looked_up = (inventory.accounts.get(account), wanted(account));
                last = Some((account, looked_up.0, looked_up.1));
                looked_up
            }
        };
        let mut find = |kind: FindingKind, remedy: String| {
            out.findings.push(InstanceFinding {
                account: account.to_string(),
                region: region.to_string(),
                kind,
                remedy,
            });
        };
        let recorded_ou = instance.organizational_unit_id.as_deref();
        let Some(known) = found else {
            // Nothing can select an account the organization does not list: a delete would match
            // nothing and be planned again on every run.
            let target = match (model, recorded_ou) {
                (PermissionModel::ServiceManaged, Some(ou)) => {
                    format!("--deployment-targets OrganizationalUnitIds={ou}")
                }
                (PermissionModel::ServiceManaged, None) => {
                    "--deployment-targets OrganizationalUnitIds=<the OU it was deployed through>"
                        .to_string()
                }
                (PermissionModel::SelfManaged, _) => format!("--accounts {account}"),
            };
            find(
                FindingKind::Orphaned,
                format!(
                    "the account is no longer in the organization; stackfleet never deletes it. \
                     To remove it from the stack set, keeping its stack: aws cloudformation \
                     delete-stack-instances --stack-set-name {name} {target} --regions {region} \
                     --retain-stacks"
                ),
            );
            out.held.insert((account, region));
            continue;
        };
        if let Some(status) = instance.unknown_status() {
            find(
                FindingKind::UnknownStatus,
                format!(
                    "StackSets reports the status {status:?}, which this version of stackfleet \
                     does not know: apply leaves the instance alone; look at it in the StackSets \
                     console"
                ),
            );
            out.held.insert((account, region));
            continue;
        }
        let wants = wants_account && regions.iter().any(|r| r == region);
        let stranded_ou = match (model, recorded_ou) {
            (PermissionModel::ServiceManaged, Some(ou))
                if !inventory.organizational_units.contains_key(ou) =>
            {
                Some(ou)
            }
            _ => None,
        };
        if let Some(ou) = stranded_ou
            && (!wants || instance.is_inoperable() || instance.needs_repair())
        {
            find(
                FindingKind::Stranded,
                format!(
                    "StackSets selects this instance by the OU recorded on it, {ou}, which the \
                     organization no longer has: no operation can name it, so apply leaves it. \
                     Remove it in the StackSets console or with AWS Support; a stack set with \
                     auto-deployment removes it when the account leaves"
                ),
            );
            out.held.insert((account, region));
            continue;
        }
        if instance.is_inoperable() {
            let then = if wants && known.status == AccountStatus::Active {
                "and creates it again"
            } else {
                "and does not create it again"
            };
            find(
                FindingKind::Inoperable,
                format!(
                    "a failed delete left it INOPERABLE and StackSets leaves it out of every \
                     update: apply removes it from the stack set keeping its stack \
                     (DeleteStackInstances, RetainStacks) {then}; delete the old stack in account \
                     {account}, {region} by hand afterwards"
                ),
            );
            out.release
                .entry(account.to_string())
                .or_default()
                .insert(region.to_string());
            continue;
        }
        if wants && known.status == AccountStatus::Active && instance.is_skipped_suspended() {
            let how = if runs_all {
                "the stack set update runs it again"
            } else {
                "apply runs it again (UpdateStackInstances)"
            };
            find(
                FindingKind::Reactivated,
                format!(
                    "skipped while the account was suspended; the account is active again and \
                     StackSets keeps the instance SKIPPED_SUSPENDED_ACCOUNT until an operation \
                     reaches it: {how}"
                ),
            );
        }
        out.usual.push(instance);
    }
    out.findings.sort();
    out
}
