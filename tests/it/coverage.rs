//! `stackfleet coverage` end to end: a partly covered organization built with `stackfleet apply`
//! and then changed behind its back with boto3 (instances deleted, stale instances created), read
//! back as JSON (every interesting cell and the totals), CSV, and table and Markdown snapshots.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::doctor::healthy_trail;
use crate::harness::{
    Moto, Workspace, account_id, boto3, seed_example, stackfleet, stackfleet_env,
};
use crate::plan::{assert_fits, assert_whole_words};

const MANAGEMENT: &str = "123456789012";

/// The marker template over /Workloads and /Security of the example organization, sandboxes
/// excluded: /Infrastructure, the account at the root and the management account are targeted
/// by nothing.
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
organizational_units = ["/Workloads", "/Security"]
exclude_organizational_units = ["/Workloads/Sandbox"]
"#;

/// The example organization with the marker fleet applied, then:
/// - prod-orders lost its eu-west-1 instance and dev-catalog both of its instances (deleted
///   directly, as someone with console access would);
/// - sandbox-alice (excluded) got an instance in us-east-1, and prod-payments one in
///   ap-southeast-2, which fleet.toml does not govern.
fn partly_covered() -> (Moto, Value, Workspace) {
    let moto = Moto::start();
    let org = seed_example(&moto);
    // CloudTrail delivers the events everywhere, so deployed cells are covered, not unverified.
    healthy_trail(&moto);
    let ws = Workspace::new().with_marker_template().with_fleet(FLEET);
    let run = stackfleet(&moto, ws.path(), &["apply", "--auto-approve", "--quiet"]);
    run.assert_code(0);
    let id = |name: &str| account_id(&org, name);
    let listed = boto3(
        &moto,
        r#"
cf = client("cloudformation")
def done(op):
    status = wait("marker", op["OperationId"])
    assert status == "SUCCEEDED", status
for accounts, regions in ARGS["delete"]:
    done(cf.delete_stack_instances(StackSetName="marker", Accounts=accounts, Regions=regions,
                                   RetainStacks=False))
for accounts, regions in ARGS["create"]:
    done(cf.create_stack_instances(StackSetName="marker", Accounts=accounts, Regions=regions))
result = instances("marker")
"#,
        json!({
            "delete": [
                [[id("prod-orders")], ["eu-west-1"]],
                [[id("dev-catalog")], ["us-east-1", "eu-west-1"]],
            ],
            "create": [
                [[id("sandbox-alice")], ["us-east-1"]],
                [[id("prod-payments")], ["ap-southeast-2"]],
            ],
        }),
    );
    // 13 targeted active accounts × 2 regions, less 3 deleted, plus 2 stale.
    assert_eq!(listed.as_array().map(Vec::len), Some(26 - 3 + 2));
    (moto, org, ws)
}

