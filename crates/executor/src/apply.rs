//! Carrying out a plan: the executor decides nothing the plan has not decided.

use std::collections::BTreeSet;
use std::time::Duration;

use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::error::ProvideErrorMetadata;
use aws_sdk_cloudformation::types::{
    AccountFilterType, AutoDeployment as AwsAutoDeployment, Capability, ConcurrencyMode as AwsMode,
    DeploymentTargets, ManagedExecution, Parameter, PermissionModels, RegionConcurrencyType,
    StackSetOperationAction, StackSetOperationPreferences, Tag,
};
use futures::stream::{self, StreamExt};
use serde::Serialize;
use stackfleet_planner::Plan;
use stackfleet_planner::fleet::{
    CallAs, ConcurrencyMode, Limit, PermissionModel, RegionConcurrency, Rollout,
};
use stackfleet_planner::plan::{
    DesiredStackSet, Operation, OperationAction, StackSetAction, StackSetPlan, concurrent_runs,
};
use tokio::sync::mpsc::UnboundedSender;

use crate::error::ExecError;
use crate::events::{Event, InstanceFailure, OperationOutcome, OperationStatus};
use crate::observe::call_as;
use crate::operation::{AfterWaiting, Expected, PollPolicy, StackSetContext};

/// How many stack sets are worked on at once. Operations of one stack set are serial (StackSets
/// allows one at a time); different stack sets proceed in parallel.
pub const STACK_SET_CONCURRENCY: usize = stackfleet_planner::plan::estimate::STACK_SETS_AT_ONCE;

/// What apply did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ApplyReport {
    /// One entry per stack set of the plan, in plan order.
    pub stack_sets: Vec<StackSetReport>,
}

impl ApplyReport {
    /// Whether everything the plan asked for was done.
    pub fn converged(&self) -> bool {
        self.stack_sets.iter().all(StackSetReport::converged)
    }

    /// Whether some stack set stopped because another operation changed it after planning.
    pub fn superseded(&self) -> bool {
        self.stack_sets.iter().any(|s| s.superseded)
    }
}

/// What apply did to one stack set.
#[derive(Debug, Clone, Serialize)]
pub struct StackSetReport {
    /// The stack set.
    pub name: String,
    /// What the plan asked for.
    pub action: StackSetAction,
    /// The operations run, in order.
    pub operations: Vec<OperationReport>,
    /// A call that failed outright (not an operation's instance failures).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Another operation changed the stack set after the plan was made, so apply stopped
    /// before the plan's next step: plan again and apply what is still missing.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub superseded: bool,
}

impl StackSetReport {
    fn converged(&self) -> bool {
        self.error.is_none() && self.operations.iter().all(OperationReport::succeeded)
    }
}

/// One operation and how it ended.
#[derive(Debug, Clone, Serialize)]
pub struct OperationReport {
    /// Its `OperationId`.
    pub operation_id: String,
    /// What it did.
    pub action: OperationAction,
    /// The instances it touched.
    pub instances: usize,
    /// `SUCCEEDED`, `FAILED`, `STOPPED`, or `NOT_STARTED` when an earlier call failed.
    pub status: OperationStatus,
    /// StackSets' reason for the status, if any: the only explanation when an operation fails
    /// before any instance runs (a missing administration role, for example).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<String>,
    /// Instances that did not succeed, with StackSets' reasons.
    pub failures: Vec<InstanceFailure>,
    /// The call error, if the operation could not be started or followed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl OperationReport {
    fn succeeded(&self) -> bool {
        self.status == OperationStatus::Succeeded
            && self.failures.is_empty()
            && self.error.is_none()
    }
}

