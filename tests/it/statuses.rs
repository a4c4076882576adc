//! The statuses StackSets really reports, end to end on the faithful emulator through the
//! `stackfleet` binary: an INOPERABLE instance, an instance SKIPPED while its account was
//! suspended, an instance of an account that left the organization, and the `--allow-delete`
//! guard counting resources a template update removes. `docs/stacksets-rules.md` maps each rule
//! to its AWS document.

use serde_json::{Value, json};

use crate::harness::{
    MARKER_TEMPLATE, Moto, Workspace, account_id, boto3, inspect, listed_instances, seed,
    stackfleet,
};

const STACK_SET: &str = "marker";

/// A self-managed stack set of the marker template over /Prod in us-east-1.
const FLEET: &str = r#"name = "baseline"

[organization]
home_region = "us-east-1"
management_account = "123456789012"

[defaults.rollout]
max_concurrent_percentage = 100
failure_tolerance_percentage = 100
region_concurrency = "parallel"
concurrency_mode = "soft-failure-tolerance"

[[stack_sets]]
name = "marker"
template = "templates/marker.yaml"
permission_model = "self-managed"
regions = ["us-east-1"]
parameters = { Team = "security" }

[stack_sets.targets]
organizational_units = ["/Prod"]
"#;

/// An organization with /Prod holding `names`, each with the StackSets execution role.
fn prod_org(moto: &Moto, names: &[&str]) -> (Value, Vec<String>) {
    let accounts: Vec<Value> = names
        .iter()
        .map(|n| json!({"name": n, "ou": "/Prod"}))
        .collect();
    let org = seed(
        moto,
        json!({"seed": 23, "ous": ["/Prod"], "accounts": accounts}),
    );
    let ids = names.iter().map(|n| account_id(&org, n)).collect();
    (org, ids)
}

fn apply_converges(moto: &Moto, ws: &Workspace, extra: &[&str]) -> Value {
    let mut args = vec!["apply", "--auto-approve", "--output", "json"];
    args.extend_from_slice(extra);
    let run = stackfleet(moto, ws.path(), &args);
    run.assert_code(0);
    let report = run.json();
    assert_eq!(report["converged"], true, "{report:#}");
    report
}

fn plan_json(moto: &Moto, ws: &Workspace) -> Value {
    let run = stackfleet(moto, ws.path(), &["plan", "--output", "json"]);
    run.assert_code(0);
    run.json()
}

/// (action, accounts, retain_stacks) of each planned operation of the first stack set.
fn operations(plan: &Value) -> Vec<(String, Vec<String>, bool)> {
    plan["stack_sets"][0]["operations"]
        .as_array()
        .expect("operations")
        .iter()
        .map(|o| {
            (
                o["action"].as_str().unwrap().to_string(),
                o["accounts"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|a| a.as_str().unwrap().to_string())
                    .collect(),
                o["retain_stacks"] == true,
            )
        })
        .collect()
}

/// (account, kind) of every finding of the first stack set.
fn findings(plan: &Value) -> Vec<(String, String)> {
    plan["stack_sets"][0]["findings"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|f| {
                    (
                        f["account"].as_str().unwrap().to_string(),
                        f["kind"].as_str().unwrap().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn coverage_json(moto: &Moto, ws: &Workspace) -> Value {
    let run = stackfleet(moto, ws.path(), &["coverage", "--output", "json"]);
    run.json()
}

fn cell<'a>(coverage: &'a Value, account: &str) -> &'a Value {
    coverage["stack_sets"][0]["cells"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["account"] == account)
        .unwrap_or_else(|| panic!("no cell of {account}: {coverage:#}"))
}

fn assert_fully_covered(moto: &Moto, ws: &Workspace, required: u64) {
    let coverage = coverage_json(moto, ws);
    assert_eq!(coverage["summary"]["required"], required, "{coverage:#}");
    assert_eq!(coverage["summary"]["covered"], required, "{coverage:#}");
    let run = stackfleet(moto, ws.path(), &["plan", "--detailed-exitcode"]);
    run.assert_code(0);
}

/// Rule: an INOPERABLE instance is left out of every update; AWS's remedy is
/// DeleteStackInstances with RetainStacks, then the stack is the account's to delete
/// ("StackInstanceComprehensiveStatus", API Reference). stackfleet plans the release as a visible
/// step and creates the instance again, and coverage is whole afterwards.
#[test]
fn an_inoperable_instance_is_released_keeping_its_stack_and_created_again() {
    let moto = Moto::start();
    let (_, ids) = prod_org(&moto, &["prod-a", "prod-b"]);
    let (a, b) = (ids[0].clone(), ids[1].clone());
    let ws = Workspace::new().with_marker_template().with_fleet(FLEET);
    apply_converges(&moto, &ws, &[]);

    // A delete made while prod-b's execution role did not trust the administrator fails and
    // leaves the instance INOPERABLE; the trust is then restored.
    let status = boto3(
        &moto,
        r#"
iam = client("iam", account=ARGS["account"])
role = iam.get_role(RoleName="AWSCloudFormationStackSetExecutionRole")["Role"]
trust = role["AssumeRolePolicyDocument"]
trust = trust if isinstance(trust, str) else json.dumps(trust)
nobody = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
    "Principal": {"AWS": "arn:aws:iam::111111111111:root"}, "Action": "sts:AssumeRole"}]})
