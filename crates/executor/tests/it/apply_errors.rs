//! A call that fails outright stops its stack set, says what did not run and how to fix it.

use aws_sdk_cloudformation::Client;
use aws_smithy_mocks::mock;
use stackfleet_planner::fleet::PermissionModel;
use stackfleet_planner::plan::StackSetAction;

use crate::support::*;

#[tokio::test]
async fn a_non_retryable_error_stops_the_stack_set_with_the_fix_named() {
    let create = mock!(Client::create_stack_instances)
        .sequence()
        .http_status(
            400,
            Some(wire_error(
                "ValidationError",
                "Account 111111111111 should be either management or delegated admin",
            )),
        )
        .build();
    let describe =
        mock!(Client::describe_stack_set_operation).then_output(|| operation("op-1", "SUCCEEDED"));
    let progress =
        mock!(Client::list_stack_set_operation_results).then_output(|| results(vec![], None));
    let client = client(&[&create, &describe, &progress]);
    let plan = plan(vec![stack_set(
        "monitor",
        StackSetAction::None,
        PermissionModel::ServiceManaged,
        vec![
            create_instances("op-1", &[A1], &[USE1]),
            create_instances("op-2", &[A2], &[USE1, EUW1]),
        ],
    )]);

    let (report, events) = run(&client, &plan).await;

    assert_eq!(
        create.num_calls(),
        1,
        "the next operation would fail the same way"
    );
    assert_eq!(describe.num_calls(), 0);
    assert_eq!(progress.num_calls(), 0);
    assert!(events.is_empty(), "{events:?}");
    let set = &report.stack_sets[0];
    let ops: Vec<_> = set
        .operations
        .iter()
        .map(|o| (o.operation_id.as_str(), o.status.as_str(), o.instances))
        .collect();
    assert_eq!(
        ops,
        [("op-1", "NOT_STARTED", 1), ("op-2", "NOT_STARTED", 2)]
    );
    let error = set.operations[0].error.as_deref().unwrap();
    assert!(error.starts_with("CloudFormation CreateStackInstances was refused: Account 111111111111 should be either management or delegated admin"), "{error}");
    assert!(
        error.contains("register this account as a StackSets delegated administrator")
            && error.contains("organization.call_as = \"delegated-admin\""),
        "{error}"
    );
    assert_eq!(set.operations[1].error, None);
    assert_eq!(set.error.as_deref(), Some(error));
    assert!(!report.converged());
}