/// Carries out `plan`: creates stack sets, runs each stack set's operations in order and waits
/// for each, deletes stack sets that left the fleet. Stack sets proceed concurrently, at most
/// [`STACK_SET_CONCURRENCY`] at once. Failures are recorded in the report, and everything that
/// does not depend on a failed step still runs.
pub async fn apply(
    client: &Client,
    plan: &Plan,
    events: &UnboundedSender<Event>,
    poll: PollPolicy,
) -> ApplyReport {
    let stack_sets = stream::iter(&plan.stack_sets)
        .map(|set| {
            // Per stack set: a self-managed one is always SELF, even from a delegated
            // administrator (fleet.toml's checker decides it, see `StackSetSpec::call_as`).
            let caller = set.call_as;
            let ctx = StackSetContext {
                client,
                call_as: call_as(caller),
                stack_set: &set.name,
                events,
                poll,
            };
            async move { apply_stack_set(&ctx, caller, plan, set).await }
        })
        .buffered(STACK_SET_CONCURRENCY)
        .collect()
        .await;
    ApplyReport { stack_sets }
}

async fn apply_stack_set(
    ctx: &StackSetContext<'_>,
    caller: CallAs,
    plan: &Plan,
    set: &StackSetPlan,
) -> StackSetReport {
    let mut report = StackSetReport {
        name: set.name.clone(),
        action: set.action,
        operations: Vec::new(),
        error: None,
        superseded: false,
    };
    if set.action == StackSetAction::Create
        && let Some(desired) = &set.desired
        && let Err(e) = create_stack_set(ctx, caller, plan, set, desired).await
    {
        report.superseded = matches!(e, ExecError::Superseded { .. });
        report.error = Some(e.to_string());
        report.operations = not_started(&set.operations);
        return report;
    }
    for run in concurrent_runs(set) {
        // This plan's operation ids, and the ids StackSets answered with, are ours; any other
        // operation on the stack set since the plan was made means the plan may be out of date.
        let ours: BTreeSet<String> = set
            .operations
            .iter()
            .map(|op| op.id.clone())
            .chain(report.operations.iter().map(|o| o.operation_id.clone()))
            .collect();
        // Started together only with ManagedExecution on (otherwise every run is one operation);
        // `ours` holds the siblings' ids, so that one never waits for another as if it were
        // someone else's.
        let results = futures::future::join_all(
            set.operations[run.clone()]
                .iter()
                .map(|op| run_operation(ctx, plan, set, op, &ours)),
        )
        .await;
        let mut failed = None;
        for (op, result) in set.operations[run.clone()].iter().zip(results) {
            match result {
                Ok((operation_id, outcome)) => {
                    report.operations.push(OperationReport {
                        operation_id,
                        action: op.action,
                        instances: op.instances,
                        status: outcome.status,
                        status_reason: outcome.status_reason,
                        failures: outcome.failures,
                        error: None,
                    });
                }
                Err(OperationError { started, error }) => {
                    report.operations.push(OperationReport {
                        status: if started.is_some() {
                            OperationStatus::Unseen
                        } else {
                            OperationStatus::NotStarted
                        },
                        operation_id: started.unwrap_or_else(|| op.id.clone()),
                        action: op.action,
                        instances: op.instances,
                        status_reason: None,
                        failures: Vec::new(),
                        error: Some(error.to_string()),
                    });
                    failed.get_or_insert(error);
                }
            }
        }
        if let Some(error) = failed {
            // A call that fails outright (access, validation, timeout) would fail again for
            // the next operation; stop this stack set and say what did not run.
            report
                .operations
                .extend(not_started(&set.operations[run.end..]));
            report.superseded = matches!(error, ExecError::Superseded { .. });
            report.error = Some(error.to_string());
            return report;
        }
    }
    if set.action == StackSetAction::Delete && report.converged() {
        match ctx
            .client
            .delete_stack_set()
            .stack_set_name(&set.name)
            .call_as(ctx.call_as.clone())
            .send()
            .await
        {
            Ok(_) => {
                let _ = ctx.events.send(Event::StackSetDeleted {
                    stack_set: set.name.clone(),
                });
            }
            Err(e) if e.code() == Some("StackSetNotFoundException") => {}
            Err(e) => report.error = Some(ExecError::from_sdk("DeleteStackSet", e).to_string()),
        }
    }
    report
}