iam.update_assume_role_policy(RoleName="AWSCloudFormationStackSetExecutionRole", PolicyDocument=nobody)
cf = client("cloudformation")
op = cf.delete_stack_instances(StackSetName=ARGS["name"], Accounts=[ARGS["account"]],
    Regions=["us-east-1"], RetainStacks=False)["OperationId"]
wait(ARGS["name"], op)
iam.update_assume_role_policy(RoleName="AWSCloudFormationStackSetExecutionRole", PolicyDocument=trust)
result = [s["Status"] for s in cf.list_stack_instances(StackSetName=ARGS["name"])["Summaries"]
          if s["Account"] == ARGS["account"]]
"#,
        json!({"account": b, "name": STACK_SET}),
    );
    assert_eq!(status, json!(["INOPERABLE"]));

    let plan = plan_json(&moto, &ws);
    assert_eq!(
        operations(&plan),
        [
            ("delete-instances".to_string(), vec![b.clone()], true),
            ("create-instances".to_string(), vec![b.clone()], false),
        ],
        "{plan:#}"
    );
    assert_eq!(findings(&plan), [(b.clone(), "inoperable".to_string())]);
    let coverage = coverage_json(&moto, &ws);
    assert_eq!(cell(&coverage, &b)["status"], "failed", "{coverage:#}");
    let table = stackfleet(&moto, ws.path(), &["plan"]);
    table.assert_code(0);
    assert!(
        table.stdout.contains("delete instances (keep stacks)")
            && table.stdout.contains("inoperable (planned)"),
        "{}",
        table.stdout
    );

    apply_converges(&moto, &ws, &[]);
    let seen = inspect(&moto, STACK_SET, std::slice::from_ref(&b), &["us-east-1"]);
    let mut expected = vec![
        (a, "us-east-1".to_string()),
        (b.clone(), "us-east-1".to_string()),
    ];
    expected.sort();
    assert_eq!(seen.instances, expected);
    // The released stack stays in the account (AWS's remedy leaves it to be deleted by hand),
    // next to the new instance's stack.
    assert_eq!(
        seen.stacks[&format!("{b}/us-east-1")],
        [
            "StackSet:marker CREATE_COMPLETE",
            "StackSet:marker CREATE_COMPLETE"
        ]
    );
    assert_fully_covered(&moto, &ws, 2);
}

