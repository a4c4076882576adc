//! `stackfleet apply` end to end: the example organization rolled out, changed and rolled back
//! through moto, every result checked independently of stackfleet with boto3 (the instances
//! StackSets lists, the member stacks in the target accounts, the operations it ran).
//!
//! moto runs operations synchronously, always SUCCEEDED, and assigns its own OperationId
//! (ignoring ours); apply follows the id it gets back, which the tests check against
//! ListStackSetOperations.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::harness::{
    MARKER_TEMPLATE, Moto, Seen, Workspace, account_id, boto3, inspect, seed, seed_example,
    stackfleet,
};

const MANAGEMENT: &str = "123456789012";
const STACK_SET: &str = "s3-policy-monitor";
/// The member stack moto creates for a self-managed instance (AWS would name it
/// `StackSet-s3-policy-monitor-<uuid>`).
const MEMBER_STACK: &str = "StackSet:s3-policy-monitor";

/// The repository's own fleet.toml and template, as a user would run them.
fn example_workspace() -> Workspace {
    Workspace::new()
        .copy_from_repo("fleet.toml")
        .copy_from_repo("templates/s3-policy-monitor.yaml")
}

/// The repository's fleet.toml (same targets, exclusions, regions and rollout) with the marker
/// template instead of the monitor: moto creates and deletes its member stacks several times
/// faster, and what apply does does not depend on the template.
fn example_marker_workspace() -> Workspace {
    let ws = Workspace::new()
        .copy_from_repo("fleet.toml")
        .with_marker_template();
    ws.edit(
        "fleet.toml",
        r#"template = "templates/s3-policy-monitor.yaml""#,
        r#"template = "templates/marker.yaml""#,
    );
    ws.edit(
        "fleet.toml",
        r#"parameters = { NotificationEmail = "secops@example.com" }"#,
        r#"parameters = { Team = "security" }"#,
    );
    ws
}

/// The 17 accounts the example fleet.toml governs: every active account but the sandboxes, the
/// management account (at the root) included.
fn governed(org: &Value) -> Vec<String> {
    let mut out: Vec<String> = org["accounts"]
        .as_object()
        .expect("accounts")
        .iter()
        .filter(|(name, a)| !name.starts_with("sandbox-") && a["status"] == "ACTIVE")
        .map(|(_, a)| a["id"].as_str().expect("id").to_string())
        .chain([MANAGEMENT.to_string()])
        .collect();
    out.sort();
    assert_eq!(out.len(), 17);
    out
}

/// Every account of the organization, the management account included.
fn all_accounts(org: &Value) -> Vec<String> {
    let mut out: Vec<String> = org["accounts"]
        .as_object()
        .expect("accounts")
        .values()
        .map(|a| a["id"].as_str().expect("id").to_string())
        .chain([MANAGEMENT.to_string()])
        .collect();
    out.sort();
    out
}

fn grid(accounts: &[String], regions: &[&str]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = accounts
        .iter()
        .flat_map(|a| regions.iter().map(move |r| (a.clone(), r.to_string())))
        .collect();
    out.sort();
    out
}

/// Asserts that exactly the `expected` cells hold the member stack and every other cell that
/// `seen` read holds none.
fn assert_member_stacks(seen: &Seen, expected: &[(String, String)]) {
    let expected: BTreeSet<String> = expected.iter().map(|(a, r)| format!("{a}/{r}")).collect();
    assert!(!seen.stacks.is_empty(), "no stacks were read");
    for (cell, found) in &seen.stacks {
        if expected.contains(cell) {
            assert_eq!(
                found,
                &[format!("{MEMBER_STACK} CREATE_COMPLETE")],
                "member stack in {cell}"
            );
        } else {
            assert_eq!(
                found,
                &[] as &[String],
                "no member stack expected in {cell}"
            );
        }
    }
    for cell in &expected {
        assert!(seen.stacks.contains_key(cell), "{cell} was not read");
    }
}