/// CreateStackSet's idempotency token: the same for every attempt of this plan's creation,
/// different for another plan's (the nonce). AWS allows `[a-zA-Z][-a-zA-Z0-9]*`, at most 128
/// characters.
fn request_token(plan: &Plan, name: &str) -> String {
    let digest = &plan.fingerprint[..plan.fingerprint.len().min(16)];
    let nonce = &plan.nonce[..plan.nonce.len().min(16)];
    format!("stackfleet-{digest}{nonce}-{name}")
        .chars()
        .take(128)
        .collect()
}

fn not_started(operations: &[Operation]) -> Vec<OperationReport> {
    operations
        .iter()
        .map(|op| OperationReport {
            operation_id: op.id.clone(),
            action: op.action,
            instances: op.instances,
            status: OperationStatus::NotStarted,
            status_reason: None,
            failures: Vec::new(),
            error: None,
        })
        .collect()
}

/// What fleet.toml declares for a stack set, on a CreateStackSet or an UpdateStackSet request:
/// builders of different types with the same setters. The permission model decides between
/// self-managed roles and service-managed auto-deployment.
macro_rules! stack_set_settings {
    ($request:expr, $set:expr, $desired:expr) => {{
        let (set, desired) = ($set, $desired);
        let request = $request
            .stack_set_name(&set.name)
            .set_description(desired.description.clone())
            .template_body(&desired.template_body)
            .set_parameters(Some(parameters(desired)))
            .set_capabilities(Some(capabilities(desired)))
            .set_tags(Some(tags(desired)))
            .permission_model(permission_model(set.permission_model));
        match set.permission_model {
            PermissionModel::SelfManaged => request
                .set_administration_role_arn(desired.administration_role_arn.clone())
                .set_execution_role_name(desired.execution_role_name.clone()),
            PermissionModel::ServiceManaged => {
                request.set_auto_deployment(auto_deployment(desired))
            }
        }
    }};
}

async fn create_stack_set(
    ctx: &StackSetContext<'_>,
    caller: CallAs,
    plan: &Plan,
    set: &StackSetPlan,
    desired: &DesiredStackSet,
) -> Result<(), ExecError> {
    let request = ctx
        .client
        .create_stack_set()
        .call_as(call_as(caller))
        // The SDK retries a call whose answer was lost; the token makes AWS answer that retry
        // as the first call rather than as a name in use.
        .client_request_token(request_token(plan, &set.name))
        .managed_execution(
            ManagedExecution::builder()
                .active(set.managed_execution)
                .build(),
        );
    match stack_set_settings!(request, set, desired).send().await {
        Ok(_) => {}
        // Someone (a colleague, a concurrent apply, an interrupted run) created it after the
        // plan was made: what it holds is unknown, so the plan's next steps may be wrong.
        Err(e) if e.code() == Some("NameAlreadyExistsException") => {
            return Err(ExecError::Superseded {
                stack_set: set.name.clone(),
                operations: vec!["CreateStackSet by someone else".to_string()],
            });
        }
        Err(e) => return Err(ExecError::from_sdk("CreateStackSet", e)),
    }
    let _ = ctx.events.send(Event::StackSetCreated {
        stack_set: set.name.clone(),
    });
    Ok(())
}

