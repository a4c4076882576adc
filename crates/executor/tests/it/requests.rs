//! What apply sends: targets by permission model, and fleet.toml's rollout as
//! OperationPreferences.

use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::operation::create_stack_instances::CreateStackInstancesInput;
use aws_sdk_cloudformation::operation::delete_stack_instances::{
    DeleteStackInstancesInput, DeleteStackInstancesOutput,
};
use aws_sdk_cloudformation::operation::update_stack_instances::{
    UpdateStackInstancesInput, UpdateStackInstancesOutput,
};
use aws_sdk_cloudformation::operation::update_stack_set::{
    UpdateStackSetInput, UpdateStackSetOutput,
};
use aws_sdk_cloudformation::types::{
    AccountFilterType, CallAs as AwsCallAs, ConcurrencyMode, DeploymentTargets, PermissionModels,
    RegionConcurrencyType, StackSetOperationPreferences,
};
use aws_smithy_mocks::{Rule, mock};
use stackfleet_planner::fleet::{
    CallAs, ConcurrencyMode as Mode, Limit, PermissionModel, RegionConcurrency, Rollout,
};
use stackfleet_planner::plan::{Operation, OperationAction, StackSetAction};

use crate::support::*;

struct Seen {
    create: Recorder<CreateStackInstancesInput>,
    update: Recorder<UpdateStackInstancesInput>,
    delete: Recorder<DeleteStackInstancesInput>,
    update_set: Recorder<UpdateStackSetInput>,
    rules: Vec<Rule>,
}

/// Rules that record every operation request and answer SUCCEEDED for whatever id was sent.
fn recording() -> Seen {
    let create = Recorder::new();
    let update = Recorder::new();
    let delete = Recorder::new();
    let update_set = Recorder::new();
    let rules = vec![
        {
            let seen = create.clone();
            mock!(Client::create_stack_instances)
                .match_requests(move |r| seen.record(r))
                .then_compute_output(|r| started(r.operation_id().unwrap()))
        },
        {
            let seen = update.clone();
            mock!(Client::update_stack_instances)
                .match_requests(move |r| seen.record(r))
                .then_compute_output(|r| {
                    UpdateStackInstancesOutput::builder()
                        .set_operation_id(r.operation_id().map(str::to_string))
                        .build()
                })
        },
        {
            let seen = delete.clone();
            mock!(Client::delete_stack_instances)
                .match_requests(move |r| seen.record(r))
                .then_compute_output(|r| {
                    DeleteStackInstancesOutput::builder()
                        .set_operation_id(r.operation_id().map(str::to_string))
                        .build()
                })
        },
        {
            let seen = update_set.clone();
            mock!(Client::update_stack_set)
                .match_requests(move |r| seen.record(r))
                .then_compute_output(|r| {
                    UpdateStackSetOutput::builder()
                        .set_operation_id(r.operation_id().map(str::to_string))
                        .build()
                })
        },
        mock!(Client::describe_stack_set_operation)
            .then_compute_output(|r| operation(r.operation_id().unwrap(), "SUCCEEDED")),
    ];
    Seen {
        create,
        update,
        delete,
        update_set,
        rules,
    }
}

fn all_actions(ous: &[&str]) -> Vec<Operation> {
    let with_ous = |mut o: Operation| {
        o.organizational_units = ous.iter().map(|s| s.to_string()).collect();
        o
    };
    vec![
        with_ous(op("op-d", OperationAction::DeleteInstances, &[A3], &[USE1])),
        op("op-s", OperationAction::UpdateStackSet, &[], &[]),
        with_ous(op("op-u", OperationAction::UpdateInstances, &[A2], &[EUW1])),
        with_ous(op(
            "op-c",
            OperationAction::CreateInstances,
            &[A1, A2],
            &[USE1, EUW1],
        )),
    ]
}

