//! The pure planning core: fleet.toml + organization + StackSets state → an exact plan.
//!
//! [`plan`] reads no clock, makes no call and draws no random number: the same inputs give the
//! same plan, byte for byte once serialized. The work is split by job: [`crate::targets`] resolves
//! the accounts, `instance_diff` compares them with the instances, `settings_diff` compares the
//! settings, `operations` batches the changes into StackSets operations, `fingerprint` digests the
//! inputs and names the operations, and `noecho` masks secret parameters.

use std::collections::{BTreeMap, BTreeSet};

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::fleet::{CallAs, FLEET_TAG, Fleet, PermissionModel, RETAIN_TAG, Rollout, StackSetSpec};
use crate::inventory::{AccountStatus, Inventory};
use crate::observed::{Observed, ObservedStackSet};
use crate::targets::{Resolver, Selection, ou_paths};
use crate::template;

pub mod estimate;
mod findings;
mod fingerprint;
mod instance_diff;
mod model;
mod noecho;
mod operations;
mod removals;
mod settings_diff;

pub use crate::targets::{SkipReason, SkippedAccount};
pub use fingerprint::fingerprint;
pub use model::{
    Cell, DesiredStackSet, FieldChange, FindingKind, InstanceFinding, Operation, OperationAction,
    PLAN_FORMAT_VERSION, Plan, PlanOrganization, StackSetAction, StackSetPlan, Summary,
};
pub use noecho::{MASK, NOECHO_TAG, is_secret_reference};
pub use operations::MAX_OUS_PER_OPERATION;
pub use removals::{AccountRemovals, Removals, removals};

use findings::{Triage, triage};
use fingerprint::assign_operation_ids;
use instance_diff::{CellsByAccount, InstanceDiff, all_instances, cells, count, instance_diff};
use operations::{current_parent, deployed_through, operations_for, recorded_ous};
use settings_diff::stack_set_changes;

/// Computes the plan. Fails, naming the place in fleet.toml, when fleet.toml refers to OUs or
/// accounts that the organization does not have, or asks for what StackSets cannot do.
pub fn plan(
    fleet: &Fleet,
    inventory: &Inventory,
    observed: &Observed,
) -> Result<Plan, Diagnostics> {
    let tree = inventory.children();
    let ou_by_path = ou_paths(inventory);
    let mut diagnostics = Vec::new();
    let mut stack_sets = Vec::new();
    for spec in &fleet.stack_sets {
        let resolver = Resolver {
            inventory,
            tree: &tree,
            ou_by_path: &ou_by_path,
        };
        match resolver.desired_accounts(spec) {
            Ok(selection) => {
                match plan_stack_set(
                    fleet,
                    spec,
                    &selection,
                    inventory,
                    observed.stack_sets.get(&spec.name),
                ) {
                    Ok(p) => stack_sets.push(p),
                    Err(d) => diagnostics.push(d),
                }
            }
            Err(mut d) => diagnostics.append(&mut d),
        }
    }
    if !diagnostics.is_empty() {
        diagnostics.sort();
        diagnostics.dedup();
        return Err(Diagnostics(diagnostics));
    }
    let declared: BTreeSet<&str> = fleet.stack_sets.iter().map(|s| s.name.as_str()).collect();
    for (name, set) in &observed.stack_sets {
        if !declared.contains(name.as_str()) && set.tags.get(FLEET_TAG) == Some(&fleet.name) {
            // Found under the fleet's CallAs for its model: SELF for a self-managed one.
            let call_as = match set.permission_model {
                PermissionModel::SelfManaged => CallAs::SelfAccount,
                PermissionModel::ServiceManaged => fleet.organization.call_as,
            };
            stack_sets.push(plan_deletion(
                set,
                inventory,
                &fleet.default_rollout,
                call_as,
            ));
        }
    }

    let fingerprint = fingerprint(inventory, observed);
    for set in &mut stack_sets {
        assign_operation_ids(&fingerprint, "", set);
        // After the ids: the estimate is not part of what an operation does.
        estimate::estimate_stack_set(set, estimate::InstanceTime::default());
    }

    let mut summary = Summary::default();
    for s in &stack_sets {
        match s.action {
            StackSetAction::Create => summary.create_stack_sets += 1,
            StackSetAction::Update => summary.update_stack_sets += 1,
            StackSetAction::Delete => summary.delete_stack_sets += 1,
            StackSetAction::None => {}
        }
        summary.create_instances += s.create_instances.len();
        summary.delete_instances += s.delete_instances.len();
        summary.update_instances += s.update_instances.len();
        summary.operations += s.operations.len();
        summary.removed_resources += s.removed_resources.len() * s.update_instances.len();
        summary.estimated_seconds += s
            .operations
            .iter()
            .map(|op| op.estimated_seconds)
            .sum::<u64>();
    }
    Ok(Plan {
        format_version: PLAN_FORMAT_VERSION,
        fingerprint,
        fleet: fleet.name.clone(),
        nonce: String::new(),
        planned_at: 0,
        organization: PlanOrganization {
            id: inventory.organization_id.clone(),
            management_account: inventory.management_account.clone(),
            home_region: fleet.organization.home_region.clone(),
            call_as: fleet.organization.call_as,
            assume_role_arn: fleet
                .organization
                .assume_role_arn
                .as_ref()
                .map(|arn| arn.value.clone()),
            administrator_account: None,
        },
        summary,
        stack_sets,
    })
}

