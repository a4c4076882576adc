//! Shared test furniture: mocked clients, plans built by hand, canned StackSets answers in the
//! shapes of the CloudFormation API reference, and a compact view of the event stream.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::config::retry::RetryConfig;
use aws_sdk_cloudformation::operation::create_stack_instances::CreateStackInstancesOutput;
use aws_sdk_cloudformation::operation::describe_stack_set_operation::DescribeStackSetOperationOutput;
use aws_sdk_cloudformation::operation::list_stack_set_operation_results::ListStackSetOperationResultsOutput;
use aws_sdk_cloudformation::operation::list_stack_set_operations::ListStackSetOperationsOutput;
use aws_sdk_cloudformation::types::{
    StackSetOperation, StackSetOperationAction, StackSetOperationResultStatus,
    StackSetOperationResultSummary, StackSetOperationStatus, StackSetOperationStatusDetails,
    StackSetOperationSummary,
};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use stackfleet_executor::operation::CHANGES_PAGE_SIZE;
use stackfleet_executor::retry::{retry_config, retry_partition};
use stackfleet_executor::{ApplyReport, Event, PollPolicy, apply};
use stackfleet_planner::Plan;
use stackfleet_planner::fleet::{CallAs, PermissionModel, Rollout};
use stackfleet_planner::plan::{
    DesiredStackSet, Operation, OperationAction, PlanOrganization, StackSetAction, StackSetPlan,
    Summary,
};

pub const A1: &str = "111111111111";
pub const A2: &str = "222222222222";
pub const A3: &str = "333333333333";
pub const USE1: &str = "us-east-1";
pub const EUW1: &str = "eu-west-1";

/// Millisecond polling, so that waiting costs nothing.
pub fn fast_poll() -> PollPolicy {
    PollPolicy {
        initial: Duration::from_millis(1),
        max: Duration::from_millis(5),
        timeout: Duration::from_secs(5),
        max_in_progress_waits: 5,
    }
}

/// A client answering from `rules` (first matching, not exhausted rule wins; a call no rule
/// answers panics), with retries off: every call in a test is one attempt.
pub fn client(rules: &[&Rule]) -> Client {
    let rules = with_no_changes_since_the_plan(rules);
    mock_client!(aws_sdk_cloudformation, RuleMode::MatchAny, &rules, |c| c
        .retry_config(RetryConfig::disabled()))
}

/// [`client`] without the answer to apply's check before each step: for the tests that answer it.
pub fn client_answering_the_check(rules: &[&Rule]) -> Client {
    mock_client!(aws_sdk_cloudformation, RuleMode::MatchAny, rules, |c| c
        .retry_config(RetryConfig::disabled()))
}

/// `rules`, after one that answers apply's check before each step (a ListStackSetOperations
/// page of [`CHANGES_PAGE_SIZE`]) with no operation: the tests of that check build their own
/// client.
fn with_no_changes_since_the_plan<'a>(rules: &[&'a Rule]) -> Vec<&'a Rule> {
    static NONE: LazyLock<Rule> = LazyLock::new(|| {
        mock!(Client::list_stack_set_operations)
            .match_requests(|r| r.max_results() == Some(CHANGES_PAGE_SIZE))
            .then_output(|| ListStackSetOperationsOutput::builder().build())
    });
    let mut all = vec![&*NONE];
    all.extend_from_slice(rules);
    all
}

/// A client with the retry configuration the CLI sets ([`retry_config`], [`retry_partition`]), but a short first
/// back-off so that the suite stays fast (the classifier and the attempts, not the delay, are
/// under test).
pub fn retrying_client(rules: &[&Rule]) -> Client {
    let rules = with_no_changes_since_the_plan(rules);
    mock_client!(aws_sdk_cloudformation, RuleMode::MatchAny, &rules, |c| c
        .retry_config(retry_config().with_initial_backoff(Duration::from_millis(1)))
        .retry_partition(retry_partition()))
}

/// An error response as CloudFormation (awsQuery protocol) sends it on the wire.
pub fn wire_error(code: &str, message: &str) -> String {
    format!(
        "<ErrorResponse xmlns=\"http://cloudformation.amazonaws.com/doc/2010-05-15/\">\
         <Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>\
         <RequestId>d1a5c0de-0000-4000-8000-000000000000</RequestId></ErrorResponse>"
    )
}

/// Records the requests a rule's `match_requests` saw, to assert their shape afterwards with
/// readable diffs (a predicate that returns false only says "no rule matched").
#[derive(Clone)]
pub struct Recorder<T>(Arc<Mutex<Vec<T>>>);

