//! One operation at a time per stack set: OperationInProgressException and
//! OperationIdAlreadyExistsException.

use std::time::Instant;

use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::types::{
    StackSetOperationAction, StackSetOperationStatus, StackSetOperationSummary,
};
use aws_smithy_mocks::mock;
use stackfleet_executor::PollPolicy;
use stackfleet_executor::operation::CHANGES_PAGE_SIZE;
use stackfleet_planner::fleet::PermissionModel;
use stackfleet_planner::plan::StackSetAction;

use crate::support::*;

const IN_PROGRESS: &str = "Another Operation on StackSet arn:aws:cloudformation:us-east-1:999999999999:stackset/monitor:0a1b2c3d is in progress";

fn summary(id: &str, status: &str) -> StackSetOperationSummary {
    StackSetOperationSummary::builder()
        .operation_id(id)
        .action(StackSetOperationAction::Update)
        .status(StackSetOperationStatus::from(status))
        .build()
}

fn monitor_plan() -> stackfleet_planner::Plan {
    plan(vec![stack_set(
        "monitor",
        StackSetAction::None,
        PermissionModel::SelfManaged,
        vec![create_instances("op-1", &[A1], &[USE1])],
    )])
}

#[tokio::test]
async fn in_progress_waits_for_the_other_operation_then_stops_to_plan_again() {
    let create = mock!(Client::create_stack_instances)
        .match_requests(|r| r.operation_id() == Some("op-1"))
        .sequence()
        .http_status(
            409,
            Some(wire_error("OperationInProgressException", IN_PROGRESS)),
        )
        .build();
    // Most recent first, over two pages: the running one is on the first, so the second is read
    // too (more could queue behind it); it holds no active operation, so the reading stops there.
    let list_1 = mock!(Client::list_stack_set_operations)
        .match_requests(|r| r.stack_set_name() == Some("monitor") && r.next_token().is_none())
        .sequence()
        .output(|| listing(vec![summary("someone-else", "RUNNING")], Some("more")))
        .build();
    let list_2 = mock!(Client::list_stack_set_operations)
        .match_requests(|r| r.next_token() == Some("more"))
        .sequence()
        .output(|| {
            listing(
                vec![summary("old-1", "SUCCEEDED"), summary("old-0", "FAILED")],
                Some("older"),
            )
        })
        .build();
    let other = mock!(Client::describe_stack_set_operation)
        .match_requests(|r| r.operation_id() == Some("someone-else"))
        .sequence()
        .output(|| operation("someone-else", "RUNNING"))
        .output(|| operation("someone-else", "SUCCEEDED"))
        .build();
    let client = client(&[&create, &list_1, &list_2, &other]);

    let (report, events) = run(&client, &monitor_plan()).await;

    // The other operation changed the stack set after the plan was made: calling again could
    // repeat work it did (a concurrent apply's copy of our step), so apply stops and says so.
    assert_eq!(
        create.num_calls(),
        1,
        "one refused call, no retry: no storm, no copy"
    );
    assert_eq!(list_1.num_calls(), 1);
    assert_eq!(list_2.num_calls(), 1);
    assert_eq!(other.num_calls(), 2);
    assert_eq!(
        events.iter().map(brief).collect::<Vec<_>>(),
        [
            "monitor: waiting for someone-else",
            "monitor: someone-else RUNNING -/- failed=0",
            "monitor: someone-else SUCCEEDED -/- failed=0",
        ]
    );
    let set = &report.stack_sets[0];
    assert!(set.superseded && report.superseded());
    assert_eq!(set.operations[0].status, "NOT_STARTED");
    let error = set.error.as_deref().unwrap();
    assert!(
        error.contains("someone-else") && error.contains("plan again"),
        "{error}"
    );
    assert!(!report.converged());
}

#[tokio::test]
async fn operation_id_already_exists_resumes_our_operation_without_starting_another() {
    let create = mock!(Client::create_stack_instances)
        .match_requests(|r| r.operation_id() == Some("op-1"))
        .sequence()
        .http_status(
            409,
            Some(wire_error(
                "OperationIdAlreadyExistsException",
                "The operation ID op-1 already exists.",
            )),
        )
        .build();
    let describe = mock!(Client::describe_stack_set_operation)
        .match_requests(|r| r.operation_id() == Some("op-1"))
        .sequence()
        // The first answer checks that op-1 is this plan's (action, creation time).
        .output(|| operation("op-1", "RUNNING"))
        .output(|| operation("op-1", "RUNNING"))
        .output(|| operation("op-1", "SUCCEEDED"))
        .build();
    let progress = mock!(Client::list_stack_set_operation_results)
        .sequence()
        .output(|| results(vec![], None))
        .build();
    let client = client(&[&create, &describe, &progress]);

    let (report, events) = run(&client, &monitor_plan()).await;

    assert_eq!(create.num_calls(), 1);
    assert_eq!(describe.num_calls(), 3);
    assert_eq!(progress.num_calls(), 1);
    assert_eq!(
        events.iter().map(brief).collect::<Vec<_>>(),
        [
            "monitor: resumed op-1",
            // apply announces every operation it follows, resumed or not.
            "monitor: started op-1 CreateInstances x1",
            "monitor: op-1 RUNNING 0/1 failed=0",
            "monitor: op-1 SUCCEEDED -/1 failed=0",
            "monitor: finished op-1 SUCCEEDED failures=0",
        ]
    );
    let op = &report.stack_sets[0].operations[0];
    assert_eq!(
        (op.operation_id.as_str(), op.status.as_str()),
        ("op-1", "SUCCEEDED")
    );
    assert!(report.converged());
}

