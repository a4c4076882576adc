//! Drift detection: DetectStackSetDrift waited for like any operation, then per-instance drift
//! statuses and, for drifted instances, the resource-level differences.

use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::operation::detect_stack_set_drift::DetectStackSetDriftOutput;
use aws_sdk_cloudformation::operation::list_stack_instance_resource_drifts::ListStackInstanceResourceDriftsOutput;
use aws_sdk_cloudformation::operation::list_stack_instances::ListStackInstancesOutput;
use aws_sdk_cloudformation::operation::list_stack_set_operations::ListStackSetOperationsOutput;
use aws_sdk_cloudformation::types::{
    CallAs, DifferenceType, PropertyDifference, StackDriftStatus,
    StackInstanceResourceDriftsSummary, StackInstanceStatus, StackInstanceSummary,
    StackResourceDriftStatus, StackSetOperationAction, StackSetOperationStatus,
    StackSetOperationSummary,
};
use aws_smithy_mocks::mock;
use aws_smithy_types::DateTime;
use stackfleet_executor::drift::{detect, last_detection, report};
use stackfleet_executor::events::OperationStatus;
use stackfleet_executor::operation::StackSetContext;
use stackfleet_planner::fleet::Rollout;
use tokio::sync::mpsc;

use crate::support::{A1, A2, USE1, client, fast_poll, listing, operation, wire_error};

fn instance(account: &str, drift: &str) -> StackInstanceSummary {
    StackInstanceSummary::builder()
        .account(account)
        .region(USE1)
        .status(StackInstanceStatus::Current)
        .drift_status(StackDriftStatus::from(drift))
        .build()
}

fn instances() -> ListStackInstancesOutput {
    ListStackInstancesOutput::builder()
        .summaries(instance(A1, "IN_SYNC"))
        .summaries(instance(A2, "DRIFTED"))
        .build()
}

fn topic_policy_changed() -> StackInstanceResourceDriftsSummary {
    StackInstanceResourceDriftsSummary::builder()
        .stack_id("arn:aws:cloudformation:us-east-1:222222222222:stack/StackSet-monitor/1")
        .logical_resource_id("AlertRule")
        .resource_type("AWS::Events::Rule")
        .stack_resource_drift_status(StackResourceDriftStatus::Modified)
        .property_differences(
            PropertyDifference::builder()
                .property_path("/State")
                .expected_value("ENABLED")
                .actual_value("DISABLED")
                .difference_type(DifferenceType::NotEqual)
                .build(),
        )
        .timestamp(DateTime::from_secs(1_700_000_000))
        .build()
}

fn topic_deleted() -> StackInstanceResourceDriftsSummary {
    StackInstanceResourceDriftsSummary::builder()
        .stack_id("arn:aws:cloudformation:us-east-1:222222222222:stack/StackSet-monitor/1")
        .logical_resource_id("AlertTopic")
        .resource_type("AWS::SNS::Topic")
        .stack_resource_drift_status(StackResourceDriftStatus::Deleted)
        .timestamp(DateTime::from_secs(1_700_000_000))
        .build()
}