impl<T: Clone> Recorder<T> {
    pub fn new() -> Self {
        Recorder(Arc::new(Mutex::new(Vec::new())))
    }

    pub fn record(&self, request: &T) -> bool {
        self.0.lock().unwrap().push(request.clone());
        true
    }

    pub fn requests(&self) -> Vec<T> {
        self.0.lock().unwrap().clone()
    }
}

// ---- Plans ------------------------------------------------------------------------------------

pub fn plan(stack_sets: Vec<StackSetPlan>) -> Plan {
    plan_as(CallAs::SelfAccount, stack_sets)
}

pub fn plan_as(call_as: CallAs, mut stack_sets: Vec<StackSetPlan>) -> Plan {
    // As the planner decides it: a self-managed stack set is always called as SELF.
    for set in &mut stack_sets {
        if set.permission_model == PermissionModel::ServiceManaged {
            set.call_as = call_as;
        }
    }
    Plan {
        format_version: stackfleet_planner::plan::PLAN_FORMAT_VERSION,
        fingerprint: "test".to_string(),
        fleet: "prod".to_string(),
        nonce: "test-nonce".to_string(),
        planned_at: 0,
        organization: PlanOrganization {
            id: "o-exampleorgid".to_string(),
            management_account: "999999999999".to_string(),
            home_region: USE1.to_string(),
            call_as,
            assume_role_arn: None,
            administrator_account: None,
        },
        summary: Summary::default(),
        stack_sets,
    }
}

/// A stack set plan whose operations are `operations`; `desired` is set unless it is deleted.
pub fn stack_set(
    name: &str,
    action: StackSetAction,
    permission_model: PermissionModel,
    operations: Vec<Operation>,
) -> StackSetPlan {
    StackSetPlan {
        name: name.to_string(),
        action,
        adopt: false,
        permission_model,
        call_as: CallAs::SelfAccount,
        regions: vec![USE1.to_string(), EUW1.to_string()],
        changes: Vec::new(),
        template_diff: None,
        desired_instances: 0,
        existing_instances: 0,
        create_instances: Vec::new(),
        delete_instances: Vec::new(),
        update_instances: Vec::new(),
        skipped: Vec::new(),
        operations,
        instance_time: None,
        managed_execution: false,
        desired: (action != StackSetAction::Delete).then(|| desired(permission_model)),
        removed_resources: Vec::new(),
        findings: Vec::new(),
        rollout: None,
    }
}

pub fn desired(permission_model: PermissionModel) -> DesiredStackSet {
    let self_managed = permission_model == PermissionModel::SelfManaged;
    DesiredStackSet {
        description: Some("S3 bucket-policy-change monitor".to_string()),
        template_body: "Resources: {}".to_string(),
        parameters: BTreeMap::from([("AlertEmail".to_string(), "sec@example.com".to_string())]),
        no_echo_parameters: BTreeSet::new(),
        tags: BTreeMap::from([(
            stackfleet_planner::fleet::FLEET_TAG.to_string(),
            "prod".to_string(),
        )]),
        capabilities: BTreeSet::from(["CAPABILITY_NAMED_IAM".to_string()]),
        administration_role_arn: self_managed.then(|| {
            "arn:aws:iam::999999999999:role/AWSCloudFormationStackSetAdministrationRole".to_string()
        }),
        execution_role_name: self_managed
            .then(|| "AWSCloudFormationStackSetExecutionRole".to_string()),
        auto_deployment: (!self_managed).then_some(stackfleet_planner::fleet::AutoDeployment {
            enabled: true,
            retain_stacks_on_account_removal: false,
        }),
        retain_stacks_on_delete: false,
        rollout: Rollout::default(),
        managed_execution: None,
    }
}

/// An operation over the rectangle `accounts` × `regions`.
pub fn op(id: &str, action: OperationAction, accounts: &[&str], regions: &[&str]) -> Operation {
    Operation {
        id: id.to_string(),
        action,
        accounts: accounts.iter().map(|a| a.to_string()).collect(),
        regions: regions.iter().map(|r| r.to_string()).collect(),
        organizational_units: Vec::new(),
        retain_stacks: false,
        instances: accounts.len() * regions.len(),
        estimated_seconds: 0,
    }
}

pub fn create_instances(id: &str, accounts: &[&str], regions: &[&str]) -> Operation {
    op(id, OperationAction::CreateInstances, accounts, regions)
}

// ---- Running apply ----------------------------------------------------------------------------

/// Applies `plan` and returns the report with every event sent, in order.
pub async fn run(client: &Client, plan: &Plan) -> (ApplyReport, Vec<Event>) {
    run_with(client, plan, fast_poll()).await
}

