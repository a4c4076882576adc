//! Issue 18's service-managed path end to end on the faithful emulator, through `stackfleet`: a
//! delegated administrator rolls out with auto-deployment, AWS then deploys to a new account and
//! follows accounts that move, and opt-in regions an account has not enabled are not deployable.
//! `docs/stacksets-rules.md` maps each rule to its AWS document.

use serde_json::{Value, json};

use crate::harness::{Moto, Workspace, account_id, boto3, listed_instances, seed, stackfleet};

const STACK_SET: &str = "guard";

/// The StackSets service principal (trusted access and delegated administration).
const STACKSETS: &str = "member.org.stacksets.cloudformation.amazonaws.com";

/// A service-managed stack set over `/Apps`; `organization` is added to `[organization]`,
/// `entry` to the stack set's table.
fn fleet(regions: &[&str], organization: &str, entry: &str) -> String {
    let regions: Vec<String> = regions.iter().map(|r| format!("{r:?}")).collect();
    format!(
        r#"name = "baseline"

[organization]
home_region = "us-east-1"
management_account = "123456789012"
{organization}

[defaults]
regions = [{}]

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
{entry}

[stack_sets.targets]
organizational_units = ["/Apps"]
"#,
        regions.join(", ")
    )
}

/// `apply --auto-approve --output json`, which must converge.
fn apply_converges(moto: &Moto, ws: &Workspace) {
    let run = stackfleet(
        moto,
        ws.path(),
        &["apply", "--auto-approve", "--output", "json"],
    );
    run.assert_code(0);
    assert_eq!(run.json()["converged"], true, "{}", run.stdout);
}

/// Waits until no operation of the stack set is queued or running (auto-deployment's own).
fn settle(moto: &Moto) {
    boto3(
        moto,
        r#"
import time
cf = client("cloudformation")
for _ in range(500):
    ops = cf.list_stack_set_operations(StackSetName=ARGS)["Summaries"]
    if all(o["Status"] not in ("QUEUED", "RUNNING", "STOPPING") for o in ops):
        break
    time.sleep(0.02)
else:
    raise AssertionError(ops)
result = True
"#,
        json!(STACK_SET),
    );
}

/// Deployed and current: covered, or "unverified" (covered, but no organization trail is
/// visible in the emulator to prove CloudTrail delivers there).
const DEPLOYED: [&str; 2] = ["covered", "unverified"];

/// Coverage as JSON: (account, region) → (status, reason) of the only stack set.
fn coverage(
    moto: &Moto,
    ws: &Workspace,
    code: i32,
) -> std::collections::BTreeMap<(String, String), (String, String)> {
    let run = stackfleet(moto, ws.path(), &["coverage", "--output", "json"]);
    run.assert_code(code);
    let report = run.json();
    report["stack_sets"][0]["cells"]
        .as_array()
        .expect("cells")
        .iter()
        .map(|c| {
            let text = |k: &str| c[k].as_str().unwrap_or_default().to_string();
            (
                (text("account"), text("region")),
                (text("status"), text("reason")),
            )
        })
        .collect()
}

