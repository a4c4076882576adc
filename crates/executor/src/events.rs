//! Progress of an apply or a drift detection, as typed events, and how operations end; only the
//! CLI draws them.

use std::fmt;
use std::time::Duration;

use aws_sdk_cloudformation::types::StackSetOperationStatus;
use serde::{Serialize, Serializer};
use stackfleet_planner::plan::OperationAction;

/// Something that happened while carrying out a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// CreateStackSet succeeded (or the stack set already existed from an interrupted run).
    StackSetCreated {
        /// The stack set.
        stack_set: String,
    },
    /// DeleteStackSet succeeded.
    StackSetDeleted {
        /// The stack set.
        stack_set: String,
    },
    /// An operation was started.
    OperationStarted {
        /// The stack set.
        stack_set: String,
        /// Its `OperationId`.
        operation_id: String,
        /// What it does.
        action: OperationAction,
        /// How many instances it touches.
        instances: usize,
    },
    /// An operation with our id already existed: an earlier, interrupted run started it.
    OperationResumed {
        /// The stack set.
        stack_set: String,
        /// Its `OperationId`.
        operation_id: String,
    },
    /// Someone else's operation runs on the stack set; we wait for it before going on.
    WaitingForOther {
        /// The stack set.
        stack_set: String,
        /// The other operation.
        operation_id: String,
    },
    /// A poll of a running operation.
    OperationProgress {
        /// The stack set.
        stack_set: String,
        /// The operation.
        operation_id: String,
        /// `QUEUED`, `RUNNING`, …
        status: OperationStatus,
        /// Instances finished so far, when counted (small operations only).
        done: Option<usize>,
        /// Instances failed so far.
        failed: usize,
        /// Instances the operation touches, when known.
        total: Option<usize>,
        /// Time since we started waiting.
        elapsed: Duration,
    },
    /// An operation ended.
    OperationFinished {
        /// The stack set.
        stack_set: String,
        /// The operation.
        operation_id: String,
        /// How it ended.
        outcome: OperationOutcome,
    },
}

/// The status of a StackSets operation, as DescribeStackSetOperation reports it, plus the two
/// that only stackfleet knows: an operation never started, and one whose end it could not see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OperationStatus {
    /// Waiting behind another operation of the stack set.
    Queued,
    /// Running.
    Running,
    /// Being stopped.
    Stopping,
    /// Ended with every instance within the failure tolerance.
    Succeeded,
    /// Ended beyond the failure tolerance, or could not run at all.
    Failed,
    /// Stopped on request.
    Stopped,
    /// Never started, because an earlier call of the stack set failed (`NOT_STARTED`).
    NotStarted,
    /// Started, but how it ended could not be seen (`UNKNOWN`).
    Unseen,
    /// A status this version does not know, as the service sent it.
    Unrecognized(String),
}

impl OperationStatus {
    /// The status as StackSets spells it (`NOT_STARTED` and `UNKNOWN` for stackfleet's own).
    pub fn as_str(&self) -> &str {
        match self {
            OperationStatus::Queued => "QUEUED",
            OperationStatus::Running => "RUNNING",
            OperationStatus::Stopping => "STOPPING",
            OperationStatus::Succeeded => "SUCCEEDED",
            OperationStatus::Failed => "FAILED",
            OperationStatus::Stopped => "STOPPED",
            OperationStatus::NotStarted => "NOT_STARTED",
            OperationStatus::Unseen => "UNKNOWN",
            OperationStatus::Unrecognized(other) => other,
        }
    }

    /// Whether the operation is still queued, running or stopping: worth waiting for.
    pub fn is_active(&self) -> bool {
        match self {
            OperationStatus::Queued | OperationStatus::Running | OperationStatus::Stopping => true,
            OperationStatus::Succeeded
            | OperationStatus::Failed
            | OperationStatus::Stopped
            | OperationStatus::NotStarted
            | OperationStatus::Unseen
            // A status we do not know is treated as an end: waiting for it could be forever.
            | OperationStatus::Unrecognized(_) => false,
        }
    }
}

impl From<&StackSetOperationStatus> for OperationStatus {
    fn from(status: &StackSetOperationStatus) -> Self {
        match status {
            StackSetOperationStatus::Queued => OperationStatus::Queued,
            StackSetOperationStatus::Running => OperationStatus::Running,
            StackSetOperationStatus::Stopping => OperationStatus::Stopping,
            StackSetOperationStatus::Succeeded => OperationStatus::Succeeded,
            StackSetOperationStatus::Failed => OperationStatus::Failed,
            StackSetOperationStatus::Stopped => OperationStatus::Stopped,
            other => OperationStatus::Unrecognized(other.as_str().to_string()),
        }
    }
}

impl fmt::Display for OperationStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for OperationStatus {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl Serialize for OperationStatus {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// How an operation ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OperationOutcome {
    /// `SUCCEEDED`, `FAILED`, `STOPPED`, …
    pub status: OperationStatus,
    /// StackSets' reason for the status, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<String>,
    /// The instances that did not succeed.
    pub failures: Vec<InstanceFailure>,
}

impl OperationOutcome {
    /// Whether every instance succeeded.
    pub fn succeeded(&self) -> bool {
        self.status == OperationStatus::Succeeded && self.failures.is_empty()
    }
}

/// One account × region that an operation could not bring to its goal.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct InstanceFailure {
    /// The account.
    pub account: String,
    /// The region.
    pub region: String,
    /// `FAILED` or `CANCELLED`.
    pub status: String,
    /// Why.
    pub reason: String,
}
