//! The fleet model: the validated contents of a fleet.toml, as the planner and executor use them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::diagnostic::Location;
use crate::template::Template;

/// The tag stackfleet puts on every stack set it creates, with the fleet's name as value, so that a
/// stack set that later leaves fleet.toml is recognised as ours and never confused with others.
pub const FLEET_TAG: &str = "stackfleet:fleet";

/// The tag stackfleet puts on a stack set whose entry says `retain_stacks_on_delete = true`
/// (value `true`), so that deleting the stack set after it left fleet.toml still keeps the stacks.
pub const RETAIN_TAG: &str = "stackfleet:retain-stacks";

/// The validated contents of a fleet.toml.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fleet {
    /// The fleet.toml it was read from.
    pub path: PathBuf,
    /// The fleet's name, recorded on its stack sets (tag [`FLEET_TAG`]).
    pub name: String,
    /// Where and as whom stackfleet works.
    pub organization: OrganizationSettings,
    /// The stack sets, in file order.
    pub stack_sets: Vec<StackSetSpec>,
    /// `[defaults.rollout]` (or stackfleet's recommended rollout): what a stack set that left
    /// fleet.toml is deleted with.
    pub default_rollout: Rollout,
    /// What validation accepted but the user should hear about (an unknown but well-formed
    /// region, a rollout whose concurrency strict mode caps), each with its place in fleet.toml.
    pub warnings: Vec<crate::diagnostic::Diagnostic>,
}

/// The `[organization]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrganizationSettings {
    /// The region where the stack sets live.
    pub home_region: String,
    /// If set, stackfleet refuses to run as any other account.
    pub management_account: Option<Located<String>>,
    /// Whether to act as the management account or as a delegated administrator: the `CallAs`
    /// of service-managed stack sets (self-managed ones are always `SELF`, see
    /// [`StackSetSpec::call_as`]).
    pub call_as: CallAs,
    /// If set, stackfleet assumes this IAM role (with the caller's credentials) before any other
    /// call, so that it acts in the management or delegated-administrator account.
    pub assume_role_arn: Option<Located<String>>,
}

/// A value from fleet.toml with the place it was written, for errors found only against AWS.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Located<T> {
    /// The value.
    pub value: T,
    /// Where it was written.
    pub location: Location,
}

/// `organization.call_as`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CallAs {
    /// The caller is the organization's management account (`CallAs = SELF`).
    #[serde(rename = "self")]
    SelfAccount,
    /// The caller is a delegated StackSets administrator (`CallAs = DELEGATED_ADMIN`).
    DelegatedAdmin,
}

/// `stack_sets.permission_model`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PermissionModel {
    /// Explicit accounts; needs the administration and execution roles.
    SelfManaged,
    /// Organizations-integrated; targets OUs; never deploys to the management account.
    ServiceManaged,
}

/// One `[[stack_sets]]` entry, with defaults applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackSetSpec {
    /// The stack set's name, unique in the fleet.
    pub name: String,
    /// Where the entry starts in fleet.toml.
    pub location: Location,
    /// The stack set's description.
    pub description: Option<String>,
    /// The template file, relative to fleet.toml as written.
    pub template_path: PathBuf,
    /// The template as read.
    pub template: Template,
    /// Self- or service-managed.
    pub permission_model: PermissionModel,
    /// The `CallAs` of every StackSets call for this stack set: always `SELF` for a self-managed
    /// one (it lives in the caller's account), `organization.call_as` (or the entry's own
    /// `call_as`) for a service-managed one. `CallAs` "applies to service-managed permissions"
    /// only ("CreateStackSet", CloudFormation API Reference,
    /// https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStackSet.html).
    pub call_as: CallAs,
    /// Governed regions, in the order written.
    pub regions: Vec<String>,
    /// Parameter values, as strings (lists joined with commas, as CloudFormation expects).
    pub parameters: BTreeMap<String, String>,
    /// Tags of the stack set (and, through StackSets, of every member stack).
    pub tags: BTreeMap<String, String>,
    /// `CAPABILITY_*` acknowledgements.
    pub capabilities: BTreeSet<String>,
    /// Self-managed: the administration role ARN (AWS default when unset).
    pub administration_role_arn: Option<String>,
    /// Self-managed: the execution role name (AWS default when unset).
    pub execution_role_name: Option<String>,
    /// Service-managed: automatic deployment to accounts that join the targeted OUs.
    pub auto_deployment: Option<AutoDeployment>,
    /// Keep member stacks when instances are deleted.
    pub retain_stacks_on_delete: bool,
    /// Take over a same-named stack set that does not carry this fleet's tag (`adopt = true`):
    /// without it, such a stack set is refused rather than silently made ours.
    pub adopt: bool,
    /// How operations roll out.
    pub rollout: Rollout,
    /// StackSets' `ManagedExecution.Active` as fleet.toml sets it (the stack set's or
    /// `[defaults]`'); `None`: [`DEFAULT_MANAGED_EXECUTION`] for a stack set stackfleet creates,
    /// and an existing one keeps its own.
    pub managed_execution: Option<bool>,
    /// Which accounts get the stack.
    pub targets: Targets,
}