#[tokio::test]
async fn an_endpoint_that_assigns_its_own_operation_id_is_followed_by_that_id() {
    let create = mock!(Client::create_stack_instances)
        .sequence()
        .output(|| started("assigned-by-endpoint"))
        .build();
    let describe = mock!(Client::describe_stack_set_operation)
        .match_requests(|r| r.operation_id() == Some("assigned-by-endpoint"))
        .sequence()
        .output(|| operation("assigned-by-endpoint", "SUCCEEDED"))
        .build();
    let client = client(&[&create, &describe]);

    let (report, _) = run(&client, &monitor_plan()).await;

    assert_eq!(describe.num_calls(), 1);
    assert_eq!(
        report.stack_sets[0].operations[0].operation_id,
        "assigned-by-endpoint"
    );
    assert!(report.converged());
}

/// OperationInProgressException while ListStackSetOperations shows nothing running (it lags
/// behind, or the blocking operation has a status this version does not know): the calls are
/// bounded by `max_in_progress_waits`, and the error names the conflict.
#[tokio::test]
async fn in_progress_with_nothing_listed_gives_up_after_the_allowed_waits() {
    let calls = Recorder::<Instant>::new();
    let create = {
        let calls = calls.clone();
        mock!(Client::create_stack_instances)
            .match_requests(move |_| calls.record(&Instant::now()))
            .sequence()
            .http_status(
                409,
                Some(wire_error("OperationInProgressException", IN_PROGRESS)),
            )
            .repeatedly()
            .build()
    };
    let list = mock!(Client::list_stack_set_operations)
        .sequence()
        .output(|| listing(vec![summary("old-1", "SUCCEEDED")], None))
        .repeatedly()
        .build();
    let client = client(&[&create, &list]);
    let poll = PollPolicy {
        initial: std::time::Duration::from_millis(20),
        ..fast_poll()
    };

    let (report, events) = run_with(&client, &monitor_plan(), poll).await;

    assert_eq!(
        create.num_calls(),
        6,
        "the first call and one per allowed wait (5)"
    );
    assert_eq!(list.num_calls(), 5);
    assert!(events.is_empty(), "{events:?}");
    let op = &report.stack_sets[0].operations[0];
    assert_eq!(op.status, "NOT_STARTED");
    let error = op.error.as_deref().unwrap();
    assert!(error.contains("OperationInProgressException"), "{error}");
    // Calling again the instant nothing is listed is a retry storm at AWS's scale (the default
    // max_in_progress_waits = 20: 21 calls within a second). Between two calls there should be
    // at least the policy's first poll delay.
    let at = calls.requests();
    let gaps: Vec<_> = at.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(
        gaps.iter().all(|gap| *gap >= poll.initial),
        "no pause between OperationInProgressException retries when ListStackSetOperations \
         lists nothing running: gaps {gaps:?}"
    );
}

/// OperationIdAlreadyExistsException for op-1, then DescribeStackSetOperation answers `existing`.
async fn existing_operation_is(
    existing: aws_sdk_cloudformation::types::StackSetOperation,
    planned_at: u64,
) -> (stackfleet_executor::ApplyReport, usize) {
    let create = mock!(Client::create_stack_instances)
        .match_requests(|r| r.operation_id() == Some("op-1"))
        .sequence()
        .http_status(
            409,
            Some(wire_error(
                "OperationIdAlreadyExistsException",
                "The operation ID op-1 already exists.",
            )),
        )
        .build();
    let describe = mock!(Client::describe_stack_set_operation)
        .match_requests(|r| r.operation_id() == Some("op-1"))
        .then_output(move || {
            aws_sdk_cloudformation::operation::describe_stack_set_operation::DescribeStackSetOperationOutput::builder()
                .stack_set_operation(existing.clone())
                .build()
        });
    let client = client(&[&create, &describe]);
    let mut plan = monitor_plan();
    plan.planned_at = planned_at;
    let (report, _) = run(&client, &plan).await;
    (report, describe.num_calls())
}

