//! Waiting for an operation: the polls, their progress events, the outcome.

use std::time::Duration;

use aws_sdk_cloudformation::Client;
use aws_smithy_mocks::mock;
use stackfleet_executor::PollPolicy;
use stackfleet_planner::fleet::PermissionModel;
use stackfleet_planner::plan::StackSetAction;

use crate::support::*;

#[tokio::test]
async fn queued_then_running_then_succeeded_is_waited_for() {
    let create = mock!(Client::create_stack_instances)
        .match_requests(|r| r.operation_id() == Some("op-1"))
        .sequence()
        .output(|| started("op-1"))
        .build();
    let describe = mock!(Client::describe_stack_set_operation)
        .match_requests(|r| {
            r.stack_set_name() == Some("monitor") && r.operation_id() == Some("op-1")
        })
        .sequence()
        .output(|| operation("op-1", "QUEUED"))
        .output(|| operation("op-1", "RUNNING"))
        .times(2)
        .output(|| operation("op-1", "SUCCEEDED"))
        .build();
    // While it runs (not while queued), a small operation's progress is counted from its
    // finished results; PENDING and RUNNING results are not finished.
    let progress = mock!(Client::list_stack_set_operation_results)
        .match_requests(|r| r.operation_id() == Some("op-1"))
        .sequence()
        .output(|| {
            results(
                vec![
                    result(A1, USE1, "SUCCEEDED", ""),
                    result(A2, USE1, "RUNNING", ""),
                ],
                None,
            )
        })
        .output(|| {
            results(
                vec![
                    result(A1, USE1, "SUCCEEDED", ""),
                    result(A2, USE1, "SUCCEEDED", ""),
                ],
                None,
            )
        })
        .build();
    let client = client(&[&create, &describe, &progress]);
    let plan = plan(vec![stack_set(
        "monitor",
        StackSetAction::None,
        PermissionModel::SelfManaged,
        vec![two_instances()],
    )]);

    let (report, events) = run(&client, &plan).await;

    assert_eq!(create.num_calls(), 1);
    assert_eq!(describe.num_calls(), 4);
    // One per poll while it runs; none while queued, none once it SUCCEEDED with no failure.
    assert_eq!(progress.num_calls(), 2);
    assert_eq!(
        events.iter().map(brief).collect::<Vec<_>>(),
        [
            "monitor: started op-1 CreateInstances x2",
            "monitor: op-1 QUEUED -/2 failed=0",
            "monitor: op-1 RUNNING 1/2 failed=0",
            "monitor: op-1 RUNNING 2/2 failed=0",
            "monitor: op-1 SUCCEEDED -/2 failed=0",
            "monitor: finished op-1 SUCCEEDED failures=0",
        ]
    );
    let set = &report.stack_sets[0];
    assert_eq!(set.name, "monitor");
    assert_eq!(set.error, None);
    assert_eq!(set.operations.len(), 1);
    assert_eq!(set.operations[0].operation_id, "op-1");
    assert_eq!(set.operations[0].status, "SUCCEEDED");
    assert_eq!(set.operations[0].instances, 2);
    assert!(set.operations[0].failures.is_empty());
    assert!(report.converged());
}

#[tokio::test]
async fn an_operation_that_outlives_the_timeout_is_left_running_and_the_rest_not_started() {
    let create = mock!(Client::create_stack_instances)
        .sequence()
        .output(|| started("op-1"))
        .build();
    let describe = mock!(Client::describe_stack_set_operation)
        .sequence()
        .output(|| operation("op-1", "RUNNING"))
        .repeatedly()
        .build();
    let progress = mock!(Client::list_stack_set_operation_results)
        .sequence()
        .output(|| results(vec![], None))
        .repeatedly()
        .build();
    let client = client(&[&create, &describe, &progress]);
    let plan = plan(vec![stack_set(
        "monitor",
        StackSetAction::None,
        PermissionModel::SelfManaged,
        vec![two_instances(), create_instances("op-2", &[A3], &[USE1])],
    )]);
    let poll = PollPolicy {
        timeout: Duration::from_millis(30),
        ..fast_poll()
    };

    let (report, events) = run_with(&client, &plan, poll).await;

    assert_eq!(
        create.num_calls(),
        1,
        "op-2 must not start while op-1 may still run"
    );
    // 1 ms, 1 ms, 2 ms, 3 ms, then 5 ms waits: a handful of polls in 30 ms, not a busy loop. A
    // loaded machine may fit only one poll in 30 ms, so only the upper bound is strict.
    assert!(
        (1..=30).contains(&describe.num_calls()),
        "{}",
        describe.num_calls()
    );
    let ops = &report.stack_sets[0].operations;
    assert_eq!(ops[0].operation_id, "op-1");
    assert_eq!(ops[0].status, "UNKNOWN");
    let error = ops[0].error.as_deref().unwrap();
    assert!(error.contains("gave up waiting"), "{error}");
    assert!(error.contains("rerun stackfleet apply"), "{error}");
    assert_eq!(ops[1].operation_id, "op-2");
    assert_eq!(ops[1].status, "NOT_STARTED");
    assert!(!report.converged());
    assert!(
        !events.iter().map(brief).any(|e| e.contains("finished")),
        "{events:?}"
    );
}

fn two_instances() -> stackfleet_planner::plan::Operation {
    create_instances("op-1", &[A1, A2], &[USE1])
}