fn desired_stack_set(fleet: &Fleet, spec: &StackSetSpec) -> DesiredStackSet {
    let mut tags = spec.tags.clone();
    tags.insert(FLEET_TAG.to_string(), fleet.name.clone());
    // Recorded on the stack set so that its deletion keeps the stacks even after its entry left
    // fleet.toml (and with it the setting).
    if spec.retain_stacks_on_delete {
        tags.insert(RETAIN_TAG.to_string(), "true".to_string());
    }
    let no_echo_parameters: BTreeSet<String> = spec
        .template
        .parameters
        .iter()
        .filter(|(_, p)| p.no_echo)
        .map(|(name, _)| name.clone())
        .collect();
    if let Some(tag) = noecho::references_tag(&spec.parameters, &no_echo_parameters) {
        tags.insert(NOECHO_TAG.to_string(), tag);
    }
    DesiredStackSet {
        description: spec.description.clone(),
        template_body: spec.template.body.clone(),
        parameters: spec.parameters.clone(),
        no_echo_parameters,
        tags,
        capabilities: spec.capabilities.clone(),
        administration_role_arn: spec.administration_role_arn.clone(),
        execution_role_name: spec.execution_role_name.clone(),
        auto_deployment: spec.auto_deployment,
        retain_stacks_on_delete: spec.retain_stacks_on_delete,
        rollout: spec.rollout.clone(),
        managed_execution: spec.managed_execution,
    }
}

/// The settings of an existing stack set that differ from fleet.toml in what every deployed stack
/// runs (`template`, `parameters.*`, `tags.*`), as the plan names them; empty when none does.
/// Coverage uses it: a CURRENT instance of such a stack set is not yet what fleet.toml describes.
pub(crate) fn pending_stack_changes(
    fleet: &Fleet,
    spec: &StackSetSpec,
    observed: &ObservedStackSet,
) -> Vec<String> {
    let (changes, _) = stack_set_changes(observed, &desired_stack_set(fleet, spec), &spec.template);
    changes
        .into_iter()
        .map(|c| c.field)
        .filter(|f| f == "template" || f.starts_with("parameters.") || f.starts_with("tags."))
        .collect()
}

/// What the plan finds about `observed`'s instances ([`InstanceFinding`]), for coverage to tell
/// the same story; `runs_all`: a stack set update is pending.
pub(crate) fn instance_findings(
    spec: &StackSetSpec,
    selection: &Selection,
    inventory: &Inventory,
    observed: &ObservedStackSet,
    runs_all: bool,
) -> Vec<InstanceFinding> {
    triage(
        &spec.name,
        spec.permission_model,
        inventory,
        &observed.instances,
        &|account| selection.desired.contains(account),
        &spec.regions,
        runs_all,
    )
    .findings
}

