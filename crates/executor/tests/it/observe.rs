//! Reading a fleet's stack sets and every instance of each.

use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::operation::describe_stack_set::DescribeStackSetOutput;
use aws_sdk_cloudformation::operation::list_stack_instances::{
    ListStackInstancesInput, ListStackInstancesOutput,
};
use aws_sdk_cloudformation::operation::list_stack_sets::{ListStackSetsInput, ListStackSetsOutput};
use aws_sdk_cloudformation::types::{
    AutoDeployment, Parameter, PermissionModels, StackDriftStatus,
    StackInstanceComprehensiveStatus, StackInstanceDetailedStatus, StackInstanceStatus,
    StackInstanceSummary, StackSet, StackSetStatus, StackSetSummary, Tag,
};
use aws_smithy_mocks::{Rule, mock};
use stackfleet_executor::observe;
use stackfleet_planner::fleet::{CallAs, PermissionModel};
use stackfleet_planner::observed::{InstanceStatus, ObservedInstance};

use crate::support::*;

fn summary(name: &str) -> StackSetSummary {
    StackSetSummary::builder()
        .stack_set_name(name)
        .stack_set_id(format!("{name}:0000"))
        .status(StackSetStatus::Active)
        .build()
}

fn stack_set(
    name: &str,
    model: PermissionModels,
    fleet_tag: Option<&str>,
) -> DescribeStackSetOutput {
    let mut set = StackSet::builder()
        .stack_set_name(name)
        .stack_set_id(format!("{name}:0000"))
        .status(StackSetStatus::Active)
        .template_body("Resources: {}")
        .parameters(
            Parameter::builder()
                .parameter_key("AlertEmail")
                .parameter_value("sec@example.com")
                .build(),
        )
        .permission_model(model.clone());
    if let Some(fleet) = fleet_tag {
        set = set.tags(Tag::builder().key("stackfleet:fleet").value(fleet).build());
    }
    if model == PermissionModels::ServiceManaged {
        set = set.auto_deployment(
            AutoDeployment::builder()
                .enabled(true)
                .retain_stacks_on_account_removal(true)
                .build(),
        );
    }
    DescribeStackSetOutput::builder()
        .stack_set(set.build())
        .build()
}

fn instance(
    account: &str,
    region: &str,
    status: &str,
    detailed: &str,
    drift: &str,
    reason: Option<&str>,
) -> StackInstanceSummary {
    StackInstanceSummary::builder()
        .stack_set_id("alpha:0000")
        .account(account)
        .region(region)
        .status(StackInstanceStatus::from(status))
        .stack_instance_status(
            StackInstanceComprehensiveStatus::builder()
                .detailed_status(StackInstanceDetailedStatus::from(detailed))
                .build(),
        )
        .drift_status(StackDriftStatus::from(drift))
        .set_status_reason(reason.map(str::to_string))
        .build()
}

fn page(summaries: Vec<StackInstanceSummary>, next: Option<&str>) -> ListStackInstancesOutput {
    ListStackInstancesOutput::builder()
        .set_summaries(Some(summaries))
        .set_next_token(next.map(str::to_string))
        .build()
}

fn once<F>(
    name: &'static str,
    token: Option<&'static str>,
    answer: F,
    seen: &Recorder<ListStackInstancesInput>,
) -> Rule
where
    F: Fn() -> ListStackInstancesOutput + Send + Sync + 'static,
{
    let seen = seen.clone();
    mock!(Client::list_stack_instances)
        .match_requests(move |r| {
            r.stack_set_name() == Some(name) && r.next_token() == token && seen.record(r)
        })
        .sequence()
        .output(answer)
        .build()
}

