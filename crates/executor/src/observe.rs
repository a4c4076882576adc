//! Reading stack sets and their instances into the planner's [`Observed`].

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::error::ProvideErrorMetadata;
use aws_sdk_cloudformation::types::{
    CallAs as AwsCallAs, PermissionModels, StackSet, StackSetStatus,
};
use futures::stream::{self, StreamExt, TryStreamExt};
use stackfleet_planner::fleet::{AutoDeployment, CallAs, FLEET_TAG, PermissionModel};
use stackfleet_planner::observed::{
    DetailedStatus, DriftStatus, InstanceStatus, Observed, ObservedInstance, ObservedStackSet,
};

use crate::error::ExecError;

/// How many stack sets are read at once. StackSets throttles per account; a few in flight keep
/// reads fast without provoking `Throttling`.
pub const READ_CONCURRENCY: usize = 4;

/// The largest page ListStackInstances returns.
const INSTANCES_PAGE_SIZE: i32 = 100;

/// The largest page ListStackSets returns, asked for explicitly: an account near the quota of
/// 1,000 stack sets then takes 10 pages, whatever the service's default page size.
const STACK_SETS_PAGE_SIZE: i32 = 100;

/// The SDK's `CallAs` for fleet.toml's setting.
pub fn call_as(call_as: CallAs) -> AwsCallAs {
    match call_as {
        CallAs::SelfAccount => AwsCallAs::SelfValue,
        CallAs::DelegatedAdmin => AwsCallAs::DelegatedAdmin,
    }
}

/// Reads what StackSets has for a fleet: the stack sets named in `names`, plus every other active
/// stack set tagged as belonging to the fleet `fleet` (so that one removed from fleet.toml shows
/// up as a deletion), each with all of its instances.
pub async fn observe(
    client: &Client,
    caller: CallAs,
    fleet: &str,
    names: &[String],
) -> Result<Observed, ExecError> {
    let as_caller = call_as(caller);
    let summaries = client
        .list_stack_sets()
        .status(StackSetStatus::Active)
        .call_as(as_caller.clone())
        .max_results(STACK_SETS_PAGE_SIZE)
        .into_paginator()
        .send()
        .try_collect()
        .await
        .map_err(|e| ExecError::from_sdk("ListStackSets", e))?;
    let existing: BTreeSet<String> = summaries
        .into_iter()
        .flat_map(|page| page.summaries.unwrap_or_default())
        .filter_map(|s| s.stack_set_name)
        .collect();

    let described: Vec<Option<StackSet>> = stream::iter(existing.iter())
        .map(|name| describe(client, as_caller.clone(), name))
        .buffered(READ_CONCURRENCY)
        .try_collect()
        .await?;
    let wanted: BTreeSet<&str> = names.iter().map(String::as_str).collect();
    let ours: Vec<StackSet> = described
        .into_iter()
        .flatten()
        .filter(|set| {
            let name = set.stack_set_name().unwrap_or_default();
            wanted.contains(name)
                || set
                    .tags()
                    .iter()
                    .any(|t| t.key() == Some(FLEET_TAG) && t.value() == Some(fleet))
        })
        .collect();

    let observed: Vec<ObservedStackSet> = stream::iter(ours)
        .map(|set| {
            let as_caller = as_caller.clone();
            async move {
                let name = set.stack_set_name().unwrap_or_default().to_string();
                let instances = list_instances(client, as_caller, &name).await?;
                Ok::<_, ExecError>(to_observed(set, instances))
            }
        })
        .buffered(READ_CONCURRENCY)
        .try_collect()
        .await?;
    Ok(Observed {
        stack_sets: observed.into_iter().map(|s| (s.name.clone(), s)).collect(),
    })
}

/// DescribeStackSet; `None` when the stack set does not exist (any more).
async fn describe(
    client: &Client,
    as_caller: AwsCallAs,
    name: &str,
) -> Result<Option<StackSet>, ExecError> {
    match client
        .describe_stack_set()
        .stack_set_name(name)
        .call_as(as_caller)
        .send()
        .await
    {
        Ok(out) => Ok(out.stack_set),
        Err(e) if e.code() == Some("StackSetNotFoundException") => Ok(None),
        Err(e) => Err(ExecError::from_sdk("DescribeStackSet", e)),
    }
}

/// Every instance of a stack set, all pages.
pub async fn list_instances(
    client: &Client,
    as_caller: AwsCallAs,
    name: &str,
) -> Result<Vec<ObservedInstance>, ExecError> {
    let pages = client
        .list_stack_instances()
        .stack_set_name(name)
        .call_as(as_caller)
        .max_results(INSTANCES_PAGE_SIZE)
        .into_paginator()
        .send()
        .try_collect()
        .await
        .map_err(|e| ExecError::from_sdk("ListStackInstances", e))?;
    let mut instances: Vec<ObservedInstance> = pages
        .into_iter()
        .flat_map(|page| page.summaries.unwrap_or_default())
        .map(|s| ObservedInstance {
            account: s.account().unwrap_or_default().to_string(),
            region: s.region().unwrap_or_default().to_string(),
            status: s
                .status()
                .map_or(InstanceStatus::Other(String::new()), |st| {
                    InstanceStatus::from_aws(st.as_str())
                }),
            detailed_status: s
                .stack_instance_status()
                .and_then(|d| d.detailed_status())
                .map(|d| DetailedStatus::from(d.as_str())),
            status_reason: s.status_reason().map(str::to_string),
            drift_status: s.drift_status().map(|d| DriftStatus::from(d.as_str())),
            organizational_unit_id: s.organizational_unit_id().map(str::to_string),
        })
        .collect();
    // Sorted so the observed state, and so the plan's fingerprint, does not depend on page order.
    instances.sort();
    instances.dedup_by(|a, b| a.account == b.account && a.region == b.region);
    Ok(instances)
}

fn to_observed(set: StackSet, instances: Vec<ObservedInstance>) -> ObservedStackSet {
    let permission_model = match set.permission_model() {
        Some(PermissionModels::ServiceManaged) => PermissionModel::ServiceManaged,
        _ => PermissionModel::SelfManaged,
    };
    ObservedStackSet {
        name: set.stack_set_name().unwrap_or_default().to_string(),
        id: set.stack_set_id().unwrap_or_default().to_string(),
        description: set.description().map(str::to_string),
        template_body: set.template_body().unwrap_or_default().to_string(),
        parameters: set
            .parameters()
            .iter()
            .filter_map(|p| {
                Some((
                    p.parameter_key()?.to_string(),
                    p.parameter_value().unwrap_or_default().to_string(),
                ))
            })
            .collect::<BTreeMap<_, _>>(),
        tags: set
            .tags()
            .iter()
            .filter_map(|t| {
                Some((
                    t.key()?.to_string(),
                    t.value().unwrap_or_default().to_string(),
                ))
            })
            .collect(),
        capabilities: set
            .capabilities()
            .iter()
            .map(|c| c.as_str().to_string())
            .collect(),
        permission_model,
        administration_role_arn: set.administration_role_arn().map(str::to_string),
        execution_role_name: set.execution_role_name().map(str::to_string),
        auto_deployment: set.auto_deployment().and_then(|a| {
            Some(AutoDeployment {
                enabled: a.enabled()?,
                retain_stacks_on_account_removal: a
                    .retain_stacks_on_account_removal()
                    .unwrap_or(false),
            })
        }),
        // Read on every stack set: apply starts operations together only where it is on.
        managed_execution: set
            .managed_execution()
            .and_then(|m| m.active())
            .unwrap_or(false),
        instances,
    }
}
