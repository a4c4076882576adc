//! The exit-code table (`stackfleet --help`, README.md) for every command: 0 success, 1 error
//! (usage errors included, never clap's 2), 2 only for plan `--detailed-exitcode` changes,
//! coverage below `--min-coverage` and drift `--fail-on-drift`.

use serde_json::json;

use crate::harness::{MARKER_TEMPLATE, Moto, Tripwire, Workspace, seed, stackfleet};

const MANAGEMENT: &str = "123456789012";

const FLEET: &str = r#"name = "baseline"

[organization]
home_region = "us-east-1"
management_account = "123456789012"

[[stack_sets]]
name = "marker"
template = "templates/marker.yaml"
permission_model = "self-managed"
regions = ["us-east-1"]
parameters = { Team = "security" }

[stack_sets.targets]
organizational_units = ["/Prod"]
accounts = ["123456789012"]
"#;

#[test]
fn usage_errors_exit_1_for_every_command_and_help_exits_0() {
    let tripwire = Tripwire::new();
    let ws = Workspace::new().with_marker_template().with_fleet(FLEET);
    let commands = [
        "init",
        "validate",
        "plan",
        "apply",
        "coverage",
        "drift",
        "completions",
        "man",
    ];
    for command in commands {
        let run = stackfleet(&tripwire, ws.path(), &[command, "--no-such-flag"]);
        run.assert_code(1);
        assert!(
            run.stderr.contains("unexpected argument '--no-such-flag'"),
            "{command}: {}",
            run.stderr
        );
        stackfleet(&tripwire, ws.path(), &[command, "--help"]).assert_code(0);
    }
    for args in [
        &["coverage", "--min-coverage", "101"][..],
        &["coverage", "--min-coverage", "lots"],
        &["plan", "--output", "yaml"],
        &["plan", "--region", "us-east"],
        &["completions", "tcsh"],
        &["--quiet", "--verbose", "validate"],
        &["no-such-command"],
        &[],
    ] {
        let run = stackfleet(&tripwire, ws.path(), args);
        run.assert_code(1);
        assert!(run.stdout.is_empty(), "{args:?}: {}", run.stdout);
    }
    let help = stackfleet(&tripwire, ws.path(), &["--help"]);
    help.assert_code(0);
    assert!(
        help.stdout.contains("Exit codes (every command):")
            && help.stdout.contains("  2    plan --detailed-exitcode"),
        "{}",
        help.stdout
    );
    stackfleet(&tripwire, ws.path(), &["--version"]).assert_code(0);
    tripwire.assert_untouched();
}

#[test]
fn each_command_exits_0_1_or_2_as_the_table_says() {
    let moto = Moto::start();
    seed(
        &moto,
        json!({
            "seed": 29,
            "ous": ["/Prod"],
            "accounts": [{"name": "prod-a", "ou": "/Prod"}],
            "stack_sets": [{
                "name": "marker",
                "template_body": MARKER_TEMPLATE,
                "parameters": {"Team": "security"},
                "tags": {"stackfleet:fleet": "baseline"},
                "capabilities": [],
                "instances": [{"accounts": [MANAGEMENT, "prod-a"], "regions": ["us-east-1"]}],
            }],
        }),
    );
    let ws = Workspace::new().with_marker_template().with_fleet(FLEET);
    let code = |args: &[&str]| stackfleet(&moto, ws.path(), args).code;

    // In step with fleet.toml.
    assert_eq!(code(&["validate"]), Some(0));
    assert_eq!(code(&["plan", "--detailed-exitcode"]), Some(0));
    assert_eq!(code(&["coverage"]), Some(0));
    assert_eq!(code(&["apply", "--auto-approve"]), Some(0));
    // moto records no drift status: nothing was checked, so drift is unknown, not "none".
    assert_eq!(code(&["drift", "--no-detect"]), Some(0));
    assert_eq!(code(&["drift", "--no-detect", "--fail-on-drift"]), Some(1));

    // A parameter changed in fleet.toml: plan has changes, and the instances deployed with the
    // old value are outdated, not covered.
    ws.edit("fleet.toml", "Team = \"security\"", "Team = \"platform\"");
    assert_eq!(code(&["plan"]), Some(0));
    assert_eq!(code(&["plan", "--detailed-exitcode"]), Some(2));
    assert_eq!(code(&["coverage"]), Some(2));
    assert_eq!(code(&["coverage", "--min-coverage", "0"]), Some(0));

    // An invalid fleet.toml (a malformed region; a well-formed unknown one is only a warning) is
    // an error for every command that reads it.
    ws.edit(
        "fleet.toml",
        "regions = [\"us-east-1\"]",
        "regions = [\"us-east-one\"]",
    );
    for command in ["validate", "plan", "apply", "coverage", "drift"] {
        assert_eq!(code(&[command]), Some(1), "{command}");
    }
}
