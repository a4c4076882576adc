//! `stackfleet plan` end to end: organizations and stack sets seeded into moto, the plan read
//! back as JSON (exact cells and operations) and as table and Markdown snapshots.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::harness::{
    MARKER_TEMPLATE, Moto, REPO, Tripwire, Workspace, account_id, example_spec, seed, seed_example,
    stackfleet, stackfleet_env,
};

const MANAGEMENT: &str = "123456789012";

/// A fleet of one self-managed stack set of the marker template over the whole organization but
/// /Excluded, in two regions.
const MARKER_FLEET: &str = r#"name = "baseline"

[organization]
home_region = "us-east-1"
management_account = "123456789012"

[[stack_sets]]
name = "marker"
description = "End-to-end marker"
template = "templates/marker.yaml"
permission_model = "self-managed"
regions = ["us-east-1", "eu-west-1"]
parameters = { Team = "security" }
tags = { owner = "security", purpose = "e2e" }

[stack_sets.targets]
organizational_units = ["/"]
exclude_organizational_units = ["/Excluded"]
"#;

/// The stack set exactly as stackfleet would create it from [`MARKER_FLEET`] (the fleet tag
/// included), with the given instance entries (seed_org.py format).
fn marker_stack_set(instances: Value) -> Value {
    json!({
        "name": "marker",
        "template_body": MARKER_TEMPLATE,
        "parameters": {"Team": "security"},
        "description": "End-to-end marker",
        "tags": {"owner": "security", "purpose": "e2e", "stackfleet:fleet": "baseline"},
        "capabilities": [],
        "instances": instances,
    })
}

fn marker_workspace() -> Workspace {
    Workspace::new()
        .with_marker_template()
        .with_fleet(MARKER_FLEET)
}

