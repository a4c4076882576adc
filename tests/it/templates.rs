//! The three monitor templates of `templates/`, deployed as member stacks by `stackfleet apply`
//! (self-managed stack sets, which moto models): every member stack reaches CREATE_COMPLETE with
//! the outputs docs/monitor.md documents, read back with boto3 as the target account.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::harness::{Moto, Workspace, account_id, boto3, seed, stackfleet};

const MANAGEMENT: &str = "123456789012";
const REGIONS: [&str; 2] = ["us-east-1", "eu-west-1"];

/// Standalone in /Workloads, spokes in /Workloads and /Security (named IAM roles), the hub once
/// in the security account's home region. Parameter values come from the seeded organization.
fn fleet(organization_id: &str, security: &str) -> String {
    format!(
        r#"name = "baseline"

[organization]
home_region = "us-east-1"
management_account = "123456789012"

[defaults]
regions = ["us-east-1", "eu-west-1"]

[[stack_sets]]
name = "s3-policy-monitor-hub"
template = "templates/s3-policy-monitor-hub.yaml"
permission_model = "self-managed"
regions = ["us-east-1"]
parameters = {{ OrganizationId = "{organization_id}", NotificationEmail = "secops@example.com" }}

[stack_sets.targets]
accounts = ["{security}"]

[[stack_sets]]
name = "s3-policy-monitor-spoke"
template = "templates/s3-policy-monitor-spoke.yaml"
permission_model = "self-managed"
parameters = {{ CentralEventBusArn = "{bus}" }}
capabilities = ["CAPABILITY_NAMED_IAM"]

[stack_sets.targets]
organizational_units = ["/Workloads", "/Security"]

[[stack_sets]]
name = "s3-policy-monitor"
template = "templates/s3-policy-monitor.yaml"
permission_model = "self-managed"
parameters = {{ NotificationEmail = "secops@example.com" }}

[stack_sets.targets]
organizational_units = ["/Workloads"]
"#,
        bus = hub_bus(security),
    )
}

fn hub_bus(security: &str) -> String {
    format!("arn:aws:events:us-east-1:{security}:event-bus/s3-policy-monitor-hub")
}

/// The member stacks of one account × region: stack name → (status, outputs, parameters).
type Stacks = BTreeMap<String, (String, Value, Value)>;

