//! StackSets rules that plain moto does not enforce, proven end to end on the faithful emulator
//! (`tests/emulator`) through the `stackfleet` binary: service-managed stack sets, their
//! AutoDeployment fields, and the OU that update and delete operations must name. Each test names
//! the rule it proves; `docs/stacksets-rules.md` maps the rules to their AWS documents.

use serde_json::{Value, json};

use crate::harness::{
    Moto, Workspace, account_id, boto3, inspect, listed_instances, seed, stackfleet,
};

const STACK_SET: &str = "guard";

/// A service-managed stack set over `ous` in us-east-1, with `extra` appended to the stack set
/// table (auto-deployment, for example).
fn service_managed_fleet(ous: &[&str], extra: &str) -> String {
    let ous: Vec<String> = ous.iter().map(|o| format!("{o:?}")).collect();
    format!(
        r#"name = "baseline"

[organization]
home_region = "us-east-1"
management_account = "123456789012"
call_as = "self"

[defaults]
regions = ["us-east-1"]

[defaults.rollout]
max_concurrent_percentage = 100
failure_tolerance_percentage = 10
region_concurrency = "parallel"
concurrency_mode = "soft-failure-tolerance"

[[stack_sets]]
name = "{STACK_SET}"
template = "templates/marker.yaml"
permission_model = "service-managed"
parameters = {{ Team = "security" }}
{extra}

[stack_sets.targets]
organizational_units = [{}]
"#,
        ous.join(", ")
    )
}

/// An organization with trusted access for StackSets and no execution roles (service-managed
/// stack sets need none).
fn service_org(moto: &Moto, accounts: Value) -> Value {
    seed(
        moto,
        json!({
            "seed": 18,
            "ous": ["/Apps", "/Data", "/Quarantine"],
            "accounts": accounts,
            "execution_roles": false,
            "management_execution_role": false,
            "trusted_access": true,
        }),
    )
}

/// `apply --auto-approve --output json`, which must converge; returns the report.
fn apply_converges(moto: &Moto, ws: &Workspace) -> Value {
    let run = stackfleet(
        moto,
        ws.path(),
        &["apply", "--auto-approve", "--output", "json"],
    );
    run.assert_code(0);
    let report = run.json();
    assert_eq!(report["converged"], true, "{report:#}");
    report
}

/// `plan --detailed-exitcode` exits 0: StackSets matches fleet.toml.
fn assert_plan_is_clean(moto: &Moto, ws: &Workspace) {
    let run = stackfleet(moto, ws.path(), &["plan", "--detailed-exitcode"]);
    run.assert_code(0);
}

fn pairs(accounts: &[&String], region: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = accounts
        .iter()
        .map(|a| ((*a).clone(), region.to_string()))
        .collect();
    out.sort();
    out
}

/// Rule: `RetainStacksOnAccountRemoval` only with `Enabled = true` (API Reference,
/// "AutoDeployment"). The emulator refuses it otherwise, as AWS does, so a fleet that turns
/// auto-deployment off must still create and then match its stack set.
#[test]
fn service_managed_with_auto_deployment_off_is_created_and_then_matches() {
    let moto = Moto::start();
    let org = service_org(
        &moto,
        json!([{"name": "app-1", "ou": "/Apps"}, {"name": "app-2", "ou": "/Apps"}]),
    );
    let ws = Workspace::new()
        .with_marker_template()
        .with_fleet(&service_managed_fleet(
            &["/Apps"],
            "auto_deployment = { enabled = false }",
        ));
    apply_converges(&moto, &ws);
    let (a1, a2) = (account_id(&org, "app-1"), account_id(&org, "app-2"));
    assert_eq!(
        listed_instances(&moto, STACK_SET),
        pairs(&[&a1, &a2], "us-east-1")
    );
    let auto = boto3(
        &moto,
        r#"result = client("cloudformation").describe_stack_set(StackSetName=ARGS)["StackSet"].get("AutoDeployment")"#,
        json!(STACK_SET),
    );
    assert_eq!(auto["Enabled"], false, "{auto}");
    assert_plan_is_clean(&moto, &ws);
}