/// Rules: a registered delegated administrator (trusted access on) manages service-managed stack
/// sets with `CallAs = DELEGATED_ADMIN` ("CreateStackSet", API Reference); with auto-deployment
/// StackSets deploys to accounts that join a targeted OU, nested OUs included, and deletes the
/// instances of accounts that leave ("AutoDeployment", API Reference; "Enable or disable
/// automatic deployments for StackSets in AWS Organizations", User Guide). stackfleet rolls out,
/// AWS deploys to a new account, accounts move, and each next plan and apply is clean.
#[test]
fn a_delegated_administrator_rolls_out_with_auto_deployment_and_follows_new_and_moved_accounts() {
    let moto = Moto::start();
    let org = seed(
        &moto,
        json!({
            "seed": 18,
            "ous": ["/Security", "/Apps/Team", "/Data"],
            "accounts": [
                {"name": "secops", "ou": "/Security"},
                {"name": "app-1", "ou": "/Apps/Team"},
                {"name": "data-1", "ou": "/Data"},
            ],
            "execution_roles": false,
            "management_execution_role": false,
            "trusted_access": true,
            "delegated_administrators": [{"account": "secops", "service_principal": STACKSETS}],
        }),
    );
    let admin = account_id(&org, "secops");
    let role = format!("arn:aws:iam::{admin}:role/StackfleetAdmin");
    let ws = Workspace::new().with_marker_template().with_fleet(&fleet(
        &["us-east-1"],
        &format!("call_as = \"delegated-admin\"\nassume_role_arn = \"{role}\""),
        "auto_deployment = { enabled = true }",
    ));
    apply_converges(&moto, &ws);
    let a1 = account_id(&org, "app-1");
    assert_eq!(
        listed_instances(&moto, STACK_SET),
        [(a1.clone(), "us-east-1".to_string())]
    );
    // The stack set targets fleet.toml's OU (/Apps), not app-1's parent (/Apps/Team): that is
    // the OU auto-deployment follows.
    let targets = boto3(
        &moto,
        r#"
cf = client("cloudformation")
result = sorted({i["OrganizationalUnitId"] for i in cf.list_stack_instances(StackSetName=ARGS)["Summaries"]})
"#,
        json!(STACK_SET),
    );
    assert_eq!(targets, json!([org["ous"]["/Apps"]]));

    // A new account joins /Apps, which no account was directly in at rollout: AWS deploys to it.
    let a2 = boto3(
        &moto,
        r#"
o = client("organizations")
status = o.create_account(AccountName="app-2", Email="app-2@example.com")["CreateAccountStatus"]
while status["State"] == "IN_PROGRESS":
    status = o.describe_create_account_status(CreateAccountRequestId=status["Id"])["CreateAccountStatus"]
assert status["State"] == "SUCCEEDED", status
root = o.list_roots()["Roots"][0]["Id"]
o.move_account(AccountId=status["AccountId"], SourceParentId=root, DestinationParentId=ARGS)
result = status["AccountId"]
"#,
        json!(org["ous"]["/Apps"]),
    );
    let a2 = a2.as_str().expect("an account id").to_string();
    settle(&moto);
    let cells = coverage(&moto, &ws, 0);
    assert!(
        DEPLOYED.contains(&cells[&(a2.clone(), "us-east-1".to_string())].0.as_str()),
        "{cells:#?}"
    );
    assert!(
        DEPLOYED.contains(&cells[&(a1.clone(), "us-east-1".to_string())].0.as_str()),
        "{cells:#?}"
    );
    let run = stackfleet(&moto, ws.path(), &["plan", "--detailed-exitcode"]);
    run.assert_code(0);

    // app-1 leaves for /Data (not targeted): AWS deletes its instance; app-2 moves down to
    // /Apps/Team and stays targeted. The next plan and apply handle both without an error or a change.
    boto3(
        &moto,
        r#"
o = client("organizations")
o.move_account(AccountId=ARGS["a1"], SourceParentId=ARGS["team"], DestinationParentId=ARGS["data"])
o.move_account(AccountId=ARGS["a2"], SourceParentId=ARGS["apps"], DestinationParentId=ARGS["team"])
result = True
"#,
        json!({
            "a1": a1, "a2": a2,
            "apps": org["ous"]["/Apps"], "data": org["ous"]["/Data"], "team": org["ous"]["/Apps/Team"],
        }),
    );
    settle(&moto);
    let run = stackfleet(&moto, ws.path(), &["plan", "--detailed-exitcode"]);
    run.assert_code(0);
    apply_converges(&moto, &ws);
    assert_eq!(
        listed_instances(&moto, STACK_SET),
        [(a2.clone(), "us-east-1".to_string())]
    );
    let cells = coverage(&moto, &ws, 0);
    assert!(
        DEPLOYED.contains(&cells[&(a2.clone(), "us-east-1".to_string())].0.as_str()),
        "{cells:#?}"
    );
    assert_eq!(
        cells[&(a1, "us-east-1".to_string())].0,
        "untargeted",
        "{cells:#?}"
    );
}