/// `ManagedExecution.Active` of the stack sets stackfleet creates when fleet.toml is silent: on.
/// StackSets then runs a stack set's non-conflicting operations at once (apply's operations of
/// one kind touch disjoint instances) and queues conflicting ones instead of refusing them with
/// `OperationInProgressException` ("ManagedExecution", CloudFormation API Reference,
/// <https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_ManagedExecution.html>).
/// It shortens a repair whose instances fall into several operations (BENCHMARKS.md, "Rollout
/// time").
pub const DEFAULT_MANAGED_EXECUTION: bool = true;

/// Service-managed automatic deployment settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutoDeployment {
    /// Deploy to accounts added to a targeted OU.
    pub enabled: bool,
    /// Keep the stacks of accounts that leave a targeted OU.
    #[serde(default)]
    pub retain_stacks_on_account_removal: bool,
}

/// A concurrency or failure-tolerance limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Limit {
    /// A number of accounts.
    Count(u32),
    /// A percentage of accounts.
    Percentage(u32),
}

/// `RegionConcurrencyType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RegionConcurrency {
    /// One region after the other.
    Sequential,
    /// All regions at once.
    Parallel,
}

/// `ConcurrencyMode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConcurrencyMode {
    /// Concurrency never exceeds failure tolerance + 1 (the AWS default).
    StrictFailureTolerance,
    /// Concurrency stays at the maximum regardless of failures.
    SoftFailureTolerance,
}

/// Rollout preferences (StackSets `OperationPreferences`), after defaults are applied.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rollout {
    /// Accounts acted on at once per region.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_concurrent: Option<Limit>,
    /// Failures per region before the operation stops.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_tolerance: Option<Limit>,
    /// Regions one after the other or all at once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region_concurrency: Option<RegionConcurrency>,
    /// Strict or soft failure tolerance.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub concurrency_mode: Option<ConcurrencyMode>,
    /// Order of regions for sequential rollouts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub region_order: Vec<String>,
}

impl Rollout {
    /// What stackfleet uses where fleet.toml says nothing (and what `stackfleet init` writes).
    /// Without preferences AWS runs one account at a time, regions one after another: days for a
    /// thousand accounts. These start every account of every region at once, so a rollout takes
    /// about one stack's time (issue 14's target). The early stop is the failure tolerance: a
    /// region stops starting accounts once more than 10 % of them failed, and "for large
    /// deployments ... the actual number of accounts acted upon concurrently may be lower due to
    /// service throttling", which lets that stop act in a large region. Soft mode keeps the
    /// concurrency; strict mode would start at FailureTolerance + 1 accounts
    /// ("StackSetOperationPreferences", CloudFormation API Reference,
    /// https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_StackSetOperationPreferences.html).
    /// A staged rollout (25 %: four waves) is one line in fleet.toml; `init` shows it.
    pub fn recommended() -> Rollout {
        Rollout {
            max_concurrent: Some(Limit::Percentage(100)),
            failure_tolerance: Some(Limit::Percentage(10)),
            region_concurrency: Some(RegionConcurrency::Parallel),
            concurrency_mode: Some(ConcurrencyMode::SoftFailureTolerance),
            region_order: Vec::new(),
        }
    }
}

/// A reference to an OU (or the root) as written in fleet.toml.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum OuRef {
    /// A path of OU names from the root, `/` for the root itself.
    Path(String),
    /// An `ou-…` or `r-…` id.
    Id(String),
}

/// `[stack_sets.targets]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Targets {
    /// OUs whose accounts, nested OUs included, get the stack.
    pub organizational_units: Vec<Located<OuRef>>,
    /// Accounts that get the stack.
    pub accounts: Vec<Located<String>>,
    /// Accounts that never get the stack.
    pub exclude_accounts: Vec<Located<String>>,
    /// OUs whose accounts, nested OUs included, never get the stack.
    pub exclude_organizational_units: Vec<Located<OuRef>>,
}
