//! Stack sets with ManagedExecution on: StackSets queues a call behind another operation instead
//! of refusing it (ManagedExecution, CloudFormation API Reference,
//! <https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_ManagedExecution.html>),
//! so apply looks for someone else's operation before each step (as it does without), starts a run of operations of
//! one kind together, and never takes its own sibling for someone else's.

use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::operation::list_stack_set_operation_results::ListStackSetOperationResultsOutput;
use aws_sdk_cloudformation::operation::list_stack_set_operations::ListStackSetOperationsOutput;
use aws_sdk_cloudformation::types::{
    StackSetOperationAction, StackSetOperationStatus, StackSetOperationSummary,
};
use aws_smithy_mocks::mock;
use stackfleet_planner::fleet::PermissionModel;
use stackfleet_planner::plan::StackSetAction;

use crate::support::*;

const IN_PROGRESS: &str = "Another Operation on StackSet arn:aws:cloudformation:us-east-1:999999999999:stackset/monitor:0a1b2c3d is in progress";

/// A page listing `active` operations (id, status) as creates.
fn active(operations: &[(&str, &str)]) -> ListStackSetOperationsOutput {
    listing(
        operations
            .iter()
            .map(|(id, status)| {
                StackSetOperationSummary::builder()
                    .operation_id(*id)
                    .action(StackSetOperationAction::Create)
                    .status(StackSetOperationStatus::from(*status))
                    .build()
            })
            .collect(),
        None,
    )
}

/// No instance results yet (what progress reads while an operation runs).
fn no_results() -> aws_smithy_mocks::Rule {
    mock!(Client::list_stack_set_operation_results)
        .sequence()
        .output(|| ListStackSetOperationResultsOutput::builder().build())
        .repeatedly()
        .build()
}

/// Two creates of disjoint rectangles, on a stack set with ManagedExecution `on` or off.
fn two_creates(on: bool) -> stackfleet_planner::Plan {
    let mut set = stack_set(
        "monitor",
        StackSetAction::None,
        PermissionModel::SelfManaged,
        vec![
            create_instances("op-1", &[A1], &[USE1]),
            create_instances("op-2", &[A2], &[EUW1]),
        ],
    );
    set.managed_execution = on;
    plan(vec![set])
}

#[tokio::test]
async fn with_managed_execution_someone_elses_operation_is_waited_for_and_nothing_is_queued_behind_it()
 {
    // Without the look first, StackSets would queue op-1 behind someone-else's operation, and
    // op-1 would then run on a stack set the plan no longer describes.
    let create = mock!(Client::create_stack_instances)
        .sequence()
        .output(|| started("op-1"))
        .build();
    let list = mock!(Client::list_stack_set_operations)
        .sequence()
        .output(|| active(&[("someone-else", "QUEUED")]))
        .repeatedly()
        .build();
    let other = mock!(Client::describe_stack_set_operation)
        .match_requests(|r| r.operation_id() == Some("someone-else"))
        .sequence()
        .output(|| operation("someone-else", "RUNNING"))
        .output(|| operation("someone-else", "SUCCEEDED"))
        .repeatedly()
        .build();
    let client = client_answering_the_check(&[&create, &list, &other]);

    let (report, _) = run(&client, &two_creates(true)).await;

    assert_eq!(
        create.num_calls(),
        0,
        "nothing started behind someone else's"
    );
    // The next round of `stackfleet apply` waits for it before planning again.
    assert_eq!(other.num_calls(), 0);
    let set = &report.stack_sets[0];
    assert!(set.superseded, "{set:?}");
    assert!(set.error.as_deref().unwrap().contains("someone-else"));
    assert!(
        set.operations.iter().all(|o| o.status == "NOT_STARTED"),
        "{:?}",
        set.operations
    );
}