/// An organization whose management account enabled the opt-in region ap-east-1 (as StackSets
/// needs of the administrator account), with app-1 enabling it too and app-2 not. `account`
/// says whether Account Management trusted access is on (ListRegions of other accounts needs it).
fn opt_in_org(moto: &Moto, account: bool) -> Value {
    let mut principals = vec![STACKSETS];
    if account {
        principals.push("account.amazonaws.com");
    }
    let org = seed(
        moto,
        json!({
            "seed": 6,
            "ous": ["/Apps"],
            "accounts": [
                {"name": "app-1", "ou": "/Apps", "enabled_regions": ["ap-east-1"]},
                {"name": "app-2", "ou": "/Apps"},
            ],
            "execution_roles": false,
            "management_execution_role": false,
            "trusted_access": principals,
        }),
    );
    boto3(
        moto,
        r#"
import time
a = client("account")
a.enable_region(RegionName="ap-east-1")
while a.get_region_opt_status(RegionName="ap-east-1")["RegionOptStatus"] != "ENABLED":
    time.sleep(0.02)
result = True
"#,
        json!(null),
    );
    org
}

/// Rule: an instance needs its opt-in region enabled in the target account and in the
/// administrator account ("Prepare to perform StackSet operations in AWS Regions that are
/// disabled by default", User Guide); Account `ListRegions` with `AccountId` reads it from the
/// management account ("ListRegions", Account Management API Reference). The cell of app-2 in
/// ap-east-1 is not deployable in plan and coverage, never planned, so apply converges.
#[test]
fn a_disabled_opt_in_region_is_not_deployable_in_plan_and_coverage() {
    let moto = Moto::start();
    let org = opt_in_org(&moto, true);
    let (a1, a2) = (account_id(&org, "app-1"), account_id(&org, "app-2"));
    let ws = Workspace::new().with_marker_template().with_fleet(&fleet(
        &["us-east-1", "ap-east-1"],
        "call_as = \"self\"",
        "",
    ));
    let run = stackfleet(&moto, ws.path(), &["plan", "--output", "json"]);
    run.assert_code(0);
    let plan = run.json();
    let set = &plan["stack_sets"][0];
    assert_eq!(
        set["skipped"],
        json!([{
            "account": a2,
            "account_name": "app-2",
            "reason": "region-not-enabled",
            "regions": ["ap-east-1"],
        }]),
        "{plan:#}"
    );
    let mut creates: Vec<(String, String)> = set["create_instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["account"].as_str().unwrap().into(),
                c["region"].as_str().unwrap().into(),
            )
        })
        .collect();
    creates.sort();
    let cell = |a: &str, r: &str| (a.to_string(), r.to_string());
    let mut expected = [
        cell(&a1, "ap-east-1"),
        cell(&a1, "us-east-1"),
        cell(&a2, "us-east-1"),
    ];
    expected.sort();
    assert_eq!(creates, expected);
    let table = stackfleet(&moto, ws.path(), &["plan"]);
    table.assert_code(0);
    assert!(
        table.stdout.contains("opt-in region ap-east-1 not enabled"),
        "{}",
        table.stdout
    );

    apply_converges(&moto, &ws);
    let cells = coverage(&moto, &ws, 0);
    let (status, reason) = &cells[&cell(&a2, "ap-east-1")];
    assert_eq!(status, "not-deployable");
    assert!(
        reason.contains("ap-east-1 is DISABLED in this account"),
        "{reason}"
    );
    assert!(DEPLOYED.contains(&cells[&cell(&a1, "ap-east-1")].0.as_str()));
    let run = stackfleet(&moto, ws.path(), &["plan", "--detailed-exitcode"]);
    run.assert_code(0);

    // Once app-2 enables the region, the next plan deploys there.
    boto3(
        &moto,
        r#"
import time
a = client("account")
a.enable_region(RegionName="ap-east-1", AccountId=ARGS)
while a.get_region_opt_status(RegionName="ap-east-1", AccountId=ARGS)["RegionOptStatus"] != "ENABLED":
    time.sleep(0.02)
result = True
"#,
        json!(a2),
    );
    let run = stackfleet(&moto, ws.path(), &["plan", "--output", "json"]);
    run.assert_code(0);
    assert_eq!(
        run.json()["stack_sets"][0]["create_instances"],
        json!([{"account": a2, "region": "ap-east-1"}])
    );
}

