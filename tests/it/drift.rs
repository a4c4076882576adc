//! `stackfleet drift` end to end. On the emulator: `--no-detect` reports what StackSets lists
//! (NOT_CHECKED before any detection), a detection is a DETECT_DRIFT operation that finds the
//! fresh deployment in sync, and an event rule changed in a member account is reported DRIFTED
//! down to the changed property. Plain moto implements neither DetectStackSetDrift nor
//! ListStackInstanceResourceDrifts (it answers HTTP 500 without an AWS error): there the command
//! fails fast and cleanly.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::{
    MARKER_TEMPLATE, Moto, Workspace, account_id, boto3, seed, stackfleet, stackfleet_env,
};

const MANAGEMENT: &str = "123456789012";

const FLEET: &str = r#"name = "baseline"

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
accounts = ["123456789012"]
"#;

/// Two accounts in /Prod and the management account, all deployed in both regions.
fn deployed(moto: Moto) -> (Moto, Value, Workspace) {
    let org = seed(
        &moto,
        json!({
            "seed": 23,
            "ous": ["/Prod"],
            "accounts": [{"name": "prod-a", "ou": "/Prod"}, {"name": "prod-b", "ou": "/Prod"}],
            "stack_sets": [{
                "name": "marker",
                "template_body": MARKER_TEMPLATE,
                "parameters": {"Team": "security"},
                "tags": {"stackfleet:fleet": "baseline"},
                "capabilities": [],
                "instances": [{
                    "accounts": [MANAGEMENT, "prod-a", "prod-b"],
                    "regions": ["us-east-1", "eu-west-1"],
                }],
            }],
        }),
    );
    let ws = Workspace::new().with_marker_template().with_fleet(FLEET);
    (moto, org, ws)
}

/// The actions of the stack set's operations, as boto3 lists them.
fn operation_actions(moto: &Moto) -> Value {
    boto3(
        moto,
        r#"
summaries = client("cloudformation").list_stack_set_operations(StackSetName="marker")["Summaries"]
result = sorted(s["Action"] for s in summaries)
"#,
        json!(null),
    )
}

#[test]
fn detection_fails_fast_on_an_endpoint_without_it() {
    let (moto, _, ws) = deployed(Moto::plain());
    detection_on_an_endpoint_without_it_fails_fast_and_cleanly(&moto, &ws);
}

#[test]
fn no_detect_reports_not_checked_and_detection_finds_the_deployment_in_sync() {
    let (moto, org, ws) = deployed(Moto::start());
    no_detect_reports_every_instance_as_not_checked(&moto, &org, &ws);

    let run = stackfleet(
        &moto,
        ws.path(),
        &["drift", "--output", "json", "--fail-on-drift"],
    );
    run.assert_code(0);
    let report = run.json();
    assert_eq!(report["drifted_instances"], 0, "{report:#}");
    assert_eq!(report["stack_sets"][0]["detection_status"], "SUCCEEDED");
    let instances = report["stack_sets"][0]["instances"]
        .as_array()
        .expect("instances");
    assert_eq!(instances.len(), 6, "{report:#}");
    for instance in instances {
        assert_eq!(instance["drift_status"], "IN_SYNC", "{report:#}");
    }
    assert_eq!(operation_actions(&moto), json!(["CREATE", "DETECT_DRIFT"]));
}

/// moto answers DetectStackSetDrift with HTTP 500: one clear error within seconds, nothing on
/// stdout, no detection operation, no change.
fn detection_on_an_endpoint_without_it_fails_fast_and_cleanly(moto: &Moto, ws: &Workspace) {
    let before = moto.state();

    // As a user runs it: stackfleet's own retry budget (no AWS_MAX_ATTEMPTS), and backtraces on
    // should anything panic. JSON output, so that a partial report would show on stdout.
    let started = Instant::now();
    let run = stackfleet_env(
        moto,
        ws.path(),
        &["drift", "--output", "json"],
        &[("AWS_MAX_ATTEMPTS", None), ("RUST_BACKTRACE", Some("1"))],
    );
    let took = started.elapsed();
    run.assert_code(1);
    assert!(
        took < Duration::from_secs(10),
        "drift took {took:?} to fail"
    );
    assert!(
        run.stderr
            .contains("does not implement CloudFormation DetectStackSetDrift"),
        "{}",
        run.stderr
    );
    for bad in ["panicked", "backtrace", "RUST_BACKTRACE"] {
        assert!(!run.stderr.contains(bad), "{bad} in:\n{}", run.stderr);
    }
    assert_eq!(run.stdout, "", "no partial report on stdout");
    assert!(
        before == moto.state(),
        "a failed detection changed moto's state"
    );
    // The seed's one CreateStackInstances, and no DETECT_DRIFT.
    assert_eq!(operation_actions(moto), json!(["CREATE"]));
}

