//! Starting StackSets operations and waiting for them: the machinery shared by apply and drift.
//!
//! StackSets runs one operation at a time per stack set. A call made while another runs fails with
//! `OperationInProgressException`; we then wait for the running operation(s), found with
//! ListStackSetOperations, and call once more. The caller's `OperationId` makes a repeated call
//! safe: `OperationIdAlreadyExistsException` means our operation already exists, and we wait for it.

use std::collections::BTreeSet;
use std::future::Future;
use std::time::Duration;

use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::config::http::HttpResponse;
use aws_sdk_cloudformation::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_cloudformation::types::{
    CallAs as AwsCallAs, StackSetOperation, StackSetOperationAction, StackSetOperationSummary,
};
use tokio::sync::mpsc::UnboundedSender;

use crate::error::ExecError;
use crate::events::{Event, InstanceFailure, OperationOutcome, OperationStatus};

/// Operations up to this many instances show instances done/total while they run (a few
/// ListStackSetOperationResults pages per poll); larger ones show status and elapsed time only.
pub const PROGRESS_RESULTS_LIMIT: usize = 1000;

/// The largest page ListStackSetOperations returns.
const OPERATIONS_PAGE_SIZE: i32 = 100;

/// The page [`StackSetContext::check_unchanged_since`] reads: this run's own operations and any
/// other's since the plan are the newest, and are few.
pub const CHANGES_PAGE_SIZE: i32 = 20;

/// How long to wait between polls of a running operation, and for how long at most.
#[derive(Debug, Clone, Copy)]
pub struct PollPolicy {
    /// The first wait.
    pub initial: Duration,
    /// Waits grow by half each poll up to this ceiling.
    pub max: Duration,
    /// Give up waiting (the operation goes on in AWS) after this long.
    pub timeout: Duration,
    /// How many times to wait for someone else's operation and call again before giving up.
    pub max_in_progress_waits: u32,
}

impl Default for PollPolicy {
    fn default() -> Self {
        PollPolicy {
            initial: Duration::from_secs(2),
            max: Duration::from_secs(30),
            timeout: Duration::from_secs(6 * 3600),
            max_in_progress_waits: 20,
        }
    }
}

/// What to do once another operation that blocked ours has ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterWaiting {
    /// Call again: right for work that does not depend on the stack set's state, such as drift
    /// detection.
    CallAgain,
    /// Stop with [`ExecError::Superseded`]: the other operation changed the stack set, so the
    /// plan behind ours is out of date.
    Stop,
}

/// What an operation of this plan looks like, so that an existing operation with the same id is
/// taken for ours only if it is: StackSets' `Action` and a `CreationTimestamp` not before the plan
/// was made (API reference, "StackSetOperation":
/// <https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_StackSetOperation.html>).
#[derive(Debug, Clone, PartialEq)]
pub struct Expected {
    /// `CREATE` for CreateStackInstances, `UPDATE` for UpdateStackSet and UpdateStackInstances,
    /// `DELETE` for DeleteStackInstances.
    pub action: StackSetOperationAction,
    /// When the plan was made (Unix seconds).
    pub planned_at: i64,
}

/// How far StackSets' clock may be behind ours before our own operation would look older than
/// the plan that started it.
pub const CLOCK_SKEW_SECS: i64 = 300;

/// The StackSets context of one stack set: client, caller, events, polling.
#[derive(Clone)]
pub struct StackSetContext<'a> {
    /// The CloudFormation client in the home region.
    pub client: &'a Client,
    /// As whom to call.
    pub call_as: AwsCallAs,
    /// The stack set's name.
    pub stack_set: &'a str,
    /// Where progress goes.
    pub events: &'a UnboundedSender<Event>,
    /// How to poll.
    pub poll: PollPolicy,
}

