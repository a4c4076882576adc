//! Drift detection: has anyone changed the deployed stacks outside StackSets?

use std::time::Duration;

use aws_sdk_cloudformation::config::retry::RetryConfig;
use aws_sdk_cloudformation::types::{StackResourceDriftStatus, StackSetOperationAction};
use serde::Serialize;
use stackfleet_planner::fleet::Rollout;

use crate::apply::operation_preferences;
use crate::error::ExecError;
use crate::events::{OperationOutcome, OperationStatus};
use crate::observe::list_instances;
use crate::operation::{AfterWaiting, StackSetContext};

/// ListStackSetOperations' largest page: a detection may sit behind many other operations.
const DETECTIONS_PAGE_SIZE: i32 = 100;

/// Drift of one stack set.
#[derive(Debug, Clone, Serialize)]
pub struct StackSetDrift {
    /// The stack set.
    pub name: String,
    /// The drift detection operation the report comes from, if there ever was one.
    pub operation_id: Option<String>,
    /// How that detection ended (`SUCCEEDED`, `FAILED`, …), if known.
    pub detection_status: Option<OperationStatus>,
    /// Every instance with its drift status, and the differences of drifted ones.
    pub instances: Vec<InstanceDrift>,
}

/// Drift of one stack instance.
#[derive(Debug, Clone, Serialize)]
pub struct InstanceDrift {
    /// The account.
    pub account: String,
    /// The region.
    pub region: String,
    /// `IN_SYNC`, `DRIFTED`, `NOT_CHECKED` or `UNKNOWN`.
    pub drift_status: String,
    /// Resources that differ from the template (drifted instances only).
    pub resources: Vec<ResourceDrift>,
}

/// One resource that differs from the template.
#[derive(Debug, Clone, Serialize)]
pub struct ResourceDrift {
    /// The logical id in the template.
    pub logical_id: String,
    /// `AWS::…` type.
    pub resource_type: String,
    /// `MODIFIED` or `DELETED`.
    pub status: String,
    /// Property-level differences.
    pub differences: Vec<PropertyDrift>,
}

/// One property that differs.
#[derive(Debug, Clone, Serialize)]
pub struct PropertyDrift {
    /// JSON path of the property.
    pub path: String,
    /// What the template says.
    pub expected: String,
    /// What is deployed.
    pub actual: String,
    /// `ADD`, `REMOVE` or `NOT_EQUAL`.
    pub kind: String,
}

/// Starts DetectStackSetDrift (waiting out any other operation first, like apply) and waits for
/// it, polling first at `estimate` (see [`StackSetContext::wait_expecting`]). Returns the
/// operation id and how it ended. `rollout` is the stack set's (see [`operation_preferences`]):
/// without it StackSets checks one account at a time, regions one after another
/// ("DetectStackSetDrift" takes `OperationPreferences`, CloudFormation API Reference,
/// https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DetectStackSetDrift.html).
pub async fn detect(
    ctx: &StackSetContext<'_>,
    operation_id: &str,
    rollout: &Rollout,
    estimate: Option<Duration>,
) -> Result<(String, OperationOutcome), ExecError> {
    let preferences = operation_preferences(Some(rollout));
    let id = ctx
        .start(
            "DetectStackSetDrift",
            operation_id,
            AfterWaiting::CallAgain,
            || async {
                ctx.client
                    .detect_stack_set_drift()
                    .stack_set_name(ctx.stack_set)
                    .operation_id(operation_id)
                    .operation_preferences(preferences.clone())
                    .call_as(ctx.call_as.clone())
                    // A detection that cannot start is reported within seconds, not after the
                    // CLI's long throttling budget; three tries still absorb a throttle.
                    .customize()
                    .config_override(
                        aws_sdk_cloudformation::config::Builder::default()
                            .retry_config(RetryConfig::standard().with_max_attempts(3)),
                    )
                    .send()
                    .await
                    .map(|o| o.operation_id)
            },
        )
        .await?;
    let outcome = ctx.wait_expecting(&id, None, estimate).await?;
    Ok((id, outcome))
}