/// `--no-detect` reads what StackSets lists: no detection ran yet, so every instance is
/// NOT_CHECKED.
fn no_detect_reports_every_instance_as_not_checked(moto: &Moto, org: &Value, ws: &Workspace) {
    let before = moto.state();

    let run = stackfleet(
        moto,
        ws.path(),
        &[
            "drift",
            "--no-detect",
            "--output",
            "json",
            "--fail-on-drift",
        ],
    );
    // Nothing was checked: --fail-on-drift fails (1, not 2: it is not drift), with the reason.
    run.assert_code(1);
    assert!(
        run.stderr.contains(
            "error: --fail-on-drift: drift is unknown, because not everything was checked:\n  - marker: no drift detection has ever run\n  - marker: 6 instances are NOT_CHECKED"
        ),
        "{}",
        run.stderr
    );
    let report = run.json();
    let mut accounts = [
        MANAGEMENT.to_string(),
        account_id(org, "prod-a"),
        account_id(org, "prod-b"),
    ];
    accounts.sort();
    let instances: Vec<Value> = accounts
        .iter()
        .flat_map(|a| {
            ["eu-west-1", "us-east-1"].map(|r| {
                json!({"account": a, "region": r, "drift_status": "NOT_CHECKED", "resources": []})
            })
        })
        .collect();
    let mut listed = report["stack_sets"][0]["instances"].clone();
    if let Some(list) = listed.as_array_mut() {
        list.sort_by_key(|i| (i["account"].to_string(), i["region"].to_string()));
    }
    assert_eq!(listed, json!(instances));
    let mut keys: Vec<&str> = report["stack_sets"][0]
        .as_object()
        .expect("a stack set")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        ["detection_status", "instances", "name", "operation_id"],
        "{report:#}"
    );
    assert_eq!(report["drifted_instances"], 0);
    assert_eq!(report["complete"], false);
    assert_eq!(
        report["not_checked"],
        json!([
            "marker: no drift detection has ever run",
            "marker: 6 instances are NOT_CHECKED"
        ])
    );
    assert_eq!(report["missing_stack_sets"], json!([]));
    assert_eq!(report["stack_sets"][0]["name"], "marker");
    // No drift detection has run yet: none to report.
    assert_eq!(report["stack_sets"][0]["operation_id"], Value::Null);
    assert_eq!(report["stack_sets"][0]["detection_status"], Value::Null);
    assert_eq!(
        report.as_object().map(|o| o.len()),
        Some(5),
        "drifted_instances, complete, not_checked, missing_stack_sets and stack_sets only: {report:#}"
    );

    let table = stackfleet(moto, ws.path(), &["drift", "--no-detect"]);
    table.assert_code(0);
    assert!(
        table.stdout.contains("never run")
            && table.stdout.contains(
                "Drift unknown: no drift was found in what was checked, but not everything was checked.\nNot checked:\n  - marker: no drift detection has ever run\n"
            )
            && !table.stdout.contains("No drift"),
        "{}",
        table.stdout
    );
    let markdown = stackfleet(
        moto,
        ws.path(),
        &["drift", "--no-detect", "--output", "markdown", "--quiet"],
    );
    markdown.assert_code(0);
    assert!(
        markdown
            .stdout
            .starts_with("### stackfleet drift: drift unknown, not everything was checked\n")
            && markdown
                .stdout
                .contains("| `marker` | never run | 0 | 0 | 6 | 0 |"),
        "{}",
        markdown.stdout
    );

    assert!(before == moto.state(), "--no-detect changed moto's state");
    assert_eq!(
        operation_actions(moto),
        json!(["CREATE"]),
        "no DETECT_DRIFT"
    );
}