/// Rule: service-managed update and delete operations name OUs the stack set targets, and select
/// an instance by the OU it was deployed through (API Reference, "DeploymentTargets";
/// terraform-provider-aws #27877). An account that moves out of the targeted OUs is deleted
/// through the OU it was deployed through, and the next plan is clean.
#[test]
fn an_account_that_moved_to_an_untargeted_ou_is_deleted_through_its_old_ou() {
    let moto = Moto::start();
    let org = service_org(
        &moto,
        json!([
            {"name": "app-1", "ou": "/Apps"},
            {"name": "app-2", "ou": "/Apps"},
            {"name": "data-1", "ou": "/Data"},
        ]),
    );
    let ws = Workspace::new()
        .with_marker_template()
        .with_fleet(&service_managed_fleet(&["/Apps", "/Data"], ""));
    apply_converges(&moto, &ws);
    let (a1, a2, d1) = (
        account_id(&org, "app-1"),
        account_id(&org, "app-2"),
        account_id(&org, "data-1"),
    );
    assert_eq!(
        listed_instances(&moto, STACK_SET),
        pairs(&[&a1, &a2, &d1], "us-east-1")
    );

    // app-2 moves to /Quarantine, which fleet.toml does not target.
    boto3(
        &moto,
        r#"
o = client("organizations")
o.move_account(AccountId=ARGS["account"], SourceParentId=ARGS["from"], DestinationParentId=ARGS["to"])
result = True
"#,
        json!({"account": a2, "from": org["ous"]["/Apps"], "to": org["ous"]["/Quarantine"]}),
    );
    let run = stackfleet(&moto, ws.path(), &["plan", "--output", "json"]);
    run.assert_code(0);
    let plan = run.json();
    let ops = &plan["stack_sets"][0]["operations"];
    assert_eq!(ops.as_array().map(Vec::len), Some(1), "{plan:#}");
    assert_eq!(ops[0]["action"], "delete-instances", "{plan:#}");
    assert_eq!(
        ops[0]["organizational_units"],
        json!([org["ous"]["/Apps"]]),
        "{plan:#}"
    );

    apply_converges(&moto, &ws);
    assert_eq!(
        listed_instances(&moto, STACK_SET),
        pairs(&[&a1, &d1], "us-east-1")
    );
    assert_plan_is_clean(&moto, &ws);
}

/// Rule: DetectStackSetDrift takes `OperationPreferences` (API Reference,
/// "DetectStackSetDrift"); without them StackSets checks one account at a time. A drift run
/// detects with the stack set's rollout, as DescribeStackSetOperation shows.
#[test]
fn drift_detection_runs_with_the_stack_sets_rollout() {
    let moto = Moto::start();
    service_org(
        &moto,
        json!([{"name": "app-1", "ou": "/Apps"}, {"name": "app-2", "ou": "/Apps"}]),
    );
    let ws = Workspace::new()
        .with_marker_template()
        .with_fleet(&service_managed_fleet(&["/Apps"], ""));
    apply_converges(&moto, &ws);
    let run = stackfleet(&moto, ws.path(), &["drift", "--output", "json"]);
    run.assert_code(0);
    let prefs = boto3(
        &moto,
        r#"
cf = client("cloudformation")
ops = [o for o in cf.list_stack_set_operations(StackSetName=ARGS)["Summaries"]
       if o["Action"] == "DETECT_DRIFT"]
assert len(ops) == 1, ops
result = cf.describe_stack_set_operation(StackSetName=ARGS, OperationId=ops[0]["OperationId"])[
    "StackSetOperation"]["OperationPreferences"]
"#,
        json!(STACK_SET),
    );
    assert_eq!(prefs["MaxConcurrentPercentage"], 100, "{prefs}");
    assert_eq!(prefs["FailureTolerancePercentage"], 10, "{prefs}");
    assert_eq!(prefs["RegionConcurrencyType"], "PARALLEL", "{prefs}");
    assert_eq!(
        prefs["ConcurrencyMode"], "SOFT_FAILURE_TOLERANCE",
        "{prefs}"
    );
}

/// Rule: UpdateStackSet with DeploymentTargets and Regions updates only the instances they
/// select ("UpdateStackSet", API Reference: "CloudFormation marks all stack instances with a
/// status of OUTDATED prior to updating the stack instances in the specified accounts and
/// Regions"). An account that left the organization keeps its instance, recorded under an OU
/// the update names; the update intersects that OU with the accounts that stay, so the stack of
/// the account that left is never touched.
#[test]
fn a_service_managed_update_never_reaches_an_account_that_left_the_organization() {
    let moto = Moto::start();
    let org = service_org(
        &moto,
        json!([{"name": "app-1", "ou": "/Apps"}, {"name": "app-2", "ou": "/Apps"}]),
    );
    let ws = Workspace::new()
        .with_marker_template()
        .with_fleet(&service_managed_fleet(
            &["/Apps"],
            "auto_deployment = { enabled = false }",
        ));
    apply_converges(&moto, &ws);
    let (a1, a2) = (account_id(&org, "app-1"), account_id(&org, "app-2"));
    boto3(
        &moto,
        r#"client("organizations").remove_account_from_organization(AccountId=ARGS)"#,
        json!(a2),
    );

    ws.edit("fleet.toml", "Team = \"security\"", "Team = \"platform\"");
    let run = stackfleet(&moto, ws.path(), &["plan", "--output", "json"]);
    run.assert_code(0);
    let plan = run.json();
    let update = &plan["stack_sets"][0]["operations"][0];
    assert_eq!(update["action"], "update-stack-set", "{plan:#}");
    assert_eq!(update["accounts"], json!([a1.clone()]), "{plan:#}");
    apply_converges(&moto, &ws);
    let seen = inspect(&moto, STACK_SET, &[a1.clone(), a2.clone()], &["us-east-1"]);
    assert_eq!(
        seen.stacks[&format!("{a1}/us-east-1")],
        [format!("StackSet:{STACK_SET} UPDATE_COMPLETE")]
    );
    assert_eq!(
        seen.stacks[&format!("{a2}/us-east-1")],
        [format!("StackSet:{STACK_SET} CREATE_COMPLETE")]
    );
}