fn plan_stack_set(
    fleet: &Fleet,
    spec: &StackSetSpec,
    selection: &Selection,
    inventory: &Inventory,
    observed: Option<&ObservedStackSet>,
) -> Result<StackSetPlan, Diagnostic> {
    let desired = desired_stack_set(fleet, spec);
    let no_instances = Vec::new();
    let instances = observed.map_or(&no_instances, |o| &o.instances);
    let untouchable: BTreeSet<&str> = inventory
        .accounts
        .values()
        .filter(|a| a.status != AccountStatus::Active)
        .map(|a| a.id.as_str())
        .chain(selection.skipped.iter().map(|s| s.account.as_str()))
        .collect();

    let (action, adopt, changes, template_diff) = match observed {
        None => (StackSetAction::Create, false, Vec::new(), None),
        Some(o) => {
            if o.permission_model != spec.permission_model {
                return Err(Diagnostic::new(
                    spec.location.clone(),
                    format!(
                        "stack set {:?} exists as {} and StackSets cannot change a permission model: \
                         delete it or choose another name",
                        spec.name,
                        match o.permission_model {
                            PermissionModel::SelfManaged => "self-managed",
                            PermissionModel::ServiceManaged => "service-managed",
                        }
                    ),
                ));
            }
            let owner = o.tags.get(FLEET_TAG);
            if owner != Some(&fleet.name) && !spec.adopt {
                return Err(Diagnostic::new(
                    spec.location.clone(),
                    format!(
                        "stack set {:?} exists and is not this fleet's: {}; stackfleet does not \
                         take it over unless this entry says `adopt = true` (or choose another name)",
                        spec.name,
                        match owner {
                            Some(other) =>
                                format!("its {FLEET_TAG} tag is {other:?}, not {:?}", fleet.name),
                            None => format!("it has no {FLEET_TAG} tag"),
                        }
                    ),
                ));
            }
            let adopt = owner != Some(&fleet.name);
            let (changes, diff) = stack_set_changes(o, &desired, &spec.template);
            let action = if changes.is_empty() {
                StackSetAction::None
            } else {
                StackSetAction::Update
            };
            (action, adopt, changes, diff)
        }
    };

    let regions = &spec.regions;
    let Triage {
        usual,
        held,
        release,
        findings,
    } = triage(
        &spec.name,
        spec.permission_model,
        inventory,
        instances,
        &|account| selection.desired.contains(account),
        regions,
        action == StackSetAction::Update,
    );
    let InstanceDiff {
        mut create,
        delete,
        mut repair,
    } = instance_diff(
        &spec.regions,
        &selection.desired,
        &usual,
        &held,
        &untouchable,
        action == StackSetAction::None,
    );

    // Service-managed UpdateStackInstances and DeleteStackInstances select an instance by the OU
    // it was deployed through, and fail with "Organizational unit ... not found in StackSet" for
    // an OU the stack set does not target ("DeploymentTargets", CloudFormation API Reference,
    // https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DeploymentTargets.html;
    // terraform-provider-aws #27877, #33785): an account that moved since keeps its old OU there.
    // Only a create goes through the account's current parent.
    let region_skips = drop_unavailable_regions(inventory, &mut [&mut create, &mut repair]);
    let deployed_through = deployed_through(spec.permission_model, instances);
    // With auto-deployment, the OUs that creates name become the OUs StackSets deploys to on its
    // own (every account that joins them, nested OUs included): those must be fleet.toml's OUs,
    // not each account's parent, which would make the root a target for an account under it and
    // never target an OU that had no account yet ("Enable or disable automatic deployments for
    // StackSets in AWS Organizations", CloudFormation User Guide,
    // https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stacksets-orgs-manage-auto-deployment.html).
    let auto_deploys = spec.permission_model == PermissionModel::ServiceManaged
        && spec.auto_deployment.is_some_and(|a| a.enabled);
    let parent_of = |account: &str| {
        if auto_deploys {
            targeted_ou_of(inventory, &selection.target_ous, account)
        } else {
            current_parent(inventory, account)
        }
    };
    let recorded_ou_of = |account: &str| recorded_ous(&deployed_through, inventory, account);
    let model = spec.permission_model;
    let mut operations = release_operations(&release, model, &recorded_ou_of);
    operations.extend(delete_operations(
        &delete,
        model,
        &recorded_ou_of,
        spec.retain_stacks_on_delete,
    ));
    // The instances an update rolls out to: every one that stays, except those held (orphaned,
    // stranded, unknown status), which stackfleet never touches. Only an update needs them.
    let mut stays = CellsByAccount::new();
    if action == StackSetAction::Update {
        stays = all_instances(&usual);
        for (account, regions) in delete.iter().chain(&release) {
            if let Some(kept) = stays.get_mut(account) {
                kept.retain(|r| !regions.contains(r));
            }
        }
        stays.retain(|_, regions| !regions.is_empty());
    }
    // Even with no instance, the update is what changes the template new instances get.
    if action == StackSetAction::Update {
        operations.extend(update_operations(
            &stays,
            !held.is_empty(),
            model,
            &recorded_ou_of,
        ));
    }
    operations.extend(operations_for(
        OperationAction::UpdateInstances,
        &repair,
        model,
        &recorded_ou_of,
    ));
    operations.extend(operations_for(
        OperationAction::CreateInstances,
        &create,
        model,
        &parent_of,
    ));
    let removed_resources = match &observed {
        Some(o) if action == StackSetAction::Update => {
            removed_resources(&o.template_body, &spec.template.body)
        }
        _ => Vec::new(),
    };
    let mut deleted = delete.clone();
    for (account, regions) in &release {
        deleted
            .entry(account.clone())
            .or_default()
            .extend(regions.iter().cloned());
    }

    Ok(StackSetPlan {
        name: spec.name.clone(),
        action,
        adopt,
        permission_model: spec.permission_model,
        call_as: spec.call_as,
        regions: spec.regions.clone(),
        changes,
        template_diff,
        desired_instances: (selection.desired.len() * spec.regions.len())
            .saturating_sub(region_skips.iter().map(|s| s.regions.len()).sum::<usize>()),
        existing_instances: instances.len(),
        create_instances: cells(&create),
        delete_instances: cells(&deleted),
        update_instances: if action == StackSetAction::Update {
            // UpdateStackSet rolls out to every instance that stays, failed ones included.
            cells(&stays)
        } else {
            cells(&repair)
        },
        skipped: selection
            .skipped
            .iter()
            .cloned()
            .chain(region_skips)
            .collect(),
        operations,
        instance_time: None,
        managed_execution: spec
            .managed_execution
            .or(observed.map(|o| o.managed_execution))
            .unwrap_or(crate::fleet::DEFAULT_MANAGED_EXECUTION),
        desired: Some(desired),
        removed_resources,
        findings,
        rollout: None,
    })
}

