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
    /// `ManagedExecution.Active`: non-conflicting operations run at once, conflicting ones queue.
    #[serde(default)]
    pub managed_execution: bool,
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
    /// `SUCCEEDED`, `FAILED`, `SKIPPED_SUSPENDED_ACCOUNT`, … (`StackInstanceComprehensiveStatus`);
    /// written in JSON as StackSets writes it.
    pub detailed_status: Option<DetailedStatus>,
    /// Why the instance is in its status.
    pub status_reason: Option<String>,
    /// `IN_SYNC`, `DRIFTED`, `NOT_CHECKED`, `UNKNOWN`; written in JSON as StackSets writes it.
    pub drift_status: Option<DriftStatus>,
    /// Service-managed: the OU the instance was deployed through.
    pub organizational_unit_id: Option<String>,
}

/// `StackInstanceStatus` ("StackInstanceSummary", CloudFormation API Reference,
/// https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_StackInstanceSummary.html).
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
        self.detailed_status == Some(DetailedStatus::SkippedSuspendedAccount)
    }

    /// Whether a failed `DeleteStackInstances` left the instance inoperable: StackSets excludes it
    /// from further updates ("StackInstanceComprehensiveStatus", CloudFormation API Reference,
    /// https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_StackInstanceComprehensiveStatus.html).
    pub fn is_inoperable(&self) -> bool {
        self.status == InstanceStatus::Inoperable
            || self.detailed_status == Some(DetailedStatus::Inoperable)
    }

    /// A status value this version of stackfleet does not know, as StackSets wrote it (the
    /// first of status, detailed status and drift status that is unknown).
    pub fn unknown_status(&self) -> Option<&str> {
        if let InstanceStatus::Other(s) = &self.status {
            return Some(s);
        }
        if let Some(DetailedStatus::Other(s)) = &self.detailed_status {
            return Some(s);
        }
        if let Some(DriftStatus::Other(s)) = &self.drift_status {
            return Some(s);
        }
        None
    }

    /// Whether the instance needs another run to become current: it failed, was cancelled or
    /// never ran. Pending and running instances belong to an operation still under way.
    pub fn needs_repair(&self) -> bool {
        self.status == InstanceStatus::Outdated
            && self
                .detailed_status
                .as_ref()
                .is_none_or(DetailedStatus::needs_another_run)
    }
}

/// `StackInstanceDetailedStatus`: how the last operation on an instance went. Written as AWS writes
/// it (`SKIPPED_SUSPENDED_ACCOUNT`), also in JSON.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(from = "String")]
pub enum DetailedStatus {
    /// `PENDING`: waiting for its turn in an operation.
    Pending,
    /// `RUNNING`: an operation is acting on it.
    Running,
    /// `SUCCEEDED`: the last operation succeeded.
    Succeeded,
    /// `FAILED`: the last operation failed.
    Failed,
    /// `CANCELLED`: the operation stopped before it got to the instance.
    Cancelled,
    /// `INOPERABLE`: a delete failed and the stack was left in place.
    Inoperable,
    /// `SKIPPED_SUSPENDED_ACCOUNT`: the account is suspended.
    SkippedSuspendedAccount,
    /// `FAILED_IMPORT`: importing an existing stack failed.
    FailedImport,
    /// A status this version of stackfleet does not know, as StackSets wrote it.
    Other(String),
}

impl DetailedStatus {
    /// How StackSets writes it.
    pub fn as_str(&self) -> &str {
        match self {
            DetailedStatus::Pending => "PENDING",
            DetailedStatus::Running => "RUNNING",
            DetailedStatus::Succeeded => "SUCCEEDED",
            DetailedStatus::Failed => "FAILED",
            DetailedStatus::Cancelled => "CANCELLED",
            DetailedStatus::Inoperable => "INOPERABLE",
            DetailedStatus::SkippedSuspendedAccount => "SKIPPED_SUSPENDED_ACCOUNT",
            DetailedStatus::FailedImport => "FAILED_IMPORT",
            DetailedStatus::Other(s) => s,
        }
    }

    /// Whether an outdated instance with this status is one apply runs again: the operation that
    /// last reached it is over and did not succeed.
    pub fn needs_another_run(&self) -> bool {
        match self {
            DetailedStatus::Failed | DetailedStatus::Cancelled => true,
            // Pending and running belong to an operation still under way; the others are not
            // cured by running the instance again (or, for unknown ones, may not be).
            DetailedStatus::Pending
            | DetailedStatus::Running
            | DetailedStatus::Succeeded
            | DetailedStatus::Inoperable
            | DetailedStatus::SkippedSuspendedAccount
            | DetailedStatus::FailedImport
            | DetailedStatus::Other(_) => false,
        }
    }
}

