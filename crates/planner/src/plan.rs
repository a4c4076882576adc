//! The pure planning core: fleet.toml + organization + StackSets state → an exact plan.
//!
//! [`plan`] reads no clock, makes no call and draws no random number: the same inputs give the
//! same plan, byte for byte once serialized.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::batch::{Rectangle, partition};
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::fleet::{
    AutoDeployment, CallAs, FLEET_TAG, Fleet, Located, OuRef, PermissionModel, Rollout,
    StackSetSpec,
};
use crate::inventory::{AccountStatus, Inventory, OrganizationTree};
use crate::observed::{Observed, ObservedInstance, ObservedStackSet};
use crate::template::Template;

/// The version of the plan file format; `apply plan.json` refuses other versions.
pub const PLAN_FORMAT_VERSION: u32 = 1;

/// StackSets takes at most 50 OUs in one operation's `DeploymentTargets`.
pub const MAX_OUS_PER_OPERATION: usize = 50;

/// What CloudFormation shows for a NoEcho parameter, and what stackfleet shows for one.
pub const MASK: &str = "****";

const DEFAULT_ADMINISTRATION_ROLE: &str = "AWSCloudFormationStackSetAdministrationRole";
const DEFAULT_EXECUTION_ROLE: &str = "AWSCloudFormationStackSetExecutionRole";

/// Everything `apply` will do, and the facts it was computed from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// [`PLAN_FORMAT_VERSION`].
    pub format_version: u32,
    /// A digest of the organization and StackSets state the plan was made from; `apply plan.json`
    /// refuses to run when the state it reads has a different one.
    pub fingerprint: String,
    /// The fleet's name.
    pub fleet: String,
    /// Where the plan applies.
    pub organization: PlanOrganization,
    /// Counts over all stack sets.
    pub summary: Summary,
    /// One entry per stack set, fleet.toml order first, then stack sets to delete by name.
    pub stack_sets: Vec<StackSetPlan>,
}

/// The organization and home region a plan applies to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanOrganization {
    /// `o-…`.
    pub id: String,
    /// The management account.
    pub management_account: String,
    /// Where the stack sets live.
    pub home_region: String,
    /// As whom stackfleet calls StackSets.
    pub call_as: CallAs,
    /// The role stackfleet assumed to make the plan (`organization.assume_role_arn`), which
    /// `apply plan.json` assumes too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assume_role_arn: Option<String>,
}

/// Counts over the whole plan.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Stack sets to create.
    pub create_stack_sets: usize,
    /// Stack sets whose template, parameters or settings change.
    pub update_stack_sets: usize,
    /// Stack sets of this fleet that left fleet.toml.
    pub delete_stack_sets: usize,
    /// Stack instances to create.
    pub create_instances: usize,
    /// Stack instances to delete.
    pub delete_instances: usize,
    /// Failed or cancelled stack instances to run again.
    pub update_instances: usize,
    /// StackSets operations, all stack sets together.
    pub operations: usize,
}

impl Plan {
    /// The plan as it may be printed or saved: the value of every NoEcho parameter replaced by
    /// [`MASK`], with a salted digest that [`Plan::unmask`] checks.
    pub fn masked(&self) -> Plan {
        let mut plan = self.clone();
        for set in &mut plan.stack_sets {
            let Some(desired) = &mut set.desired else {
                continue;
            };
            for key in desired.no_echo_parameters.clone() {
                if let Some(value) = desired.parameters.get_mut(&key)
                    && value != MASK
                {
                    let digest = secret_digest(&plan.fingerprint, &set.name, &key, value);
                    desired.no_echo_digests.insert(key.clone(), digest);
                    *value = MASK.to_string();
                }
            }
        }
        plan
    }

    /// Whether the plan holds masked values that [`Plan::unmask`] must restore before apply.
    pub fn is_masked(&self) -> bool {
        self.stack_sets
            .iter()
            .filter_map(|s| s.desired.as_ref())
            .any(|d| !d.no_echo_digests.is_empty())
    }