#[tokio::test]
async fn with_managed_execution_a_run_of_creates_starts_together_and_siblings_are_not_strangers() {
    let create_1 = mock!(Client::create_stack_instances)
        .match_requests(|r| r.operation_id() == Some("op-1"))
        .sequence()
        .output(|| started("op-1"))
        .build();
    let create_2 = mock!(Client::create_stack_instances)
        .match_requests(|r| r.operation_id() == Some("op-2"))
        .sequence()
        .output(|| started("op-2"))
        .build();
    // Each create looks first; the second may see the first already queued or running: ours.
    let list = mock!(Client::list_stack_set_operations)
        .sequence()
        .output(|| active(&[]))
        .output(|| active(&[("op-1", "RUNNING")]))
        .build();
    let op1 = mock!(Client::describe_stack_set_operation)
        .match_requests(|r| r.operation_id() == Some("op-1"))
        .sequence()
        .output(|| operation("op-1", "RUNNING"))
        .output(|| operation("op-1", "SUCCEEDED"))
        .build();
    let op2 = mock!(Client::describe_stack_set_operation)
        .match_requests(|r| r.operation_id() == Some("op-2"))
        .sequence()
        .output(|| operation("op-2", "QUEUED"))
        .output(|| operation("op-2", "SUCCEEDED"))
        .build();
    let results = no_results();
    let client = client_answering_the_check(&[&create_1, &create_2, &list, &op1, &op2, &results]);

    let (report, events) = run(&client, &two_creates(true)).await;

    assert!(report.converged(), "{report:?}");
    assert_eq!(
        (create_1.num_calls(), create_2.num_calls()),
        (1, 1),
        "each step once"
    );
    assert_eq!(list.num_calls(), 2);
    // Both started before either ended: the second did not wait for the first.
    let order: Vec<String> = events.iter().map(brief).collect();
    let started_2 = order
        .iter()
        .position(|e| e.contains("started op-2"))
        .unwrap();
    let ended_1 = order
        .iter()
        .position(|e| e.contains("op-1 SUCCEEDED"))
        .unwrap();
    assert!(started_2 < ended_1, "{order:#?}");
}

#[tokio::test]
async fn a_sibling_refused_as_in_progress_waits_its_turn_and_is_not_superseded() {
    // ManagedExecution was on when planned, yet StackSets refuses op-2 while op-1 runs (turned
    // off meanwhile): op-1 is this apply's own, so op-2 waits for it and is called again,
    // instead of stopping the apply as if someone else had changed the stack set.
    let create_1 = mock!(Client::create_stack_instances)
        .match_requests(|r| r.operation_id() == Some("op-1"))
        .sequence()
        .output(|| started("op-1"))
        .build();
    let create_2 = mock!(Client::create_stack_instances)
        .match_requests(|r| r.operation_id() == Some("op-2"))
        .sequence()
        .http_status(
            409,
            Some(wire_error("OperationInProgressException", IN_PROGRESS)),
        )
        .output(|| started("op-2"))
        .build();
    let list = mock!(Client::list_stack_set_operations)
        .sequence()
        .output(|| active(&[]))
        .output(|| active(&[]))
        .output(|| active(&[("op-1", "RUNNING")]))
        .build();
    let op1 = mock!(Client::describe_stack_set_operation)
        .match_requests(|r| r.operation_id() == Some("op-1"))
        .sequence()
        .output(|| operation("op-1", "RUNNING"))
        .times(2)
        .output(|| operation("op-1", "SUCCEEDED"))
        .repeatedly()
        .build();
    let op2 = mock!(Client::describe_stack_set_operation)
        .match_requests(|r| r.operation_id() == Some("op-2"))
        .sequence()
        .output(|| operation("op-2", "SUCCEEDED"))
        .build();
    let results = no_results();
    let client = client(&[&create_1, &create_2, &list, &op1, &op2, &results]);

    let (report, _) = run(&client, &two_creates(true)).await;

    assert!(report.converged(), "{report:?}");
    assert!(!report.superseded());
    assert_eq!(
        (create_1.num_calls(), create_2.num_calls()),
        (1, 2),
        "op-1 once, op-2 refused then started"
    );
}

#[tokio::test]
async fn without_managed_execution_operations_run_one_after_another_without_looking_first() {
    let create = mock!(Client::create_stack_instances)
        .sequence()
        .output(|| started("op-1"))
        .output(|| started("op-2"))
        .build();
    let list = mock!(Client::list_stack_set_operations)
        .sequence()
        .output(|| active(&[]))
        .build();
    let op1 = mock!(Client::describe_stack_set_operation)
        .match_requests(|r| r.operation_id() == Some("op-1"))
        .sequence()
        .output(|| operation("op-1", "SUCCEEDED"))
        .build();
    let op2 = mock!(Client::describe_stack_set_operation)
        .match_requests(|r| r.operation_id() == Some("op-2"))
        .sequence()
        .output(|| operation("op-2", "SUCCEEDED"))
        .build();
    let client = client(&[&create, &list, &op1, &op2]);

    let (report, events) = run(&client, &two_creates(false)).await;

    assert!(report.converged(), "{report:?}");
    // StackSets refuses a second operation instead of queueing it: nothing to look for first.
    assert_eq!(list.num_calls(), 0);
    let order: Vec<String> = events.iter().map(brief).collect();
    let started_2 = order
        .iter()
        .position(|e| e.contains("started op-2"))
        .unwrap();
    let ended_1 = order
        .iter()
        .position(|e| e.contains("op-1 SUCCEEDED"))
        .unwrap();
    assert!(ended_1 < started_2, "{order:#?}");
}