#[tokio::test]
async fn service_managed_operations_target_ous_intersected_with_accounts() {
    let seen = recording();
    let client = client(&seen.rules.iter().collect::<Vec<_>>());
    let mut set = stack_set(
        "monitor",
        StackSetAction::Update,
        PermissionModel::ServiceManaged,
        all_actions(&["ou-ab12-security", "ou-ab12-workloads"]),
    );
    set.desired.as_mut().unwrap().rollout = Rollout {
        max_concurrent: Some(Limit::Percentage(25)),
        failure_tolerance: Some(Limit::Count(1)),
        region_concurrency: Some(RegionConcurrency::Parallel),
        concurrency_mode: Some(Mode::SoftFailureTolerance),
        region_order: vec![EUW1.to_string(), USE1.to_string()],
    };
    let plan = plan_as(CallAs::DelegatedAdmin, vec![set]);

    let (report, _) = run(&client, &plan).await;

    assert!(report.converged(), "{report:?}");
    let preferences = StackSetOperationPreferences::builder()
        .max_concurrent_percentage(25)
        .failure_tolerance_count(1)
        .region_concurrency_type(RegionConcurrencyType::Parallel)
        .concurrency_mode(ConcurrencyMode::SoftFailureTolerance)
        .region_order(EUW1)
        .region_order(USE1)
        .build();
    let targets = |accounts: &[&str]| {
        Some(
            DeploymentTargets::builder()
                .organizational_unit_ids("ou-ab12-security")
                .organizational_unit_ids("ou-ab12-workloads")
                .set_accounts(Some(accounts.iter().map(|a| a.to_string()).collect()))
                .account_filter_type(AccountFilterType::Intersection)
                .build(),
        )
    };

    let [create] = &seen.create.requests()[..] else {
        panic!()
    };
    assert_eq!(create.stack_set_name(), Some("monitor"));
    assert_eq!(create.deployment_targets, targets(&[A1, A2]));
    assert_eq!(
        create.accounts, None,
        "Accounts and DeploymentTargets are exclusive"
    );
    assert_eq!(create.regions(), [USE1, EUW1]);
    assert_eq!(create.operation_preferences, Some(preferences.clone()));
    assert_eq!(create.operation_id(), Some("op-c"));
    assert_eq!(create.call_as(), Some(&AwsCallAs::DelegatedAdmin));

    let [update] = &seen.update.requests()[..] else {
        panic!()
    };
    assert_eq!(update.deployment_targets, targets(&[A2]));
    assert_eq!(update.accounts, None);
    assert_eq!(update.regions(), [EUW1]);
    assert_eq!(update.operation_preferences, Some(preferences.clone()));
    assert_eq!(update.call_as(), Some(&AwsCallAs::DelegatedAdmin));

    let [delete] = &seen.delete.requests()[..] else {
        panic!()
    };
    assert_eq!(delete.deployment_targets, targets(&[A3]));
    assert_eq!(delete.accounts, None);
    assert_eq!(delete.operation_preferences, Some(preferences.clone()));
    assert_eq!(delete.retain_stacks(), Some(false));
    assert_eq!(delete.call_as(), Some(&AwsCallAs::DelegatedAdmin));

    let [update_set] = &seen.update_set.requests()[..] else {
        panic!()
    };
    assert_eq!(update_set.operation_id(), Some("op-s"));
    assert_eq!(update_set.template_body(), Some("Resources: {}"));
    assert_eq!(
        update_set.permission_model(),
        Some(&PermissionModels::ServiceManaged)
    );
    assert!(update_set.auto_deployment().is_some());
    assert_eq!(update_set.administration_role_arn(), None);
    assert_eq!(update_set.operation_preferences, Some(preferences));
    // No targets: UpdateStackSet then updates every instance of the stack set.
    assert_eq!(update_set.deployment_targets, None);
    assert_eq!(update_set.accounts, None);
    assert_eq!(update_set.regions, None);
    assert_eq!(update_set.call_as(), Some(&AwsCallAs::DelegatedAdmin));

    // The plan's order: deletions, the stack set update, repairs, creations.
    let order: Vec<_> = report.stack_sets[0]
        .operations
        .iter()
        .map(|o| o.operation_id.as_str())
        .collect();
    assert_eq!(order, ["op-d", "op-s", "op-u", "op-c"]);
}