/// `(account name, region)` → status, for every cell of the stack set.
fn statuses(coverage: &Value, org: &Value) -> BTreeMap<(String, String), String> {
    let names: BTreeMap<String, String> = org["accounts"]
        .as_object()
        .expect("accounts")
        .iter()
        .map(|(name, a)| (a["id"].as_str().unwrap().to_string(), name.clone()))
        .chain([(MANAGEMENT.to_string(), "management".to_string())])
        .collect();
    coverage["stack_sets"][0]["cells"]
        .as_array()
        .expect("cells")
        .iter()
        .map(|c| {
            let account = c["account"].as_str().unwrap();
            (
                (
                    names
                        .get(account)
                        .cloned()
                        .unwrap_or_else(|| account.to_string()),
                    c["region"].as_str().unwrap().to_string(),
                ),
                c["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn partial_coverage_in_json_csv_table_and_markdown() {
    let (moto, org, ws) = partly_covered();
    let coverage = assert_json_report(&moto, &org, &ws);
    assert_csv_matches(&moto, &ws, &coverage);
    assert_table_and_markdown(&moto, &ws);
    crate::coverage_html::assert_html_report(&moto, &ws, &coverage);
}

/// The JSON report: every interesting cell with its status, reason and flag, the totals, the
/// uncovered accounts, per OU; and the exit code at several thresholds. Returns the report.
fn assert_json_report(moto: &Moto, org: &Value, ws: &Workspace) -> Value {
    let id = |name: &str| account_id(org, name);

    let before = moto.state();
    let run = stackfleet(moto, ws.path(), &["coverage", "--output", "json"]);
    // Default --min-coverage is 100: below it, exit 2, with the report still on stdout.
    run.assert_code(2);
    assert!(before == moto.state(), "coverage changed moto's state");
    assert!(
        run.stderr
            .contains("coverage 88.4% of required cells is below --min-coverage 100%"),
        "{}",
        run.stderr
    );
    let coverage = run.json();
    assert_eq!(coverage["organization_id"], org["organization_id"]);

    let set = &coverage["stack_sets"][0];
    assert_eq!(set["name"], "marker");
    assert_eq!(set["regions"], json!(["us-east-1", "eu-west-1"]));
    // 13 accounts (2 in /Security, 6 in /Workloads/Prod, 5 active in /Workloads/Dev) × 2.
    assert_eq!(set["required"], 26);
    assert_eq!(set["covered"], 23);
    assert_eq!(set["percent"], 88.4);

    let summary = &coverage["summary"];
    assert_eq!(summary["required"], 26);
    assert_eq!(summary["covered"], 23);
    assert_eq!(summary["percent"], 88.4);
    assert_eq!(summary["min_coverage"], 100.0);
    assert_eq!(summary["ok"], false);
    assert_eq!(
        summary["by_status"],
        json!({
            "covered": 23,
            "missing": 3,
            "suspended": 2,
            "excluded": 5,
            "unmanaged": 2,
            "untargeted": 8,
        })
    );

    let statuses = statuses(&coverage, org);
    // 21 accounts × 2 governed regions, plus the one instance in an ungoverned region.
    assert_eq!(statuses.len(), 43);
    let expected = [
        ("prod-payments", "us-east-1", "covered"),
        ("prod-payments", "eu-west-1", "covered"),
        ("prod-payments", "ap-southeast-2", "unmanaged"),
        ("prod-orders", "us-east-1", "covered"),
        ("prod-orders", "eu-west-1", "missing"),
        ("dev-catalog", "us-east-1", "missing"),
        ("dev-catalog", "eu-west-1", "missing"),
        ("dev-legacy", "us-east-1", "suspended"),
        ("dev-legacy", "eu-west-1", "suspended"),
        ("security-tooling", "us-east-1", "covered"),
        ("log-archive", "eu-west-1", "covered"),
        ("sandbox-alice", "us-east-1", "unmanaged"),
        ("sandbox-alice", "eu-west-1", "excluded"),
        ("sandbox-bob", "us-east-1", "excluded"),
        ("sandbox-carol", "eu-west-1", "excluded"),
        ("network", "us-east-1", "untargeted"),
        ("shared-services", "eu-west-1", "untargeted"),
        ("acquired-startup", "us-east-1", "untargeted"),
        ("management", "us-east-1", "untargeted"),
        ("management", "eu-west-1", "untargeted"),
    ];
    for (name, region, status) in expected {
        assert_eq!(
            statuses
                .get(&(name.to_string(), region.to_string()))
                .map(String::as_str),
            Some(status),
            "{name} {region}"
        );
    }
    let covered = statuses.values().filter(|s| *s == "covered").count();
    assert_eq!(covered, 23);

    // Reasons and flags of the interesting cells.
    let cells = set["cells"].as_array().unwrap();
    let cell = |name: &str, region: &str| -> &Value {
        let account = if name == "management" {
            MANAGEMENT.to_string()
        } else {
            id(name)
        };
        cells
            .iter()
            .find(|c| c["account"] == account && c["region"] == region)
            .unwrap_or_else(|| panic!("no cell {name} {region}"))
    };
    assert_eq!(
        cell("prod-orders", "eu-west-1"),
        &json!({
            "account": id("prod-orders"),
            "account_name": "prod-orders",
            "ou_path": "/Workloads/Prod",
            "region": "eu-west-1",
            "status": "missing",
            "reason": "no stack instance; apply creates it",
            "required": true,
        })
    );
    assert_eq!(
        cell("prod-payments", "ap-southeast-2")["reason"],
        "an instance exists but the region is not governed by fleet.toml; apply deletes it"
    );
    assert_eq!(cell("prod-payments", "ap-southeast-2")["required"], false);
    assert_eq!(
        cell("sandbox-alice", "us-east-1")["reason"],
        "an instance exists but fleet.toml excludes the account; apply deletes it"
    );
    assert_eq!(
        cell("dev-legacy", "us-east-1")["reason"],
        "account is suspended: StackSets cannot deploy to it"
    );
    assert_eq!(cell("dev-legacy", "us-east-1")["required"], false);
    assert_eq!(
        cell("sandbox-bob", "us-east-1")["reason"],
        "excluded by fleet.toml"
    );
    assert_eq!(
        cell("network", "us-east-1")["reason"],
        "no target of fleet.toml selects this account"
    );
    assert_eq!(cell("management", "us-east-1")["ou_path"], "/");

    // Active accounts without a single covered cell, by account id.
    let mut uncovered: Vec<Value> = [
        ("dev-catalog", "/Workloads/Dev", vec!["missing"]),
        ("network", "/Infrastructure", vec!["untargeted"]),
        ("shared-services", "/Infrastructure", vec!["untargeted"]),
        ("acquired-startup", "/", vec!["untargeted"]),
        ("sandbox-alice", "/Workloads/Sandbox", vec!["excluded", "unmanaged"]),
        ("sandbox-bob", "/Workloads/Sandbox", vec!["excluded"]),
        ("sandbox-carol", "/Workloads/Sandbox", vec!["excluded"]),
    ]
    .into_iter()
    .map(|(name, ou, statuses)| {
        json!({"account": id(name), "account_name": name, "ou_path": ou, "statuses": statuses})
    })
    .chain([json!({
        "account": MANAGEMENT,
        "account_name": "master",
        "ou_path": "/",
        "statuses": ["untargeted"],
    })])
    .collect();
    uncovered.sort_by_key(|a| a["account"].as_str().unwrap().to_string());
    assert_eq!(summary["uncovered_accounts"], json!(uncovered));

    // Per OU: nested OUs included, only required cells counted.
    let ous: BTreeMap<&str, (u64, u64)> = summary["organizational_units"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["ou_path"].as_str().unwrap(),
                (
                    o["required"].as_u64().unwrap(),
                    o["covered"].as_u64().unwrap(),
                ),
            )
        })
        .collect();
    assert_eq!(
        ous,
        BTreeMap::from([
            ("/", (26, 23)),
            ("/Security", (4, 4)),
            ("/Workloads", (22, 19)),
            ("/Workloads/Dev", (10, 8)),
            ("/Workloads/Prod", (12, 11)),
        ])
    );

    // Below the threshold: exit 0, same report; at the exact percentage too.
    for min in ["50", "88.4"] {
        let run = stackfleet(
            moto,
            ws.path(),
            &["coverage", "--output", "json", "--min-coverage", min],
        );
        run.assert_code(0);
        let again = run.json();
        assert_eq!(again["summary"]["ok"], true);
        assert_eq!(again["stack_sets"], coverage["stack_sets"]);
    }
    let run = stackfleet(
        moto,
        ws.path(),
        &["coverage", "--quiet", "--min-coverage", "88.5"],
    );
    run.assert_code(2);

    // --require-all-accounts counts the untargeted accounts too: 4 more accounts × 2 regions.
    let run = stackfleet(
        moto,
        ws.path(),
        &[
            "coverage",
            "--output",
            "json",
            "--require-all-accounts",
            "--min-coverage",
            "0",
        ],
    );
    run.assert_code(0);
    let all = run.json();
    assert_eq!(all["summary"]["required"], 34);
    assert_eq!(all["summary"]["covered"], 23);
    assert_eq!(all["summary"]["percent"], 67.6);
    coverage
}

/// Parses RFC 4180 CSV (quoted fields with doubled quotes; no newline inside a field here).
fn parse_csv_line(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (false, ',') => fields.push(std::mem::take(&mut field)),
            (false, '"') if field.is_empty() => quoted = true,
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (_, c) => field.push(c),
        }
    }
    assert!(!quoted, "unterminated quote in {line:?}");
    fields.push(field);
    fields
}

