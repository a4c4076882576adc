//! Values this version of the SDK does not know: an outcome or an error, never a panic or a
//! loop.

use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::operation::describe_stack_set_operation::DescribeStackSetOperationOutput;
use aws_sdk_cloudformation::operation::list_stack_set_operations::ListStackSetOperationsOutput;
use aws_sdk_cloudformation::types::{StackSetOperationStatus, StackSetOperationSummary};
use aws_smithy_mocks::mock;
use stackfleet_planner::fleet::PermissionModel;
use stackfleet_planner::plan::StackSetAction;

use crate::support::*;

#[test]
fn an_unknown_status_is_kept_as_sent() {
    let status = StackSetOperationStatus::from("SOMETHING_NEW");
    assert!(!StackSetOperationStatus::values().contains(&"SOMETHING_NEW"));
    assert_eq!(status.as_str(), "SOMETHING_NEW");
}

#[tokio::test]
async fn an_unknown_operation_status_ends_the_wait_as_an_unsuccessful_outcome() {
    let start = mock!(Client::create_stack_instances)
        .then_compute_output(|r| started(r.operation_id().unwrap()));
    let describe = mock!(Client::describe_stack_set_operation)
        .match_requests(|r| r.operation_id() == Some("op-1"))
        .sequence()
        .output(|| operation("op-1", "SOMETHING_NEW"))
        .build();
    let describe_2 = mock!(Client::describe_stack_set_operation)
        .match_requests(|r| r.operation_id() == Some("op-2"))
        .sequence()
        .output(|| operation("op-2", "SUCCEEDED"))
        .build();
    // Not SUCCEEDED, so the instance results are read; one has a status unknown too, and an
    // unknown result is reported as not succeeded rather than dropped.
    let results_1 = mock!(Client::list_stack_set_operation_results)
        .sequence()
        .output(|| {
            results(
                vec![
                    result(A1, USE1, "FAILED", "Internal failure."),
                    result(A2, USE1, "SOMETHING_ELSE", "?"),
                ],
                None,
            )
        })
        .build();
    let client = client(&[&start, &describe, &describe_2, &results_1]);
    let plan = plan(vec![stack_set(
        "monitor",
        StackSetAction::None,
        PermissionModel::SelfManaged,
        vec![
            create_instances("op-1", &[A1, A2], &[USE1]),
            create_instances("op-2", &[A3], &[USE1]),
        ],
    )]);

    let (report, events) = run(&client, &plan).await;

    assert_eq!(describe.num_calls(), 1, "no loop");
    assert_eq!(results_1.num_calls(), 1);
    assert_eq!(
        events.iter().map(brief).collect::<Vec<_>>()[..3],
        [
            "monitor: started op-1 CreateInstances x2",
            "monitor: op-1 SOMETHING_NEW -/2 failed=0",
            "monitor: finished op-1 SOMETHING_NEW failures=2",
        ]
    );
    let ops = &report.stack_sets[0].operations;
    assert_eq!(ops[0].status, "SOMETHING_NEW");
    // Every result that is not SUCCEEDED is reported, a status this version does not know too.
    assert_eq!(ops[0].failures.len(), 2);
    assert_eq!(ops[0].failures[0].account, A1);
    assert_eq!(ops[0].failures[1].status, "SOMETHING_ELSE");
    assert_eq!(ops[1].status, "SUCCEEDED");
    assert!(!report.converged());
}

#[tokio::test]
async fn an_operation_without_a_status_is_an_error_not_a_loop() {
    let start = mock!(Client::create_stack_instances)
        .then_compute_output(|r| started(r.operation_id().unwrap()));
    let describe = mock!(Client::describe_stack_set_operation)
        .sequence()
        .output(|| DescribeStackSetOperationOutput::builder().build())
        .build();
    let client = client(&[&start, &describe]);
    let plan = plan(vec![stack_set(
        "monitor",
        StackSetAction::None,
        PermissionModel::SelfManaged,
        vec![
            create_instances("op-1", &[A1], &[USE1]),
            create_instances("op-2", &[A3], &[USE1]),
        ],
    )]);

    let (report, _) = run(&client, &plan).await;

    assert_eq!(describe.num_calls(), 1);
    assert_eq!(start.num_calls(), 1);
    let ops = &report.stack_sets[0].operations;
    assert_eq!(ops[0].status, "UNKNOWN");
    assert_eq!(
        ops[0].error.as_deref(),
        Some("CloudFormation DescribeStackSetOperation failed: operation op-1 has no status")
    );
    assert_eq!(ops[1].status, "NOT_STARTED");
}

/// If AWS adds a status for an operation that is still under way, this version takes it for
/// an end: the next operation is then refused with OperationInProgressException, and the
/// operation is not listed as running either. The calls stay bounded by
/// `max_in_progress_waits`.
#[tokio::test]
async fn an_unknown_running_status_does_not_loop_forever() {
    let in_progress = wire_error(
        "OperationInProgressException",
        "Another Operation on StackSet monitor is in progress",
    );
    let start_1 = mock!(Client::create_stack_instances)
        .match_requests(|r| r.operation_id() == Some("op-1"))
        .then_output(|| started("op-1"));
    let start_2 = mock!(Client::create_stack_instances)
        .match_requests(|r| r.operation_id() == Some("op-2"))
        .sequence()
        .http_status(409, Some(in_progress))
        .repeatedly()
        .build();
    let describe = mock!(Client::describe_stack_set_operation)
        .match_requests(|r| r.operation_id() == Some("op-1"))
        .then_output(|| operation("op-1", "PAUSED_FOR_REVIEW"));
    let results_1 =
        mock!(Client::list_stack_set_operation_results).then_output(|| results(vec![], None));
    let list = mock!(Client::list_stack_set_operations).then_output(|| {
        ListStackSetOperationsOutput::builder()
            .summaries(
                StackSetOperationSummary::builder()
                    .operation_id("op-1")
                    .status(StackSetOperationStatus::from("PAUSED_FOR_REVIEW"))
                    .build(),
            )
            .build()
    });
    let client = client(&[&start_1, &start_2, &describe, &results_1, &list]);
    let plan = plan(vec![stack_set(
        "monitor",
        StackSetAction::None,
        PermissionModel::SelfManaged,
        vec![
            create_instances("op-1", &[A1], &[USE1]),
            create_instances("op-2", &[A3], &[USE1]),
        ],
    )]);

    let (report, _) = run(&client, &plan).await;

    assert_eq!(describe.num_calls(), 1);
    assert_eq!(start_2.num_calls(), 6, "bounded: 1 + max_in_progress_waits");
    assert_eq!(list.num_calls(), 5);
    let ops = &report.stack_sets[0].operations;
    assert_eq!(ops[0].status, "PAUSED_FOR_REVIEW");
    assert_eq!(ops[1].status, "NOT_STARTED");
    assert!(
        ops[1]
            .error
            .as_deref()
            .unwrap()
            .contains("OperationInProgressException")
    );
}