/// Asserts that StackSets lists the operations `before` and `reported` (ids from apply's report),
/// nothing else, and each of `reported` as SUCCEEDED.
fn assert_operations(seen: &Seen, before: &[String], reported: &[String]) {
    let mut expected: Vec<String> = before.iter().chain(reported).cloned().collect();
    expected.sort();
    let listed: Vec<String> = seen
        .operations
        .iter()
        .map(|(id, _, _)| id.clone())
        .collect();
    assert_eq!(
        listed, expected,
        "operations StackSets lists: {:?}",
        seen.operations
    );
    for id in reported {
        assert!(
            seen.operations
                .iter()
                .any(|(listed, _, status)| listed == id && status == "SUCCEEDED"),
            "{id} is not SUCCEEDED: {:?}",
            seen.operations
        );
    }
}

/// Applies with `--auto-approve --output json` plus `extra`, asserts convergence, and returns the
/// single stack set's operations as `(action, instances)` after checking that each SUCCEEDED with
/// no failure, and their ids (for [`assert_operations`]).
fn apply_json(moto: &Moto, ws: &Workspace, extra: &[&str]) -> (Vec<(String, u64)>, Vec<String>) {
    let mut args = vec!["apply", "--auto-approve", "--output", "json"];
    args.extend_from_slice(extra);
    let run = stackfleet(moto, ws.path(), &args);
    run.assert_code(0);
    let report = run.json();
    assert_eq!(report["converged"], true, "{report:#}");
    let sets = report["stack_sets"].as_array().expect("stack_sets");
    assert_eq!(sets.len(), 1, "{report:#}");
    assert!(sets[0].get("error").is_none(), "{report:#}");
    let ops = sets[0]["operations"].as_array().expect("operations");
    let mut ids = Vec::new();
    let done = ops
        .iter()
        .map(|op| {
            assert_eq!(op["status"], "SUCCEEDED", "{op}");
            assert_eq!(op["failures"], json!([]), "{op}");
            ids.push(
                op["operation_id"]
                    .as_str()
                    .expect("operation_id")
                    .to_string(),
            );
            (
                op["action"].as_str().expect("action").to_string(),
                op["instances"].as_u64().expect("instances"),
            )
        })
        .collect();
    (done, ids)
}

/// `plan --detailed-exitcode` exits 0: nothing left to do.
fn assert_plan_is_clean(moto: &Moto, ws: &Workspace) {
    let run = stackfleet(moto, ws.path(), &["plan", "--detailed-exitcode"]);
    run.assert_code(0);
    assert!(
        run.stdout
            .contains("No changes: StackSets already matches fleet.toml."),
        "{}",
        run.stdout
    );
}

/// The plan as JSON, for the single stack set: (the stack set's plan, the summary).
fn plan_json(moto: &Moto, ws: &Workspace) -> (Value, Value) {
    let run = stackfleet(moto, ws.path(), &["plan", "--output", "json"]);
    run.assert_code(0);
    let plan = run.json();
    let sets = plan["stack_sets"].as_array().expect("stack_sets");
    assert_eq!(sets.len(), 1, "{plan:#}");
    (sets[0].clone(), plan["summary"].clone())
}

/// The operations of a stack set's plan without their ids (checked to be `stackfleet-…`).
fn without_ids(set: &Value) -> Value {
    let ops: Vec<Value> = set["operations"]
        .as_array()
        .expect("operations")
        .iter()
        .map(|op| {
            let mut op = op.clone();
            let id = op.as_object_mut().and_then(|o| o.remove("id"));
            assert!(
                id.as_ref()
                    .and_then(Value::as_str)
                    .is_some_and(|id| id.starts_with("stackfleet-")),
                "operation id {id:?}"
            );
            // The estimate depends on the emulator's clock: checked for presence only.
            let estimate = op
                .as_object_mut()
                .and_then(|o| o.remove("estimated_seconds"));
            assert!(
                estimate
                    .as_ref()
                    .and_then(Value::as_u64)
                    .is_some_and(|s| s > 0),
                "operation without a positive estimated_seconds: {op}"
            );
            op
        })
        .collect();
    json!(ops)
}

/// An operation as the plan writes it, without id (accounts and regions sorted by the caller).
fn operation(action: &str, accounts: &[String], regions: &[&str]) -> Value {
    json!({
        "action": action,
        "accounts": accounts,
        "regions": regions,
        "instances": accounts.len() * regions.len(),
    })
}

/// The example organization with [`example_marker_workspace`] applied: the starting point of
/// the tests that change fleet.toml. Returns the ids of the operations so far.
fn rolled_out_example() -> (Moto, Value, Workspace, Vec<String>) {
    let moto = Moto::start();
    let org = seed_example(&moto);
    let ws = example_marker_workspace();
    let (done, ids) = apply_json(&moto, &ws, &[]);
    assert_eq!(done, [("create-instances".to_string(), 34)]);
    (moto, org, ws, ids)
}

