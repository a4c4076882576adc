//! `stackfleet doctor` and effective coverage end to end: the example organization with the
//! marker fleet applied (us-east-1 and eu-west-1), and CloudTrail set up by boto3 as a security
//! team would, one situation after the other: no trail, a single-region organization trail, a
//! trail that stopped logging, a multi-region trail without S3 data events, and a healthy one.
//! Each gives doctor's findings and exit code, and coverage's statuses and percentage. A counting
//! proxy shows that doctor calls nothing but reads.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::harness::{Moto, Workspace, boto3, seed_example, stackfleet};
use crate::proxy::{Faults, Proxy};

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
organizational_units = ["/Workloads"]
"#;

/// Sets the organization trail as `ARGS` says (`None`: no trail), from the management account.
/// `ARGS`: `{"multi_region", "logging", "selectors": "default" | "advanced"}`.
const TRAIL: &str = r#"
ct = client("cloudtrail", "us-east-1")
for t in ct.describe_trails(includeShadowTrails=False)["trailList"]:
    ct.delete_trail(Name=t["Name"])
if ARGS is not None:
    s3 = client("s3", "us-east-1")
    s3.create_bucket(Bucket="org-trail-logs")
    ct.create_trail(Name="org-trail", S3BucketName="org-trail-logs",
                    IsMultiRegionTrail=ARGS["multi_region"], IsOrganizationTrail=True)
    if ARGS["logging"]:
        ct.start_logging(Name="org-trail")
    if ARGS["selectors"] == "advanced":
        ct.put_event_selectors(TrailName="org-trail", AdvancedEventSelectors=[
            {"Name": "management", "FieldSelectors": [
                {"Field": "eventCategory", "Equals": ["Management"]}]},
            {"Name": "object writes", "FieldSelectors": [
                {"Field": "eventCategory", "Equals": ["Data"]},
                {"Field": "resources.type", "Equals": ["AWS::S3::Object"]},
                {"Field": "readOnly", "Equals": ["false"]}]},
        ])
result = [t["Name"] for t in ct.describe_trails(includeShadowTrails=True)["trailList"]]
"#;

/// A multi-region, logging organization trail that selects write management events and S3
/// object writes: what the monitor needs everywhere.
pub fn healthy_trail(moto: &Moto) {
    set_trail(
        moto,
        json!({"multi_region": true, "logging": true, "selectors": "advanced"}),
    );
}

fn set_trail(moto: &Moto, args: Value) {
    boto3(moto, TRAIL, args);
}