    /// Restores masked NoEcho values from `fleet` (the fleet.toml the plan was made from),
    /// checking each against its digest. The error names the first parameter that fleet.toml
    /// lacks or whose value changed since the plan was made.
    pub fn unmask(&mut self, fleet: &Fleet) -> Result<(), String> {
        let fingerprint = self.fingerprint.clone();
        for set in &mut self.stack_sets {
            let Some(desired) = &mut set.desired else {
                continue;
            };
            let spec = fleet.stack_sets.iter().find(|s| s.name == set.name);
            for (key, digest) in std::mem::take(&mut desired.no_echo_digests) {
                let value = spec.and_then(|s| s.parameters.get(&key)).ok_or_else(|| {
                    format!(
                        "the plan masks NoEcho parameter {key} of stack set {}, and {} does not set it",
                        set.name,
                        fleet.path.display()
                    )
                })?;
                if secret_digest(&fingerprint, &set.name, &key, value) != digest {
                    return Err(format!(
                        "NoEcho parameter {key} of stack set {} in {} is not the value the plan was made with",
                        set.name,
                        fleet.path.display()
                    ));
                }
                desired.parameters.insert(key, value.clone());
            }
        }
        Ok(())
    }
}

fn secret_digest(fingerprint: &str, stack_set: &str, key: &str, value: &str) -> String {
    let mut hasher = Sha256::new();
    for part in [fingerprint, stack_set, key, value] {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Summary {
    /// Whether applying the plan would change anything.
    pub fn has_changes(&self) -> bool {
        self.create_stack_sets
            + self.update_stack_sets
            + self.delete_stack_sets
            + self.create_instances
            + self.delete_instances
            + self.update_instances
            > 0
    }
}

/// What happens to one stack set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StackSetAction {
    /// It does not exist yet.
    Create,
    /// Its template, parameters or settings change.
    Update,
    /// It belongs to this fleet but left fleet.toml.
    Delete,
    /// The stack set itself stays as it is (its instances may still change).
    None,
}

/// The plan for one stack set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StackSetPlan {
    /// The stack set's name.
    pub name: String,
    /// What happens to the stack set itself.
    pub action: StackSetAction,
    /// Self- or service-managed.
    pub permission_model: PermissionModel,
    /// Governed regions.
    pub regions: Vec<String>,
    /// Settings that change, with NoEcho parameter values masked.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<FieldChange>,
    /// Unified diff of the template, when it changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_diff: Option<String>,
    /// Instances the fleet wants.
    pub desired_instances: usize,
    /// Instances StackSets has now.
    pub existing_instances: usize,
    /// Instances to create.
    pub create_instances: Vec<Cell>,
    /// Instances to delete.
    pub delete_instances: Vec<Cell>,
    /// Failed or cancelled instances to run again.
    pub update_instances: Vec<Cell>,
    /// Targeted accounts that get no instance, and why.
    pub skipped: Vec<SkippedAccount>,
    /// The StackSets operations, in the order they run.
    pub operations: Vec<Operation>,
    /// The stack set as apply creates or updates it; absent when it is deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired: Option<DesiredStackSet>,
}

/// One account × region.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Cell {
    /// The account.
    pub account: String,
    /// The region.
    pub region: String,
}

/// A changed setting of a stack set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldChange {
    /// `template`, `description`, `parameters.Name`, `tags.key`, `capabilities`, …
    pub field: String,
    /// The current value, if any.
    pub before: Option<String>,
    /// The value fleet.toml asks for, if any.
    pub after: Option<String>,
}

/// A targeted account that gets no instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedAccount {
    /// The account.
    pub account: String,
    /// Its name in the organization.
    pub account_name: String,
    /// Why it is skipped.
    pub reason: SkipReason,
}

/// Why a targeted account gets no instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SkipReason {
    /// The account is suspended, closed or closing.
    Suspended,
    /// The management account, which service-managed stack sets never deploy to.
    NotDeployable,
}

/// One StackSets operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operation {
    /// The `OperationId` apply gives it: derived from the state the plan was made from, the stack
    /// set's plan and the step, so that a rerun of the same plan recognises an operation it
    /// already started (`OperationIdAlreadyExistsException`) instead of starting a second one.
    pub id: String,
    /// What the operation does.
    pub action: OperationAction,
    /// The accounts (empty for `update-stack-set`, which covers every instance).
    pub accounts: Vec<String>,
    /// The regions (empty for `update-stack-set`).
    pub regions: Vec<String>,
    /// Service-managed: the OUs of `accounts`, for `DeploymentTargets` with
    /// `AccountFilterType = INTERSECTION`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub organizational_units: Vec<String>,
    /// How many instances the operation touches.
    pub instances: usize,
}