/// CSV: a header, then one parseable line per cell, the same cells as the JSON report.
fn assert_csv_matches(moto: &Moto, ws: &Workspace, coverage: &Value) {
    let cells = coverage["stack_sets"][0]["cells"].as_array().unwrap();
    let run = stackfleet(moto, ws.path(), &["coverage", "--output", "csv", "--quiet"]);
    run.assert_code(2);
    let mut lines = run.stdout.lines();
    assert_eq!(
        lines.next(),
        Some("stack_set,account,account_name,ou_path,region,status,required,reason")
    );
    let rows: Vec<Vec<String>> = lines.map(parse_csv_line).collect();
    assert_eq!(rows.len(), cells.len());
    assert_eq!(rows.len(), 43);
    for (row, cell) in rows.iter().zip(cells) {
        assert_eq!(row.len(), 8, "{row:?}");
        let expected = [
            "marker".to_string(),
            cell["account"].as_str().unwrap().to_string(),
            cell["account_name"].as_str().unwrap().to_string(),
            cell["ou_path"].as_str().unwrap().to_string(),
            cell["region"].as_str().unwrap().to_string(),
            cell["status"].as_str().unwrap().to_string(),
            cell["required"].to_string(),
            cell["reason"].as_str().unwrap().to_string(),
        ];
        assert_eq!(row.as_slice(), expected.as_slice());
    }
    assert_eq!(rows.iter().filter(|r| r[6] == "true").count(), 26);
}

