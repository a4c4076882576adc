//! `stackfleet validate`: offline, so every test here points the SDK at a [`Tripwire`].

use crate::harness::{Tripwire, Workspace, stackfleet};

#[test]
fn the_repository_fleet_is_valid_without_network() {
    let tripwire = Tripwire::new();
    let ws = Workspace::new()
        .copy_from_repo("fleet.toml")
        .copy_from_repo("templates/s3-policy-monitor.yaml");
    let run = stackfleet(&tripwire, ws.path(), &["validate"]);
    run.assert_code(0);
    assert_eq!(run.stdout, "");
    assert!(run.stderr.contains("fleet.toml is valid"), "{}", run.stderr);
    tripwire.assert_untouched();
}

#[test]
fn a_missing_required_parameter_is_located() {
    let tripwire = Tripwire::new();
    let ws = Workspace::new()
        .copy_from_repo("templates/s3-policy-monitor.yaml")
        .with_fleet(
            r#"name = "baseline"

[organization]
home_region = "us-east-1"

[[stack_sets]]
name = "s3-policy-monitor"
template = "templates/s3-policy-monitor.yaml"
permission_model = "self-managed"
regions = ["us-east-1"]
parameters = { NamePrefix = "monitor" }

[stack_sets.targets]
organizational_units = ["/"]
"#,
        );
    let run = stackfleet(&tripwire, ws.path(), &["validate"]);
    run.assert_code(1);
    assert!(
        run.stderr.contains(
            "fleet.toml:11:14: stack set \"s3-policy-monitor\" leaves required parameter \"NotificationEmail\" unset"
        ),
        "{}",
        run.stderr
    );
    tripwire.assert_untouched();
}