/// The kind of a StackSets operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OperationAction {
    /// `DeleteStackInstances`.
    DeleteInstances,
    /// `UpdateStackSet` over every instance.
    UpdateStackSet,
    /// `UpdateStackInstances` to run failed instances again.
    UpdateInstances,
    /// `CreateStackInstances`.
    CreateInstances,
}

/// A stack set as apply creates or updates it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DesiredStackSet {
    /// The description.
    pub description: Option<String>,
    /// The template text.
    pub template_body: String,
    /// Parameter values (real values; the plan file is as sensitive as fleet.toml).
    pub parameters: BTreeMap<String, String>,
    /// Parameters the template marks NoEcho, to mask wherever they are shown.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub no_echo_parameters: BTreeSet<String>,
    /// In a masked plan: for each NoEcho parameter, a digest of its value, salted with the plan's
    /// fingerprint, so that apply can check the value fleet.toml gives it later.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub no_echo_digests: BTreeMap<String, String>,
    /// Tags, stackfleet's own included.
    pub tags: BTreeMap<String, String>,
    /// Capabilities.
    pub capabilities: BTreeSet<String>,
    /// Self-managed administration role.
    pub administration_role_arn: Option<String>,
    /// Self-managed execution role.
    pub execution_role_name: Option<String>,
    /// Service-managed auto-deployment.
    pub auto_deployment: Option<AutoDeployment>,
    /// Keep member stacks when instances are deleted.
    pub retain_stacks_on_delete: bool,
    /// Operation preferences.
    pub rollout: Rollout,
}

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
            stack_sets.push(plan_deletion(set, inventory));
        }
    }

    let fingerprint = fingerprint(inventory, observed);
    for set in &mut stack_sets {
        assign_operation_ids(&fingerprint, set);
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
    }
    Ok(Plan {
        format_version: PLAN_FORMAT_VERSION,
        fingerprint,
        fleet: fleet.name.clone(),
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
        },
        summary,
        stack_sets,
    })
}

/// The digest of the state a plan is computed from (hex SHA-256 of canonical JSON, streamed so
/// that a 10,000-account organization costs no copy). Drift statuses are left out: a nightly
/// drift check does not change what apply would do.
pub fn fingerprint(inventory: &Inventory, observed: &Observed) -> String {
    let mut hasher = HashWriter(Sha256::new());
    // Writing plain BTreeMap-based data into a hasher cannot fail; maps serialize sorted.
    let _ = serde_json::to_writer(&mut hasher, inventory);
    for set in observed.stack_sets.values() {
        // Destructured in full so that a new field cannot be left out of the digest unnoticed.
        let ObservedStackSet {
            name,
            id,
            description,
            template_body,
            parameters,
            tags,
            capabilities,
            permission_model,
            administration_role_arn,
            execution_role_name,
            auto_deployment,
            instances,
        } = set;
        let _ = serde_json::to_writer(
            &mut hasher,
            &(
                name,
                id,
                description,
                template_body,
                parameters,
                tags,
                capabilities,
                permission_model,
                administration_role_arn,
                execution_role_name,
                auto_deployment,
            ),
        );
        for instance in instances {
            let ObservedInstance {
                account,
                region,
                status,
                detailed_status,
                status_reason,
                drift_status: _,
                organizational_unit_id,
            } = instance;
            let _ = serde_json::to_writer(
                &mut hasher,
                &(
                    account,
                    region,
                    status,
                    detailed_status,
                    status_reason,
                    organizational_unit_id,
                ),
            );
        }
    }
    hasher
        .0
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Feeds serialized bytes straight into the digest.
struct HashWriter(Sha256);

impl std::io::Write for HashWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Names each operation `stackfleet-<digest>`; AWS allows `[a-zA-Z0-9][-a-zA-Z0-9]*`, 128 long.
fn assign_operation_ids(fingerprint: &str, set: &mut StackSetPlan) {
    // The fingerprint and the stack set's plan are hashed once, streamed; each id continues from a
    // copy of that state with its step (hashing the plan again per operation made the cost grow
    // with operations × instances).
    let mut content = HashWriter(Sha256::new());
    content.0.update(fingerprint.as_bytes());
    let _ = serde_json::to_writer(&mut content, &*set);
    for (step, op) in set.operations.iter_mut().enumerate() {
        let mut hasher = content.0.clone();
        hasher.update(step.to_le_bytes());
        let digest = hasher.finalize();
        op.id = format!(
            "stackfleet-{}",
            digest[..12]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        );
    }
}

/// The accounts a stack set wants, and the targeted accounts it cannot have.
pub(crate) struct Selection {
    /// Targeted, not excluded, active and deployable.
    pub desired: BTreeSet<String>,
    /// Targeted and not excluded, but suspended or not deployable.
    pub skipped: Vec<SkippedAccount>,
    /// Named by an exclusion (whether or not a target selects them).
    pub excluded: BTreeSet<String>,
}

/// Resolves fleet.toml's targets against the organization.
pub(crate) struct Resolver<'a> {
    pub inventory: &'a Inventory,
    pub tree: &'a OrganizationTree<'a>,
    pub ou_by_path: &'a BTreeMap<&'a str, &'a str>,
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
            let what = match &ou.value {
                OuRef::Path(p) => format!("OU path {p:?}"),
                OuRef::Id(id) => format!("OU {id}"),
            };
            Diagnostic::new(
                ou.location.clone(),
                format!(
                    "{what} does not exist in organization {}",
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
        for ou in &spec.targets.organizational_units {
            match self.ou(ou) {
                Ok(id) => targeted.extend(self.tree.accounts_under(&id)),
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
                }),
                None => {
                    selection.desired.insert(account.id.clone());
                }
            }
        }
        Ok(selection)
    }
}

