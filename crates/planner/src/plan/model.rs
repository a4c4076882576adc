//! The plan's data: what `plan` prints and `apply` reads back from a saved plan file.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::fleet::{AutoDeployment, CallAs, PermissionModel, Rollout};
use crate::targets::SkippedAccount;

use super::estimate::InstanceTime;

/// The version of the plan file format; `apply plan.json` refuses other versions.
pub const PLAN_FORMAT_VERSION: u32 = 2;

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
    /// Drawn by the CLI for each plan ([`Plan::stamped`]) and part of every operation id, so that
    /// two plans never share an id even when they are made from the same state.
    #[serde(default)]
    pub nonce: String,
    /// When the plan was made (Unix seconds, from the CLI): an existing operation created before
    /// it cannot be this plan's.
    #[serde(default)]
    pub planned_at: u64,
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
    /// The account that made the plan (set by the CLI, like the nonce). Stack sets called as
    /// `SELF` live in that account, so `apply plan.json` runs only there; it need not be the
    /// management account (a self-managed administrator account).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub administrator_account: Option<String>,
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
    /// Stack instances that run again: every remaining instance of an updated stack set (the
    /// update rolls out to all of them), and failed or cancelled instances retried.
    pub update_instances: usize,
    /// StackSets operations, all stack sets together.
    pub operations: usize,
    /// How long the operations should take, one after another, in seconds (see
    /// [`super::estimate`]).
    #[serde(default)]
    pub estimated_seconds: u64,
    /// Template resources that updates remove, counted once per stack that loses them (see
    /// [`StackSetPlan::removed_resources`]).
    #[serde(default, skip_serializing_if = "is_zero_usize")]
    pub removed_resources: usize,
}

fn is_zero_usize(n: &usize) -> bool {
    *n == 0
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
    /// The stack set exists without this fleet's `stackfleet:fleet` tag and fleet.toml says
    /// `adopt = true`: the update takes it over (the tag change is listed in `changes`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub adopt: bool,
    /// Self- or service-managed.
    pub permission_model: PermissionModel,
    /// The `CallAs` of every call for this stack set (always `self` when self-managed).
    pub call_as: CallAs,
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
    /// Instances that run again: with a stack set update, every instance that is not deleted
    /// (the update rolls out to all of them); otherwise the failed or cancelled ones retried.
    pub update_instances: Vec<Cell>,
    /// Targeted accounts that get no instance, and why.
    pub skipped: Vec<SkippedAccount>,
    /// The StackSets operations, in the order they run.
    pub operations: Vec<Operation>,
    /// The per-instance time the operations' estimates used. Left out of operation ids: it is
    /// set after they are derived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_time: Option<InstanceTime>,
    /// The stack set as apply creates or updates it; absent when it is deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired: Option<DesiredStackSet>,
    /// Logical ids of the resources the template update removes from every stack that stays:
    /// CloudFormation deletes them in each account × region of `update_instances`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removed_resources: Vec<String>,
    /// Instances that apply treats in a way of their own or cannot reach, each with why and what
    /// to do.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<InstanceFinding>,
    /// A stack set to delete has no `desired`: the rollout its deletion runs with (fleet.toml's
    /// `[defaults.rollout]`, or stackfleet's recommended one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout: Option<Rollout>,
    /// Whether StackSets' `ManagedExecution` is on while apply runs the operations (after the
    /// plan's CreateStackSet or UpdateStackSet): apply then starts each run of consecutive
    /// operations of one kind together (see [`crate::plan::concurrent_runs`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub managed_execution: bool,
}

/// An instance that StackSets reports in a state apply treats in a way of its own, or cannot
/// reach at all.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct InstanceFinding {
    /// The account.
    pub account: String,
    /// The region.
    pub region: String,
    /// What was found.
    pub kind: FindingKind,
    /// What apply does about it, or what a person must do.
    pub remedy: String,
}

/// What kind of instance a [`InstanceFinding`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FindingKind {
    /// INOPERABLE: apply releases it (`DeleteStackInstances` with `RetainStacks`) and, when
    /// fleet.toml still wants it, creates it again.
    Inoperable,
    /// SKIPPED_SUSPENDED_ACCOUNT of an account that is active again: apply runs it again.
    Reactivated,
    /// The account is no longer in the organization: never deleted, listed with the remedy.
    Orphaned,
    /// Service-managed, and the OU recorded on the instance is no longer in the organization:
    /// no operation can name it, so apply leaves it and says what to do.
    Stranded,
    /// A status this version of stackfleet does not know: never counted as covered.
    UnknownStatus,
}

impl FindingKind {
    /// How the kind reads in plans.
    pub fn label(self) -> &'static str {
        match self {
            FindingKind::Inoperable => "inoperable",
            FindingKind::Reactivated => "reactivated",
            FindingKind::Orphaned => "orphaned",
            FindingKind::Stranded => "stranded",
            FindingKind::UnknownStatus => "unknown-status",
        }
    }

    /// Whether apply acts on such instances (otherwise they are only reported).
    pub fn is_planned(self) -> bool {
        match self {
            FindingKind::Inoperable | FindingKind::Reactivated => true,
            FindingKind::Orphaned | FindingKind::Stranded | FindingKind::UnknownStatus => false,
        }
    }
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

/// One StackSets operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operation {
    /// The `OperationId` apply gives it: derived from the plan's nonce, the state the plan was made
    /// from, the stack set's plan and the step, so that a rerun of the same saved plan recognises
    /// an operation it already started (`OperationIdAlreadyExistsException`) and no other plan
    /// can take an operation for its own.
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
    /// `delete-instances` only: `RetainStacks`, so the stacks stay in their accounts
    /// (`retain_stacks_on_delete`, or inoperable instances released as AWS documents).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub retain_stacks: bool,
    /// How many instances the operation touches.
    pub instances: usize,
    /// How long it should take, in seconds (see [`super::estimate`]). Left out of operation ids:
    /// it is set after they are derived, and zero is not written.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub estimated_seconds: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
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
    /// Parameter values as fleet.toml gives them: NoEcho ones are dynamic references, not secrets.
    pub parameters: BTreeMap<String, String>,
    /// Parameters the template marks NoEcho: StackSets shows them as `****`.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub no_echo_parameters: BTreeSet<String>,
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
    /// `ManagedExecution.Active` as fleet.toml sets it; `None` leaves an existing stack set's as
    /// it is (a created one gets [`crate::fleet::DEFAULT_MANAGED_EXECUTION`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_execution: Option<bool>,
}