/// Rule: an operation skips a suspended account (SKIPPED_SUSPENDED_ACCOUNT,
/// "StackInstanceComprehensiveStatus", API Reference) and the instance stays OUTDATED until an
/// operation reaches it again ("StackInstanceSummary"). Once the account is active again,
/// stackfleet runs the instance again and coverage is whole.
#[test]
fn a_skipped_instance_of_an_account_active_again_runs_again() {
    let moto = Moto::start();
    let (_, ids) = prod_org(&moto, &["prod-a", "prod-b"]);
    let b = ids[1].clone();
    let ws = Workspace::new().with_marker_template().with_fleet(FLEET);
    apply_converges(&moto, &ws, &[]);

    boto3(
        &moto,
        r#"client("organizations").close_account(AccountId=ARGS)"#,
        json!(b),
    );
    ws.edit("fleet.toml", r#"Team = "security""#, r#"Team = "secops""#);
    apply_converges(&moto, &ws, &[]);
    let detailed = boto3(
        &moto,
        r#"result = [s["StackInstanceStatus"]["DetailedStatus"] for s in
    client("cloudformation").list_stack_instances(StackSetName=ARGS["name"])["Summaries"]
    if s["Account"] == ARGS["account"]]"#,
        json!({"account": b, "name": STACK_SET}),
    );
    assert_eq!(detailed, json!(["SKIPPED_SUSPENDED_ACCOUNT"]));

    // AWS Support reopens the account (the emulator's control endpoint).
    boto3(
        &moto,
        r#"
import urllib.request
urllib.request.urlopen(urllib.request.Request(ENDPOINT + "/_emulator/account-status",
    data=json.dumps(ARGS).encode(), method="POST"))
"#,
        json!({"account_id": b, "status": "ACTIVE"}),
    );
    let plan = plan_json(&moto, &ws);
    assert_eq!(
        operations(&plan),
        [("update-instances".to_string(), vec![b.clone()], false)],
        "{plan:#}"
    );
    assert_eq!(findings(&plan), [(b.clone(), "reactivated".to_string())]);
    let coverage = coverage_json(&moto, &ws);
    let before = cell(&coverage, &b);
    assert_eq!(before["status"], "outdated", "{coverage:#}");
    assert!(
        before["reason"].as_str().unwrap().contains("active again"),
        "{before}"
    );

    apply_converges(&moto, &ws, &[]);
    let seen = inspect(&moto, STACK_SET, std::slice::from_ref(&b), &["us-east-1"]);
    assert_eq!(
        seen.stacks[&format!("{b}/us-east-1")],
        ["StackSet:marker UPDATE_COMPLETE"]
    );
    assert_fully_covered(&moto, &ws, 2);
}

