//! Creating a stack set before its first operation, deleting one after its last.

use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::operation::create_stack_set::{
    CreateStackSetInput, CreateStackSetOutput,
};
use aws_sdk_cloudformation::operation::delete_stack_instances::{
    DeleteStackInstancesInput, DeleteStackInstancesOutput,
};
use aws_sdk_cloudformation::operation::delete_stack_set::DeleteStackSetOutput;
use aws_sdk_cloudformation::types::{AutoDeployment, PermissionModels};
use aws_smithy_mocks::mock;
use stackfleet_planner::fleet::PermissionModel;
use stackfleet_planner::plan::{OperationAction, StackSetAction};

use crate::support::*;

fn new_stack_set() -> stackfleet_planner::Plan {
    plan(vec![stack_set(
        "monitor",
        StackSetAction::Create,
        PermissionModel::ServiceManaged,
        vec![create_instances("op-1", &[A1, A2], &[USE1])],
    )])
}

#[tokio::test]
async fn create_stack_set_then_its_first_operation() {
    let seen = Recorder::<CreateStackSetInput>::new();
    let create_set = {
        let seen = seen.clone();
        mock!(Client::create_stack_set)
            .match_requests(move |r| seen.record(r))
            .sequence()
            .output(|| {
                CreateStackSetOutput::builder()
                    .stack_set_id("monitor:0a1b")
                    .build()
            })
            .build()
    };
    let start = mock!(Client::create_stack_instances)
        .sequence()
        .output(|| started("op-1"))
        .build();
    let describe = mock!(Client::describe_stack_set_operation)
        .sequence()
        .output(|| operation("op-1", "SUCCEEDED"))
        .build();
    let client = client(&[&create_set, &start, &describe]);

    let (report, events) = run(&client, &new_stack_set()).await;

    assert_eq!(create_set.num_calls(), 1);
    assert_eq!(start.num_calls(), 1);
    assert_eq!(
        events.iter().map(brief).collect::<Vec<_>>(),
        [
            "monitor: created",
            "monitor: started op-1 CreateInstances x2",
            "monitor: op-1 SUCCEEDED -/2 failed=0",
            "monitor: finished op-1 SUCCEEDED failures=0",
        ]
    );
    assert!(report.converged());
    let request = &seen.requests()[0];
    assert_eq!(request.stack_set_name(), Some("monitor"));
    assert_eq!(
        request.permission_model(),
        Some(&PermissionModels::ServiceManaged)
    );
    assert_eq!(
        request.auto_deployment(),
        Some(
            &AutoDeployment::builder()
                .enabled(true)
                .retain_stacks_on_account_removal(false)
                .build()
        )
    );
    assert_eq!(request.administration_role_arn(), None, "service-managed");
    assert_eq!(request.execution_role_name(), None, "service-managed");
    assert!(
        request
            .tags()
            .iter()
            .any(|t| t.key() == Some("stackfleet:fleet") && t.value() == Some("prod")),
        "the fleet tag lets a later observe() find the stack set"
    );
}

#[tokio::test]
async fn a_stack_set_created_by_someone_else_after_planning_stops_for_a_new_plan() {
    let create_set = mock!(Client::create_stack_set)
        .sequence()
        .http_status(
            409,
            Some(wire_error(
                "NameAlreadyExistsException",
                "StackSet monitor already exists",
            )),
        )
        .build();
    let start = mock!(Client::create_stack_instances)
        .sequence()
        .output(|| started("op-1"))
        .build();
    let client = client(&[&create_set, &start]);

    let (report, events) = run(&client, &new_stack_set()).await;

    // Its template and parameters are unknown: deploying instances into it would report a
    // fleet that matches fleet.toml when it may not.
    assert_eq!(create_set.num_calls(), 1);
    assert_eq!(start.num_calls(), 0);
    assert!(events.is_empty(), "{events:?}");
    let set = &report.stack_sets[0];
    assert!(set.superseded);
    assert!(set.error.as_deref().unwrap().contains("plan again"));
    assert_eq!(set.operations[0].status, "NOT_STARTED");
    assert!(!report.converged());
}

#[tokio::test]
async fn a_stack_set_that_cannot_be_created_runs_none_of_its_operations() {
    let create_set = mock!(Client::create_stack_set)
        .sequence()
        .http_status(
            400,
            Some(wire_error(
                "ValidationError",
                "Template format error: Unresolved resource dependencies [Bus] in the Resources block of the template",
            )),
        )
        .build();
    let start = mock!(Client::create_stack_instances).then_output(|| started("op-1"));
    let client = client(&[&create_set, &start]);

    let (report, events) = run(&client, &new_stack_set()).await;

    assert_eq!(start.num_calls(), 0);
    assert!(events.is_empty(), "{events:?}");
    let set = &report.stack_sets[0];
    let error = set.error.as_deref().unwrap();
    assert!(
        error.starts_with(
            "CloudFormation CreateStackSet failed: ValidationError: Template format error"
        ),
        "{error}"
    );
    assert_eq!(set.operations[0].status, "NOT_STARTED");
    assert!(!report.converged());
}

fn leaving_fleet() -> stackfleet_planner::Plan {
    plan(vec![stack_set(
        "old-monitor",
        StackSetAction::Delete,
        PermissionModel::SelfManaged,
        vec![
            op(
                "del-1",
                OperationAction::DeleteInstances,
                &[A1, A2],
                &[USE1, EUW1],
            ),
            op("del-2", OperationAction::DeleteInstances, &[A3], &[USE1]),
        ],
    )])
}