/// Table and Markdown as snapshots (the seed makes the organization's ids the same on every run,
/// so no filter is needed); `--detail` lists every account.
fn assert_table_and_markdown(moto: &Moto, ws: &Workspace) {
    let table = stackfleet(moto, ws.path(), &["coverage"]);
    table.assert_code(2);
    insta::assert_snapshot!("partial_coverage_table", table.snapshot());
    assert!(
        !table.stdout.contains("security-tooling"),
        "only accounts that need attention"
    );
    let markdown = stackfleet(moto, ws.path(), &["coverage", "--output", "markdown"]);
    markdown.assert_code(2);
    insta::assert_snapshot!("partial_coverage_markdown", markdown.snapshot());
    let detail = stackfleet(moto, ws.path(), &["coverage", "--detail", "--quiet"]);
    detail.assert_code(2);
    for name in ["prod-payments", "security-tooling", "dev-legacy", "network"] {
        assert!(detail.stdout.contains(name), "--detail lists {name}");
    }
    // A 100-column terminal: nothing wider, no header word broken (issue 16 item 6).
    let narrow = stackfleet_env(
        moto,
        ws.path(),
        &["coverage", "--quiet"],
        &[("COLUMNS", Some("100"))],
    );
    narrow.assert_code(2);
    assert_fits(&narrow.stdout, 100);
    assert_whole_words(
        &narrow.stdout,
        &["Required", "Covered", "outdated", "suspended"],
    );
    insta::assert_snapshot!("partial_coverage_table_100_columns", narrow.snapshot());
}
