//! The raw, spanned shapes of fleet.toml as serde reads them: unknown keys and wrong types are
//! errors with a position; everything else is checked by `check`.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use super::model::{AutoDeployment, CallAs, ConcurrencyMode, PermissionModel, RegionConcurrency};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFleet {
    pub(super) name: Option<Spanned<String>>,
    pub(super) organization: RawOrganization,
    #[serde(default)]
    pub(super) defaults: RawDefaults,
    #[serde(default)]
    pub(super) stack_sets: Vec<Spanned<RawStackSet>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOrganization {
    pub(super) home_region: Spanned<String>,
    pub(super) management_account: Option<Spanned<String>>,
    pub(super) call_as: Option<CallAs>,
    pub(super) assume_role_arn: Option<Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDefaults {
    pub(super) regions: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    pub(super) rollout: RawRollout,
    pub(super) managed_execution: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRollout {
    pub(super) max_concurrent_count: Option<Spanned<i64>>,
    pub(super) max_concurrent_percentage: Option<Spanned<i64>>,
    pub(super) failure_tolerance_count: Option<Spanned<i64>>,
    pub(super) failure_tolerance_percentage: Option<Spanned<i64>>,
    pub(super) region_concurrency: Option<RegionConcurrency>,
    pub(super) concurrency_mode: Option<Spanned<ConcurrencyMode>>,
    pub(super) region_order: Option<Vec<Spanned<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStackSet {
    pub(super) name: Spanned<String>,
    pub(super) description: Option<String>,
    pub(super) template: Spanned<String>,
    pub(super) permission_model: PermissionModel,
    pub(super) call_as: Option<Spanned<CallAs>>,
    pub(super) regions: Option<Spanned<Vec<Spanned<String>>>>,
    pub(super) parameters: Option<Spanned<BTreeMap<Spanned<String>, Spanned<toml::Value>>>>,
    #[serde(default)]
    pub(super) tags: BTreeMap<Spanned<String>, Spanned<String>>,
    #[serde(default)]
    pub(super) capabilities: Vec<Spanned<String>>,
    pub(super) administration_role_arn: Option<Spanned<String>>,
    pub(super) execution_role_name: Option<Spanned<String>>,
    pub(super) auto_deployment: Option<Spanned<AutoDeployment>>,
    #[serde(default)]
    pub(super) retain_stacks_on_delete: bool,
    #[serde(default)]
    pub(super) adopt: bool,
    #[serde(default)]
    pub(super) rollout: RawRollout,
    pub(super) managed_execution: Option<bool>,
    pub(super) targets: Spanned<RawTargets>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTargets {
    #[serde(default)]
    pub(super) organizational_units: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) accounts: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) exclude_accounts: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) exclude_organizational_units: Vec<Spanned<String>>,
}