#[tokio::test]
async fn detection_is_waited_for_and_drifted_resources_are_listed() {
    // Another operation runs when detection starts: wait for it, then start once more.
    let detect_call = mock!(Client::detect_stack_set_drift)
        .match_requests(|r| {
            r.operation_id() == Some("drift-1") && r.call_as() == Some(&CallAs::SelfValue)
        })
        .sequence()
        .http_status(
            409,
            Some(wire_error(
                "OperationInProgressException",
                "Another Operation on StackSet arn:monitor is in progress",
            )),
        )
        .output(|| {
            DetectStackSetDriftOutput::builder()
                .operation_id("drift-1")
                .build()
        })
        .build();
    let running = mock!(Client::list_stack_set_operations).then_output(|| {
        ListStackSetOperationsOutput::builder()
            .summaries(
                StackSetOperationSummary::builder()
                    .operation_id("apply-op")
                    .action(StackSetOperationAction::Create)
                    .status(StackSetOperationStatus::Running)
                    .build(),
            )
            .build()
    });
    let other = mock!(Client::describe_stack_set_operation)
        .match_requests(|r| r.operation_id() == Some("apply-op"))
        .sequence()
        .output(|| operation("apply-op", "RUNNING"))
        .output(|| operation("apply-op", "SUCCEEDED"))
        .build();
    let ours = mock!(Client::describe_stack_set_operation)
        .match_requests(|r| r.operation_id() == Some("drift-1"))
        .sequence()
        .output(|| operation("drift-1", "QUEUED"))
        .output(|| operation("drift-1", "RUNNING"))
        .output(|| operation("drift-1", "SUCCEEDED"))
        .build();
    let list = mock!(Client::list_stack_instances).then_output(instances);
    // Two pages of differences for the drifted instance only.
    let drifts_1 = mock!(Client::list_stack_instance_resource_drifts)
        .match_requests(|r| {
            r.stack_instance_account() == Some(A2)
                && r.stack_instance_region() == Some(USE1)
                && r.operation_id() == Some("drift-1")
                && r.next_token().is_none()
                && *r.stack_instance_resource_drift_statuses()
                    == [
                        StackResourceDriftStatus::Modified,
                        StackResourceDriftStatus::Deleted,
                    ]
        })
        .then_output(|| {
            ListStackInstanceResourceDriftsOutput::builder()
                .summaries(topic_policy_changed())
                .next_token("page-2")
                .build()
        });
    let drifts_2 = mock!(Client::list_stack_instance_resource_drifts)
        .match_requests(|r| r.next_token() == Some("page-2"))
        .then_output(|| {
            ListStackInstanceResourceDriftsOutput::builder()
                .summaries(topic_deleted())
                .build()
        });
    let client = client(&[
        &detect_call,
        &running,
        &other,
        &ours,
        &list,
        &drifts_1,
        &drifts_2,
    ]);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let ctx = StackSetContext {
        client: &client,
        call_as: CallAs::SelfValue,
        stack_set: "monitor",
        events: &tx,
        poll: fast_poll(),
    };

    let (id, outcome) = detect(&ctx, "drift-1", &Rollout::recommended(), None)
        .await
        .unwrap();
    assert_eq!(
        (id.as_str(), outcome.status.as_str()),
        ("drift-1", "SUCCEEDED")
    );
    assert_eq!(
        detect_call.num_calls(),
        2,
        "one refused call, one more after the wait; no storm"
    );
    assert_eq!(other.num_calls(), 2);
    assert_eq!(ours.num_calls(), 3);

    let drift = report(&ctx, Some((id, outcome.status))).await.unwrap();
    assert_eq!(drift.operation_id.as_deref(), Some("drift-1"));
    let statuses: Vec<(&str, &str)> = drift
        .instances
        .iter()
        .map(|i| (i.account.as_str(), i.drift_status.as_str()))
        .collect();
    assert_eq!(statuses, [(A1, "IN_SYNC"), (A2, "DRIFTED")]);
    assert!(
        drift.instances[0].resources.is_empty(),
        "in-sync instances are not queried"
    );
    let resources = &drift.instances[1].resources;
    assert_eq!(resources.len(), 2);
    assert_eq!(
        (
            resources[0].logical_id.as_str(),
            resources[0].resource_type.as_str(),
            resources[0].status.as_str()
        ),
        ("AlertRule", "AWS::Events::Rule", "MODIFIED")
    );
    let diff = &resources[0].differences[0];
    assert_eq!(
        (
            diff.path.as_str(),
            diff.expected.as_str(),
            diff.actual.as_str(),
            diff.kind.as_str()
        ),
        ("/State", "ENABLED", "DISABLED", "NOT_EQUAL")
    );
    assert_eq!(
        (
            resources[1].logical_id.as_str(),
            resources[1].status.as_str()
        ),
        ("AlertTopic", "DELETED")
    );
    assert_eq!((drifts_1.num_calls(), drifts_2.num_calls()), (1, 1));
    drop(tx);
    let mut waited_for_other = false;
    while let Some(event) = rx.recv().await {
        if let stackfleet_executor::Event::WaitingForOther { operation_id, .. } = event {
            waited_for_other |= operation_id == "apply-op";
        }
    }
    assert!(waited_for_other);
}