/// `(check, subject)` → level, from doctor's JSON.
fn levels(doctor: &Value) -> BTreeMap<(String, String), String> {
    doctor["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            (
                (
                    f["check"].as_str().unwrap().to_string(),
                    f["subject"].as_str().unwrap().to_string(),
                ),
                f["level"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn level<'a>(
    levels: &'a BTreeMap<(String, String), String>,
    check: &str,
    subject: &str,
) -> &'a str {
    levels
        .get(&(check.to_string(), subject.to_string()))
        .map(String::as_str)
        .unwrap_or_else(|| panic!("no {check} finding for {subject:?} in {levels:?}"))
}

/// Region → the statuses of its required cells (each once), and the total percentage.
fn coverage_by_region(report: &Value) -> (BTreeMap<String, Vec<String>>, f64) {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for cell in report["stack_sets"][0]["cells"].as_array().expect("cells") {
        if cell["required"] != json!(true) {
            continue;
        }
        let list = out
            .entry(cell["region"].as_str().unwrap().to_string())
            .or_default();
        let status = cell["status"].as_str().unwrap().to_string();
        if !list.contains(&status) {
            list.push(status);
        }
    }
    (out, report["summary"]["percent"].as_f64().expect("percent"))
}

fn doctor(moto: &Moto, ws: &Workspace, code: i32) -> BTreeMap<(String, String), String> {
    let run = stackfleet(moto, ws.path(), &["doctor", "--output", "json"]);
    run.assert_code(code);
    let json = run.json();
    assert_eq!(json["ok"], json!(code == 0), "{json:#}");
    levels(&json)
}

fn coverage(moto: &Moto, ws: &Workspace, extra: &[&str], code: i32) -> Value {
    let mut args = vec!["coverage", "--output", "json"];
    args.extend_from_slice(extra);
    let run = stackfleet(moto, ws.path(), &args);
    run.assert_code(code);
    run.json()
}

#[test]
fn doctor_and_effective_coverage_follow_the_organization_trail() {
    let moto = Moto::start();
    seed_example(&moto);
    let ws = Workspace::new().with_marker_template().with_fleet(FLEET);
    stackfleet(&moto, ws.path(), &["apply", "--auto-approve", "--quiet"]).assert_code(0);

    // No trail: nothing doctor can see records the fleet's accounts.
    set_trail(&moto, Value::Null);
    let found = doctor(&moto, &ws, 2);
    assert_eq!(level(&found, "cloudtrail", "us-east-1"), "fail");
    assert_eq!(level(&found, "cloudtrail", "eu-west-1"), "fail");
    assert_eq!(
        level(&found, "permissions", "organization (plan, coverage)"),
        "ok"
    );
    assert_eq!(
        level(&found, "permissions", "stack sets (plan, coverage)"),
        "ok"
    );
    assert_eq!(level(&found, "administration-role", "marker"), "unchecked");
    // Unverified cells do not fail coverage by default; --require-trail counts them as not covered.
    let report = coverage(&moto, &ws, &[], 0);
    let (regions, percent) = coverage_by_region(&report);
    assert_eq!(regions["us-east-1"], ["unverified"]);
    assert_eq!(regions["eu-west-1"], ["unverified"]);
    assert_eq!(percent, 100.0);
    let strict = coverage(&moto, &ws, &["--require-trail"], 2);
    assert_eq!(coverage_by_region(&strict).1, 0.0);
    assert_eq!(strict["summary"]["require_trail"], json!(true));

    // A single-region organization trail: eu-west-1 is blind.
    set_trail(
        &moto,
        json!({"multi_region": false, "logging": true, "selectors": "default"}),
    );
    let found = doctor(&moto, &ws, 2);
    assert_eq!(level(&found, "cloudtrail", "us-east-1"), "ok");
    assert_eq!(level(&found, "s3-data-events", "us-east-1"), "fail");
    assert_eq!(level(&found, "cloudtrail", "eu-west-1"), "fail");
    let (regions, percent) = coverage_by_region(&coverage(&moto, &ws, &[], 2));
    assert_eq!(regions["us-east-1"], ["covered"]);
    assert_eq!(regions["eu-west-1"], ["blind"]);
    assert_eq!(percent, 50.0);

    // A multi-region trail that stopped logging: every region is blind.
    set_trail(
        &moto,
        json!({"multi_region": true, "logging": false, "selectors": "advanced"}),
    );
    let found = doctor(&moto, &ws, 2);
    assert_eq!(level(&found, "cloudtrail", "us-east-1"), "fail");
    assert_eq!(level(&found, "cloudtrail", "eu-west-1"), "fail");
    let (regions, percent) = coverage_by_region(&coverage(&moto, &ws, &[], 2));
    assert_eq!(regions["us-east-1"], ["blind"]);
    assert_eq!(regions["eu-west-1"], ["blind"]);
    assert_eq!(percent, 0.0);

    // Logging everywhere, but no S3 data events: covered, with a finding on every cell.
    set_trail(
        &moto,
        json!({"multi_region": true, "logging": true, "selectors": "default"}),
    );
    let found = doctor(&moto, &ws, 2);
    assert_eq!(level(&found, "cloudtrail", "eu-west-1"), "ok");
    assert_eq!(level(&found, "s3-data-events", "eu-west-1"), "fail");
    let report = coverage(&moto, &ws, &[], 0);
    let (regions, percent) = coverage_by_region(&report);
    assert_eq!(regions["eu-west-1"], ["covered"]);
    assert_eq!(percent, 100.0);
    let cells = report["stack_sets"][0]["cells"].as_array().unwrap();
    assert!(
        cells
            .iter()
            .filter(|c| c["status"] == "covered")
            .all(|c| c["finding"]
                .as_str()
                .is_some_and(|f| f.contains("PutObjectAcl"))),
        "{cells:#?}"
    );

    // Healthy: multi-region, logging, management events and S3 object writes.
    set_trail(
        &moto,
        json!({"multi_region": true, "logging": true, "selectors": "advanced"}),
    );
    let found = doctor(&moto, &ws, 0);
    for region in ["us-east-1", "eu-west-1"] {
        assert_eq!(level(&found, "cloudtrail", region), "ok");
        assert_eq!(level(&found, "s3-data-events", region), "ok");
    }
    let report = coverage(&moto, &ws, &["--require-trail"], 0);
    let (regions, percent) = coverage_by_region(&report);
    assert_eq!(regions["us-east-1"], ["covered"]);
    assert_eq!(regions["eu-west-1"], ["covered"]);
    assert_eq!(percent, 100.0);
    assert!(
        report["stack_sets"][0]["cells"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c.get("finding").is_none())
    );
}

#[test]
fn doctor_makes_only_read_calls() {
    let moto = Moto::start();
    seed_example(&moto);
    let ws = Workspace::new().with_marker_template().with_fleet(FLEET);
    stackfleet(&moto, ws.path(), &["apply", "--auto-approve", "--quiet"]).assert_code(0);
    set_trail(
        &moto,
        json!({"multi_region": true, "logging": true, "selectors": "advanced"}),
    );
    let proxy = Proxy::start(&moto, Faults::none());
    let run = stackfleet(&proxy, ws.path(), &["doctor"]);
    run.assert_code(0);
    assert!(run.stdout.contains("cloudtrail"), "{}", run.stdout);
    let stats = proxy.stats();
    // STS GetCallerIdentity is a read too, and the only call outside the allow-list's prefixes.
    let mutating: Vec<String> = stats
        .mutating()
        .into_iter()
        .filter(|op| op != "GetCallerIdentity")
        .collect();
    assert!(mutating.is_empty(), "doctor called {mutating:?}");
    for op in [
        "DescribeTrails",
        "GetTrailStatus",
        "GetEventSelectors",
        "DescribeOrganization",
        "ListRegions",
    ] {
        assert!(
            stats.operations().contains(op),
            "{op} not called: {:?}",
            stats.requests()
        );
    }
}

/// A service-managed fleet: doctor reads trusted access from Organizations and reports it until
/// it holds; the delegated administrator is checked only with `call_as = "delegated-admin"`. (moto does not know the StackSets principal in
/// ListDelegatedAdministrators, so the registration itself is judged by the planner's tests.)
#[test]
fn doctor_checks_trusted_access_for_service_managed_fleets() {
    let moto = Moto::start();
    seed_example(&moto);
    healthy_trail(&moto);
    let fleet = FLEET.replace("self-managed", "service-managed").replace(
        "management_account = \"123456789012\"",
        "management_account = \"123456789012\"\ncall_as = \"delegated-admin\"",
    );
    let ws = Workspace::new().with_marker_template().with_fleet(&fleet);
    let found = doctor(&moto, &ws, 2);
    assert_eq!(level(&found, "trusted-access", ""), "fail");
    assert!(found.contains_key(&("delegated-admin".to_string(), "123456789012".to_string())));
    assert!(
        !found
            .keys()
            .any(|(check, _)| check == "administration-role")
    );

    boto3(
        &moto,
        r#"
client("organizations").enable_aws_service_access(
    ServicePrincipal="member.org.stacksets.cloudformation.amazonaws.com")
"#,
        Value::Null,
    );
    // As the management account, with trusted access on, everything holds.
    ws.edit(
        "fleet.toml",
        "call_as = \"delegated-admin\"",
        "call_as = \"self\"",
    );
    let found = doctor(&moto, &ws, 0);
    assert_eq!(level(&found, "trusted-access", ""), "ok");
    assert!(!found.keys().any(|(check, _)| check == "delegated-admin"));
}
