//! Progress of an apply or a drift detection, as typed events; only the CLI draws them.

use std::time::Duration;

use stackfleet_planner::plan::OperationAction;

use crate::operation::OperationOutcome;

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
        status: String,
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