fn delete_rules(
    first: &'static str,
    seen: &Recorder<DeleteStackInstancesInput>,
) -> [aws_smithy_mocks::Rule; 4] {
    let start = {
        let seen = seen.clone();
        mock!(Client::delete_stack_instances)
            .match_requests(move |r| seen.record(r))
            .then_compute_output(|r| {
                DeleteStackInstancesOutput::builder()
                    .set_operation_id(r.operation_id().map(str::to_string))
                    .build()
            })
    };
    let describe_1 = mock!(Client::describe_stack_set_operation)
        .match_requests(|r| r.operation_id() == Some("del-1"))
        .sequence()
        .output(move || operation_with("del-1", first, Some(i32::from(first == "FAILED")), None))
        .build();
    let describe_2 = mock!(Client::describe_stack_set_operation)
        .match_requests(|r| r.operation_id() == Some("del-2"))
        .sequence()
        .output(|| operation("del-2", "SUCCEEDED"))
        .build();
    let results_1 = mock!(Client::list_stack_set_operation_results)
        .match_requests(|r| r.operation_id() == Some("del-1"))
        .sequence()
        .output(|| {
            results(
                vec![
                    result(A1, USE1, "SUCCEEDED", ""),
                    result(A1, EUW1, "SUCCEEDED", ""),
                    result(
                        A2,
                        USE1,
                        "FAILED",
                        "Failed to delete stack: Export AlertTopicArn is in use",
                    ),
                    result(A2, EUW1, "SUCCEEDED", ""),
                ],
                None,
            )
        })
        .build();
    [start, describe_1, describe_2, results_1]
}

#[tokio::test]
async fn delete_runs_the_instance_deletions_then_deletes_the_stack_set_once() {
    let seen = Recorder::new();
    let [start, describe_1, describe_2, results_1] = delete_rules("SUCCEEDED", &seen);
    let delete_set = mock!(Client::delete_stack_set)
        .match_requests(|r| r.stack_set_name() == Some("old-monitor"))
        .sequence()
        .output(|| DeleteStackSetOutput::builder().build())
        .build();
    let client = client(&[&start, &describe_1, &describe_2, &results_1, &delete_set]);

    let (report, events) = run(&client, &leaving_fleet()).await;

    assert_eq!(start.num_calls(), 2);
    assert_eq!(results_1.num_calls(), 0);
    assert_eq!(delete_set.num_calls(), 1);
    assert_eq!(
        events.iter().map(brief).collect::<Vec<_>>(),
        [
            "old-monitor: started del-1 DeleteInstances x4",
            "old-monitor: del-1 SUCCEEDED -/4 failed=0",
            "old-monitor: finished del-1 SUCCEEDED failures=0",
            "old-monitor: started del-2 DeleteInstances x1",
            "old-monitor: del-2 SUCCEEDED -/1 failed=0",
            "old-monitor: finished del-2 SUCCEEDED failures=0",
            "old-monitor: deleted",
        ]
    );
    assert!(report.converged());
    let requests = seen.requests();
    assert_eq!(requests[0].accounts(), [A1, A2]);
    assert_eq!(requests[0].regions(), [USE1, EUW1]);
    assert_eq!(
        requests[0].retain_stacks(),
        Some(false),
        "RetainStacks is required"
    );
    assert_eq!(requests[1].accounts(), [A3]);
}

#[tokio::test]
async fn a_failed_instance_deletion_keeps_the_stack_set() {
    let seen = Recorder::new();
    let [start, describe_1, describe_2, results_1] = delete_rules("FAILED", &seen);
    let delete_set =
        mock!(Client::delete_stack_set).then_output(|| DeleteStackSetOutput::builder().build());
    let client = client(&[&start, &describe_1, &describe_2, &results_1, &delete_set]);

    let (report, events) = run(&client, &leaving_fleet()).await;

    assert_eq!(start.num_calls(), 2, "the other deletion still runs");
    assert_eq!(results_1.num_calls(), 1);
    assert_eq!(
        delete_set.num_calls(),
        0,
        "DeleteStackSet would fail: StackSetNotEmptyException"
    );
    assert!(
        !events
            .iter()
            .map(brief)
            .any(|e| e == "old-monitor: deleted")
    );
    let set = &report.stack_sets[0];
    assert_eq!(set.operations[0].status, "FAILED");
    assert_eq!(set.operations[0].failures.len(), 1);
    assert_eq!(set.operations[0].failures[0].account, A2);
    assert_eq!(set.operations[1].status, "SUCCEEDED");
    assert!(!report.converged());
}

#[tokio::test]
async fn delete_stack_set_refused_is_reported() {
    let seen = Recorder::new();
    let [start, describe_1, describe_2, results_1] = delete_rules("SUCCEEDED", &seen);
    let delete_set = mock!(Client::delete_stack_set)
        .sequence()
        .http_status(
            409,
            Some(wire_error(
                "StackSetNotEmptyException",
                "StackSet old-monitor is not empty",
            )),
        )
        .build();
    let client = client(&[&start, &describe_1, &describe_2, &results_1, &delete_set]);

    let (report, _) = run(&client, &leaving_fleet()).await;

    assert_eq!(delete_set.num_calls(), 1);
    assert_eq!(
        report.stack_sets[0].error.as_deref(),
        Some(
            "CloudFormation DeleteStackSet failed: StackSetNotEmptyException: StackSet old-monitor is not empty"
        )
    );
    assert!(!report.converged());
}
