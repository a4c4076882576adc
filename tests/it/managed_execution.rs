//! ManagedExecution end to end on the emulator: stack sets stackfleet creates get it (unless
//! fleet.toml says otherwise), a repair whose instances fall into two operations runs them at
//! once with it and one after the other without it, each exactly once, and a change of the
//! setting is shown in the plan and applied.

use serde_json::{Value, json};

use crate::harness::{Moto, Workspace, account_id, boto3, seed, stackfleet};

const FLEET: &str = r#"name = "baseline"

[organization]
home_region = "us-east-1"

[defaults]
regions = ["us-east-1", "eu-west-1"]
EXTRA

[defaults.rollout]
max_concurrent_count = 1
failure_tolerance_count = 0

[[stack_sets]]
name = "monitor"
template = "templates/marker.yaml"
permission_model = "self-managed"
parameters = { Team = "security" }

[stack_sets.targets]
organizational_units = ["/Workloads"]
"#;

fn fleet(extra: &str) -> String {
    FLEET.replace("EXTRA", extra)
}

/// A small organization: two accounts under /Workloads.
fn start() -> (Moto, Value) {
    let moto = Moto::start();
    let org = seed(
        &moto,
        json!({"accounts": [
            {"name": "w-1", "ou": "/Workloads"},
            {"name": "w-2", "ou": "/Workloads"},
        ]}),
    );
    (moto, org)
}

fn managed_execution(moto: &Moto) -> bool {
    boto3(
        moto,
        "result = client('cloudformation').describe_stack_set(StackSetName='monitor')\
         ['StackSet'].get('ManagedExecution', {}).get('Active', False)",
        json!(null),
    )
    .as_bool()
    .expect("a boolean")
}

/// Deletes (w-1, us-east-1) and (w-2, eu-west-1) out of band, which no one rectangle covers, at
/// once; then slows the emulator down so that each instance takes 0.3 s.
fn remove_a_diagonal(moto: &Moto, org: &Value) {
    let (a1, a2) = (account_id(org, "w-1"), account_id(org, "w-2"));
    boto3(
        moto,
        r#"
import time, urllib.request
cf = client('cloudformation')
for account, region in ARGS:
    op = cf.delete_stack_instances(StackSetName='monitor', Accounts=[account], Regions=[region],
                                   RetainStacks=False)['OperationId']
    while cf.describe_stack_set_operation(StackSetName='monitor', OperationId=op)\
            ['StackSetOperation']['Status'] in ('QUEUED', 'RUNNING'):
        time.sleep(0.05)
urllib.request.urlopen(urllib.request.Request(ENDPOINT + '/_emulator/config',
    data=b'{"time_scale": 0.01}', headers={'Content-Type': 'application/json'})).read()
result = None
"#,
        json!([[a1, "us-east-1"], [a2, "eu-west-1"]]),
    );
}

/// The stack set's CREATE operations, oldest first: (creation, end) in seconds.
fn creates(moto: &Moto) -> Vec<(f64, f64)> {
    let ops = boto3(
        moto,
        "ops = client('cloudformation').list_stack_set_operations(StackSetName='monitor')\
         ['Summaries']\n\
         result = sorted([o['CreationTimestamp'].timestamp(), o['EndTimestamp'].timestamp()] \
         for o in ops if o['Action'] == 'CREATE' and o['Status'] == 'SUCCEEDED')",
        json!(null),
    );
    ops.as_array()
        .expect("a list")
        .iter()
        .map(|o| (o[0].as_f64().unwrap(), o[1].as_f64().unwrap()))
        .collect()
}

/// Plans the repair (two create operations), applies it, and returns the two new creates.
fn repair(moto: &Moto, org: &Value, ws: &Workspace) -> [(f64, f64); 2] {
    remove_a_diagonal(moto, org);
    let before = creates(moto).len();
    let plan = stackfleet(moto, ws.path(), &["plan", "--output", "json"]);
    plan.assert_code(0);
    let ops = plan.json()["stack_sets"][0]["operations"].clone();
    assert_eq!(ops.as_array().map(Vec::len), Some(2), "{ops:#}");
    // The table says which operations start together: the same number.
    let table = stackfleet(moto, ws.path(), &["plan"]);
    let together = plan.json()["stack_sets"][0]["managed_execution"] == json!(true);
    assert_eq!(
        table
            .stdout
            .contains("the same # start together (ManagedExecution)"),
        together,
        "{}",
        table.stdout
    );
    stackfleet(moto, ws.path(), &["apply", "--auto-approve"]).assert_code(0);
    let after = creates(moto);
    // Each step exactly once: two new operations, no copy.
    assert_eq!(after.len(), before + 2, "{after:?}");
    stackfleet(moto, ws.path(), &["plan", "--detailed-exitcode"]).assert_code(0);
    [after[before], after[before + 1]]
}

#[test]
fn with_managed_execution_a_repair_runs_its_operations_at_once_each_once() {
    let (moto, org) = start();
    let ws = Workspace::new()
        .with_marker_template()
        .with_fleet(&fleet(""));
    stackfleet(&moto, ws.path(), &["apply", "--auto-approve"]).assert_code(0);
    assert!(managed_execution(&moto), "created with it on by default");
    let [first, second] = repair(&moto, &org, &ws);
    // Both ran together: the second started before the first ended.
    assert!(second.0 < first.1, "{first:?} {second:?}");
}

#[test]
fn without_it_the_operations_run_one_after_another_and_turning_it_off_is_planned() {
    let (moto, org) = start();
    let ws = Workspace::new()
        .with_marker_template()
        .with_fleet(&fleet(""));
    stackfleet(&moto, ws.path(), &["apply", "--auto-approve"]).assert_code(0);
    ws.edit(
        "fleet.toml",
        "eu-west-1\"]\n",
        "eu-west-1\"]\nmanaged_execution = false\n",
    );
    let plan = stackfleet(&moto, ws.path(), &["plan", "--output", "json"]);
    plan.assert_code(0);
    let set = &plan.json()["stack_sets"][0];
    assert_eq!(
        set["changes"],
        json!([{"field": "managed_execution", "before": "active", "after": "inactive"}]),
        "{set:#}"
    );
    stackfleet(&moto, ws.path(), &["apply", "--auto-approve"]).assert_code(0);
    assert!(!managed_execution(&moto));
    let [first, second] = repair(&moto, &org, &ws);
    assert!(second.0 >= first.1, "{first:?} {second:?}");
}