/// When the opt-in status of other accounts cannot be read (here: no trusted access for Account
/// Management), plan says so on stderr and plans the region as if enabled, rather than silently.
#[test]
fn an_unreadable_opt_in_status_is_said_not_guessed() {
    let moto = Moto::start();
    opt_in_org(&moto, false);
    let ws = Workspace::new().with_marker_template().with_fleet(&fleet(
        &["us-east-1", "ap-east-1"],
        "call_as = \"self\"",
        "",
    ));
    let run = stackfleet(&moto, ws.path(), &["plan", "--output", "json"]);
    run.assert_code(0);
    assert!(
        run.stderr.contains(
            "warning: could not read whether opt-in regions ap-east-1 are enabled per account"
        ),
        "{}",
        run.stderr
    );
    assert_eq!(run.json()["stack_sets"][0]["skipped"], json!([]));
    assert_eq!(
        run.json()["stack_sets"][0]["create_instances"]
            .as_array()
            .map(Vec::len),
        Some(4)
    );
}

/// Rule: a self-managed stack set lives in its administrator account and is called as `SELF`
/// ("CreateStackSet", API Reference: "Use SELF for StackSets with self-managed permissions"),
/// which need not be the management account. A plan saved there is applied there, and refused
/// from any other account (whose stack sets it does not describe).
#[test]
fn a_saved_plan_of_a_self_managed_administrator_account_is_applied_by_that_account() {
    let moto = Moto::start();
    let org = seed(
        &moto,
        json!({
            "seed": 3,
            "ous": ["/Security", "/Apps"],
            "accounts": [{"name": "tools", "ou": "/Security"}, {"name": "app-1", "ou": "/Apps"}],
            "execution_roles": false,
            "management_execution_role": false,
            // A registered delegated administrator may read the organization, which every plan
            // does; its own stack sets here are self-managed.
            "trusted_access": true,
            "delegated_administrators": [{"account": "tools", "service_principal": STACKSETS}],
        }),
    );
    let (tools, app) = (account_id(&org, "tools"), account_id(&org, "app-1"));
    // The administration role in tools, the execution role in app-1 trusting tools.
    boto3(
        &moto,
        r#"
import json as j
def role(account, name, principal):
    doc = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}]}
    client("iam", account=account).create_role(RoleName=name, AssumeRolePolicyDocument=j.dumps(doc))
role(ARGS["tools"], "AWSCloudFormationStackSetAdministrationRole",
     {"Service": "cloudformation.amazonaws.com"})
role(ARGS["app"], "AWSCloudFormationStackSetExecutionRole",
     {"AWS": "arn:aws:iam::%s:root" % ARGS["tools"]})
result = True
"#,
        json!({"tools": tools, "app": app}),
    );
    let fleet = format!(
        r#"name = "baseline"

[organization]
home_region = "us-east-1"
call_as = "self"
assume_role_arn = "arn:aws:iam::{tools}:role/StackfleetAdmin"

[[stack_sets]]
name = "{STACK_SET}"
template = "templates/marker.yaml"
permission_model = "self-managed"
regions = ["us-east-1"]
parameters = {{ Team = "security" }}

[stack_sets.targets]
accounts = ["{app}"]
"#
    );
    let ws = Workspace::new().with_marker_template().with_fleet(&fleet);
    let run = stackfleet(&moto, ws.path(), &["plan", "--out", "plan.json"]);
    run.assert_code(0);
    let saved: Value =
        serde_json::from_str(&std::fs::read_to_string(ws.path().join("plan.json")).unwrap())
            .unwrap();
    assert_eq!(saved["organization"]["administrator_account"], json!(tools));
    assert_eq!(saved["stack_sets"][0]["call_as"], "self");

    // From the management account, the plan is refused before anything is planned or changed.
    let run = stackfleet(
        &moto,
        ws.path(),
        &[
            "apply",
            "plan.json",
            "--auto-approve",
            "--assume-role",
            "arn:aws:iam::123456789012:role/StackfleetAdmin",
        ],
    );
    run.assert_code(1);
    assert!(
        run.stderr.contains(&format!(
            "was made as StackSets administrator account {tools}"
        )),
        "{}",
        run.stderr
    );
    // From tools, which made it, it applies.
    let run = stackfleet(&moto, ws.path(), &["apply", "plan.json", "--auto-approve"]);
    run.assert_code(0);
    let listed = boto3(
        &moto,
        r#"
cf = client("cloudformation", account=ARGS)
result = sorted([s["Account"], s["Region"]] for s in cf.list_stack_instances(StackSetName="guard")["Summaries"])
"#,
        json!(tools),
    );
    assert_eq!(listed, json!([[app, "us-east-1"]]));
}