fn desired_stack_set(fleet: &Fleet, spec: &StackSetSpec) -> DesiredStackSet {
    let mut tags = spec.tags.clone();
    tags.insert(FLEET_TAG.to_string(), fleet.name.clone());
    DesiredStackSet {
        description: spec.description.clone(),
        template_body: spec.template.body.clone(),
        parameters: spec.parameters.clone(),
        no_echo_parameters: spec
            .template
            .parameters
            .iter()
            .filter(|(_, p)| p.no_echo)
            .map(|(name, _)| name.clone())
            .collect(),
        no_echo_digests: BTreeMap::new(),
        tags,
        capabilities: spec.capabilities.clone(),
        administration_role_arn: spec.administration_role_arn.clone(),
        execution_role_name: spec.execution_role_name.clone(),
        auto_deployment: spec.auto_deployment,
        retain_stacks_on_delete: spec.retain_stacks_on_delete,
        rollout: spec.rollout.clone(),
    }
}

/// A set of a stack set's regions, one bit each. fleet.toml only accepts known regions, and there
/// are fewer of them than bits.
type RegionMask = u128;
const _: () = assert!(crate::regions::KNOWN_REGIONS.len() <= RegionMask::BITS as usize);

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

    let (action, changes, template_diff) = match observed {
        None => (StackSetAction::Create, Vec::new(), None),
        Some(o) => {
            if o.permission_model != spec.permission_model {
                return Err(Diagnostic::new(
                    spec.location.clone(),
                    format!(
                        "stack set {:?} exists as {} and StackSets cannot change a permission model: delete it or choose another name",
                        spec.name,
                        match o.permission_model {
                            PermissionModel::SelfManaged => "self-managed",
                            PermissionModel::ServiceManaged => "service-managed",
                        }
                    ),
                ));
            }
            let (changes, diff) = stack_set_changes(o, &desired, &spec.template);
            let action = if changes.is_empty() {
                StackSetAction::None
            } else {
                StackSetAction::Update
            };
            (action, changes, diff)
        }
    };

    // The governed regions as bits, and the ones each desired account has: one account look-up
    // per instance, instead of a search among all (account, region) pairs per desired instance.
    let mut region_bit: BTreeMap<&str, RegionMask> = BTreeMap::new();
    for region in &spec.regions {
        let next = 1 << region_bit.len();
        region_bit.entry(region.as_str()).or_insert(next);
    }
    let governed = region_bit.values().fold(0, |all, bit| all | bit);
    let mut present: BTreeMap<&str, RegionMask> = selection
        .desired
        .iter()
        .map(|account| (account.as_str(), 0))
        .collect();
    let mut delete: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut repair: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for instance in instances {
        let bit = region_bit.get(instance.region.as_str());
        match (present.get_mut(instance.account.as_str()), bit) {
            (Some(has), Some(bit)) => {
                *has |= bit;
                if action == StackSetAction::None && instance.needs_repair() {
                    repair
                        .entry(instance.account.clone())
                        .or_default()
                        .insert(instance.region.clone());
                }
            }
            _ if !untouchable.contains(instance.account.as_str()) => {
                delete
                    .entry(instance.account.clone())
                    .or_default()
                    .insert(instance.region.clone());
            }
            _ => {}
        }
    }
    let mut create: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (account, has) in present {
        let missing = governed & !has;
        if missing != 0 {
            let regions = region_bit
                .iter()
                .filter(|(_, bit)| missing & **bit != 0)
                .map(|(region, _)| region.to_string())
                .collect();
            create.insert(account.to_string(), regions);
        }
    }

    let deployed_through = deployed_through(spec.permission_model, instances);
    let ou_of = |account: &str| -> Option<String> {
        inventory
            .accounts
            .get(account)
            .map(|a| a.parent_id.clone())
            .or_else(|| {
                deployed_through
                    .get(account)
                    .copied()
                    .flatten()
                    .map(str::to_string)
            })
    };
    let model = spec.permission_model;
    let mut operations = Vec::new();
    operations.extend(operations_for(
        OperationAction::DeleteInstances,
        &delete,
        model,
        &ou_of,
    ));
    // Even with no instance, the update is what changes the template new instances get.
    if action == StackSetAction::Update {
        operations.push(Operation {
            id: String::new(),
            action: OperationAction::UpdateStackSet,
            accounts: Vec::new(),
            regions: Vec::new(),
            organizational_units: Vec::new(),
            instances: instances.len() - count(&delete),
        });
    }
    operations.extend(operations_for(
        OperationAction::UpdateInstances,
        &repair,
        model,
        &ou_of,
    ));
    operations.extend(operations_for(
        OperationAction::CreateInstances,
        &create,
        model,
        &ou_of,
    ));

    Ok(StackSetPlan {
        name: spec.name.clone(),
        action,
        permission_model: spec.permission_model,
        regions: spec.regions.clone(),
        changes,
        template_diff,
        desired_instances: selection.desired.len() * spec.regions.len(),
        existing_instances: instances.len(),
        create_instances: cells(&create),
        delete_instances: cells(&delete),
        update_instances: cells(&repair),
        skipped: selection.skipped.clone(),
        operations,
        desired: Some(desired),
    })
}