/// The repository's own fleet.toml and template, as a user would run them.
fn example_workspace() -> Workspace {
    Workspace::new()
        .copy_from_repo("fleet.toml")
        .copy_from_repo("templates/s3-policy-monitor.yaml")
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// `[{"account", "region"}]` as sorted pairs.
fn cells(v: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = v
        .as_array()
        .unwrap_or_else(|| panic!("expected an array of cells, got {v}"))
        .iter()
        .map(|c| {
            (
                c["account"].as_str().expect("account").to_string(),
                c["region"].as_str().expect("region").to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

fn grid(accounts: &[&str], regions: &[&str]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = accounts
        .iter()
        .flat_map(|a| regions.iter().map(move |r| (a.to_string(), r.to_string())))
        .collect();
    out.sort();
    out
}

/// The cells of several grids, sorted.
fn union<const N: usize>(grids: [Vec<(String, String)>; N]) -> Vec<(String, String)> {
    let all: BTreeSet<(String, String)> = grids.into_iter().flatten().collect();
    all.into_iter().collect()
}

/// The operations of a stack set's plan without their ids, after checking that every operation
/// has its own `stackfleet-<hex>` id (the OperationId apply sends).
fn operations(set: &Value) -> Value {
    let mut ids = BTreeSet::new();
    let ops: Vec<Value> = set["operations"]
        .as_array()
        .expect("operations")
        .iter()
        .map(|op| {
            let mut op = op.clone();
            let id = op
                .as_object_mut()
                .and_then(|o| o.remove("id"))
                .unwrap_or_else(|| panic!("operation without id: {op}"));
            let id = id.as_str().expect("id is a string").to_string();
            assert!(
                id.strip_prefix("stackfleet-")
                    .is_some_and(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_hexdigit())),
                "operation id {id:?}"
            );
            assert!(ids.insert(id.clone()), "operation id {id} is not unique");
            // The estimate depends on the emulator's clock: checked for presence here, for its
            // value in the planner's unit tests and in bench/.
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

/// The plan's summary without its estimate, after checking that the estimate is the sum of the
/// operations' (stack sets run one after another).
fn summary_without_estimate(plan: &Value) -> Value {
    let ops: u64 = plan["stack_sets"]
        .as_array()
        .expect("stack_sets")
        .iter()
        .flat_map(|s| s["operations"].as_array().expect("operations"))
        .map(|op| op["estimated_seconds"].as_u64().unwrap_or(0))
        .sum();
    let mut summary = plan["summary"].clone();
    let total = summary
        .as_object_mut()
        .and_then(|o| o.remove("estimated_seconds"));
    assert_eq!(
        total.and_then(|t| t.as_u64()),
        Some(ops),
        "summary.estimated_seconds"
    );
    summary
}

/// An operation as JSON, the way the plan writes it (accounts and regions sorted), without id.
fn operation(action: &str, accounts: &[&str], regions: &[&str]) -> Value {
    let accounts = sorted(accounts.iter().map(|s| s.to_string()).collect());
    let regions = sorted(regions.iter().map(|s| s.to_string()).collect());
    json!({
        "action": action,
        "instances": accounts.len() * regions.len(),
        "accounts": accounts,
        "regions": regions,
    })
}

/// Sorts operations of one kind as the plan does: by account list, then region list.
fn in_plan_order(ops: &mut [Value]) {
    ops.sort_by_key(|op| {
        let list = |v: &Value| -> Vec<String> {
            v.as_array()
                .into_iter()
                .flatten()
                .map(|s| s.as_str().unwrap_or_default().to_string())
                .collect()
        };
        (list(&op["accounts"]), list(&op["regions"]))
    });
}

#[test]
fn example_org_plans_one_create_operation_over_every_governed_account() {
    let moto = Moto::start();
    let org = seed_example(&moto);
    let ws = example_workspace();

    let before = moto.state();
    let run = stackfleet(&moto, ws.path(), &["plan", "--output", "json"]);
    run.assert_code(0);
    assert!(before == moto.state(), "plan changed moto's state");
    assert!(
        run.stderr.contains("acting as arn:aws:sts::123456789012:"),
        "progress goes to stderr:\n{}",
        run.stderr
    );
    let plan = run.json();

    assert_eq!(
        plan["summary"],
        json!({
            "create_stack_sets": 1,
            "update_stack_sets": 0,
            "delete_stack_sets": 0,
            "create_instances": 34,
            "delete_instances": 0,
            "update_instances": 0,
            "operations": 1,
            // 34 instances at once (the fleet rolls out 100 % in parallel), no history yet: one
            // instance-time of the documented default, 60 s.
            "estimated_seconds": 60,
        })
    );
    assert_eq!(plan["organization"]["id"], org["organization_id"]);
    assert_eq!(plan["organization"]["management_account"], MANAGEMENT);

    let mut expected: Vec<String> = org["accounts"]
        .as_object()
        .expect("accounts")
        .iter()
        .filter(|(name, a)| !name.starts_with("sandbox-") && a["status"] == "ACTIVE")
        .map(|(_, a)| a["id"].as_str().expect("id").to_string())
        .collect();
    // The management account sits at the root; self-managed stack sets can deploy to it.
    expected.push(MANAGEMENT.to_string());
    let expected = sorted(expected);
    assert_eq!(expected.len(), 17);

    let sets = plan["stack_sets"].as_array().expect("stack_sets");
    assert_eq!(sets.len(), 1);
    let set = &sets[0];
    assert_eq!(set["name"], "s3-policy-monitor");
    assert_eq!(set["action"], "create");
    assert_eq!(set["permission_model"], "self-managed");
    assert_eq!(set["regions"], json!(["us-east-1", "eu-west-1"]));
    assert_eq!(set["desired_instances"], 34);
    assert_eq!(set["existing_instances"], 0);
    let accounts: Vec<&str> = expected.iter().map(String::as_str).collect();
    assert_eq!(
        cells(&set["create_instances"]),
        grid(&accounts, &["us-east-1", "eu-west-1"])
    );
    assert_eq!(set["delete_instances"], json!([]));
    assert_eq!(
        operations(set),
        json!([operation(
            "create-instances",
            &accounts,
            &["us-east-1", "eu-west-1"]
        )])
    );
    for sandbox in ["sandbox-alice", "sandbox-bob", "sandbox-carol"] {
        assert!(
            !plan.to_string().contains(&account_id(&org, sandbox)),
            "{sandbox} is excluded and appears nowhere in the plan"
        );
    }
    assert_eq!(
        set["skipped"],
        json!([{
            "account": account_id(&org, "dev-legacy"),
            "account_name": "dev-legacy",
            "reason": "suspended",
        }])
    );
    let desired = &set["desired"];
    assert_eq!(
        desired["parameters"],
        json!({"NotificationEmail": "secops@example.com"})
    );
    assert_eq!(
        desired["tags"],
        json!({"owner": "security", "purpose": "s3-policy-monitor", "stackfleet:fleet": "security-baseline"})
    );
    assert_eq!(
        desired["template_body"],
        std::fs::read_to_string(ws.path().join("templates/s3-policy-monitor.yaml")).unwrap()
    );

    // --detailed-exitcode: 2 when there are changes; --out saves the same JSON.
    let run = stackfleet(
        &moto,
        ws.path(),
        &[
            "plan",
            "--output",
            "json",
            "--detailed-exitcode",
            "--out",
            "plan.json",
        ],
    );
    run.assert_code(2);
    // The same state gives the same plan, but for the nonce and time each plan is stamped with
    // (and the operation ids derived from the nonce).
    let unstamped = |mut p: Value| {
        p["nonce"] = Value::Null;
        p["planned_at"] = Value::Null;
        for set in p["stack_sets"].as_array_mut().unwrap() {
            for op in set["operations"].as_array_mut().unwrap() {
                op["id"] = Value::Null;
            }
        }
        p
    };
    assert_ne!(run.json()["nonce"], plan["nonce"]);
    assert_eq!(unstamped(run.json()), unstamped(plan.clone()));
    let saved: Value =
        serde_json::from_str(&std::fs::read_to_string(ws.path().join("plan.json")).unwrap())
            .expect("plan.json is JSON");
    assert_eq!(saved, run.json());
}

#[test]
fn example_org_table_and_markdown() {
    let moto = Moto::start();
    seed_example(&moto);
    let ws = example_workspace();

    let table = stackfleet(&moto, ws.path(), &["plan"]);
    table.assert_code(0);
    insta::assert_snapshot!("example_org_table", table.snapshot());

    let detail = stackfleet(&moto, ws.path(), &["plan", "--detail", "--quiet"]);
    detail.assert_code(0);
    insta::assert_snapshot!("example_org_table_detail", detail.snapshot());

    let markdown = stackfleet(&moto, ws.path(), &["plan", "--output", "markdown"]);
    markdown.assert_code(0);
    insta::assert_snapshot!("example_org_markdown", markdown.snapshot());

    // A 100-column terminal: every table fits (issue 16 item 6), the words all still there.
    let narrow = stackfleet_env(
        &moto,
        ws.path(),
        &["plan", "--quiet"],
        &[("COLUMNS", Some("100"))],
    );
    narrow.assert_code(0);
    assert_fits(&narrow.stdout, 100);
    assert_whole_words(
        &narrow.stdout,
        &[
            "Action",
            "Regions",
            "Existing",
            "desired",
            "Create",
            "Delete",
            "Update",
            "Skipped",
            "Operation",
            "Accounts",
            "Instances",
            "Estimate",
        ],
    );
    insta::assert_snapshot!("example_org_table_100_columns", narrow.snapshot());
}

/// Panics unless each of `words` (table headers) appears whole in `text`, between spaces or
/// column separators: a header broken mid-word would be split over two lines.
pub fn assert_whole_words(text: &str, words: &[&str]) {
    for word in words {
        let whole = text.lines().any(|line| {
            line.split(|c: char| c.is_whitespace() || "│┆".contains(c))
                .any(|token| token == *word)
        });
        assert!(whole, "{word:?} is not whole in:\n{text}");
    }
}

/// Panics unless every line of `text` is at most `width` characters wide.
pub fn assert_fits(text: &str, width: usize) {
    for line in text.lines() {
        assert!(
            line.chars().count() <= width,
            "a line of {} characters:\n{line}\n--- in ---\n{text}",
            line.chars().count()
        );
    }
}

/// The repository's fleet.toml applied by hand: the real monitor template in every governed
/// account and region. Planning again must find nothing to do, so the template, parameters,
/// description and tags survive the round trip through StackSets unchanged.
#[test]
fn example_org_fully_deployed_has_no_changes() {
    let moto = Moto::start();
    let mut spec = example_spec();
    let governed: Vec<Value> = spec["accounts"]
        .as_array()
        .expect("accounts")
        .iter()
        .filter(|a| {
            let name = a["name"].as_str().expect("name");
            !name.starts_with("sandbox-") && a.get("suspended") != Some(&json!(true))
        })
        .map(|a| a["name"].clone())
        .chain([json!(MANAGEMENT)])
        .collect();
    assert_eq!(governed.len(), 17);
    let template = std::fs::read_to_string(format!("{REPO}/templates/s3-policy-monitor.yaml"))
        .expect("the monitor template");
    spec["stack_sets"] = json!([{
        "name": "s3-policy-monitor",
        "template_body": template,
        "parameters": {"NotificationEmail": "secops@example.com"},
        "description": "Alerts on S3 bucket policy and ACL changes",
        "tags": {"owner": "security", "purpose": "s3-policy-monitor", "stackfleet:fleet": "security-baseline"},
        "capabilities": [],
        "instances": [{"accounts": governed, "regions": ["us-east-1", "eu-west-1"]}],
    }]);
    seed(&moto, spec);
    let ws = example_workspace();

    let run = stackfleet(
        &moto,
        ws.path(),
        &["plan", "--detailed-exitcode", "--output", "json"],
    );
    run.assert_code(0);
    let plan = run.json();
    let set = &plan["stack_sets"][0];
    assert_eq!(set["action"], "none", "changes: {}", set["changes"]);
    assert_eq!(set["existing_instances"], 34);
    assert_eq!(set["operations"], json!([]));
    assert_eq!(plan["summary"]["operations"], 0);

    let run = stackfleet(&moto, ws.path(), &["plan", "--detailed-exitcode"]);
    run.assert_code(0);
    assert!(
        run.stdout
            .contains("No changes: StackSets already matches fleet.toml."),
        "{}",
        run.stdout
    );
}

/// A stack set that matches fleet.toml but whose instances do not: cells missing, instances in
/// an excluded OU and in a region fleet.toml no longer lists, one in a suspended account.
#[test]
fn partial_deployment_plans_exact_cells_and_rectangles() {
    let moto = Moto::start();
    let org = seed(
        &moto,
        json!({
            "seed": 11,
            "ous": ["/Prod", "/Dev", "/Excluded"],
            "accounts": [
                {"name": "prod-a", "ou": "/Prod"},
                {"name": "prod-b", "ou": "/Prod"},
                {"name": "prod-c", "ou": "/Prod"},
                {"name": "dev-a", "ou": "/Dev"},
                {"name": "dev-new", "ou": "/Dev"},
                {"name": "dev-closed", "ou": "/Dev", "suspended": true},
                {"name": "excluded-a", "ou": "/Excluded"},
            ],
            "stack_sets": [marker_stack_set(json!([
                {"accounts": [MANAGEMENT, "prod-a", "prod-b"],
                 "regions": ["us-east-1", "eu-west-1", "ap-southeast-2"]},
                {"accounts": ["prod-c", "dev-a"], "regions": ["us-east-1", "ap-southeast-2"]},
                {"account": "excluded-a", "regions": ["us-east-1"]},
                {"account": "dev-closed", "regions": ["us-east-1"]},
            ]))],
        }),
    );
    let id = |name: &str| account_id(&org, name);
    let (prod_a, prod_b, prod_c) = (id("prod-a"), id("prod-b"), id("prod-c"));
    let (dev_a, dev_new, dev_closed) = (id("dev-a"), id("dev-new"), id("dev-closed"));
    let excluded_a = id("excluded-a");

    let ws = marker_workspace();
    let before = moto.state();
    let run = stackfleet(&moto, ws.path(), &["plan", "--output", "json"]);
    run.assert_code(0);
    assert!(before == moto.state(), "plan changed moto's state");
    let plan = run.json();
    let set = &plan["stack_sets"][0];
    assert_eq!(set["name"], "marker");
    assert_eq!(
        set["action"], "none",
        "template, parameters, description and tags match: {}",
        set["changes"]
    );
    assert!(set.get("changes").is_none() && set.get("template_diff").is_none());
    assert_eq!(set["existing_instances"], 15);
    assert_eq!(set["desired_instances"], 12);

    assert_eq!(
        cells(&set["create_instances"]),
        union([
            grid(&[&prod_c, &dev_a], &["eu-west-1"]),
            grid(&[&dev_new], &["us-east-1", "eu-west-1"])
        ])
    );
    // The suspended account's instance is neither deleted nor repaired: StackSets cannot touch it.
    assert_eq!(
        cells(&set["delete_instances"]),
        union([
            grid(
                &[MANAGEMENT, &prod_a, &prod_b, &prod_c, &dev_a],
                &["ap-southeast-2"]
            ),
            grid(&[&excluded_a], &["us-east-1"])
        ])
    );
    assert_eq!(set["update_instances"], json!([]));
    assert_eq!(
        set["skipped"],
        json!([{"account": dev_closed, "account_name": "dev-closed", "reason": "suspended"}])
    );

    // Deletions first, then creations; each as few rectangles as the cells allow: the removed
    // region is one operation across accounts, and the two accounts that miss eu-west-1 share
    // one with the new account, whose us-east-1 cell is the only other one.
    let mut deletes = vec![
        operation(
            "delete-instances",
            &[MANAGEMENT, &prod_a, &prod_b, &prod_c, &dev_a],
            &["ap-southeast-2"],
        ),
        operation("delete-instances", &[&excluded_a], &["us-east-1"]),
    ];
    let mut creates = vec![
        operation(
            "create-instances",
            &[&prod_c, &dev_a, &dev_new],
            &["eu-west-1"],
        ),
        operation("create-instances", &[&dev_new], &["us-east-1"]),
    ];
    in_plan_order(&mut deletes);
    in_plan_order(&mut creates);
    let expected: Vec<Value> = deletes.into_iter().chain(creates).collect();
    assert_eq!(operations(set), json!(expected));

    assert_eq!(
        summary_without_estimate(&plan),
        json!({
            "create_stack_sets": 0,
            "update_stack_sets": 0,
            "delete_stack_sets": 0,
            "create_instances": 4,
            "delete_instances": 6,
            "update_instances": 0,
            "operations": 4,
        })
    );
}

/// A small organization: the management account, one account in an OU, one at the root, and an
/// empty /Excluded (which [`MARKER_FLEET`] excludes).
fn small_org(stack_set: Value) -> Value {
    json!({
        "seed": 5,
        "ous": ["/Prod", "/Excluded"],
        "accounts": [
            {"name": "prod-a", "ou": "/Prod"},
            {"name": "standalone"},
        ],
        "stack_sets": [stack_set],
    })
}

#[test]
fn fully_deployed_fleet_has_no_changes() {
    let moto = Moto::start();
    let stack_set = marker_stack_set(json!([{
        "accounts": [MANAGEMENT, "prod-a", "standalone"],
        "regions": ["us-east-1", "eu-west-1"],
    }]));
    seed(&moto, small_org(stack_set));
    let ws = marker_workspace();

    let run = stackfleet(&moto, ws.path(), &["plan", "--detailed-exitcode"]);
    run.assert_code(0);
    assert!(
        run.stdout
            .contains("No changes: StackSets already matches fleet.toml."),
        "{}",
        run.stdout
    );

    let run = stackfleet(
        &moto,
        ws.path(),
        &["plan", "--detailed-exitcode", "--output", "json"],
    );
    run.assert_code(0);
    let plan = run.json();
    assert_eq!(
        plan["summary"],
        json!({
            "create_stack_sets": 0,
            "update_stack_sets": 0,
            "delete_stack_sets": 0,
            "create_instances": 0,
            "delete_instances": 0,
            "update_instances": 0,
            "operations": 0,
            "estimated_seconds": 0,
        })
    );
    let set = &plan["stack_sets"][0];
    assert_eq!(set["action"], "none");
    assert_eq!(set["existing_instances"], 6);
    assert_eq!(set["operations"], json!([]));
}

/// A stack set this fleet created (it carries the fleet's tag) that left fleet.toml is deleted
/// with its instances; stack sets of another fleet or of nobody are never touched.
#[test]
fn stack_set_removed_from_fleet_toml_is_deleted_and_others_are_left_alone() {
    let moto = Moto::start();
    let everywhere = json!([{
        "accounts": [MANAGEMENT, "prod-a", "standalone"],
        "regions": ["us-east-1", "eu-west-1"],
    }]);
    let mut legacy = marker_stack_set(json!([
        {"account": "prod-a", "regions": ["us-east-1"]},
        {"account": "standalone", "regions": ["us-east-1", "eu-west-1"]},
    ]));
    legacy["name"] = json!("legacy-marker");
    let mut other_fleet = marker_stack_set(everywhere.clone());
    other_fleet["name"] = json!("other-fleet-marker");
    other_fleet["tags"] = json!({"stackfleet:fleet": "other"});
    let mut untagged = marker_stack_set(everywhere.clone());
    untagged["name"] = json!("hand-made");
    untagged["tags"] = json!({});
    let mut spec = small_org(marker_stack_set(everywhere));
    spec["stack_sets"]
        .as_array_mut()
        .unwrap()
        .extend([legacy, other_fleet, untagged]);
    let org = seed(&moto, spec);
    let (prod_a, standalone) = (account_id(&org, "prod-a"), account_id(&org, "standalone"));
    let ws = marker_workspace();

    let run = stackfleet(&moto, ws.path(), &["plan", "--output", "json"]);
    run.assert_code(0);
    let plan = run.json();
    let names: Vec<&str> = plan["stack_sets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["marker", "legacy-marker"]);
    assert_eq!(plan["stack_sets"][0]["action"], "none");
    let legacy = &plan["stack_sets"][1];
    assert_eq!(legacy["action"], "delete");
    assert_eq!(legacy["desired_instances"], 0);
    assert_eq!(legacy["existing_instances"], 3);
    assert_eq!(
        cells(&legacy["delete_instances"]),
        union([
            grid(&[&standalone], &["us-east-1", "eu-west-1"]),
            grid(&[&prod_a], &["us-east-1"])
        ])
    );
    let mut expected = vec![
        operation("delete-instances", &[&prod_a, &standalone], &["us-east-1"]),
        operation("delete-instances", &[&standalone], &["eu-west-1"]),
    ];
    in_plan_order(&mut expected);
    assert_eq!(operations(legacy), json!(expected));
    assert_eq!(
        summary_without_estimate(&plan),
        json!({
            "create_stack_sets": 0,
            "update_stack_sets": 0,
            "delete_stack_sets": 1,
            "create_instances": 0,
            "delete_instances": 3,
            "update_instances": 0,
            "operations": 2,
        })
    );

    // Deleting a stack set passes apply's guard only with --allow-delete: the plan says so.
    let table = stackfleet(&moto, ws.path(), &["plan"]);
    table.assert_code(0);
    // The words of what is deleted are the guard's own (commands/apply.rs).
    let note = table.stdout.lines().last().unwrap_or_default().to_string();
    assert!(
        note.starts_with("Apply will need --allow-delete: this plan deletes ")
            && note.contains("legacy-marker"),
        "{}",
        table.stdout
    );
    let markdown = stackfleet(&moto, ws.path(), &["plan", "--output", "markdown"]);
    assert!(
        markdown.stdout.contains(&format!(
            "> [!CAUTION]\n> {}",
            note.replace("--allow-delete", "`--allow-delete`")
        )),
        "{}",
        markdown.stdout
    );
}

#[test]
fn changed_template_and_parameter_plan_an_update() {
    let moto = Moto::start();
    let mut stack_set = marker_stack_set(json!([{
        "accounts": [MANAGEMENT, "prod-a", "standalone"],
        "regions": ["us-east-1", "eu-west-1"],
    }]));
    stack_set["template_body"] = json!(MARKER_TEMPLATE.replace(
        "Description: Who owns the stack",
        "Description: The owning team"
    ));
    stack_set["parameters"] = json!({"Team": "platform"});
    seed(&moto, small_org(stack_set));
    let ws = marker_workspace();

    let run = stackfleet(
        &moto,
        ws.path(),
        &["plan", "--output", "json", "--detailed-exitcode"],
    );
    run.assert_code(2);
    let plan = run.json();
    let set = &plan["stack_sets"][0];
    assert_eq!(set["action"], "update");
    assert_eq!(
        set["changes"],
        json!([
            {"field": "template", "before": null, "after": null},
            {"field": "parameters.Team", "before": "platform", "after": "security"},
        ])
    );
    let diff = set["template_diff"].as_str().expect("template_diff");
    assert!(
        diff.contains("-    Description: The owning team\n")
            && diff.contains("+    Description: Who owns the stack\n"),
        "{diff}"
    );
    assert_eq!(
        operations(set),
        json!([{"action": "update-stack-set", "accounts": [], "regions": [], "instances": 6}])
    );
    assert_eq!(plan["summary"]["update_stack_sets"], 1);
    assert_eq!(plan["summary"]["operations"], 1);

    let table = stackfleet(&moto, ws.path(), &["plan", "--quiet"]);
    table.assert_code(0);
    insta::assert_snapshot!("changed_stack_set_table", table.snapshot());
}

#[test]
fn unknown_key_fails_before_any_aws_call() {
    let tripwire = Tripwire::new();
    let ws = marker_workspace()
        .with_fleet(&MARKER_FLEET.replace("management_account =", "managment_account ="));
    let run = stackfleet(&tripwire, ws.path(), &["plan"]);
    run.assert_code(1);
    assert!(
        run.stderr
            .contains("fleet.toml:5:1: unknown field `managment_account`"),
        "{}",
        run.stderr
    );
    assert_eq!(run.stdout, "");
    tripwire.assert_untouched();
}

#[test]
fn malformed_account_id_fails_before_any_aws_call() {
    let tripwire = Tripwire::new();
    let ws = marker_workspace().with_fleet(&format!(
        "{MARKER_FLEET}exclude_accounts = [\"111111111111\", \"12345\"]\n"
    ));
    let run = stackfleet(&tripwire, ws.path(), &["plan", "--output", "json"]);
    run.assert_code(1);
    assert!(
        run.stderr
            .contains("fleet.toml:19:37: malformed account id \"12345\": expected 12 digits"),
        "{}",
        run.stderr
    );
    assert_eq!(run.stdout, "");
    tripwire.assert_untouched();
}

#[test]
fn targets_missing_from_the_organization_are_located_in_fleet_toml() {
    let moto = Moto::start();
    let org = seed(
        &moto,
        json!({"ous": ["/Prod"], "accounts": [{"name": "prod-a", "ou": "/Prod"}]}),
    );
    let ws = marker_workspace().with_fleet(&MARKER_FLEET.replace(
        "organizational_units = [\"/\"]",
        "organizational_units = [\"/Prod\", \"/Nope\"]\naccounts = [\"210987654321\"]",
    ));
    let before = moto.state();
    let run = stackfleet(&moto, ws.path(), &["plan"]);
    run.assert_code(1);
    assert!(before == moto.state(), "plan changed moto's state");
    let org_id = org["organization_id"].as_str().unwrap();
    for expected in [
        format!("fleet.toml:17:34: OU path \"/Nope\" does not exist in organization {org_id}"),
        format!("fleet.toml:18:13: account 210987654321 is not in organization {org_id}"),
    ] {
        assert!(
            run.stderr.contains(&expected),
            "expected {expected:?} in:\n{}",
            run.stderr
        );
    }
    assert_eq!(run.stdout, "");
}

#[test]
fn refuses_to_run_as_another_management_account() {
    let moto = Moto::start();
    let ws = marker_workspace().with_fleet(&MARKER_FLEET.replace(
        "management_account = \"123456789012\"",
        "management_account = \"999999999999\"",
    ));
    let run = stackfleet(&moto, ws.path(), &["plan"]);
    run.assert_code(1);
    assert!(
        run.stderr
            .contains("refusing to run as account 123456789012")
            && run
                .stderr
                .contains("fleet.toml:5:22: organization.management_account is 999999999999"),
        "{}",
        run.stderr
    );
    assert_eq!(run.stdout, "");
}

#[test]
fn a_same_named_stack_set_of_no_fleet_is_refused_until_adopted_and_adoption_is_shown() {
    let moto = Moto::start();
    let mut stack_set = marker_stack_set(json!([{
        "accounts": [MANAGEMENT, "prod-a", "standalone"],
        "regions": ["us-east-1", "eu-west-1"],
    }]));
    // Made by hand before stackfleet, or by someone else: no stackfleet:fleet tag.
    stack_set["tags"] = json!({"owner": "security", "purpose": "e2e"});
    seed(&moto, small_org(stack_set));
    let ws = marker_workspace();

    for command in [
        &["plan"][..],
        &["apply", "--auto-approve", "--allow-delete"],
    ] {
        let before = moto.state();
        let run = stackfleet(&moto, ws.path(), command);
        run.assert_code(1);
        assert!(
            run.stderr.contains("stack set \"marker\" exists and is not this fleet's: it has no stackfleet:fleet tag")
                && run.stderr.contains("adopt = true"),
            "{}",
            run.stderr
        );
        assert!(before == moto.state(), "{command:?} changed moto's state");
    }

    ws.edit(
        "fleet.toml",
        "permission_model = \"self-managed\"",
        "permission_model = \"self-managed\"\nadopt = true",
    );
    let run = stackfleet(&moto, ws.path(), &["plan"]);
    run.assert_code(0);
    assert!(run.stdout.contains("adopt + update"), "{}", run.stdout);
    let run = stackfleet(&moto, ws.path(), &["plan", "--output", "json"]);
    let plan = run.json();
    let set = &plan["stack_sets"][0];
    assert_eq!(set["adopt"], true);
    assert_eq!(
        set["changes"],
        json!([{"field": "tags.stackfleet:fleet", "before": null, "after": "baseline"}])
    );
    stackfleet(&moto, ws.path(), &["apply", "--auto-approve"]).assert_code(0);
    let run = stackfleet(&moto, ws.path(), &["plan", "--detailed-exitcode"]);
    run.assert_code(0);
}