/// Rule: nothing can select an account the organization no longer has (service-managed deletes
/// name OUs, "DeploymentTargets"; a self-managed one cannot reach a removed account's roles with
/// any certainty), so its instance is reported as orphaned with the remedy and never planned as
/// a delete that repeats on every run.
#[test]
fn an_instance_of_an_account_that_left_the_organization_is_reported_not_deleted() {
    let moto = Moto::start();
    let (_, ids) = prod_org(&moto, &["prod-a", "prod-b"]);
    let (a, b) = (ids[0].clone(), ids[1].clone());
    let ws = Workspace::new().with_marker_template().with_fleet(FLEET);
    apply_converges(&moto, &ws, &[]);
    boto3(
        &moto,
        r#"client("organizations").remove_account_from_organization(AccountId=ARGS)"#,
        json!(b),
    );

    let run = stackfleet(
        &moto,
        ws.path(),
        &["plan", "--output", "json", "--detailed-exitcode"],
    );
    run.assert_code(0);
    let plan = run.json();
    assert_eq!(operations(&plan), []);
    assert_eq!(findings(&plan), [(b.clone(), "orphaned".to_string())]);
    let remedy = plan["stack_sets"][0]["findings"][0]["remedy"]
        .as_str()
        .unwrap();
    assert!(
        remedy.contains(&format!("--accounts {b}")) && remedy.contains("--retain-stacks"),
        "{remedy}"
    );
    let table = stackfleet(&moto, ws.path(), &["plan"]);
    assert!(
        table.stdout.contains("orphaned (not planned)"),
        "{}",
        table.stdout
    );
    let coverage = coverage_json(&moto, &ws);
    assert_eq!(cell(&coverage, &b)["status"], "orphaned", "{coverage:#}");

    // apply changes nothing: the instance stays.
    let run = stackfleet(&moto, ws.path(), &["apply", "--auto-approve"]);
    run.assert_code(0);
    assert_eq!(listed_instances(&moto, STACK_SET).len(), 2);

    // A parameter change is rolled out to the instances that stay, and never reaches the account
    // that left: UpdateStackSet names the others instead of running on every instance.
    ws.edit("fleet.toml", "Team = \"security\"", "Team = \"platform\"");
    let plan = plan_json(&moto, &ws);
    let update = &plan["stack_sets"][0]["operations"][0];
    assert_eq!(update["action"], "update-stack-set", "{plan:#}");
    assert_eq!(update["accounts"], json!([a.clone()]), "{plan:#}");
    let run = stackfleet(&moto, ws.path(), &["apply", "--auto-approve"]);
    run.assert_code(0);
    let seen = inspect(&moto, STACK_SET, &[a.clone(), b.clone()], &["us-east-1"]);
    assert_eq!(
        seen.stacks[&format!("{a}/us-east-1")],
        ["StackSet:marker UPDATE_COMPLETE"]
    );
    assert_eq!(
        seen.stacks[&format!("{b}/us-east-1")],
        ["StackSet:marker CREATE_COMPLETE"]
    );

    // The stack set leaves fleet.toml: its other instance is deleted, but StackSets deletes only
    // an empty stack set (StackSetNotEmptyException), so it stays and apply still succeeds, now
    // and on the next run, instead of failing on DeleteStackSet every time.
    ws.edit("fleet.toml", "name = \"marker\"", "name = \"successor\"");
    for _ in 0..2 {
        let run = stackfleet(&moto, ws.path(), &["apply", "--auto-approve"]);
        run.assert_code(0);
    }
    assert_eq!(
        listed_instances(&moto, STACK_SET),
        [(b.clone(), "us-east-1".to_string())]
    );
    let plan = plan_json(&moto, &ws);
    let marker = plan["stack_sets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == STACK_SET)
        .expect("the stack set is still in the plan");
    assert_eq!(marker["action"], "none", "{marker:#}");
    let remedy = marker["findings"][0]["remedy"].as_str().unwrap();
    assert!(
        remedy.contains("deletes it once this instance is gone"),
        "{remedy}"
    );
}

/// Rule (#12 item 5): an update that removes resources from the template deletes them from every
/// stack; the guard counts them per account with the instances, and the plan names them.
#[test]
fn the_delete_guard_counts_resources_a_template_update_removes() {
    let moto = Moto::start();
    prod_org(&moto, &["prod-a", "prod-b", "prod-c"]);
    let with_extra = MARKER_TEMPLATE.replace(
        "Resources:\n",
        "Resources:\n  Extra:\n    Type: AWS::CloudFormation::WaitConditionHandle\n",
    );
    let ws = Workspace::new()
        .write("templates/marker.yaml", &with_extra)
        .with_fleet(&FLEET.replace(
            r#"regions = ["us-east-1"]"#,
            r#"regions = ["us-east-1", "eu-west-1"]"#,
        ));
    apply_converges(&moto, &ws, &[]);
    ws.edit(
        "templates/marker.yaml",
        "  Extra:\n    Type: AWS::CloudFormation::WaitConditionHandle\n",
        "",
    );

    let plan = plan_json(&moto, &ws);
    assert_eq!(plan["stack_sets"][0]["removed_resources"], json!(["Extra"]));
    assert_eq!(plan["summary"]["removed_resources"], 6);
    let words = "6 resources in 3 accounts (Extra from marker)";
    let table = stackfleet(&moto, ws.path(), &["plan"]);
    assert!(
        table
            .stdout
            .contains("removes 1 resource from every stack: Extra")
            && table.stdout.contains(&format!(
                "Apply will need --allow-delete: this plan deletes {words}."
            )),
        "{}",
        table.stdout
    );

    let before = moto.state();
    let run = stackfleet(&moto, ws.path(), &["apply", "--auto-approve"]);
    run.assert_code(1);
    assert!(
        run.stderr
            .contains(&format!("the plan deletes {words}; nothing was changed")),
        "{}",
        run.stderr
    );
    assert!(before == moto.state(), "a refused apply changed nothing");

    apply_converges(&moto, &ws, &["--allow-delete"]);
    let run = stackfleet(&moto, ws.path(), &["plan", "--detailed-exitcode"]);
    run.assert_code(0);
}