#[tokio::test]
async fn observe_reads_every_page_of_the_fleets_stack_sets() {
    let listed = Recorder::<ListStackSetsInput>::new();
    let list_1 = {
        let seen = listed.clone();
        mock!(Client::list_stack_sets)
            .match_requests(move |r| r.next_token().is_none() && seen.record(r))
            .sequence()
            .output(|| {
                ListStackSetsOutput::builder()
                    .summaries(summary("gamma"))
                    .summaries(summary("alpha"))
                    .summaries(summary("gone"))
                    .next_token("sets-2")
                    .build()
            })
            .build()
    };
    let list_2 = mock!(Client::list_stack_sets)
        .match_requests(|r| r.next_token() == Some("sets-2"))
        .sequence()
        .output(|| {
            ListStackSetsOutput::builder()
                .summaries(summary("beta"))
                .build()
        })
        .build();
    let describe = |name: &'static str, answer: fn(&'static str) -> DescribeStackSetOutput| {
        mock!(Client::describe_stack_set)
            .match_requests(move |r| r.stack_set_name() == Some(name))
            .sequence()
            .output(move || answer(name))
            .build()
    };
    // alpha: named in fleet.toml, no tag (created before stackfleet). beta: not named, but
    // tagged for this fleet (it left fleet.toml). gamma: another fleet's.
    let describe_alpha = describe("alpha", |n| {
        stack_set(n, PermissionModels::SelfManaged, None)
    });
    let describe_beta = describe("beta", |n| {
        stack_set(n, PermissionModels::ServiceManaged, Some("prod"))
    });
    let describe_gamma = describe("gamma", |n| {
        stack_set(n, PermissionModels::SelfManaged, Some("other"))
    });
    // Deleted between ListStackSets and DescribeStackSet.
    let describe_gone = mock!(Client::describe_stack_set)
        .match_requests(|r| r.stack_set_name() == Some("gone"))
        .sequence()
        .http_status(
            404,
            Some(wire_error(
                "StackSetNotFoundException",
                "StackSet gone not found",
            )),
        )
        .build();

    let seen = Recorder::new();
    let alpha_1 = once(
        "alpha",
        None,
        || {
            page(
                vec![
                    instance(A2, USE1, "CURRENT", "SUCCEEDED", "IN_SYNC", None),
                    instance(
                        A1,
                        EUW1,
                        "OUTDATED",
                        "SKIPPED_SUSPENDED_ACCOUNT",
                        "NOT_CHECKED",
                        Some("Account is suspended"),
                    ),
                ],
                Some("i-2"),
            )
        },
        &seen,
    );
    let alpha_2 = once(
        "alpha",
        Some("i-2"),
        || {
            page(
                vec![
                    instance(
                        A1,
                        USE1,
                        "OUTDATED",
                        "FAILED",
                        "DRIFTED",
                        Some(
                            "ResourceLogicalId:AlertTopic, ResourceType:AWS::SNS::Topic, ResourceStatusReason:Internal failure.",
                        ),
                    ),
                    instance(A3, USE1, "INOPERABLE", "INOPERABLE", "UNKNOWN", None),
                ],
                Some("i-3"),
            )
        },
        &seen,
    );
    let alpha_3 = once(
        "alpha",
        Some("i-3"),
        || {
            page(
                vec![
                    // A repeat across pages is read once.
                    instance(A2, USE1, "CURRENT", "SUCCEEDED", "IN_SYNC", None),
                    instance(
                        "444444444444",
                        USE1,
                        "SOMETHING_NEW",
                        "PENDING",
                        "NOT_CHECKED",
                        None,
                    ),
                ],
                None,
            )
        },
        &seen,
    );
    let beta = {
        let mut with_ou = instance(A1, USE1, "CURRENT", "SUCCEEDED", "IN_SYNC", None);
        with_ou.organizational_unit_id = Some("ou-ab12-security".to_string());
        once(
            "beta",
            None,
            move || page(vec![with_ou.clone()], None),
            &seen,
        )
    };
    let gamma = mock!(Client::list_stack_instances)
        .match_requests(|r| r.stack_set_name() == Some("gamma"))
        .then_output(|| page(vec![], None));
    let client = client(&[
        &list_1,
        &list_2,
        &describe_alpha,
        &describe_beta,
        &describe_gamma,
        &describe_gone,
        &alpha_1,
        &alpha_2,
        &alpha_3,
        &beta,
        &gamma,
    ]);

    let observed = observe(
        &client,
        CallAs::SelfAccount,
        "prod",
        &["alpha".to_string(), "not-created-yet".to_string()],
    )
    .await
    .unwrap();

    assert_eq!((list_1.num_calls(), list_2.num_calls()), (1, 1));
    for rule in [
        &describe_alpha,
        &describe_beta,
        &describe_gamma,
        &describe_gone,
    ] {
        assert_eq!(rule.num_calls(), 1);
    }
    for rule in [&alpha_1, &alpha_2, &alpha_3, &beta] {
        assert_eq!(rule.num_calls(), 1);
    }
    assert_eq!(
        gamma.num_calls(),
        0,
        "another fleet's instances are not read"
    );
    assert_eq!(listed.requests()[0].status(), Some(&StackSetStatus::Active));
    assert!(listed.requests().iter().all(|r| r.call_as().is_some()));
    let requests = seen.requests();
    assert_eq!(requests.len(), 4);
    assert!(
        requests.iter().all(|r| r.max_results() == Some(100)),
        "{requests:?}"
    );

    assert_eq!(
        observed.stack_sets.keys().collect::<Vec<_>>(),
        ["alpha", "beta"]
    );
    let alpha = &observed.stack_sets["alpha"];
    assert_eq!(alpha.id, "alpha:0000");
    assert_eq!(alpha.permission_model, PermissionModel::SelfManaged);
    assert_eq!(alpha.parameters["AlertEmail"], "sec@example.com");
    let expected =
        |account: &str, region: &str, status, detailed: &str, drift: &str, reason: Option<&str>| {
            ObservedInstance {
                account: account.to_string(),
                region: region.to_string(),
                status,
                detailed_status: Some(detailed.into()),
                status_reason: reason.map(str::to_string),
                drift_status: Some(drift.into()),
                organizational_unit_id: None,
            }
        };
    assert_eq!(
        alpha.instances,
        [
            expected(
                A1,
                EUW1,
                InstanceStatus::Outdated,
                "SKIPPED_SUSPENDED_ACCOUNT",
                "NOT_CHECKED",
                Some("Account is suspended")
            ),
            expected(
                A1,
                USE1,
                InstanceStatus::Outdated,
                "FAILED",
                "DRIFTED",
                Some(
                    "ResourceLogicalId:AlertTopic, ResourceType:AWS::SNS::Topic, ResourceStatusReason:Internal failure."
                )
            ),
            expected(
                A2,
                USE1,
                InstanceStatus::Current,
                "SUCCEEDED",
                "IN_SYNC",
                None
            ),
            expected(
                A3,
                USE1,
                InstanceStatus::Inoperable,
                "INOPERABLE",
                "UNKNOWN",
                None
            ),
            expected(
                "444444444444",
                USE1,
                InstanceStatus::Other("SOMETHING_NEW".to_string()),
                "PENDING",
                "NOT_CHECKED",
                None
            ),
        ]
    );
    assert!(alpha.instances[0].is_skipped_suspended());
    assert!(alpha.instances[1].needs_repair());

    let beta = &observed.stack_sets["beta"];
    assert_eq!(beta.permission_model, PermissionModel::ServiceManaged);
    assert_eq!(beta.tags["stackfleet:fleet"], "prod");
    let auto = beta.auto_deployment.unwrap();
    assert!(auto.enabled && auto.retain_stacks_on_account_removal);
    assert_eq!(beta.instances.len(), 1);
    assert_eq!(
        beta.instances[0].organizational_unit_id.as_deref(),
        Some("ou-ab12-security")
    );
}

#[tokio::test]
async fn observe_fails_on_a_refused_read() {
    let list = mock!(Client::list_stack_sets)
        .sequence()
        .http_status(
            400,
            Some(wire_error(
                "ValidationError",
                "Account 111111111111 should be either management or delegated admin",
            )),
        )
        .build();
    let client = client(&[&list]);

    let error = observe(&client, CallAs::DelegatedAdmin, "prod", &[])
        .await
        .unwrap_err()
        .to_string();

    assert!(
        error.starts_with("CloudFormation ListStackSets was refused"),
        "{error}"
    );
    assert!(error.contains("delegated administrator"), "{error}");
}