pub async fn run_with(client: &Client, plan: &Plan, poll: PollPolicy) -> (ApplyReport, Vec<Event>) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let report = apply(client, plan, &tx, poll).await;
    drop(tx);
    let mut events = Vec::new();
    while let Some(e) = rx.recv().await {
        events.push(e);
    }
    (report, events)
}

/// One line per event, everything but the elapsed time.
pub fn brief(event: &Event) -> String {
    match event {
        Event::StackSetCreated { stack_set } => format!("{stack_set}: created"),
        Event::StackSetDeleted { stack_set } => format!("{stack_set}: deleted"),
        Event::OperationStarted {
            stack_set,
            operation_id,
            action,
            instances,
        } => format!("{stack_set}: started {operation_id} {action:?} x{instances}"),
        Event::OperationResumed {
            stack_set,
            operation_id,
        } => format!("{stack_set}: resumed {operation_id}"),
        Event::WaitingForOther {
            stack_set,
            operation_id,
        } => format!("{stack_set}: waiting for {operation_id}"),
        Event::OperationProgress {
            stack_set,
            operation_id,
            status,
            done,
            failed,
            total,
            elapsed: _,
        } => {
            let done = done.map_or("-".to_string(), |d| d.to_string());
            let total = total.map_or("-".to_string(), |t| t.to_string());
            format!("{stack_set}: {operation_id} {status} {done}/{total} failed={failed}")
        }
        Event::OperationFinished {
            stack_set,
            operation_id,
            outcome,
        } => format!(
            "{stack_set}: finished {operation_id} {} failures={}",
            outcome.status,
            outcome.failures.len()
        ),
    }
}

/// The brief lines of the events of one stack set (stack sets run concurrently, so only the
/// order within one is defined).
pub fn events_of(events: &[Event], stack_set: &str) -> Vec<String> {
    events
        .iter()
        .map(brief)
        .filter(|line| line.starts_with(&format!("{stack_set}: ")))
        .collect()
}

// ---- Canned answers ---------------------------------------------------------------------------

pub fn started(id: &str) -> CreateStackInstancesOutput {
    CreateStackInstancesOutput::builder()
        .operation_id(id)
        .build()
}

/// DescribeStackSetOperation answering `status`.
/// When the operations of [`operation`] were created (Unix seconds, 2027-01-15).
pub const OPERATION_CREATED: i64 = 1_800_000_000;

pub fn operation(id: &str, status: &str) -> DescribeStackSetOperationOutput {
    operation_with(id, status, None, None)
}

/// DescribeStackSetOperation with StatusDetails.FailedStackInstancesCount and StatusReason.
pub fn operation_with(
    id: &str,
    status: &str,
    failed: Option<i32>,
    reason: Option<&str>,
) -> DescribeStackSetOperationOutput {
    let mut op = StackSetOperation::builder()
        .operation_id(id)
        .stack_set_id(format!("monitor:{id}"))
        .action(StackSetOperationAction::Create)
        .creation_timestamp(aws_smithy_types::DateTime::from_secs(OPERATION_CREATED))
        .status(StackSetOperationStatus::from(status))
        .set_status_reason(reason.map(str::to_string));
    if let Some(failed) = failed {
        op = op.status_details(
            StackSetOperationStatusDetails::builder()
                .failed_stack_instances_count(failed)
                .build(),
        );
    }
    DescribeStackSetOperationOutput::builder()
        .stack_set_operation(op.build())
        .build()
}

pub fn result(
    account: &str,
    region: &str,
    status: &str,
    reason: &str,
) -> StackSetOperationResultSummary {
    StackSetOperationResultSummary::builder()
        .account(account)
        .region(region)
        .status(StackSetOperationResultStatus::from(status))
        .set_status_reason((!reason.is_empty()).then(|| reason.to_string()))
        .build()
}

pub fn results(
    summaries: Vec<StackSetOperationResultSummary>,
    next_token: Option<&str>,
) -> ListStackSetOperationResultsOutput {
    ListStackSetOperationResultsOutput::builder()
        .set_summaries(Some(summaries))
        .set_next_token(next_token.map(str::to_string))
        .build()
}

/// A ListStackSetOperations page of `summaries` (newest first), with `next` as its NextToken.
pub fn listing(
    summaries: Vec<StackSetOperationSummary>,
    next: Option<&str>,
) -> ListStackSetOperationsOutput {
    ListStackSetOperationsOutput::builder()
        .set_summaries(Some(summaries))
        .set_next_token(next.map(str::to_string))
        .build()
}