#[tokio::test]
async fn an_existing_operation_of_another_action_or_older_than_the_plan_is_not_taken_for_ours() {
    let op = |action: StackSetOperationAction, created: i64| {
        aws_sdk_cloudformation::types::StackSetOperation::builder()
            .operation_id("op-1")
            .action(action)
            .status(StackSetOperationStatus::Succeeded)
            .creation_timestamp(aws_smithy_types::DateTime::from_secs(created))
            .build()
    };
    let planned = u64::try_from(OPERATION_CREATED).unwrap();
    for (existing, says) in [
        (
            op(StackSetOperationAction::Delete, OPERATION_CREATED),
            "it is a DELETE operation, and this step is CREATE",
        ),
        (
            // A day before the plan: an earlier plan's operation, finished long ago.
            op(StackSetOperationAction::Create, OPERATION_CREATED - 86_400),
            "before this plan was made",
        ),
    ] {
        let (report, describes) = existing_operation_is(existing, planned).await;
        // Checked once, never waited for.
        assert_eq!(describes, 1);
        assert!(!report.converged());
        let set = &report.stack_sets[0];
        let error = set.error.as_deref().unwrap();
        assert!(
            error.contains("is not this plan's") && error.contains(says),
            "{error}"
        );
        assert_ne!(set.operations[0].status, "SUCCEEDED");
    }
    // The plan's own operation, created after it was made, is followed.
    let (report, describes) = existing_operation_is(
        op(StackSetOperationAction::Create, OPERATION_CREATED + 10),
        planned,
    )
    .await;
    assert_eq!(describes, 2, "checked, then followed");
    assert!(report.converged(), "{report:?}");
}

/// An operation listed with its action and creation time (Unix seconds).
fn created(id: &str, action: StackSetOperationAction, at: i64) -> StackSetOperationSummary {
    StackSetOperationSummary::builder()
        .operation_id(id)
        .action(action)
        .status(StackSetOperationStatus::Succeeded)
        .creation_timestamp(aws_smithy_types::DateTime::from_secs(at))
        .build()
}

/// Apply's check before a step, answered with `listed` (newest first) for a plan made at 1000.
async fn step_after(
    listed: Vec<StackSetOperationSummary>,
) -> (usize, stackfleet_executor::ApplyReport) {
    let list = mock!(Client::list_stack_set_operations)
        .match_requests(|r| r.max_results() == Some(CHANGES_PAGE_SIZE))
        .then_output(move || listing(listed.clone(), None));
    let create = mock!(Client::create_stack_instances).then_output(|| started("op-1"));
    let describe =
        mock!(Client::describe_stack_set_operation).then_output(|| operation("op-1", "SUCCEEDED"));
    let client = aws_smithy_mocks::mock_client!(
        aws_sdk_cloudformation,
        aws_smithy_mocks::RuleMode::MatchAny,
        &[&list, &create, &describe]
    );
    let mut plan = monitor_plan();
    plan.planned_at = 1000;
    let (report, _) = run(&client, &plan).await;
    assert_eq!(
        list.num_calls(),
        1,
        "one page: it reaches an operation older than the plan"
    );
    (create.num_calls(), report)
}

#[tokio::test]
async fn a_step_is_not_started_when_another_operation_changed_the_stack_set_after_the_plan() {
    let (starts, report) = step_after(vec![
        created("colleague", StackSetOperationAction::Update, 1001),
        created("old", StackSetOperationAction::Create, 900),
    ])
    .await;
    assert_eq!(starts, 0, "the colleague may have done this very step");
    let set = &report.stack_sets[0];
    assert!(set.superseded, "{set:?}");
    assert_eq!(set.operations[0].status, "NOT_STARTED");
    assert!(
        set.error.as_deref().unwrap().contains("UPDATE colleague"),
        "{set:?}"
    );
}

#[tokio::test]
async fn older_operations_and_drift_detections_since_the_plan_do_not_stop_a_step() {
    let (starts, report) = step_after(vec![
        created("nightly-drift", StackSetOperationAction::DetectDrift, 1002),
        created("op-0", StackSetOperationAction::Delete, 1001),
        created("before", StackSetOperationAction::Update, 1000),
        created("older", StackSetOperationAction::Create, 10),
    ])
    .await;
    // op-0 is not this plan's, and it is newer: only the drift detection and the older ones pass.
    assert_eq!(starts, 0);
    assert!(
        report.stack_sets[0]
            .error
            .as_deref()
            .unwrap()
            .contains("DELETE op-0")
    );

    let (starts, report) = step_after(vec![
        created("nightly-drift", StackSetOperationAction::DetectDrift, 1002),
        created("before", StackSetOperationAction::Update, 1000),
    ])
    .await;
    assert_eq!(starts, 1);
    assert!(report.converged(), "{report:?}");
}

#[tokio::test]
async fn this_plans_own_operations_do_not_stop_its_next_step() {
    let (starts, report) =
        step_after(vec![created("op-1", StackSetOperationAction::Create, 1001)]).await;
    assert_eq!(starts, 1);
    assert!(report.converged(), "{report:?}");
}