#[tokio::test]
async fn a_scoped_update_names_its_targets_and_regions() {
    // The plan scopes an update when the stack set holds instances stackfleet must not touch
    // (an account that left the organization): the executor sends exactly that scope.
    let seen = recording();
    let client = client(&seen.rules.iter().collect::<Vec<_>>());
    let mut scoped = op("op-s", OperationAction::UpdateStackSet, &[A1, A2], &[USE1]);
    scoped.organizational_units = vec!["ou-ab12-workloads".to_string()];
    let set = stack_set(
        "monitor",
        StackSetAction::Update,
        PermissionModel::ServiceManaged,
        vec![scoped],
    );
    let (report, _) = run(&client, &plan(vec![set])).await;

    assert!(report.converged(), "{report:?}");
    let [update_set] = &seen.update_set.requests()[..] else {
        panic!()
    };
    assert_eq!(
        update_set.deployment_targets,
        Some(
            DeploymentTargets::builder()
                .organizational_unit_ids("ou-ab12-workloads")
                .accounts(A1)
                .accounts(A2)
                .account_filter_type(AccountFilterType::Intersection)
                .build()
        )
    );
    assert_eq!(update_set.accounts, None);
    assert_eq!(update_set.regions(), [USE1]);
}

#[tokio::test]
async fn self_managed_operations_name_accounts_and_no_deployment_targets() {
    let seen = recording();
    let client = client(&seen.rules.iter().collect::<Vec<_>>());
    let mut set = stack_set(
        "monitor",
        StackSetAction::Update,
        PermissionModel::SelfManaged,
        all_actions(&[]),
    );
    set.desired.as_mut().unwrap().rollout = Rollout {
        max_concurrent: Some(Limit::Count(10)),
        failure_tolerance: Some(Limit::Percentage(5)),
        region_concurrency: Some(RegionConcurrency::Sequential),
        concurrency_mode: Some(Mode::StrictFailureTolerance),
        region_order: vec![],
    };
    let plan = plan(vec![set]);

    let (report, _) = run(&client, &plan).await;

    assert!(report.converged(), "{report:?}");
    let preferences = StackSetOperationPreferences::builder()
        .max_concurrent_count(10)
        .failure_tolerance_percentage(5)
        .region_concurrency_type(RegionConcurrencyType::Sequential)
        .concurrency_mode(ConcurrencyMode::StrictFailureTolerance)
        .build();

    let [create] = &seen.create.requests()[..] else {
        panic!()
    };
    assert_eq!(create.accounts, Some(vec![A1.to_string(), A2.to_string()]));
    assert_eq!(create.deployment_targets, None);
    assert_eq!(create.regions(), [USE1, EUW1]);
    assert_eq!(create.operation_preferences, Some(preferences.clone()));
    assert_eq!(create.call_as(), Some(&AwsCallAs::SelfValue));

    let [update] = &seen.update.requests()[..] else {
        panic!()
    };
    assert_eq!(update.accounts, Some(vec![A2.to_string()]));
    assert_eq!(update.deployment_targets, None);

    let [delete] = &seen.delete.requests()[..] else {
        panic!()
    };
    assert_eq!(delete.accounts, Some(vec![A3.to_string()]));
    assert_eq!(delete.deployment_targets, None);
    assert_eq!(delete.operation_preferences, Some(preferences.clone()));

    let [update_set] = &seen.update_set.requests()[..] else {
        panic!()
    };
    assert_eq!(
        update_set.permission_model(),
        Some(&PermissionModels::SelfManaged)
    );
    assert_eq!(
        update_set.administration_role_arn(),
        Some("arn:aws:iam::999999999999:role/AWSCloudFormationStackSetAdministrationRole")
    );
    assert_eq!(
        update_set.execution_role_name(),
        Some("AWSCloudFormationStackSetExecutionRole")
    );
    assert_eq!(update_set.auto_deployment(), None);
    assert_eq!(update_set.operation_preferences, Some(preferences));
}