fn plan_deletion(set: &ObservedStackSet, inventory: &Inventory) -> StackSetPlan {
    let mut delete: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for instance in &set.instances {
        delete
            .entry(instance.account.clone())
            .or_default()
            .insert(instance.region.clone());
    }
    let deployed_through = deployed_through(set.permission_model, &set.instances);
    let ou_of = |account: &str| -> Option<String> {
        deployed_through
            .get(account)
            .copied()
            .flatten()
            .map(str::to_string)
            .or_else(|| inventory.accounts.get(account).map(|a| a.parent_id.clone()))
    };
    let regions: BTreeSet<String> = set.instances.iter().map(|i| i.region.clone()).collect();
    StackSetPlan {
        name: set.name.clone(),
        action: StackSetAction::Delete,
        permission_model: set.permission_model,
        regions: regions.into_iter().collect(),
        changes: Vec::new(),
        template_diff: None,
        desired_instances: 0,
        existing_instances: set.instances.len(),
        create_instances: Vec::new(),
        delete_instances: cells(&delete),
        update_instances: Vec::new(),
        skipped: Vec::new(),
        operations: operations_for(
            OperationAction::DeleteInstances,
            &delete,
            set.permission_model,
            &ou_of,
        ),
        desired: None,
    }
}

/// The OU each account's first instance was deployed through, by account: looked up once per
/// account of an operation, so a map rather than a scan. Only service-managed operations name
/// OUs; for self-managed stack sets the map stays empty.
fn deployed_through(
    model: PermissionModel,
    instances: &[ObservedInstance],
) -> BTreeMap<&str, Option<&str>> {
    let mut by_account = BTreeMap::new();
    if model == PermissionModel::SelfManaged {
        return by_account;
    }
    for instance in instances {
        by_account
            .entry(instance.account.as_str())
            .or_insert(instance.organizational_unit_id.as_deref());
    }
    by_account
}

fn count(cells: &BTreeMap<String, BTreeSet<String>>) -> usize {
    cells.values().map(BTreeSet::len).sum()
}

fn cells(by_account: &BTreeMap<String, BTreeSet<String>>) -> Vec<Cell> {
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

/// The rectangles of `cells` as operations; service-managed ones also name the accounts' OUs,
/// split so that no operation names more than [`MAX_OUS_PER_OPERATION`].
fn operations_for(
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
            });
        }
    }
    out
}

