//! NoEcho parameters end to end: a secret written into fleet.toml is refused before any call and
//! never shown, even with every log at trace level (the SDK logs request bodies there); a secret
//! given as a dynamic reference is applied, and a new reference is planned and applied.

use serde_json::json;

use crate::harness::{Moto, Workspace, boto3, seed, stackfleet_env};

/// The marker template with a NoEcho parameter, spelled `"True"` as CloudFormation also accepts.
const TEMPLATE: &str = r#"AWSTemplateFormatVersion: "2010-09-09"
Description: stackfleet end-to-end test stack with a secret
Parameters:
  Team:
    Type: String
  Token:
    Type: String
    NoEcho: "True"
    Default: ""
Resources:
  Marker:
    Type: AWS::CloudFormation::WaitConditionHandle
"#;

const SECRET: &str = "hunter2-Zq9xV7";

fn fleet(token: &str) -> String {
    format!(
        r#"name = "secrets"

[organization]
home_region = "us-east-1"
management_account = "123456789012"

[defaults]
regions = ["us-east-1"]

[[stack_sets]]
name = "monitor"
template = "templates/secret.yaml"
permission_model = "self-managed"
parameters = {{ Team = "security", Token = "{token}" }}

[stack_sets.targets]
organizational_units = ["/Prod"]
"#
    )
}

const TRACE: [(&str, Option<&str>); 1] = [("RUST_LOG", Some("trace"))];

#[test]
fn a_secret_in_fleet_toml_is_refused_and_never_shown_even_at_trace_level() {
    let moto = Moto::start();
    seed(
        &moto,
        json!({"accounts": [{"name": "prod", "ou": "/Prod"}]}),
    );
    let ws = Workspace::new()
        .write("templates/secret.yaml", TEMPLATE)
        .with_fleet(&fleet(SECRET));
    let before = moto.state();
    for args in [
        &["validate"][..],
        &["plan", "--output", "json"],
        &["apply", "--auto-approve"],
    ] {
        let run = stackfleet_env(&moto, ws.path(), args, &TRACE);
        run.assert_code(1);
        assert!(
            run.stderr.contains(
                "parameter \"Token\" is NoEcho in template templates/secret.yaml: give it a dynamic reference"
            ),
            "{args:?}: {}",
            run.stderr
        );
        assert!(
            run.stderr.contains("fleet.toml:14:43:"),
            "{args:?}: {}",
            run.stderr
        );
        for (stream, text) in [("stdout", &run.stdout), ("stderr", &run.stderr)] {
            assert!(
                !text.contains(SECRET),
                "{args:?}: the secret is on {stream}:\n{text}"
            );
        }
    }
    assert_eq!(moto.state(), before, "nothing was sent to AWS");
}

#[test]
fn a_new_secret_reference_is_planned_and_applied() {
    let moto = Moto::start();
    seed(
        &moto,
        json!({"accounts": [{"name": "prod", "ou": "/Prod"}]}),
    );
    let v1 = "{{resolve:ssm-secure:/fleet/token:1}}";
    let v2 = "{{resolve:ssm-secure:/fleet/token:2}}";
    let ws = Workspace::new()
        .write("templates/secret.yaml", TEMPLATE)
        .with_fleet(&fleet(v1));
    let deployed_token = || {
        boto3(
            &moto,
            r#"
s = client("cloudformation").describe_stack_set(StackSetName="monitor")["StackSet"]
result = {p["ParameterKey"]: p["ParameterValue"] for p in s["Parameters"]}["Token"]
"#,
            json!(null),
        )
    };
    stackfleet_env(&moto, ws.path(), &["apply", "--auto-approve"], &TRACE).assert_code(0);
    assert_eq!(deployed_token(), json!(v1));
    stackfleet_env(&moto, ws.path(), &["plan", "--detailed-exitcode"], &[]).assert_code(0);

    ws.edit("fleet.toml", v1, v2);
    let plan = stackfleet_env(&moto, ws.path(), &["plan", "--output", "json"], &[]);
    plan.assert_code(0);
    let changes = &plan.json()["stack_sets"][0]["changes"];
    let token = changes
        .as_array()
        .expect("changes")
        .iter()
        .find(|c| c["field"] == "parameters.Token")
        .unwrap_or_else(|| panic!("no change of Token: {changes}"));
    assert_eq!(token["after"], json!(v2));
    stackfleet_env(&moto, ws.path(), &["apply", "--auto-approve"], &[]).assert_code(0);
    assert_eq!(deployed_token(), json!(v2));
    stackfleet_env(&moto, ws.path(), &["plan", "--detailed-exitcode"], &[]).assert_code(0);
}