#[test]
fn fresh_rollout_reaches_every_governed_account_and_a_second_apply_changes_nothing() {
    let moto = Moto::start();
    let org = seed_example(&moto);
    let ws = example_workspace();

    let run = stackfleet(
        &moto,
        ws.path(),
        &["apply", "--auto-approve", "--output", "json"],
    );
    run.assert_code(0);
    let report = run.json();
    assert_eq!(report["converged"], true);
    assert_eq!(report["stack_sets"].as_array().map(Vec::len), Some(1));
    let set = &report["stack_sets"][0];
    assert_eq!(set["name"], STACK_SET);
    assert_eq!(set["action"], "create");
    let ops = set["operations"].as_array().expect("operations");
    assert_eq!(ops.len(), 1, "{report:#}");
    assert_eq!(ops[0]["action"], "create-instances");
    assert_eq!(ops[0]["status"], "SUCCEEDED");
    assert_eq!(ops[0]["instances"], 34);
    assert_eq!(ops[0]["failures"], json!([]));
    assert!(
        run.stderr.contains("stack set created") && run.stderr.contains("SUCCEEDED"),
        "progress goes to stderr:\n{}",
        run.stderr
    );

    // Independently: exactly the governed accounts × regions, and a member stack in each of
    // them, none in the sandboxes or the suspended account. moto ignores our OperationId and
    // assigns its own: the report names the operation StackSets actually ran.
    let governed = governed(&org);
    let regions = ["us-east-1", "eu-west-1"];
    let seen = inspect(&moto, STACK_SET, &all_accounts(&org), &regions);
    assert_eq!(seen.instances, grid(&governed, &regions));
    assert_member_stacks(&seen, &grid(&governed, &regions));
    let reported = ops[0]["operation_id"].as_str().unwrap().to_string();
    assert_eq!(
        seen.operations,
        [(reported, "CREATE".to_string(), "SUCCEEDED".to_string())]
    );
    let dev_legacy = account_id(&org, "dev-legacy");
    assert!(!governed.contains(&dev_legacy));

    // Planning again finds nothing to do; the suspended account is listed as skipped.
    assert_plan_is_clean(&moto, &ws);
    let (plan, summary) = plan_json(&moto, &ws);
    assert_eq!(plan["action"], "none");
    assert_eq!(plan["existing_instances"], 34);
    assert_eq!(summary["operations"], 0);
    assert_eq!(
        plan["skipped"],
        json!([{"account": dev_legacy, "account_name": "dev-legacy", "reason": "suspended"}])
    );

    // A second apply makes no mutating call: moto's objects and StackSets' operations are as
    // they were.
    let before = moto.state();
    let run = stackfleet(&moto, ws.path(), &["apply", "--auto-approve"]);
    run.assert_code(0);
    assert!(
        run.stderr
            .contains("No changes: StackSets already matches fleet.toml."),
        "{}",
        run.stderr
    );
    assert_eq!(run.stdout, "");
    let run = stackfleet(
        &moto,
        ws.path(),
        &["apply", "--auto-approve", "--output", "json"],
    );
    run.assert_code(0);
    assert_eq!(run.json(), json!({"converged": true, "stack_sets": []}));
    assert!(before == moto.state(), "a no-op apply changed moto's state");
    let after = inspect(&moto, STACK_SET, &[], &[]);
    assert_eq!(after.operations, seen.operations);
    assert_eq!(after.instances, seen.instances);
}