impl From<&str> for DetailedStatus {
    fn from(status: &str) -> Self {
        match status {
            "PENDING" => DetailedStatus::Pending,
            "RUNNING" => DetailedStatus::Running,
            "SUCCEEDED" => DetailedStatus::Succeeded,
            "FAILED" => DetailedStatus::Failed,
            "CANCELLED" => DetailedStatus::Cancelled,
            "INOPERABLE" => DetailedStatus::Inoperable,
            "SKIPPED_SUSPENDED_ACCOUNT" => DetailedStatus::SkippedSuspendedAccount,
            "FAILED_IMPORT" => DetailedStatus::FailedImport,
            other => DetailedStatus::Other(other.to_string()),
        }
    }
}

impl From<String> for DetailedStatus {
    fn from(status: String) -> Self {
        DetailedStatus::from(status.as_str())
    }
}

impl From<DetailedStatus> for String {
    fn from(status: DetailedStatus) -> Self {
        status.as_str().to_string()
    }
}

impl std::str::FromStr for DetailedStatus {
    type Err = std::convert::Infallible;
    fn from_str(status: &str) -> Result<Self, Self::Err> {
        Ok(DetailedStatus::from(status))
    }
}

// Written from `as_str`, not through a String: the fingerprint serializes every instance.
impl Serialize for DetailedStatus {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl std::fmt::Display for DetailedStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `StackDriftStatus`: what the last drift detection found. Written as AWS writes it (`IN_SYNC`),
/// also in JSON. `Unknown` is AWS's own `UNKNOWN` (detection could not tell); statuses this version
/// of stackfleet does not know are `Other`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(from = "String")]
pub enum DriftStatus {
    /// `DRIFTED`: the stack differs from its template.
    Drifted,
    /// `IN_SYNC`: the stack matches its template.
    InSync,
    /// `NOT_CHECKED`: no drift detection has run.
    NotChecked,
    /// `UNKNOWN`: drift detection could not tell.
    Unknown,
    /// A status this version of stackfleet does not know, as StackSets wrote it.
    Other(String),
}

impl DriftStatus {
    /// How StackSets writes it.
    pub fn as_str(&self) -> &str {
        match self {
            DriftStatus::Drifted => "DRIFTED",
            DriftStatus::InSync => "IN_SYNC",
            DriftStatus::NotChecked => "NOT_CHECKED",
            DriftStatus::Unknown => "UNKNOWN",
            DriftStatus::Other(s) => s,
        }
    }
}

impl From<&str> for DriftStatus {
    fn from(status: &str) -> Self {
        match status {
            "DRIFTED" => DriftStatus::Drifted,
            "IN_SYNC" => DriftStatus::InSync,
            "NOT_CHECKED" => DriftStatus::NotChecked,
            "UNKNOWN" => DriftStatus::Unknown,
            other => DriftStatus::Other(other.to_string()),
        }
    }
}

impl From<String> for DriftStatus {
    fn from(status: String) -> Self {
        DriftStatus::from(status.as_str())
    }
}

impl From<DriftStatus> for String {
    fn from(status: DriftStatus) -> Self {
        status.as_str().to_string()
    }
}

impl std::str::FromStr for DriftStatus {
    type Err = std::convert::Infallible;
    fn from_str(status: &str) -> Result<Self, Self::Err> {
        Ok(DriftStatus::from(status))
    }
}

// Written from `as_str`, not through a String: the fingerprint serializes every instance.
impl Serialize for DriftStatus {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl std::fmt::Display for DriftStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_read_and_write_as_aws_does() {
        for text in [
            "PENDING",
            "RUNNING",
            "SUCCEEDED",
            "FAILED",
            "CANCELLED",
            "INOPERABLE",
            "SKIPPED_SUSPENDED_ACCOUNT",
            "FAILED_IMPORT",
        ] {
            let status = DetailedStatus::from(text);
            assert!(!matches!(status, DetailedStatus::Other(_)), "{text}");
            assert_eq!(status.as_str(), text);
            assert_eq!(
                serde_json::to_string(&status).unwrap(),
                format!("\"{text}\"")
            );
        }
        for text in ["DRIFTED", "IN_SYNC", "NOT_CHECKED", "UNKNOWN"] {
            let status = DriftStatus::from(text);
            assert!(!matches!(status, DriftStatus::Other(_)), "{text}");
            assert_eq!(
                serde_json::from_str::<DriftStatus>(&format!("\"{text}\"")).unwrap(),
                status
            );
        }
        for (text, status) in [
            ("CURRENT", InstanceStatus::Current),
            ("OUTDATED", InstanceStatus::Outdated),
            ("INOPERABLE", InstanceStatus::Inoperable),
        ] {
            assert_eq!(InstanceStatus::from_aws(text), status);
        }
        assert_eq!(
            InstanceStatus::from_aws("LATER"),
            InstanceStatus::Other("LATER".to_string())
        );
        let new = DetailedStatus::from("SOMETHING_NEW");
        assert_eq!(new, DetailedStatus::Other("SOMETHING_NEW".to_string()));
        assert_eq!(serde_json::to_string(&new).unwrap(), "\"SOMETHING_NEW\"");
        assert_eq!(
            DriftStatus::from("LATER"),
            DriftStatus::Other("LATER".to_string())
        );
    }
}