async fn run_operation(
    ctx: &StackSetContext<'_>,
    plan: &Plan,
    set: &StackSetPlan,
    op: &Operation,
    ours: &BTreeSet<String>,
) -> Result<(String, OperationOutcome), OperationError> {
    // Another run may have carried out this very step between our plan and now: StackSets
    // would refuse it only while that run's operation is still running.
    let since = i64::try_from(plan.planned_at).unwrap_or(i64::MAX);
    ctx.check_unchanged_since(since, ours)
        .await
        .map_err(|error| OperationError {
            started: None,
            error,
        })?;
    let expected = Expected {
        action: match op.action {
            OperationAction::CreateInstances => StackSetOperationAction::Create,
            OperationAction::DeleteInstances => StackSetOperationAction::Delete,
            OperationAction::UpdateStackSet | OperationAction::UpdateInstances => {
                StackSetOperationAction::Update
            }
        },
        planned_at: i64::try_from(plan.planned_at).unwrap_or(i64::MAX),
    };
    let expected = Some(&expected);
    // A stack set that left fleet.toml has no rollout of its own: its deletion runs with the one
    // the plan recorded (fleet.toml's [defaults.rollout]), or stackfleet's recommended one for a
    // plan that has none, rather than AWS's one account at a time.
    let recommended = Rollout::recommended();
    let rollout = set
        .desired
        .as_ref()
        .map(|d| &d.rollout)
        .or(set.rollout.as_ref())
        .unwrap_or(&recommended);
    let preferences = operation_preferences(Some(rollout));
    let service = set.permission_model == PermissionModel::ServiceManaged;
    let targets = || {
        DeploymentTargets::builder()
            .set_organizational_unit_ids(Some(op.organizational_units.clone()))
            .set_accounts(Some(op.accounts.clone()))
            .account_filter_type(AccountFilterType::Intersection)
            .build()
    };
    let accounts = || (!service).then(|| op.accounts.clone());
    let deployment_targets = || service.then(targets);
    let client = ctx.client;
    let id = op.id.as_str();
    // The three instance calls take the same targets, regions, preferences and id on builders of
    // different types; the macro writes those setters once.
    macro_rules! instance_call {
        ($call:ident $(.$extra:ident($value:expr))*) => {
            client
                .$call()
                .stack_set_name(&set.name)
                .set_accounts(accounts())
                .set_deployment_targets(deployment_targets())
                .set_regions(Some(op.regions.clone()))
                $(.$extra($value))*
                .operation_preferences(preferences.clone())
                .operation_id(id)
                .call_as(ctx.call_as.clone())
                .send()
                .await
                .map(|o| o.operation_id)
        };
    }
    let started = match op.action {
        OperationAction::CreateInstances => {
            ctx.start_expecting(
                "CreateStackInstances",
                id,
                expected,
                ours,
                AfterWaiting::Stop,
                || async { instance_call!(create_stack_instances) },
            )
            .await
        }
        OperationAction::DeleteInstances => {
            // Decided by the plan: `retain_stacks_on_delete` (or the stack set's retain tag), and
            // inoperable instances released as AWS documents.
            let retain = op.retain_stacks;
            ctx.start_expecting(
                "DeleteStackInstances",
                id,
                expected,
                ours,
                AfterWaiting::Stop,
                || async { instance_call!(delete_stack_instances.retain_stacks(retain)) },
            )
            .await
        }
        OperationAction::UpdateInstances => {
            ctx.start_expecting(
                "UpdateStackInstances",
                id,
                expected,
                ours,
                AfterWaiting::Stop,
                || async { instance_call!(update_stack_instances) },
            )
            .await
        }
        OperationAction::UpdateStackSet => {
            let Some(desired) = &set.desired else {
                return Err(OperationError {
                    started: None,
                    error: ExecError::Call {
                        operation: "UpdateStackSet",
                        message: format!("the plan for {} has no desired stack set", set.name),
                        source: None,
                    },
                });
            };
            ctx.start_expecting(
                "UpdateStackSet",
                id,
                expected,
                ours,
                AfterWaiting::Stop,
                || async {
                    // A plan scopes the update (Accounts or DeploymentTargets, and Regions) when
                    // the stack set holds instances stackfleet must not touch.
                    let scoped = !op.regions.is_empty();
                    let request = client
                        .update_stack_set()
                        .set_accounts(accounts().filter(|_| scoped))
                        .set_deployment_targets(deployment_targets().filter(|_| scoped))
                        .set_regions(scoped.then(|| op.regions.clone()))
                        .operation_preferences(preferences.clone())
                        .operation_id(id)
                        .call_as(ctx.call_as.clone())
                        // Only when fleet.toml sets it: otherwise the stack set keeps its own.
                        .set_managed_execution(
                            desired
                                .managed_execution
                                .map(|on| ManagedExecution::builder().active(on).build()),
                        );
                    stack_set_settings!(request, set, desired)
                        .send()
                        .await
                        .map(|o| o.operation_id)
                },
            )
            .await
        }
    };
    let started = started.map_err(|error| OperationError {
        started: None,
        error,
    })?;
    let _ = ctx.events.send(Event::OperationStarted {
        stack_set: set.name.clone(),
        operation_id: started.clone(),
        action: op.action,
        instances: op.instances,
    });
    // Polled at the plan's estimate, so the end of a short operation is not overshot.
    let estimate = (op.estimated_seconds > 0).then(|| Duration::from_secs(op.estimated_seconds));
    let outcome = ctx
        .wait_expecting(&started, Some(op.instances), estimate)
        .await
        .map_err(|error| OperationError {
            started: Some(started.clone()),
            error,
        })?;
    let _ = ctx.events.send(Event::OperationFinished {
        stack_set: set.name.clone(),
        operation_id: started.clone(),
        outcome: outcome.clone(),
    });
    Ok((started, outcome))
}