/// The most recent finished drift detection of the stack set, if any. Pages are read newest
/// first (see [`StackSetContext::running_operations`] for that order) until one holds a finished
/// detection: one page for a stack set detected lately, whatever the length of its history.
pub async fn last_detection(
    ctx: &StackSetContext<'_>,
) -> Result<Option<(String, OperationStatus)>, ExecError> {
    let mut token: Option<String> = None;
    loop {
        let page = ctx
            .operations_page(DETECTIONS_PAGE_SIZE, token.take())
            .await?;
        let newest = page
            .summaries()
            .iter()
            .filter(|s| s.action() == Some(&StackSetOperationAction::DetectDrift))
            .filter(|s| {
                !s.status()
                    .is_some_and(|s| OperationStatus::from(s).is_active())
            })
            .max_by_key(|s| s.creation_timestamp().map(|t| (t.secs(), t.subsec_nanos())));
        if let Some(s) = newest {
            return Ok(s.operation_id().map(|id| {
                (
                    id.to_string(),
                    s.status()
                        .map_or(OperationStatus::Unseen, OperationStatus::from),
                )
            }));
        }
        match page.next_token() {
            Some(next) if !next.is_empty() => token = Some(next.to_string()),
            _ => return Ok(None),
        }
    }
}

/// Reads every instance's drift status and, for drifted ones, the resource-level differences of
/// the detection `operation_id`.
pub async fn report(
    ctx: &StackSetContext<'_>,
    detection: Option<(String, OperationStatus)>,
) -> Result<StackSetDrift, ExecError> {
    let instances = list_instances(ctx.client, ctx.call_as.clone(), ctx.stack_set).await?;
    let mut out = Vec::with_capacity(instances.len());
    for instance in instances {
        let drift_status = instance
            .drift_status
            .as_ref()
            .map_or_else(|| "NOT_CHECKED".to_string(), ToString::to_string);
        let resources = match (&detection, drift_status.as_str()) {
            (Some((id, _)), "DRIFTED") => {
                resource_drifts(ctx, id, &instance.account, &instance.region).await?
            }
            _ => Vec::new(),
        };
        out.push(InstanceDrift {
            account: instance.account,
            region: instance.region,
            drift_status,
            resources,
        });
    }
    Ok(StackSetDrift {
        name: ctx.stack_set.to_string(),
        operation_id: detection.as_ref().map(|(id, _)| id.clone()),
        detection_status: detection.map(|(_, status)| status),
        instances: out,
    })
}

async fn resource_drifts(
    ctx: &StackSetContext<'_>,
    operation_id: &str,
    account: &str,
    region: &str,
) -> Result<Vec<ResourceDrift>, ExecError> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = ctx
            .client
            .list_stack_instance_resource_drifts()
            .stack_set_name(ctx.stack_set)
            .stack_instance_account(account)
            .stack_instance_region(region)
            .operation_id(operation_id)
            .stack_instance_resource_drift_statuses(StackResourceDriftStatus::Modified)
            .stack_instance_resource_drift_statuses(StackResourceDriftStatus::Deleted)
            .set_next_token(token.clone())
            .call_as(ctx.call_as.clone())
            .send()
            .await
            .map_err(|e| ExecError::from_sdk("ListStackInstanceResourceDrifts", e))?;
        for r in page.summaries() {
            out.push(ResourceDrift {
                logical_id: r.logical_resource_id().unwrap_or_default().to_string(),
                resource_type: r.resource_type().unwrap_or_default().to_string(),
                status: r
                    .stack_resource_drift_status()
                    .map_or("UNKNOWN", |s| s.as_str())
                    .to_string(),
                differences: r
                    .property_differences()
                    .iter()
                    .map(|d| PropertyDrift {
                        path: d.property_path().unwrap_or_default().to_string(),
                        expected: d.expected_value().unwrap_or_default().to_string(),
                        actual: d.actual_value().unwrap_or_default().to_string(),
                        kind: d.difference_type().map_or("", |k| k.as_str()).to_string(),
                    })
                    .collect(),
            });
        }
        // Stop on a missing or empty token; an unchanged token would loop forever.
        match page.next_token() {
            Some(next) if !next.is_empty() && Some(next) != token.as_deref() => {
                token = Some(next.to_string());
            }
            _ => break,
        }
    }
    Ok(out)
}