/// Logical ids the `after` template no longer declares, in the `before` template's order.
fn removed_resources(before: &str, after: &str) -> Vec<String> {
    let kept: BTreeSet<String> = template::resource_types(after)
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    template::resource_types(before)
        .into_iter()
        .map(|(id, _)| id)
        .filter(|id| !kept.contains(id))
        .collect()
}

/// Inoperable instances leave the stack set with `RetainStacks`, as AWS documents
/// ("StackInstanceComprehensiveStatus", CloudFormation API Reference,
/// https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_StackInstanceComprehensiveStatus.html).
fn release_operations(
    release: &CellsByAccount,
    model: PermissionModel,
    ou_of: &dyn Fn(&str) -> Vec<String>,
) -> Vec<Operation> {
    delete_operations(release, model, ou_of, true)
}

fn delete_operations(
    cells: &CellsByAccount,
    model: PermissionModel,
    ou_of: &dyn Fn(&str) -> Vec<String>,
    retain_stacks: bool,
) -> Vec<Operation> {
    let mut ops = operations_for(OperationAction::DeleteInstances, cells, model, ou_of);
    for op in &mut ops {
        op.retain_stacks = retain_stacks;
    }
    ops
}

/// Removes from `cells` the account × region pairs whose opt-in region is not enabled (in the
/// account or the administrator account), which can never succeed and would be planned, retried
/// and fail on every run; returns them as skipped accounts.
fn drop_unavailable_regions(
    inventory: &Inventory,
    cells: &mut [&mut BTreeMap<String, BTreeSet<String>>],
) -> Vec<crate::targets::SkippedAccount> {
    if inventory.region_opt_in.is_empty() {
        return Vec::new();
    }
    let mut dropped: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for by_account in cells.iter_mut() {
        for (account, regions) in by_account.iter_mut() {
            regions.retain(|region| {
                let unavailable = inventory.region_unavailable(account, region).is_some();
                if unavailable {
                    dropped
                        .entry(account.clone())
                        .or_default()
                        .insert(region.clone());
                }
                !unavailable
            });
        }
        by_account.retain(|_, regions| !regions.is_empty());
    }
    dropped
        .into_iter()
        .map(|(account, regions)| crate::targets::SkippedAccount {
            account_name: inventory
                .accounts
                .get(&account)
                .map(|a| a.name.clone())
                .unwrap_or_default(),
            account,
            reason: SkipReason::RegionNotEnabled,
            regions: regions.into_iter().collect(),
        })
        .collect()
}