#[test]
fn adding_a_region_creates_it_in_every_governed_account_in_one_operation() {
    let (moto, org, ws, first) = rolled_out_example();
    let governed = governed(&org);
    ws.edit(
        "fleet.toml",
        r#"regions = ["us-east-1", "eu-west-1"]"#,
        r#"regions = ["us-east-1", "eu-west-1", "ap-southeast-2"]"#,
    );

    let (plan, summary) = plan_json(&moto, &ws);
    assert_eq!(plan["action"], "none");
    assert_eq!(summary["create_instances"], 17);
    assert_eq!(summary["delete_instances"], 0);
    assert_eq!(summary["operations"], 1);
    assert_eq!(
        without_ids(&plan),
        json!([operation(
            "create-instances",
            &governed,
            &["ap-southeast-2"]
        )])
    );

    let (done, ids) = apply_json(&moto, &ws, &[]);
    assert_eq!(done, [("create-instances".to_string(), 17)]);
    let seen = inspect(&moto, STACK_SET, &governed, &["ap-southeast-2"]);
    assert_eq!(seen.instances.len(), 51);
    assert_eq!(
        seen.instances,
        grid(&governed, &["us-east-1", "eu-west-1", "ap-southeast-2"])
    );
    assert_member_stacks(&seen, &grid(&governed, &["ap-southeast-2"]));
    assert_operations(&seen, &first, &ids);
    assert_plan_is_clean(&moto, &ws);
}

#[test]
fn removing_a_region_deletes_only_its_instances_and_needs_allow_delete() {
    let (moto, org, ws, first) = rolled_out_example();
    let governed = governed(&org);
    ws.edit(
        "fleet.toml",
        r#"regions = ["us-east-1", "eu-west-1"]"#,
        r#"regions = ["us-east-1"]"#,
    );

    let (plan, summary) = plan_json(&moto, &ws);
    assert_eq!(summary["delete_instances"], 17);
    assert_eq!(summary["create_instances"], 0);
    assert_eq!(
        without_ids(&plan),
        json!([operation("delete-instances", &governed, &["eu-west-1"])])
    );

    // Without --allow-delete: refused before any change.
    let before = moto.state();
    let run = stackfleet(&moto, ws.path(), &["apply", "--auto-approve"]);
    run.assert_code(1);
    assert!(
        run.stderr
            .contains("the plan deletes 17 instances in 17 accounts; nothing was changed")
            && run.stderr.contains("rerun with --allow-delete"),
        "{}",
        run.stderr
    );
    assert_eq!(run.stdout, "");
    assert!(
        before == moto.state(),
        "a refused apply changed moto's state"
    );

    let (done, ids) = apply_json(&moto, &ws, &["--allow-delete"]);
    assert_eq!(done, [("delete-instances".to_string(), 17)]);
    let seen = inspect(&moto, STACK_SET, &governed, &["us-east-1", "eu-west-1"]);
    assert_eq!(seen.instances, grid(&governed, &["us-east-1"]));
    // The member stacks went with the instances, in eu-west-1 only.
    assert_member_stacks(&seen, &grid(&governed, &["us-east-1"]));
    // The first rollout and the delete: the refused apply started nothing.
    assert_operations(&seen, &first, &ids);
    assert_plan_is_clean(&moto, &ws);
}

#[test]
fn excluding_an_ou_deletes_exactly_its_instances_and_coverage_shows_them_excluded() {
    let (moto, org, ws, _) = rolled_out_example();
    let mut dev: Vec<String> = [
        "dev-payments",
        "dev-orders",
        "dev-catalog",
        "dev-identity",
        "dev-data",
    ]
    .iter()
    .map(|n| account_id(&org, n))
    .collect();
    dev.sort();
    let remaining: Vec<String> = governed(&org)
        .into_iter()
        .filter(|a| !dev.contains(a))
        .collect();
    assert_eq!(remaining.len(), 12);
    ws.edit(
        "fleet.toml",
        r#"exclude_organizational_units = ["/Workloads/Sandbox"]"#,
        r#"exclude_organizational_units = ["/Workloads/Sandbox", "/Workloads/Dev"]"#,
    );

    let (plan, summary) = plan_json(&moto, &ws);
    assert_eq!(summary["delete_instances"], 10);
    assert_eq!(summary["create_instances"], 0);
    assert_eq!(
        without_ids(&plan),
        json!([operation(
            "delete-instances",
            &dev,
            &["eu-west-1", "us-east-1"]
        )])
    );

    // For people: the operation's row and the verdict.
    let run = stackfleet(
        &moto,
        ws.path(),
        &["apply", "--auto-approve", "--allow-delete"],
    );
    run.assert_code(0);
    let row = run
        .stdout
        .lines()
        .find(|l| l.contains("delete instances"))
        .unwrap_or_else(|| panic!("no operation row:\n{}", run.stdout));
    assert!(
        row.contains(STACK_SET) && row.contains(" 10 ") && row.contains("SUCCEEDED"),
        "{row}"
    );
    assert!(
        run.stdout
            .contains("Apply complete: the fleet matches fleet.toml."),
        "{}",
        run.stdout
    );
    let regions = ["us-east-1", "eu-west-1"];
    let seen = inspect(&moto, STACK_SET, &dev, &regions);
    assert_eq!(seen.instances, grid(&remaining, &regions));
    assert_member_stacks(&seen, &[]);
    assert_plan_is_clean(&moto, &ws);

    let run = stackfleet(&moto, ws.path(), &["coverage", "--output", "json"]);
    run.assert_code(0);
    let coverage = run.json();
    let cells = coverage["stack_sets"][0]["cells"]
        .as_array()
        .expect("cells");
    for account in &dev {
        for region in regions {
            let cell = cells
                .iter()
                .find(|c| c["account"] == *account && c["region"] == region)
                .unwrap_or_else(|| panic!("no coverage cell for {account} {region}"));
            assert_eq!(cell["status"], "excluded", "{cell}");
            assert_eq!(cell["reason"], "excluded by fleet.toml", "{cell}");
            assert_eq!(cell["required"], false, "{cell}");
            assert_eq!(cell["ou_path"], "/Workloads/Dev", "{cell}");
        }
    }
    let dev_legacy = account_id(&org, "dev-legacy");
    assert!(
        cells
            .iter()
            .filter(|c| c["account"] == dev_legacy)
            .all(|c| c["status"] == "suspended"),
        "a suspended account stays suspended, excluded or not"
    );
    assert_eq!(coverage["summary"]["required"], 24);
    assert_eq!(coverage["summary"]["covered"], 24);
    assert_eq!(coverage["summary"]["percent"], 100.0);
}