#[test]
fn every_template_deploys_as_member_stacks_with_its_outputs() {
    let moto = Moto::start();
    let org = seed(
        &moto,
        json!({
            "seed": 31,
            "ous": ["/Security", "/Workloads"],
            "accounts": [
                {"name": "security-tooling", "ou": "/Security"},
                {"name": "app-a", "ou": "/Workloads"},
                {"name": "app-b", "ou": "/Workloads"},
            ],
        }),
    );
    let organization_id = org["organization_id"].as_str().unwrap();
    let security = account_id(&org, "security-tooling");
    let apps = [account_id(&org, "app-a"), account_id(&org, "app-b")];
    let ws = Workspace::new()
        .copy_from_repo("templates/s3-policy-monitor.yaml")
        .copy_from_repo("templates/s3-policy-monitor-spoke.yaml")
        .copy_from_repo("templates/s3-policy-monitor-hub.yaml")
        .with_fleet(&fleet(organization_id, &security));

    stackfleet(&moto, ws.path(), &["validate"]).assert_code(0);
    let run = stackfleet(
        &moto,
        ws.path(),
        &["apply", "--auto-approve", "--output", "json"],
    );
    run.assert_code(0);
    let report = run.json();
    assert_eq!(report["converged"], true, "{report:#}");
    let done: BTreeMap<&str, Vec<(&str, u64, &str)>> = report["stack_sets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap(),
                s["operations"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|o| {
                        (
                            o["action"].as_str().unwrap(),
                            o["instances"].as_u64().unwrap(),
                            o["status"].as_str().unwrap(),
                        )
                    })
                    .collect(),
            )
        })
        .collect();
    assert_eq!(
        done,
        BTreeMap::from([
            (
                "s3-policy-monitor",
                vec![("create-instances", 4, "SUCCEEDED")]
            ),
            (
                "s3-policy-monitor-hub",
                vec![("create-instances", 1, "SUCCEEDED")]
            ),
            (
                "s3-policy-monitor-spoke",
                vec![("create-instances", 6, "SUCCEEDED")]
            ),
        ])
    );

    // Read back as each account, in each region.
    let accounts: Vec<String> = [security.clone(), MANAGEMENT.to_string()]
        .into_iter()
        .chain(apps.iter().cloned())
        .collect();
    let found = boto3(
        &moto,
        r#"
result = {"stacks": {f"{a}/{r}": stacks(a, r) for a in ARGS["accounts"] for r in ARGS["regions"]},
          "roles": {a: sorted(x["RoleName"] for x in client("iam", account=a).list_roles()["Roles"]
                        if x["RoleName"].startswith("s3-policy-monitor"))
                    for a in ARGS["accounts"]}}
"#,
        json!({"accounts": accounts, "regions": REGIONS}),
    );
    let stacks = |account: &str, region: &str| -> Stacks {
        found["stacks"][format!("{account}/{region}")]
            .as_array()
            .unwrap_or_else(|| panic!("no stacks listed for {account} {region}"))
            .iter()
            .map(|s| {
                (
                    s["name"].as_str().unwrap().to_string(),
                    (
                        s["status"].as_str().unwrap().to_string(),
                        s["outputs"].clone(),
                        s["parameters"].clone(),
                    ),
                )
            })
            .collect()
    };

    let hub_name = "StackSet:s3-policy-monitor-hub";
    let spoke_name = "StackSet:s3-policy-monitor-spoke";
    let standalone_name = "StackSet:s3-policy-monitor";
    for region in REGIONS {
        assert_eq!(
            stacks(MANAGEMENT, region),
            Stacks::new(),
            "nothing targets it"
        );
        for account in apps.iter().chain([&security]) {
            let here = stacks(account, region);
            let mut expected = vec![spoke_name];
            if apps.contains(account) {
                expected.push(standalone_name);
            }
            if *account == security && region == "us-east-1" {
                expected.push(hub_name);
            }
            expected.sort();
            assert_eq!(
                here.keys().map(String::as_str).collect::<Vec<_>>(),
                expected,
                "member stacks of {account} in {region}"
            );
            for (name, (status, _, _)) in &here {
                assert_eq!(status, "CREATE_COMPLETE", "{name} in {account} {region}");
            }

            let (_, outputs, parameters) = &here[spoke_name];
            assert_eq!(
                outputs,
                &json!({
                    "RuleArn": format!("arn:aws:events:{region}:{account}:rule/s3-policy-monitor-forward"),
                    "ForwarderRoleArn": format!("arn:aws:iam::{account}:role/s3-policy-monitor-forwarder-{region}"),
                })
            );
            assert_eq!(parameters["CentralEventBusArn"], hub_bus(&security));

            if let Some((_, outputs, parameters)) = here.get(standalone_name) {
                assert_eq!(
                    outputs["TopicArn"],
                    format!("arn:aws:sns:{region}:{account}:s3-policy-monitor-alerts")
                );
                assert_eq!(
                    outputs["RuleArn"],
                    format!("arn:aws:events:{region}:{account}:rule/s3-policy-monitor")
                );
                assert_key_arn(&outputs["KeyArn"], region, account);
                assert_eq!(outputs.as_object().map(|o| o.len()), Some(3), "{outputs}");
                assert_eq!(parameters["NotificationEmail"], "secops@example.com");
            }
        }
    }

    let (_, outputs, parameters) = &stacks(&security, "us-east-1")[hub_name];
    // The spokes' CentralEventBusArn names exactly the bus the hub created.
    assert_eq!(outputs["EventBusArn"], hub_bus(&security));
    assert_eq!(outputs["EventBusName"], "s3-policy-monitor-hub");
    assert_eq!(
        outputs["TopicArn"],
        format!("arn:aws:sns:us-east-1:{security}:s3-policy-monitor-hub-alerts")
    );
    assert_eq!(
        outputs["RuleArn"],
        format!(
            "arn:aws:events:us-east-1:{security}:rule/s3-policy-monitor-hub/s3-policy-monitor-hub"
        )
    );
    assert_key_arn(&outputs["KeyArn"], "us-east-1", &security);
    assert_eq!(outputs.as_object().map(|o| o.len()), Some(5), "{outputs}");
    assert_eq!(parameters["OrganizationId"], organization_id);

    // One forwarder role per region in every spoke account: the names do not collide.
    for account in apps.iter().chain([&security]) {
        assert_eq!(
            found["roles"][account.as_str()],
            json!([
                "s3-policy-monitor-forwarder-eu-west-1",
                "s3-policy-monitor-forwarder-us-east-1"
            ]),
            "roles of {account}"
        );
    }

    // Apply, then plan: nothing left to do. (moto never returns capabilities; the planner does
    // not compare them, so the spoke's CAPABILITY_NAMED_IAM does not show as a change.)
    let run = stackfleet(
        &moto,
        ws.path(),
        &["plan", "--detailed-exitcode", "--output", "json"],
    );
    run.assert_code(0);
    let plan = run.json();
    for set in plan["stack_sets"].as_array().unwrap() {
        assert_eq!(set["action"], "none", "{set:#}");
    }
    assert_eq!(plan["summary"]["operations"], 0);
}

fn assert_key_arn(arn: &Value, region: &str, account: &str) {
    let arn = arn.as_str().unwrap_or_else(|| panic!("KeyArn {arn}"));
    let key = arn
        .strip_prefix(&format!("arn:aws:kms:{region}:{account}:key/"))
        .unwrap_or_else(|| panic!("KeyArn {arn} in {account} {region}"));
    assert_eq!(key.len(), 36, "{arn}");
}