/// The outermost OU (or root) of `targets` that holds `account`, walking up from its parent;
/// its parent when none does.
fn targeted_ou_of(inventory: &Inventory, targets: &BTreeSet<String>, account: &str) -> Vec<String> {
    let Some(mut at) = inventory
        .accounts
        .get(account)
        .map(|a| a.parent_id.as_str())
    else {
        return Vec::new();
    };
    let mut found = None;
    loop {
        if targets.contains(at) {
            found = Some(at);
        }
        match inventory
            .organizational_units
            .get(at)
            .and_then(|ou| ou.parent_id.as_deref())
        {
            Some(parent) => at = parent,
            None => break,
        }
    }
    match found {
        Some(ou) => vec![ou.to_string()],
        None => current_parent(inventory, account),
    }
}

/// The operations that roll a stack set update out to `stays`. Unscoped, UpdateStackSet runs on
/// every instance of the stack set; when some are `held`, it names the largest rectangle of the
/// ones that stay instead (Accounts, or DeploymentTargets, and Regions: "CloudFormation marks
/// all stack instances with a status of OUTDATED prior to updating the stack instances in the
/// specified accounts and Amazon Web Services Regions", UpdateStackSet, CloudFormation API
/// Reference, https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_UpdateStackSet.html),
/// and UpdateStackInstances brings the other rectangles up to date after it. With none staying
/// (a stack set of held instances only) the update stays unscoped, and so reaches them too: it
/// alone changes the template that new instances get.
fn update_operations(
    stays: &CellsByAccount,
    held: bool,
    model: PermissionModel,
    ou_of: &dyn Fn(&str) -> Vec<String>,
) -> Vec<Operation> {
    let unscoped = Operation {
        id: String::new(),
        action: OperationAction::UpdateStackSet,
        accounts: Vec::new(),
        regions: Vec::new(),
        organizational_units: Vec::new(),
        retain_stacks: false,
        instances: count(stays),
        estimated_seconds: 0,
    };
    if !held || stays.is_empty() {
        return vec![unscoped];
    }
    let mut rest = operations_for(OperationAction::UpdateInstances, stays, model, ou_of);
    let largest = rest
        .iter()
        .enumerate()
        .max_by_key(|(i, op)| (op.instances, std::cmp::Reverse(*i)))
        .map_or(0, |(i, _)| i);
    let mut update = rest.remove(largest);
    update.action = OperationAction::UpdateStackSet;
    let mut out = vec![update];
    out.extend(rest);
    out
}