/// The settings that differ between StackSets and fleet.toml, and the template diff.
fn stack_set_changes(
    observed: &ObservedStackSet,
    desired: &DesiredStackSet,
    template: &Template,
) -> (Vec<FieldChange>, Option<String>) {
    let mut changes = Vec::new();
    let mut change = |field: String, before: Option<&str>, after: Option<&str>| {
        changes.push(FieldChange {
            field,
            before: before.map(str::to_string),
            after: after.map(str::to_string),
        });
    };

    let mut template_diff = None;
    if observed.template_body != desired.template_body {
        change("template".to_string(), None, None);
        template_diff = Some(
            similar::TextDiff::from_lines(&observed.template_body, &desired.template_body)
                .unified_diff()
                .context_radius(3)
                .header("deployed", "fleet.toml")
                .to_string(),
        );
    }
    if desired.description.is_some() && observed.description != desired.description {
        change(
            "description".to_string(),
            observed.description.as_deref(),
            desired.description.as_deref(),
        );
    }

    // A parameter left unset takes the template's default, whether StackSets lists it or not.
    let default = |key: &String| {
        template
            .parameters
            .get(key)
            .and_then(|p| p.default.as_deref())
    };
    let keys: BTreeSet<&String> = observed
        .parameters
        .keys()
        .chain(desired.parameters.keys())
        .collect();
    for key in keys {
        let before = observed
            .parameters
            .get(key)
            .map(String::as_str)
            .or_else(|| default(key));
        let after = desired
            .parameters
            .get(key)
            .map(String::as_str)
            .or_else(|| default(key));
        let secret = desired.no_echo_parameters.contains(key);
        // CloudFormation never returns a NoEcho value, so a masked value cannot be compared.
        if before == after || (secret && before == Some(MASK) && after.is_some()) {
            continue;
        }
        let shown = |v: Option<&str>| {
            v.map(|v| {
                if secret {
                    MASK.to_string()
                } else {
                    v.to_string()
                }
            })
        };
        change(
            format!("parameters.{key}"),
            shown(before).as_deref(),
            shown(after).as_deref(),
        );
    }

    let mut observed_tags = observed.tags.clone();
    let mut desired_tags = desired.tags.clone();
    // The fleet marker is added at creation only; stack sets adopted from before stackfleet keep
    // working without an update of every instance just to add it.
    observed_tags.remove(FLEET_TAG);
    desired_tags.remove(FLEET_TAG);
    let keys: BTreeSet<&String> = observed_tags.keys().chain(desired_tags.keys()).collect();
    for key in keys {
        let before = observed_tags.get(key).map(String::as_str);
        let after = desired_tags.get(key).map(String::as_str);
        if before != after {
            change(format!("tags.{key}"), before, after);
        }
    }

    // Capabilities are not compared: they acknowledge what a template may do and are sent with
    // every create and update, so a change of them alone is no reason to touch every instance.
    if !same_role(
        observed.administration_role_arn.as_deref(),
        desired.administration_role_arn.as_deref(),
        DEFAULT_ADMINISTRATION_ROLE,
    ) {
        change(
            "administration_role_arn".to_string(),
            observed.administration_role_arn.as_deref(),
            desired.administration_role_arn.as_deref(),
        );
    }
    if !same_role(
        observed.execution_role_name.as_deref(),
        desired.execution_role_name.as_deref(),
        DEFAULT_EXECUTION_ROLE,
    ) {
        change(
            "execution_role_name".to_string(),
            observed.execution_role_name.as_deref(),
            desired.execution_role_name.as_deref(),
        );
    }
    if let Some(wanted) = desired.auto_deployment
        && observed.auto_deployment != Some(wanted)
    {
        let show = |a: Option<AutoDeployment>| {
            a.map(|a| {
                format!(
                    "enabled={} retain_stacks_on_account_removal={}",
                    a.enabled, a.retain_stacks_on_account_removal
                )
            })
        };
        change(
            "auto_deployment".to_string(),
            show(observed.auto_deployment).as_deref(),
            show(Some(wanted)).as_deref(),
        );
    }
    (changes, template_diff)
}

/// Whether a role setting matches: unset in fleet.toml means the AWS default role, which
/// StackSets reports by name or ARN.
fn same_role(observed: Option<&str>, desired: Option<&str>, default: &str) -> bool {
    let name = |r: &str| r.rsplit('/').next().unwrap_or(r).to_string();
    match (observed, desired) {
        (o, Some(d)) => o == Some(d),
        (None, None) => true,
        (Some(o), None) => name(o) == default,
    }
}