/// A fleet of the marker template over /Prod, which holds an active account and two suspended
/// ones; one of those still has an instance from before it was closed.
const SUSPENDED_FLEET: &str = r#"name = "baseline"

[organization]
home_region = "us-east-1"
management_account = "123456789012"

[[stack_sets]]
name = "marker"
template = "templates/marker.yaml"
permission_model = "self-managed"
regions = ["us-east-1", "eu-west-1"]
parameters = { Team = "security" }

[stack_sets.targets]
organizational_units = ["/Prod"]
"#;

#[test]
fn suspended_accounts_are_skipped_and_their_instances_left_alone() {
    let moto = Moto::start();
    let org = seed(
        &moto,
        json!({
            "seed": 17,
            "ous": ["/Prod"],
            "accounts": [
                {"name": "prod-a", "ou": "/Prod"},
                {"name": "closed-new", "ou": "/Prod", "suspended": true},
                {"name": "closed-old", "ou": "/Prod"},
            ],
            "stack_sets": [{
                "name": "marker",
                "template_body": MARKER_TEMPLATE,
                "parameters": {"Team": "security"},
                "tags": {"stackfleet:fleet": "baseline"},
                "capabilities": [],
                "instances": [{"account": "closed-old", "regions": ["us-east-1"]}],
            }],
        }),
    );
    let (prod_a, closed_new, closed_old) = (
        account_id(&org, "prod-a"),
        account_id(&org, "closed-new"),
        account_id(&org, "closed-old"),
    );
    // closed-old got its instance while active; StackSets skips suspended accounts, so it is
    // closed only now.
    boto3(
        &moto,
        r#"client("organizations").close_account(AccountId=ARGS)"#,
        json!(closed_old),
    );
    let ws = Workspace::new()
        .with_marker_template()
        .with_fleet(SUSPENDED_FLEET);

    let run = stackfleet(
        &moto,
        ws.path(),
        &["apply", "--auto-approve", "--output", "json"],
    );
    run.assert_code(0);
    let report = run.json();
    assert_eq!(report["converged"], true);
    let ops = &report["stack_sets"][0]["operations"];
    assert_eq!(ops.as_array().map(Vec::len), Some(1), "{report:#}");
    assert_eq!(ops[0]["action"], "create-instances");
    assert_eq!(ops[0]["instances"], 2);

    let mut expected = vec![
        (prod_a.clone(), "eu-west-1".to_string()),
        (prod_a.clone(), "us-east-1".to_string()),
        (closed_old.clone(), "us-east-1".to_string()),
    ];
    expected.sort();
    let seen = inspect(
        &moto,
        "marker",
        &[closed_new.clone(), closed_old.clone()],
        &["us-east-1", "eu-west-1"],
    );
    assert_eq!(seen.instances, expected);
    // The closed account's stack is still there; the other closed account got none.
    let member = "StackSet:marker CREATE_COMPLETE".to_string();
    assert_eq!(seen.stacks[&format!("{closed_old}/us-east-1")], [member]);
    for cell in [
        format!("{closed_old}/eu-west-1"),
        format!("{closed_new}/us-east-1"),
        format!("{closed_new}/eu-west-1"),
    ] {
        assert_eq!(seen.stacks[&cell], [] as [String; 0], "{cell}");
    }

    let run = stackfleet(
        &moto,
        ws.path(),
        &["plan", "--output", "json", "--detailed-exitcode"],
    );
    run.assert_code(0);
    let plan = run.json();
    let mut skipped = vec![
        json!({"account": closed_new, "account_name": "closed-new", "reason": "suspended"}),
        json!({"account": closed_old, "account_name": "closed-old", "reason": "suspended"}),
    ];
    skipped.sort_by_key(|s| s["account"].as_str().unwrap().to_string());
    assert_eq!(plan["stack_sets"][0]["skipped"], json!(skipped));
    assert_eq!(plan["stack_sets"][0]["delete_instances"], json!([]));

    let table = stackfleet(&moto, ws.path(), &["plan"]);
    table.assert_code(0);
    for name in ["closed-new", "closed-old"] {
        assert!(table.stdout.contains(name), "{}", table.stdout);
    }
}