fn plan_deletion(
    set: &ObservedStackSet,
    inventory: &Inventory,
    default_rollout: &Rollout,
    call_as: CallAs,
) -> StackSetPlan {
    let Triage {
        usual,
        held,
        release,
        mut findings,
    } = triage(
        &set.name,
        set.permission_model,
        inventory,
        &set.instances,
        &|_| false,
        &[],
        false,
    );
    let delete = all_instances(&usual);
    // The entry, and with it `retain_stacks_on_delete`, left fleet.toml: the tag it left on the
    // stack set says whether the stacks stay.
    let retain = set.tags.get(RETAIN_TAG).is_some_and(|v| v == "true");
    let deployed_through = deployed_through(set.permission_model, &set.instances);
    let ou_of = |account: &str| recorded_ous(&deployed_through, inventory, account);
    let regions: BTreeSet<String> = set.instances.iter().map(|i| i.region.clone()).collect();
    let mut operations = release_operations(&release, set.permission_model, &ou_of);
    operations.extend(delete_operations(
        &delete,
        set.permission_model,
        &ou_of,
        retain,
    ));
    let mut deleted = delete.clone();
    for (account, regions) in &release {
        deleted
            .entry(account.clone())
            .or_default()
            .extend(regions.iter().cloned());
    }
    // "Before you can delete a stack set, all its member stack instances must be deleted"
    // (DeleteStackSet, CloudFormation API Reference; otherwise StackSetNotEmptyException): while
    // it holds instances stackfleet never deletes, the stack set stays and every apply would
    // fail on it. Its other instances still go, and the findings say what is left to do.
    let action = if held.is_empty() {
        StackSetAction::Delete
    } else {
        for finding in &mut findings {
            if !finding.kind.is_planned() {
                finding.remedy.push_str(
                    ". The stack set left fleet.toml: stackfleet deletes it once this instance \
                     is gone, since StackSets deletes only an empty stack set",
                );
            }
        }
        StackSetAction::None
    };
    StackSetPlan {
        name: set.name.clone(),
        action,
        adopt: false,
        permission_model: set.permission_model,
        call_as,
        regions: regions.into_iter().collect(),
        changes: Vec::new(),
        template_diff: None,
        desired_instances: 0,
        existing_instances: set.instances.len(),
        create_instances: Vec::new(),
        delete_instances: cells(&deleted),
        update_instances: Vec::new(),
        skipped: Vec::new(),
        operations,
        instance_time: None,
        managed_execution: set.managed_execution,
        desired: None,
        removed_resources: Vec::new(),
        findings,
        rollout: Some(default_rollout.clone()),
    }
}

/// The stack set's operations as apply runs them: ranges of `set.operations` started together.
/// Without ManagedExecution each operation runs alone (StackSets refuses a second one). With it,
/// consecutive instance operations of one kind go together: the planner's rectangles of one kind
/// never share an instance, so StackSets runs them concurrently ("non-conflicting operations",
/// ManagedExecution, API Reference); an UpdateStackSet, which touches every instance, and a
/// change of kind (delete before create) keep their turn.
pub fn concurrent_runs(set: &StackSetPlan) -> Vec<std::ops::Range<usize>> {
    let mut runs: Vec<std::ops::Range<usize>> = Vec::new();
    for (i, op) in set.operations.iter().enumerate() {
        let joins = set.managed_execution
            && op.action != OperationAction::UpdateStackSet
            && runs
                .last()
                .is_some_and(|r| set.operations[r.start].action == op.action);
        match runs.last_mut() {
            Some(run) if joins => run.end = i + 1,
            _ => runs.push(i..i + 1),
        }
    }
    runs
}