#[tokio::test]
async fn no_rollout_sends_empty_preferences() {
    let seen = recording();
    let client = client(&seen.rules.iter().collect::<Vec<_>>());
    let plan = plan(vec![stack_set(
        "monitor",
        StackSetAction::None,
        PermissionModel::SelfManaged,
        vec![create_instances("op-c", &[A1], &[USE1])],
    )]);

    let (report, _) = run(&client, &plan).await;

    assert!(report.converged());
    let [create] = &seen.create.requests()[..] else {
        panic!()
    };
    assert_eq!(
        create.operation_preferences,
        Some(StackSetOperationPreferences::builder().build())
    );
}

#[tokio::test]
async fn a_stack_set_that_left_the_fleet_is_deleted_with_the_recommended_rollout() {
    let seen = recording();
    let plan = plan(vec![stack_set(
        "gone",
        StackSetAction::Delete,
        PermissionModel::SelfManaged,
        vec![op("op-d", OperationAction::DeleteInstances, &[A1], &[USE1])],
    )]);

    let deleted = mock!(Client::delete_stack_set).then_output(|| {
        aws_sdk_cloudformation::operation::delete_stack_set::DeleteStackSetOutput::builder().build()
    });
    let mut rules: Vec<&Rule> = seen.rules.iter().collect();
    rules.push(&deleted);
    let client = client(&rules);
    let (report, _) = run(&client, &plan).await;

    assert!(report.converged(), "{report:?}");

    let [delete] = &seen.delete.requests()[..] else {
        panic!()
    };
    let preferences = delete.operation_preferences.clone().unwrap();
    assert_eq!(preferences.max_concurrent_percentage, Some(100));
    assert_eq!(preferences.failure_tolerance_percentage, Some(10));
    assert_eq!(
        preferences.region_concurrency_type,
        Some(RegionConcurrencyType::Parallel)
    );
    assert_eq!(
        preferences.concurrency_mode,
        Some(ConcurrencyMode::SoftFailureTolerance)
    );
}

#[tokio::test]
async fn a_deletion_runs_with_the_plans_rollout_and_retain_stacks() {
    let seen = recording();
    let mut set = stack_set(
        "gone",
        StackSetAction::Delete,
        PermissionModel::SelfManaged,
        vec![op("op-d", OperationAction::DeleteInstances, &[A1], &[USE1])],
    );
    // What the planner records for a stack set that left fleet.toml: [defaults.rollout] and, from
    // the stackfleet:retain-stacks tag, RetainStacks on its deletes.
    set.rollout = Some(stackfleet_planner::fleet::Rollout {
        max_concurrent: Some(stackfleet_planner::fleet::Limit::Count(7)),
        ..Default::default()
    });
    set.operations[0].retain_stacks = true;
    let plan = plan(vec![set]);

    let deleted = mock!(Client::delete_stack_set).then_output(|| {
        aws_sdk_cloudformation::operation::delete_stack_set::DeleteStackSetOutput::builder().build()
    });
    let mut rules: Vec<&Rule> = seen.rules.iter().collect();
    rules.push(&deleted);
    let client = client(&rules);
    let (report, _) = run(&client, &plan).await;
    assert!(report.converged(), "{report:?}");

    let [delete] = &seen.delete.requests()[..] else {
        panic!()
    };
    assert_eq!(delete.retain_stacks(), Some(true));
    let preferences = delete.operation_preferences.clone().unwrap();
    assert_eq!(preferences.max_concurrent_count, Some(7));
    assert_eq!(preferences.max_concurrent_percentage, None);
}
