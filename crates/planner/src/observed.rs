//! What StackSets reports: plain data filled by the executor, the planner's second input.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::fleet::{AutoDeployment, PermissionModel};

/// The stack sets that matter to a fleet, as StackSets describes them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observed {
    /// By name: every stack set fleet.toml names that exists, and every other active stack set
    /// that carries this fleet's tag.
    pub stack_sets: BTreeMap<String, ObservedStackSet>,
}

/// One stack set and its instances.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedStackSet {
    /// The stack set's name.
    pub name: String,
    /// `StackSetId`.
    pub id: String,
    /// The description.
    pub description: Option<String>,
    /// The current template.
    pub template_body: String,
    /// Parameters as StackSets stores them (NoEcho values come back masked).
    pub parameters: BTreeMap<String, String>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// Capabilities.
    pub capabilities: BTreeSet<String>,
    /// Self- or service-managed.
    pub permission_model: PermissionModel,
    /// Self-managed administration role.
    pub administration_role_arn: Option<String>,
    /// Self-managed execution role.
    pub execution_role_name: Option<String>,
    /// Service-managed auto-deployment.
    pub auto_deployment: Option<AutoDeployment>,
    /// Every stack instance (all pages).
    pub instances: Vec<ObservedInstance>,
}

/// A stack instance: one account × region of a stack set.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ObservedInstance {
    /// The account.
    pub account: String,
    /// The region.
    pub region: String,
    /// `CURRENT`, `OUTDATED` or `INOPERABLE`.
    pub status: InstanceStatus,
    /// `SUCCEEDED`, `FAILED`, `SKIPPED_SUSPENDED_ACCOUNT`, …
    pub detailed_status: Option<String>,
    /// Why the instance is in its status.
    pub status_reason: Option<String>,
    /// `IN_SYNC`, `DRIFTED`, `NOT_CHECKED`, `UNKNOWN`.
    pub drift_status: Option<String>,
    /// Service-managed: the OU the instance was deployed through.
    pub organizational_unit_id: Option<String>,
}

/// `StackInstanceStatus`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InstanceStatus {
    /// Up to date with the stack set.
    Current,
    /// Not up to date: an operation failed, was skipped, or is pending.
    Outdated,
    /// Deleted from the stack set but the stack remains.
    Inoperable,
    /// A status this version of stackfleet does not know.
    Other(String),
}

impl InstanceStatus {
    /// Reads StackSets' status string.
    pub fn from_aws(status: &str) -> Self {
        match status {
            "CURRENT" => InstanceStatus::Current,
            "OUTDATED" => InstanceStatus::Outdated,
            "INOPERABLE" => InstanceStatus::Inoperable,
            other => InstanceStatus::Other(other.to_string()),
        }
    }
}

impl ObservedInstance {
    /// Whether StackSets skipped this instance because its account is suspended.
    pub fn is_skipped_suspended(&self) -> bool {
        self.detailed_status.as_deref() == Some("SKIPPED_SUSPENDED_ACCOUNT")
    }

    /// Whether the instance needs another run to become current: it failed, was cancelled or
    /// never ran. Pending and running instances belong to an operation still under way.
    pub fn needs_repair(&self) -> bool {
        self.status == InstanceStatus::Outdated
            && matches!(
                self.detailed_status.as_deref(),
                Some("FAILED" | "CANCELLED") | None
            )
    }
}