/// An operation that could not be started, or whose end could not be seen.
struct OperationError {
    /// The operation's id, if it was started.
    started: Option<String>,
    error: ExecError,
}

fn parameters(desired: &DesiredStackSet) -> Vec<Parameter> {
    desired
        .parameters
        .iter()
        .map(|(k, v)| {
            Parameter::builder()
                .parameter_key(k)
                .parameter_value(v)
                .build()
        })
        .collect()
}

fn capabilities(desired: &DesiredStackSet) -> Vec<Capability> {
    desired
        .capabilities
        .iter()
        .map(|c| Capability::from(c.as_str()))
        .collect()
}

fn tags(desired: &DesiredStackSet) -> Vec<Tag> {
    desired
        .tags
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

fn permission_model(model: PermissionModel) -> PermissionModels {
    match model {
        PermissionModel::SelfManaged => PermissionModels::SelfManaged,
        PermissionModel::ServiceManaged => PermissionModels::ServiceManaged,
    }
}

/// AutoDeployment as AWS accepts it: `RetainStacksOnAccountRemoval` "Specify only if Enabled is
/// set to True" ("AutoDeployment", CloudFormation API Reference,
/// https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_AutoDeployment.html);
/// AWS refuses even `false` with auto-deployment disabled (terraform-provider-aws #19015).
fn auto_deployment(desired: &DesiredStackSet) -> Option<AwsAutoDeployment> {
    desired.auto_deployment.map(|a| {
        AwsAutoDeployment::builder()
            .enabled(a.enabled)
            .set_retain_stacks_on_account_removal(
                a.enabled.then_some(a.retain_stacks_on_account_removal),
            )
            .build()
    })
}

/// fleet.toml's rollout as StackSets `OperationPreferences`.
pub fn operation_preferences(rollout: Option<&Rollout>) -> StackSetOperationPreferences {
    let mut b = StackSetOperationPreferences::builder();
    let Some(r) = rollout else {
        return b.build();
    };
    b = match r.max_concurrent {
        Some(Limit::Count(n)) => b.max_concurrent_count(saturate(n)),
        Some(Limit::Percentage(p)) => b.max_concurrent_percentage(saturate(p)),
        None => b,
    };
    b = match r.failure_tolerance {
        Some(Limit::Count(n)) => b.failure_tolerance_count(saturate(n)),
        Some(Limit::Percentage(p)) => b.failure_tolerance_percentage(saturate(p)),
        None => b,
    };
    b = match r.region_concurrency {
        Some(RegionConcurrency::Parallel) => {
            b.region_concurrency_type(RegionConcurrencyType::Parallel)
        }
        Some(RegionConcurrency::Sequential) => {
            b.region_concurrency_type(RegionConcurrencyType::Sequential)
        }
        None => b,
    };
    b = match r.concurrency_mode {
        Some(ConcurrencyMode::StrictFailureTolerance) => {
            b.concurrency_mode(AwsMode::StrictFailureTolerance)
        }
        Some(ConcurrencyMode::SoftFailureTolerance) => {
            b.concurrency_mode(AwsMode::SoftFailureTolerance)
        }
        None => b,
    };
    if !r.region_order.is_empty() {
        b = b.set_region_order(Some(r.region_order.clone()));
    }
    b.build()
}

fn saturate(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}
