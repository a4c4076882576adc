//! How long one stack instance takes, measured on the stack set's own operation history, for the
//! plan's estimate. The reads are bounded, whatever the length of the history: the newest page of
//! ListStackSetOperations (StackSets lists operations newest first: see
//! `Operation::running_operations` for the only source, the AWS CLI's example), and at most
//! [`RESULT_PAGES`] pages of ListStackSetOperationResults.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::types::{
    CallAs as AwsCallAs, ConcurrencyMode as AwsMode, RegionConcurrencyType,
    StackSetOperationAction, StackSetOperationPreferences, StackSetOperationStatus,
    StackSetOperationSummary,
};
use stackfleet_planner::fleet::{ConcurrencyMode, Limit, RegionConcurrency, Rollout};
use stackfleet_planner::plan::estimate::{InstanceTime, TimeSource, instance_millis_from};

use crate::error::ExecError;

/// How many of the newest operations are looked at: one page.
pub const HISTORY_OPERATIONS: i32 = 20;

/// The most ListStackSetOperationResults pages (100 results each) read to count an operation's
/// accounts and Regions; past that the search stops and the estimate keeps its default, so that
/// measuring never costs more than a few calls.
pub const RESULT_PAGES: usize = 5;

const RESULTS_PAGE_SIZE: i32 = 100;

/// The per-instance time of the stack set's newest succeeded instance operation small enough to
/// count; `None` when there is none (the estimate then uses its documented default).
pub async fn instance_time(
    client: &Client,
    as_caller: AwsCallAs,
    stack_set: &str,
) -> Result<Option<InstanceTime>, ExecError> {
    let page = client
        .list_stack_set_operations()
        .stack_set_name(stack_set)
        .call_as(as_caller.clone())
        .max_results(HISTORY_OPERATIONS)
        .send()
        .await
        .map_err(|e| ExecError::from_sdk("ListStackSetOperations", e))?;
    let mut candidates: Vec<&StackSetOperationSummary> = page
        .summaries()
        .iter()
        .filter(|s| s.status() == Some(&StackSetOperationStatus::Succeeded))
        .filter(|s| {
            matches!(
                s.action(),
                Some(
                    StackSetOperationAction::Create
                        | StackSetOperationAction::Update
                        | StackSetOperationAction::Delete
                )
            )
        })
        .filter(|s| duration_millis(s).is_some())
        .collect();
    // Newest first, whatever order the page came in.
    candidates.sort_by_key(|s| {
        std::cmp::Reverse(s.creation_timestamp().map(|t| (t.secs(), t.subsec_nanos())))
    });
    let mut budget = RESULT_PAGES;
    for summary in candidates {
        let Some(id) = summary.operation_id() else {
            continue;
        };
        let Some((cells, used)) = cells_of(client, &as_caller, stack_set, id, budget).await? else {
            return Ok(None);
        };
        budget -= used;
        let mut by_region: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for (account, region) in &cells {
            by_region
                .entry(region.as_str())
                .or_default()
                .insert(account.as_str());
        }
        let accounts = by_region.values().map(BTreeSet::len).max().unwrap_or(0);
        let rollout = rollout_of(summary.operation_preferences());
        let millis = duration_millis(summary)
            .and_then(|d| instance_millis_from(d, &rollout, accounts, by_region.len()));
        if let Some(millis) = millis {
            return Ok(Some(InstanceTime {
                millis,
                source: TimeSource::History,
            }));
        }
        if budget == 0 {
            break;
        }
    }
    Ok(None)
}

fn duration_millis(s: &StackSetOperationSummary) -> Option<u64> {
    let start = s.creation_timestamp()?.to_millis().ok()?;
    let end = s.end_timestamp()?.to_millis().ok()?;
    u64::try_from(end - start).ok()
}

/// The operation's (account, region) results, reading at most `budget` pages; with the pages
/// used, or `None` when the operation has more results than that.
async fn cells_of(
    client: &Client,
    as_caller: &AwsCallAs,
    stack_set: &str,
    operation_id: &str,
    budget: usize,
) -> Result<Option<(Vec<(String, String)>, usize)>, ExecError> {
    let mut cells = Vec::new();
    let mut token: Option<String> = None;
    for used in 1..=budget {
        let out = client
            .list_stack_set_operation_results()
            .stack_set_name(stack_set)
            .operation_id(operation_id)
            .call_as(as_caller.clone())
            .max_results(RESULTS_PAGE_SIZE)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| ExecError::from_sdk("ListStackSetOperationResults", e))?;
        cells.extend(
            out.summaries()
                .iter()
                .filter_map(|r| Some((r.account()?.to_string(), r.region()?.to_string()))),
        );
        match out.next_token() {
            Some(next) if !next.is_empty() => token = Some(next.to_string()),
            _ => return Ok(Some((cells, used))),
        }
    }
    Ok(None)
}

/// The planner's rollout for the preferences an operation ran with (AWS's defaults for what is
/// absent).
fn rollout_of(prefs: Option<&StackSetOperationPreferences>) -> Rollout {
    let Some(p) = prefs else {
        return Rollout::default();
    };
    let limit = |count: Option<i32>, pct: Option<i32>| {
        count
            .and_then(|c| u32::try_from(c).ok())
            .map(Limit::Count)
            .or_else(|| {
                pct.and_then(|c| u32::try_from(c).ok())
                    .map(Limit::Percentage)
            })
    };
    Rollout {
        max_concurrent: limit(p.max_concurrent_count(), p.max_concurrent_percentage()),
        failure_tolerance: limit(
            p.failure_tolerance_count(),
            p.failure_tolerance_percentage(),
        ),
        region_concurrency: match p.region_concurrency_type() {
            Some(RegionConcurrencyType::Parallel) => Some(RegionConcurrency::Parallel),
            _ => Some(RegionConcurrency::Sequential),
        },
        concurrency_mode: match p.concurrency_mode() {
            Some(AwsMode::SoftFailureTolerance) => Some(ConcurrencyMode::SoftFailureTolerance),
            _ => Some(ConcurrencyMode::StrictFailureTolerance),
        },
        region_order: Vec::new(),
    }
}