const MONITOR_FLEET: &str = r#"name = "baseline"

[organization]
home_region = "us-east-1"
management_account = "123456789012"

[[stack_sets]]
name = "monitor"
template = "templates/s3-policy-monitor.yaml"
permission_model = "self-managed"
regions = ["us-east-1"]
parameters = { NotificationEmail = "secops@example.com" }

[stack_sets.targets]
organizational_units = ["/Prod"]
"#;

/// The monitor deployed by `stackfleet apply`; then, as one member account, its event rule is
/// narrowed with the ordinary EventBridge API. Detection finds exactly that instance DRIFTED, with
/// the rule MODIFIED at the changed event name, and `--fail-on-drift` exits 2.
#[test]
fn a_rule_changed_in_a_member_account_is_reported_as_drift() {
    let moto = Moto::start();
    let org = seed(
        &moto,
        json!({
            "seed": 29,
            "ous": ["/Prod"],
            "accounts": [{"name": "prod-a", "ou": "/Prod"}, {"name": "prod-b", "ou": "/Prod"}],
        }),
    );
    let ws = Workspace::new()
        .copy_from_repo("templates/s3-policy-monitor.yaml")
        .with_fleet(MONITOR_FLEET);
    stackfleet(&moto, ws.path(), &["apply", "--auto-approve", "--quiet"]).assert_code(0);

    let prod_a = account_id(&org, "prod-a");
    boto3(
        &moto,
        r#"
events = client("events", account=ARGS)
[rule] = events.list_rules()["Rules"]
pattern = json.loads(rule["EventPattern"])
pattern["detail"]["eventName"] = ["PutBucketPolicy"]
events.put_rule(Name=rule["Name"], EventPattern=json.dumps(pattern), State=rule["State"],
                Description=rule.get("Description", ""))
"#,
        json!(prod_a),
    );

    let run = stackfleet(
        &moto,
        ws.path(),
        &["drift", "--output", "json", "--fail-on-drift"],
    );
    run.assert_code(2);
    let report = run.json();
    assert_eq!(report["drifted_instances"], 1, "{report:#}");
    let instances = report["stack_sets"][0]["instances"]
        .as_array()
        .expect("instances");
    for instance in instances {
        let expected = if instance["account"] == prod_a.as_str() {
            "DRIFTED"
        } else {
            "IN_SYNC"
        };
        assert_eq!(instance["drift_status"], expected, "{report:#}");
    }
    let drifted = instances
        .iter()
        .find(|i| i["account"] == prod_a.as_str())
        .expect("prod-a's instance");
    let rule = drifted["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .find(|r| r["resource_type"] == "AWS::Events::Rule")
        .unwrap_or_else(|| panic!("the rule among the drifted resources: {report:#}"));
    assert_eq!(rule["status"], "MODIFIED", "{report:#}");
    assert!(
        rule["differences"]
            .as_array()
            .expect("differences")
            .iter()
            .any(|d| d["path"]
                .as_str()
                .unwrap_or("")
                .starts_with("/EventPattern/detail/eventName")),
        "{report:#}"
    );

    // The same result as a 100-column terminal shows it (issue 16 item 6): the last detection's,
    // read again without detecting.
    let narrow = stackfleet_env(
        &moto,
        ws.path(),
        &["drift", "--no-detect", "--quiet"],
        &[("COLUMNS", Some("100"))],
    );
    narrow.assert_code(0);
    crate::plan::assert_fits(&narrow.stdout, 100);
    crate::plan::assert_whole_words(
        &narrow.stdout,
        &[
            "Resource", "Drift", "Property", "Expected", "Actual", "DRIFTED",
        ],
    );
    let id = report["stack_sets"][0]["operation_id"]
        .as_str()
        .unwrap_or("never")
        .to_string();
    insta::assert_snapshot!(
        "drifted_rule_table_100_columns",
        narrow.snapshot().replace(&id, "DETECTION-ID")
    );
}