#[tokio::test]
async fn the_last_finished_detection_is_reported_without_starting_one() {
    let at = |secs| DateTime::from_secs(secs);
    let list = mock!(Client::list_stack_set_operations).then_output(move || {
        ListStackSetOperationsOutput::builder()
            .summaries(
                StackSetOperationSummary::builder()
                    .operation_id("older-drift")
                    .action(StackSetOperationAction::DetectDrift)
                    .status(StackSetOperationStatus::Succeeded)
                    .creation_timestamp(at(100))
                    .build(),
            )
            .summaries(
                StackSetOperationSummary::builder()
                    .operation_id("newer-drift")
                    .action(StackSetOperationAction::DetectDrift)
                    .status(StackSetOperationStatus::Failed)
                    .creation_timestamp(at(300))
                    .build(),
            )
            .summaries(
                StackSetOperationSummary::builder()
                    .operation_id("running-drift")
                    .action(StackSetOperationAction::DetectDrift)
                    .status(StackSetOperationStatus::Running)
                    .creation_timestamp(at(400))
                    .build(),
            )
            .summaries(
                StackSetOperationSummary::builder()
                    .operation_id("an-update")
                    .action(StackSetOperationAction::Update)
                    .status(StackSetOperationStatus::Succeeded)
                    .creation_timestamp(at(500))
                    .build(),
            )
            .build()
    });
    let detect_call = mock!(Client::detect_stack_set_drift).then_output(|| {
        DetectStackSetDriftOutput::builder()
            .operation_id("never")
            .build()
    });
    let client = client(&[&list, &detect_call]);
    let (tx, _rx) = mpsc::unbounded_channel();
    let ctx = StackSetContext {
        client: &client,
        call_as: CallAs::DelegatedAdmin,
        stack_set: "monitor",
        events: &tx,
        poll: fast_poll(),
    };
    let last = last_detection(&ctx).await.unwrap();
    assert_eq!(
        last,
        Some(("newer-drift".to_string(), OperationStatus::Failed))
    );
    assert_eq!(detect_call.num_calls(), 0);
}

#[tokio::test]
async fn the_last_detection_is_looked_for_only_as_far_back_as_it_lies() {
    // Newest first: a page of updates, then the page with the detection; a third page exists
    // (5,000 past operations) but is never read.
    fn summary(id: String, action: StackSetOperationAction, secs: i64) -> StackSetOperationSummary {
        StackSetOperationSummary::builder()
            .operation_id(id)
            .action(action)
            .status(StackSetOperationStatus::Succeeded)
            .creation_timestamp(DateTime::from_secs(secs))
            .build()
    }
    let newest = mock!(Client::list_stack_set_operations)
        .match_requests(|r| r.next_token().is_none())
        .then_output(move || {
            let updates = (0..100)
                .map(|i| {
                    summary(
                        format!("update-{i}"),
                        StackSetOperationAction::Update,
                        10_000 - i,
                    )
                })
                .collect();
            listing(updates, Some("page-2"))
        });
    let second = mock!(Client::list_stack_set_operations)
        .match_requests(|r| r.next_token() == Some("page-2"))
        .then_output(move || {
            let drift = summary(
                "the-drift".to_string(),
                StackSetOperationAction::DetectDrift,
                5_000,
            );
            listing(vec![drift], Some("page-3"))
        });
    let third = mock!(Client::list_stack_set_operations)
        .match_requests(|r| r.next_token() == Some("page-3"))
        .then_output(|| listing(Vec::new(), None));
    let client = client(&[&newest, &second, &third]);
    let (tx, _rx) = mpsc::unbounded_channel();
    let ctx = StackSetContext {
        client: &client,
        call_as: CallAs::SelfValue,
        stack_set: "monitor",
        events: &tx,
        poll: fast_poll(),
    };
    let last = last_detection(&ctx).await.unwrap();
    assert_eq!(
        last,
        Some(("the-drift".to_string(), OperationStatus::Succeeded))
    );
    assert_eq!(
        (newest.num_calls(), second.num_calls(), third.num_calls()),
        (1, 1, 0)
    );
}

#[tokio::test]
async fn an_endpoint_without_drift_detection_is_a_clear_error() {
    // What the local emulator answers: an HTML 500 page, no AWS error code.
    let detect_call = mock!(Client::detect_stack_set_drift).then_http_response(|| {
        aws_smithy_runtime_api::http::Response::new(
            aws_smithy_runtime_api::http::StatusCode::try_from(500).unwrap(),
            aws_smithy_types::body::SdkBody::from(
                "<!doctype html><title>500 Internal Server Error</title>",
            ),
        )
    });
    let client = client(&[&detect_call]);
    let (tx, _rx) = mpsc::unbounded_channel();
    let ctx = StackSetContext {
        client: &client,
        call_as: CallAs::SelfValue,
        stack_set: "monitor",
        events: &tx,
        poll: fast_poll(),
    };
    let err = detect(&ctx, "drift-1", &Rollout::recommended(), None)
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("does not implement CloudFormation DetectStackSetDrift"),
        "{text}"
    );
    assert!(text.contains("HTTP 500"), "{text}");
}