#[test]
fn saved_plan_applies_while_current_and_is_refused_once_stale() {
    let moto = Moto::start();
    let org = seed_example(&moto);
    let ws = example_marker_workspace();
    let governed = governed(&org);

    let run = stackfleet(&moto, ws.path(), &["plan", "--out", "plan.json", "--quiet"]);
    run.assert_code(0);
    let run = stackfleet(
        &moto,
        ws.path(),
        &["apply", "plan.json", "--auto-approve", "--output", "json"],
    );
    run.assert_code(0);
    let report = run.json();
    assert_eq!(report["converged"], true, "{report:#}");
    assert_eq!(report["stack_sets"][0]["operations"][0]["instances"], 34);
    assert!(
        run.stderr.contains("plan plan.json is current"),
        "{}",
        run.stderr
    );
    assert_plan_is_clean(&moto, &ws);

    // A new plan, then the organization changes under it: an account joins a targeted OU.
    ws.edit(
        "fleet.toml",
        r#"regions = ["us-east-1", "eu-west-1"]"#,
        r#"regions = ["us-east-1", "eu-west-1", "ap-southeast-2"]"#,
    );
    let run = stackfleet(&moto, ws.path(), &["plan", "--out", "plan.json", "--quiet"]);
    run.assert_code(0);
    let changed = boto3(
        &moto,
        r#"
import time
org = client("organizations")
status = org.create_account(AccountName="prod-newcomer", Email="prod-newcomer@example.com")["CreateAccountStatus"]
while status["State"] == "IN_PROGRESS":
    time.sleep(0.1)
    status = org.describe_create_account_status(CreateAccountRequestId=status["Id"])["CreateAccountStatus"]
assert status["State"] == "SUCCEEDED", status
org.move_account(AccountId=status["AccountId"], SourceParentId=ARGS["root"], DestinationParentId=ARGS["ou"])
ops = client("cloudformation").list_stack_set_operations(StackSetName=ARGS["name"])["Summaries"]
result = {"account": status["AccountId"], "instances": instances(ARGS["name"]),
          "operations": sorted(o["OperationId"] for o in ops)}
"#,
        json!({"root": org["root_id"], "ou": org["ous"]["/Workloads/Prod"], "name": STACK_SET}),
    );
    let newcomer = changed["account"].as_str().expect("account id").to_string();
    // The saved plan's apply was carried out: every governed cell, in one operation.
    let pairs = |v: &Value| -> Vec<(String, String)> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|p| (p[0].as_str().unwrap().into(), p[1].as_str().unwrap().into()))
            .collect()
    };
    assert_eq!(
        pairs(&changed["instances"]),
        grid(&governed, &["us-east-1", "eu-west-1"])
    );
    assert_eq!(changed["operations"].as_array().map(Vec::len), Some(1));

    let before = moto.state();
    let run = stackfleet(&moto, ws.path(), &["apply", "plan.json", "--auto-approve"]);
    run.assert_code(1);
    assert!(
        run.stderr
            .contains("the organization or the stack sets changed since plan plan.json was made")
            && run.stderr.contains("nothing was applied")
            && run
                .stderr
                .contains("run `stackfleet plan --out plan.json` again"),
        "{}",
        run.stderr
    );
    assert_eq!(run.stdout, "");
    assert!(before == moto.state(), "a stale plan changed moto's state");
    let seen = inspect(&moto, STACK_SET, &[], &[]);
    let ids: Vec<String> = seen
        .operations
        .iter()
        .map(|(id, _, _)| id.clone())
        .collect();
    assert_eq!(json!(ids), changed["operations"], "no operation started");
    assert_eq!(seen.instances, grid(&governed, &["us-east-1", "eu-west-1"]));

    // Planning again picks the newcomer up.
    let (plan, summary) = plan_json(&moto, &ws);
    assert_eq!(summary["create_instances"], 17 + 3);
    assert!(plan.to_string().contains(&newcomer));
}

