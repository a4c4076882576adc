//! `stackfleet iam-policy` against what stackfleet really calls: every command runs through the
//! counting proxy, and each operation it made (as `service:Operation`, the IAM action) must be
//! allowed by the policy of its role: `--for plan` for plan, coverage, drift --no-detect and
//! doctor, `--for apply` for apply and drift detection.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::doctor::healthy_trail;
use crate::harness::{Moto, Workspace, seed_example, stackfleet};
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

fn allowed(moto: &Moto, ws: &Workspace, role: &str) -> BTreeSet<String> {
    let run = stackfleet(moto, ws.path(), &["iam-policy", "--for", role]);
    run.assert_code(0);
    let policy: Value = run.json();
    assert_eq!(policy["Version"], "2012-10-17");
    policy["Statement"]
        .as_array()
        .expect("statements")
        .iter()
        .flat_map(|s| s["Action"].as_array().expect("actions").clone())
        .map(|a| a.as_str().expect("action").to_string())
        .collect()
}

/// The IAM actions of the calls the proxy saw since `from`, less STS GetCallerIdentity (which
/// needs no permission).
fn actions(proxy: &Proxy, from: usize) -> BTreeSet<String> {
    proxy.stats().calls[from..]
        .iter()
        .map(|c| format!("{}:{}", c.service, c.operation))
        .filter(|a| a != "sts:GetCallerIdentity")
        .collect()
}

#[test]
fn every_call_of_every_command_is_allowed_by_its_policy() {
    let moto = Moto::start();
    seed_example(&moto);
    healthy_trail(&moto);
    let ws = Workspace::new().with_marker_template().with_fleet(FLEET);
    let plan_policy = allowed(&moto, &ws, "plan");
    let apply_policy = allowed(&moto, &ws, "apply");
    let proxy = Proxy::start(&moto, Faults::none());

    let mut seen = BTreeSet::new();
    // (arguments, expected exit code, the policy that must allow its calls)
    let runs: [(&[&str], i32, &BTreeSet<String>); 6] = [
        (&["plan"], 0, &plan_policy),
        (&["apply", "--auto-approve"], 0, &apply_policy),
        (&["coverage"], 0, &plan_policy),
        (&["doctor"], 0, &plan_policy),
        (&["drift", "--no-detect"], 0, &plan_policy),
        // Drift detection on the emulator: DetectStackSetDrift and its reads.
        (&["drift"], 0, &apply_policy),
    ];
    for (args, code, policy) in runs {
        let from = proxy.stats().calls.len();
        stackfleet(&proxy, ws.path(), args).assert_code(code);
        let made = actions(&proxy, from);
        let missing: Vec<&String> = made.iter().filter(|a| !policy.contains(*a)).collect();
        assert!(
            missing.is_empty(),
            "stackfleet {args:?} called {missing:?}, not in its policy"
        );
        seen.extend(made);
    }
    // The suite reached the calls that matter, so the check above is not vacuous.
    for action in [
        "cloudformation:CreateStackSet",
        "cloudformation:CreateStackInstances",
        "cloudformation:DetectStackSetDrift",
        "cloudtrail:GetEventSelectors",
        "organizations:ListAccountsForParent",
    ] {
        assert!(seen.contains(action), "{action} not called: {seen:?}");
    }
}