impl StackSetContext<'_> {
    fn emit(&self, event: Event) {
        // The receiver only draws progress; if it is gone, there is nobody to tell.
        let _ = self.events.send(event);
    }

    /// Starts an operation with `call`, which must pass `operation_id` as the `OperationId` and
    /// return the `OperationId` of the response. Returns the id of the operation, whether this
    /// call or an earlier one created it. (AWS echoes our id; an endpoint that assigns its own,
    /// as the emulator does, is followed by the id it returns.) When another operation runs, it
    /// waits for it, then does what `after_waiting` says.
    pub async fn start<E, F, Fut>(
        &self,
        name: &'static str,
        operation_id: &str,
        after_waiting: AfterWaiting,
        call: F,
    ) -> Result<String, ExecError>
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        F: Fn() -> Fut,
        Fut: Future<Output = Result<Option<String>, SdkError<E, HttpResponse>>>,
    {
        self.start_expecting(name, operation_id, None, after_waiting, call)
            .await
    }

    /// [`StackSetContext::start`], and when the id already exists, checks with
    /// DescribeStackSetOperation that the existing operation is what `expected` says before
    /// waiting for it; otherwise fails with [`ExecError::NotOurs`].
    pub async fn start_expecting<E, F, Fut>(
        &self,
        name: &'static str,
        operation_id: &str,
        expected: Option<&Expected>,
        after_waiting: AfterWaiting,
        call: F,
    ) -> Result<String, ExecError>
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        F: Fn() -> Fut,
        Fut: Future<Output = Result<Option<String>, SdkError<E, HttpResponse>>>,
    {
        let mut waits = 0;
        loop {
            let err = match call().await {
                Ok(id) => return Ok(id.unwrap_or_else(|| operation_id.to_string())),
                Err(err) => err,
            };
            match err.code() {
                Some("OperationIdAlreadyExistsException") => {
                    if let Some(expected) = expected {
                        self.check_ours(operation_id, expected).await?;
                    }
                    self.emit(Event::OperationResumed {
                        stack_set: self.stack_set.to_string(),
                        operation_id: operation_id.to_string(),
                    });
                    return Ok(operation_id.to_string());
                }
                Some("OperationInProgressException") if waits < self.poll.max_in_progress_waits => {
                    waits += 1;
                    let others = self.wait_for_others(operation_id).await?;
                    if after_waiting == AfterWaiting::Stop && !others.is_empty() {
                        return Err(ExecError::Superseded {
                            stack_set: self.stack_set.to_string(),
                            operations: others,
                        });
                    }
                }
                _ => return Err(ExecError::from_sdk(name, err)),
            }
        }
    }

    /// DescribeStackSetOperation of `operation_id` on this stack set.
    async fn describe(&self, operation_id: &str) -> Result<Option<StackSetOperation>, ExecError> {
        let out = self
            .client
            .describe_stack_set_operation()
            .stack_set_name(self.stack_set)
            .operation_id(operation_id)
            .call_as(self.call_as.clone())
            .send()
            .await
            .map_err(|e| ExecError::from_sdk("DescribeStackSetOperation", e))?;
        Ok(out.stack_set_operation)
    }

    /// Checks that the existing operation `operation_id` is the one this plan would start.
    async fn check_ours(&self, operation_id: &str, expected: &Expected) -> Result<(), ExecError> {
        let operation = self.describe(operation_id).await?;
        let action = operation.as_ref().and_then(|o| o.action());
        let created = operation
            .as_ref()
            .and_then(|o| o.creation_timestamp())
            .map(|t| t.secs());
        let reason = if action != Some(&expected.action) {
            Some(format!(
                "it is a {} operation, and this step is {}",
                action.map_or("(unknown)", |a| a.as_str()),
                expected.action.as_str()
            ))
        } else {
            match created {
                Some(c) if c + CLOCK_SKEW_SECS < expected.planned_at => Some(format!(
                    "it was created at {c} (Unix time), before this plan was made ({})",
                    expected.planned_at
                )),
                Some(_) => None,
                None => Some("StackSets gives no creation time for it".to_string()),
            }
        };
        match reason {
            None => Ok(()),
            Some(reason) => Err(ExecError::NotOurs {
                stack_set: self.stack_set.to_string(),
                operation_id: operation_id.to_string(),
                reason,
            }),
        }
    }

    /// Waits until no other operation of the stack set is queued or running; returns the ones
    /// it waited for.
    pub async fn wait_for_others(&self, ours: &str) -> Result<Vec<String>, ExecError> {
        let others: Vec<String> = self
            .running_operations()
            .await?
            .into_iter()
            .filter(|id| id != ours)
            .collect();
        if others.is_empty() {
            // Refused as in progress, yet nothing is listed: ListStackSetOperations lags behind
            // the blocking operation, or lists it with a status we do not know. Pause before the
            // caller calls again, so the retries do not become a storm.
            tokio::time::sleep(self.poll.initial).await;
        }
        for other in &others {
            self.emit(Event::WaitingForOther {
                stack_set: self.stack_set.to_string(),
                operation_id: other.clone(),
            });
            self.wait(other, None).await?;
        }
        Ok(others)
    }

    /// The ids of the stack set's queued, running or stopping operations.
    ///
    /// StackSets lists operations newest first (not stated in the API reference; the AWS CLI's
    /// example "displays the list of the most recent operations" newest first, aws-cli
    /// `examples/cloudformation/list-stack-set-operations.rst`; the emulator lists them so), and
    /// an active operation is among the newest:
    /// without ManagedExecution only one runs and nothing starts after it; with it, operations
    /// queue behind it. So the pages are read only until one holds no active operation: one page
    /// (up to 100 operations) whatever the length of the history, where reading them all cost one
    /// call per 100 past operations (ListStackSetOperations, AWS CloudFormation API Reference,
    /// <https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_ListStackSetOperations.html>).
    pub async fn running_operations(&self) -> Result<Vec<String>, ExecError> {
        let mut active = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .client
                .list_stack_set_operations()
                .stack_set_name(self.stack_set)
                .call_as(self.call_as.clone())
                .max_results(OPERATIONS_PAGE_SIZE)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| ExecError::from_sdk("ListStackSetOperations", e))?;
            let before = active.len();
            active.extend(
                page.summaries()
                    .iter()
                    .filter(|s| {
                        s.status()
                            .is_some_and(|s| OperationStatus::from(s).is_active())
                    })
                    .filter_map(|s| s.operation_id().map(str::to_string)),
            );
            match page.next_token() {
                Some(next) if !next.is_empty() && active.len() > before => {
                    token = Some(next.to_string());
                }
                _ => return Ok(active),
            }
        }
    }

    /// Fails with [`ExecError::Superseded`] when an operation that is not one of `ours` was
    /// created on the stack set after `since` (Unix seconds: when the state behind the plan began
    /// to be read), so that a step another run has already carried out is not repeated. Drift
    /// detections change no instance and are passed over. Reads pages, newest first (see
    /// [`StackSetContext::running_operations`] for that order), only until an older operation:
    /// one page unless this run started more operations than a page holds.
    ///
    /// Operations created within the second `since` falls in are not seen (StackSets' and our
    /// clocks are compared in whole seconds): a step may still repeat in that window, harmlessly.
    pub async fn check_unchanged_since(
        &self,
        since: i64,
        ours: &BTreeSet<String>,
    ) -> Result<(), ExecError> {
        let mut token: Option<String> = None;
        loop {
            let page = self
                .client
                .list_stack_set_operations()
                .stack_set_name(self.stack_set)
                .call_as(self.call_as.clone())
                .max_results(CHANGES_PAGE_SIZE)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| ExecError::from_sdk("ListStackSetOperations", e))?;
            let newer: Vec<&StackSetOperationSummary> = page
                .summaries()
                .iter()
                .take_while(|s| s.creation_timestamp().is_none_or(|c| c.secs() > since))
                .collect();
            let reached_older = newer.len() < page.summaries().len();
            let others: Vec<String> = newer
                .iter()
                .filter(|s| s.action() != Some(&StackSetOperationAction::DetectDrift))
                .filter(|s| s.operation_id().is_some_and(|id| !ours.contains(id)))
                .map(|s| {
                    let action = s.action().map_or("an operation", |a| a.as_str());
                    format!("{action} {}", s.operation_id().unwrap_or_default())
                })
                .collect();
            if !others.is_empty() {
                return Err(ExecError::Superseded {
                    stack_set: self.stack_set.to_string(),
                    operations: others,
                });
            }
            match page.next_token() {
                Some(next) if !next.is_empty() && !reached_older => token = Some(next.to_string()),
                _ => return Ok(()),
            }
        }
    }

    /// Polls an operation until it ends, with back-off up to the policy's ceiling, reporting
    /// progress. `total` is the number of instances it touches, when known.
    pub async fn wait(
        &self,
        operation_id: &str,
        total: Option<usize>,
    ) -> Result<OperationOutcome, ExecError> {
        let started = tokio::time::Instant::now();
        let mut delay = self.poll.initial;
        loop {
            let operation = self.describe(operation_id).await?;
            let status = operation
                .as_ref()
                .and_then(|o| o.status())
                .map(OperationStatus::from);
            let failed = operation
                .as_ref()
                .and_then(|o| o.status_details())
                .and_then(|d| d.failed_stack_instances_count())
                .unwrap_or(0);
            // Counting results is only for show: never while queued, and a failed listing
            // leaves the count out rather than stopping the wait.
            let done = match total {
                Some(total)
                    if status == Some(OperationStatus::Running)
                        && total <= PROGRESS_RESULTS_LIMIT =>
                {
                    self.results(operation_id)
                        .await
                        .ok()
                        .map(|r| r.iter().filter(|r| is_finished(&r.status)).count())
                }
                _ => None,
            };
            let Some(status) = status else {
                return Err(ExecError::Call {
                    operation: "DescribeStackSetOperation",
                    message: format!("operation {operation_id} has no status"),
                    source: None,
                });
            };
            self.emit(Event::OperationProgress {
                stack_set: self.stack_set.to_string(),
                operation_id: operation_id.to_string(),
                status: status.clone(),
                done,
                failed: usize::try_from(failed).unwrap_or(0),
                total,
                elapsed: started.elapsed(),
            });
            if !status.is_active() {
                let failures = if status == OperationStatus::Succeeded && failed == 0 {
                    Vec::new()
                } else {
                    self.failures(operation_id).await?
                };
                return Ok(OperationOutcome {
                    status,
                    status_reason: operation
                        .as_ref()
                        .and_then(|o| o.status_reason())
                        .map(str::to_string),
                    failures,
                });
            }
            if started.elapsed() + delay > self.poll.timeout {
                return Err(ExecError::Timeout {
                    stack_set: self.stack_set.to_string(),
                    operation_id: operation_id.to_string(),
                    waited: started.elapsed(),
                });
            }
            tokio::time::sleep(delay).await;
            delay = (delay + delay / 2).min(self.poll.max);
        }
    }

    /// The instances of an ended operation that did not succeed (ListStackSetOperationResults),
    /// statuses this version does not know included.
    pub async fn failures(&self, operation_id: &str) -> Result<Vec<InstanceFailure>, ExecError> {
        let mut failures: Vec<InstanceFailure> = self
            .results(operation_id)
            .await?
            .into_iter()
            .filter(|r| r.status != "SUCCEEDED")
            .collect();
        failures.sort();
        Ok(failures)
    }

    /// Every result of an operation.
    async fn results(&self, operation_id: &str) -> Result<Vec<InstanceFailure>, ExecError> {
        let pages = self
            .client
            .list_stack_set_operation_results()
            .stack_set_name(self.stack_set)
            .operation_id(operation_id)
            .call_as(self.call_as.clone())
            .into_paginator()
            .send()
            .try_collect()
            .await
            .map_err(|e| ExecError::from_sdk("ListStackSetOperationResults", e))?;
        Ok(pages
            .into_iter()
            .flat_map(|p| p.summaries.unwrap_or_default())
            .map(|r| InstanceFailure {
                account: r.account().unwrap_or_default().to_string(),
                region: r.region().unwrap_or_default().to_string(),
                status: r.status().map_or("UNKNOWN", |s| s.as_str()).to_string(),
                reason: r.status_reason().unwrap_or_default().to_string(),
            })
            .collect())
    }
}

/// Whether an instance result is final.
fn is_finished(status: &str) -> bool {
    matches!(status, "SUCCEEDED" | "FAILED" | "CANCELLED")
}