#[test]
fn without_a_terminal_apply_refuses_unless_auto_approved() {
    let moto = Moto::start();
    seed_example(&moto);
    let ws = example_workspace();
    let run = stackfleet(&moto, ws.path(), &["plan", "--out", "plan.json", "--quiet"]);
    run.assert_code(0);

    // moto's state holds stack sets and stacks: any creation would show.
    let before = moto.state();
    for args in [
        &["apply"][..],
        &["apply", "plan.json"],
        &["apply", "--output", "json"],
    ] {
        let run = stackfleet(&moto, ws.path(), args);
        run.assert_code(1);
        assert!(
            run.stderr.contains(
                "refusing to apply without confirmation: there is no terminal to ask on; review the plan and pass --auto-approve"
            ),
            "{args:?}: {}",
            run.stderr
        );
        assert_eq!(run.stdout, "", "{args:?}");
    }
    assert!(
        before == moto.state(),
        "a refused apply changed moto's state"
    );
    assert!(
        !before.to_string().contains("s3-policy-monitor"),
        "no stack set was created"
    );
}

#[test]
fn an_edited_saved_plan_is_refused() {
    let moto = Moto::start();
    seed_example(&moto);
    let ws = example_marker_workspace();
    stackfleet(&moto, ws.path(), &["plan", "--out", "plan.json", "--quiet"]).assert_code(0);
    let original = std::fs::read_to_string(ws.path().join("plan.json")).unwrap();
    let plan: Value = serde_json::from_str(&original).unwrap();

    // Each edit keeps the fingerprint, so only planning again can catch it.
    let mut fewer = plan.clone();
    fewer["stack_sets"][0]["operations"][0]["accounts"]
        .as_array_mut()
        .unwrap()
        .truncate(1);
    let mut summary = plan.clone();
    summary["summary"]["delete_instances"] = json!(0);
    summary["stack_sets"][0]["operations"][0]["action"] = json!("delete-instances");
    let mut role = plan.clone();
    role["organization"]["assume_role_arn"] = json!("arn:aws:iam::123456789012:role/Elsewhere");
    let mut template = plan.clone();
    template["stack_sets"][0]["desired"]["template_body"] = json!("Resources: {}\n");
    for (what, edited) in [
        ("operations", fewer),
        ("operation action", summary),
        ("role", role),
        ("template", template),
    ] {
        std::fs::write(
            ws.path().join("plan.json"),
            serde_json::to_string_pretty(&edited).unwrap(),
        )
        .unwrap();
        let before = moto.state();
        let run = stackfleet(&moto, ws.path(), &["apply", "plan.json", "--auto-approve"]);
        run.assert_code(1);
        assert!(
            run.stderr
                .contains("plan plan.json is not what fleet.toml and the current state give")
                && run.stderr.contains("nothing was applied"),
            "{what}: {}",
            run.stderr
        );
        assert!(
            before == moto.state(),
            "{what}: an edited plan changed moto's state"
        );
    }
    // The file as saved still applies.
    std::fs::write(ws.path().join("plan.json"), &original).unwrap();
    stackfleet(&moto, ws.path(), &["apply", "plan.json", "--auto-approve"]).assert_code(0);
}
