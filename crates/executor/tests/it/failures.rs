//! An operation that FAILED: its instance failures are reported, and everything that can still be
//! done is done.

use aws_sdk_cloudformation::Client;
use aws_smithy_mocks::mock;
use stackfleet_executor::events::InstanceFailure;
use stackfleet_planner::fleet::PermissionModel;
use stackfleet_planner::plan::StackSetAction;

use crate::support::*;

const SNS_FAILURE: &str = "ResourceLogicalId:AlertTopic, ResourceType:AWS::SNS::Topic, ResourceStatusReason:Resource handler returned message: \"Invalid parameter: Endpoint\".";
const CANCELLED: &str = "Cancelled since failure tolerance has exceeded";

#[tokio::test]
async fn failed_operation_reports_each_instance_and_the_rest_still_runs() {
    let start = |set: &'static str, id: &'static str| {
        mock!(Client::create_stack_instances)
            .match_requests(move |r| {
                r.stack_set_name() == Some(set) && r.operation_id() == Some(id)
            })
            .sequence()
            .output(move || started(id))
            .build()
    };
    let describe = |set: &'static str, id: &'static str, answer: fn(&str) -> _| {
        mock!(Client::describe_stack_set_operation)
            .match_requests(move |r| {
                r.stack_set_name() == Some(set) && r.operation_id() == Some(id)
            })
            .sequence()
            .output(move || answer(id))
            .build()
    };
    let start_1 = start("monitor", "op-1");
    let start_2 = start("monitor", "op-2");
    let start_3 = start("audit", "op-3");
    let describe_1 = describe("monitor", "op-1", |id| {
        operation_with(id, "FAILED", Some(2), None)
    });
    let describe_2 = describe("monitor", "op-2", |id| operation(id, "SUCCEEDED"));
    let describe_3 = describe("audit", "op-3", |id| operation(id, "SUCCEEDED"));
    // Two pages, to prove that the failures are read from every page.
    let page_1 = mock!(Client::list_stack_set_operation_results)
        .match_requests(|r| r.operation_id() == Some("op-1") && r.next_token().is_none())
        .sequence()
        .output(|| {
            results(
                vec![
                    result(A1, USE1, "SUCCEEDED", ""),
                    result(A1, EUW1, "FAILED", SNS_FAILURE),
                ],
                Some("page-2"),
            )
        })
        .build();
    let page_2 = mock!(Client::list_stack_set_operation_results)
        .match_requests(|r| r.operation_id() == Some("op-1") && r.next_token() == Some("page-2"))
        .sequence()
        .output(|| {
            results(
                vec![
                    result(A2, USE1, "CANCELLED", CANCELLED),
                    result(A2, EUW1, "SUCCEEDED", ""),
                ],
                None,
            )
        })
        .build();
    let client = client(&[
        &start_1,
        &start_2,
        &start_3,
        &describe_1,
        &describe_2,
        &describe_3,
        &page_1,
        &page_2,
    ]);
    let plan = plan(vec![
        stack_set(
            "monitor",
            StackSetAction::None,
            PermissionModel::SelfManaged,
            vec![
                create_instances("op-1", &[A1, A2], &[USE1, EUW1]),
                create_instances("op-2", &[A3], &[USE1]),
            ],
        ),
        stack_set(
            "audit",
            StackSetAction::None,
            PermissionModel::SelfManaged,
            vec![create_instances("op-3", &[A1], &[USE1])],
        ),
    ]);

    let (report, events) = run(&client, &plan).await;

    for (rule, calls) in [
        (&start_1, 1),
        (&start_2, 1),
        (&start_3, 1),
        (&describe_1, 1),
        (&describe_2, 1),
        (&describe_3, 1),
        (&page_1, 1),
        (&page_2, 1),
    ] {
        assert_eq!(rule.num_calls(), calls);
    }
    assert_eq!(
        events_of(&events, "monitor"),
        [
            "monitor: started op-1 CreateInstances x4",
            "monitor: op-1 FAILED -/4 failed=2",
            "monitor: finished op-1 FAILED failures=2",
            "monitor: started op-2 CreateInstances x1",
            "monitor: op-2 SUCCEEDED -/1 failed=0",
            "monitor: finished op-2 SUCCEEDED failures=0",
        ]
    );
    assert_eq!(
        events_of(&events, "audit"),
        [
            "audit: started op-3 CreateInstances x1",
            "audit: op-3 SUCCEEDED -/1 failed=0",
            "audit: finished op-3 SUCCEEDED failures=0",
        ]
    );

    assert!(!report.converged());
    let names: Vec<_> = report.stack_sets.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["monitor", "audit"], "plan order");
    let monitor = &report.stack_sets[0];
    assert_eq!(
        monitor.error, None,
        "instance failures are not a call error"
    );
    assert_eq!(monitor.operations[0].status, "FAILED");
    assert_eq!(
        monitor.operations[0].failures,
        [
            InstanceFailure {
                account: A1.to_string(),
                region: EUW1.to_string(),
                status: "FAILED".to_string(),
                reason: SNS_FAILURE.to_string(),
            },
            InstanceFailure {
                account: A2.to_string(),
                region: USE1.to_string(),
                status: "CANCELLED".to_string(),
                reason: CANCELLED.to_string(),
            },
        ]
    );
    assert_eq!(monitor.operations[1].operation_id, "op-2");
    assert_eq!(monitor.operations[1].status, "SUCCEEDED");
    let audit = &report.stack_sets[1];
    assert_eq!(audit.error, None);
    assert_eq!(audit.operations[0].status, "SUCCEEDED");
    assert!(audit.operations[0].failures.is_empty());
}

/// StackSets can also fail a whole operation before any instance runs (for example when it
/// cannot assume the administration role); the reason is then on the operation only.
#[tokio::test]
async fn failed_operation_without_instance_results_keeps_the_operation_reason() {
    const REASON: &str = "Account 999999999999 should have 'AWSCloudFormationStackSetAdministrationRole' role with trust relationship to CloudFormation service.";
    let start = mock!(Client::create_stack_instances)
        .sequence()
        .output(|| started("op-1"))
        .build();
    let describe = mock!(Client::describe_stack_set_operation)
        .sequence()
        .output(|| operation_with("op-1", "FAILED", Some(0), Some(REASON)))
        .build();
    let none = mock!(Client::list_stack_set_operation_results)
        .sequence()
        .output(|| results(vec![], None))
        .build();
    let client = client(&[&start, &describe, &none]);
    let plan = plan(vec![stack_set(
        "monitor",
        StackSetAction::None,
        PermissionModel::SelfManaged,
        vec![create_instances("op-1", &[A1], &[USE1])],
    )]);

    let (report, events) = run(&client, &plan).await;

    assert_eq!(none.num_calls(), 1);
    let outcome = events
        .iter()
        .find_map(|e| match e {
            stackfleet_executor::Event::OperationFinished { outcome, .. } => Some(outcome),
            _ => None,
        })
        .unwrap();
    assert_eq!(outcome.status, "FAILED");
    assert_eq!(outcome.status_reason.as_deref(), Some(REASON));
    let op = &report.stack_sets[0].operations[0];
    assert_eq!(op.status, "FAILED");
    assert_eq!(op.status_reason.as_deref(), Some(REASON));
    assert!(op.failures.is_empty());
    assert!(!report.converged());
    // The report itself (what `apply --json` and the summary table show) should say why.
    let json = serde_json::to_string(&report).unwrap();
    assert!(
        json.contains("AWSCloudFormationStackSetAdministrationRole"),
        "the ApplyReport drops the operation's StatusReason: {json}"
    );
}
