//! Throttling is retried by the retry configuration the CLI sets (`stackfleet_executor::retry`):
//! the SDK's standard strategy with stackfleet's number of attempts.

use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::error::ErrorMetadata;
use aws_sdk_cloudformation::operation::describe_stack_set_operation::DescribeStackSetOperationError;
use aws_smithy_mocks::mock;
use stackfleet_executor::retry::DEFAULT_MAX_ATTEMPTS;
use stackfleet_planner::fleet::PermissionModel;
use stackfleet_planner::plan::StackSetAction;

use crate::support::*;

fn monitor_plan() -> stackfleet_planner::Plan {
    plan(vec![stack_set(
        "monitor",
        StackSetAction::None,
        PermissionModel::SelfManaged,
        vec![create_instances("op-1", &[A1], &[USE1])],
    )])
}

fn throttled() -> String {
    wire_error("Throttling", "Rate exceeded")
}

#[tokio::test]
async fn throttling_is_retried_by_the_standard_retry_strategy() {
    // On the wire: HTTP 400 with code Throttling, as CloudFormation sends it.
    let create = mock!(Client::create_stack_instances)
        .sequence()
        .http_status(400, Some(throttled()))
        .output(|| started("op-1"))
        .build();
    // As a modeled error carrying only its metadata (the code is what the classifier reads).
    let describe = mock!(Client::describe_stack_set_operation)
        .sequence()
        .error(|| {
            DescribeStackSetOperationError::generic(
                ErrorMetadata::builder()
                    .code("Throttling")
                    .message("Rate exceeded")
                    .build(),
            )
        })
        .output(|| operation("op-1", "SUCCEEDED"))
        .build();
    let client = retrying_client(&[&create, &describe]);

    let (report, events) = run(&client, &monitor_plan()).await;

    assert_eq!(create.num_calls(), 2);
    assert_eq!(describe.num_calls(), 2);
    assert_eq!(
        events.iter().map(brief).collect::<Vec<_>>(),
        [
            "monitor: started op-1 CreateInstances x1",
            "monitor: op-1 SUCCEEDED -/1 failed=0",
            "monitor: finished op-1 SUCCEEDED failures=0",
        ]
    );
    assert!(report.converged(), "{report:?}");
}

#[tokio::test]
async fn throttling_beyond_the_attempts_is_reported_not_retried_forever() {
    let create = mock!(Client::create_stack_instances)
        .sequence()
        .http_status(400, Some(throttled()))
        .repeatedly()
        .build();
    let client = retrying_client(&[&create]);

    let (report, events) = run(&client, &monitor_plan()).await;

    assert_eq!(create.num_calls(), DEFAULT_MAX_ATTEMPTS as usize);
    assert!(events.is_empty());
    let op = &report.stack_sets[0].operations[0];
    assert_eq!(op.status, "NOT_STARTED");
    assert_eq!(
        op.error.as_deref(),
        Some("CloudFormation CreateStackInstances failed: Throttling: Rate exceeded")
    );
}

/// The classifier is the SDK's: a throttled ListStackSetOperationResults page in the middle of
/// a paginated read is retried too, and the pages are still all read.
#[tokio::test]
async fn a_throttled_page_is_retried_within_pagination() {
    let create = mock!(Client::create_stack_instances)
        .sequence()
        .output(|| started("op-1"))
        .build();
    let describe = mock!(Client::describe_stack_set_operation)
        .sequence()
        .output(|| operation_with("op-1", "FAILED", Some(1), None))
        .build();
    let page_1 = mock!(Client::list_stack_set_operation_results)
        .match_requests(|r| r.next_token().is_none())
        .sequence()
        .output(|| results(vec![result(A1, USE1, "SUCCEEDED", "")], Some("p2")))
        .build();
    let page_2 = mock!(Client::list_stack_set_operation_results)
        .match_requests(|r| r.next_token() == Some("p2"))
        .sequence()
        .http_status(400, Some(throttled()))
        .output(|| results(vec![result(A1, EUW1, "FAILED", "Internal failure.")], None))
        .build();
    let client = retrying_client(&[&create, &describe, &page_1, &page_2]);
    let plan = plan(vec![stack_set(
        "monitor",
        StackSetAction::None,
        PermissionModel::SelfManaged,
        vec![create_instances("op-1", &[A1], &[USE1, EUW1])],
    )]);

    let (report, _) = run(&client, &plan).await;

    assert_eq!(page_1.num_calls(), 1);
    assert_eq!(page_2.num_calls(), 2);
    let op = &report.stack_sets[0].operations[0];
    assert_eq!(op.error, None);
    assert_eq!(op.failures.len(), 1);
    assert_eq!(op.failures[0].region, EUW1);
}

/// A surprise of the SDK: its throttling codes include `LimitExceededException`, which for
/// CloudFormation is a quota (1,000 stack sets per administrator account), not a rate. It is
/// retried like throttling: with the CLI's attempts and the default 1 s first back-off that
/// is tens of seconds before the quota error is shown.
#[tokio::test]
async fn a_quota_error_is_retried_like_throttling() {
    let create_set = mock!(Client::create_stack_set)
        .sequence()
        .http_status(
            400,
            Some(wire_error(
                "LimitExceededException",
                "Maximum number of stack sets (1000) reached",
            )),
        )
        .repeatedly()
        .build();
    let client = retrying_client(&[&create_set]);
    let plan = plan(vec![stack_set(
        "monitor",
        StackSetAction::Create,
        PermissionModel::SelfManaged,
        vec![create_instances("op-1", &[A1], &[USE1])],
    )]);

    let (report, _) = run(&client, &plan).await;

    assert_eq!(create_set.num_calls(), DEFAULT_MAX_ATTEMPTS as usize);
    assert_eq!(
        report.stack_sets[0].error.as_deref(),
        Some(
            "CloudFormation CreateStackSet failed: LimitExceededException: Maximum number of stack sets (1000) reached"
        )
    );
}

#[tokio::test]
async fn a_long_run_of_server_errors_never_exhausts_a_retry_quota() {
    // Each call fails twice with HTTP 500 before it is answered. The SDK's default retry quota
    // (500 permits, 14 per retry of a server error) would refuse retries after 35 of them and
    // fail the call outright; stackfleet's clients keep retrying within their attempts.
    let calls = 60;
    let mut rule = mock!(Client::describe_stack_set_operation).sequence();
    for _ in 0..calls {
        rule = rule
            .http_status(
                500,
                Some(wire_error(
                    "InternalFailure",
                    "We encountered an internal error.",
                )),
            )
            .http_status(
                500,
                Some(wire_error(
                    "InternalFailure",
                    "We encountered an internal error.",
                )),
            )
            .output(|| operation("op-1", "SUCCEEDED"));
    }
    let describe = rule.build();
    let client = retrying_client(&[&describe]);
    for i in 0..calls {
        let out = client
            .describe_stack_set_operation()
            .stack_set_name("monitor")
            .operation_id("op-1")
            .send()
            .await;
        assert!(out.is_ok(), "call {i}: {out:?}");
    }
    assert_eq!(describe.num_calls(), calls * 3);
}
