//! `stackfleet coverage --output html` and `--out FILE` end to end. The page of the partly
//! covered example organization (see `coverage.rs`) and its JSON report are kept in
//! `target/html-artifacts/sandbox.{html,json}` for the browser test (`tests/html/`), which holds
//! the page's DOM to that JSON.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::harness::{Endpoint, Moto, Tripwire, Workspace, stackfleet};

/// `target/html-artifacts`, beside this test binary's `target/tmp`.
pub fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("CARGO_TARGET_TMPDIR is inside the target directory")
        .join("html-artifacts");
    std::fs::create_dir_all(&dir).expect("create target/html-artifacts");
    dir
}

/// The page of the partly covered organization whose JSON report is `coverage`: written with
/// `--out` while the table goes to stdout, and on stdout without `--out`; then `--out` for JSON.
pub fn assert_html_report(moto: &Moto, ws: &Workspace, coverage: &Value) {
    let dir = artifacts();
    let page_path = dir.join("sandbox.html");
    let _ = std::fs::remove_file(&page_path);
    let out = page_path.to_str().expect("UTF-8 path");
    let run = stackfleet(
        moto,
        ws.path(),
        &["coverage", "--output", "html", "--out", out],
    );
    // Below --min-coverage: exit 2 as with every format, the file written all the same.
    run.assert_code(2);
    let table = stackfleet(moto, ws.path(), &["coverage"]);
    assert_eq!(run.stdout, table.stdout, "the table on stdout");
    assert!(
        run.stderr
            .contains(&format!("wrote the coverage report to {out}")),
        "{}",
        run.stderr
    );
    let page = std::fs::read_to_string(&page_path).expect("the page was written");
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.contains(r#"<strong id="total-percent" class="below">88.4%</strong>"#));
    assert!(page.contains(&format!(
        r#"<span id="organization">{}</span>"#,
        coverage["organization_id"].as_str().unwrap()
    )));
    for name in [
        "prod-orders",
        "dev-catalog",
        "sandbox-alice",
        "acquired-startup",
    ] {
        assert!(page.contains(&format!("\"{name}\"")), "{name} in the data");
    }
    assert!(!page.contains("http://") && !page.contains("https://"));
    std::fs::write(
        dir.join("sandbox.json"),
        serde_json::to_string_pretty(coverage).expect("JSON"),
    )
    .expect("write sandbox.json");

    // Without --out, the page is the output.
    let run = stackfleet(
        moto,
        ws.path(),
        &[
            "coverage",
            "--output",
            "html",
            "--quiet",
            "--min-coverage",
            "0",
        ],
    );
    run.assert_code(0);
    assert!(run.stdout.starts_with("<!DOCTYPE html>") && run.stdout.ends_with("</html>\n"));

    // --out with JSON: the same report as on stdout without it.
    let json_path = ws.path().join("coverage.json");
    let run = stackfleet(
        moto,
        ws.path(),
        &["coverage", "--output", "json", "--out", "coverage.json"],
    );
    run.assert_code(2);
    assert_eq!(run.stdout, table.stdout);
    let written: Value =
        serde_json::from_str(&std::fs::read_to_string(json_path).expect("coverage.json"))
            .expect("coverage.json is JSON");
    assert_eq!(written["stack_sets"], coverage["stack_sets"]);
    assert_eq!(written["summary"], coverage["summary"]);
}

/// `--out` that cannot be written fails at once, naming the path, before any AWS call: the
/// endpoint is a tripwire. An existing file is left as it was.
#[test]
fn unwritable_out_fails_before_any_aws_call() {
    let ws = Workspace::new()
        .with_marker_template()
        .with_fleet(
            r#"name = "baseline"

[organization]
home_region = "us-east-1"

[[stack_sets]]
name = "marker"
template = "templates/marker.yaml"
permission_model = "self-managed"
regions = ["us-east-1"]

[stack_sets.targets]
organizational_units = ["/"]
"#,
        )
        .write("report.html", "previous report");
    let missing = ws.path().join("no-such-dir/coverage.html");
    let missing = missing.to_str().unwrap();
    let cases: [&[&str]; 4] = [
        &["coverage", "--output", "html", "--out", missing],
        &["coverage", "--out", "."],
        &["plan", "--out", missing],
        &["plan", "--output", "markdown", "--out", "."],
    ];
    for args in cases {
        let tripwire = Tripwire::new();
        let run = stackfleet(&tripwire, ws.path(), args);
        run.assert_code(1);
        let path = args[args.len() - 1];
        assert!(
            run.stderr
                .starts_with(&format!("error: cannot write {path}: ")),
            "{args:?}: {}",
            run.stderr
        );
        assert_eq!(run.stdout, "");
        tripwire.assert_untouched();
    }
    // A writable --out that is never written (the AWS call fails) keeps what the file held.
    let closed = Closed::new();
    let run = stackfleet(
        &closed,
        ws.path(),
        &["coverage", "--output", "html", "--out", "report.html"],
    );
    run.assert_code(1);
    assert_eq!(
        std::fs::read_to_string(ws.path().join("report.html")).unwrap(),
        "previous report"
    );
}

/// A port nobody listens on: every call fails at once with "connection refused".
struct Closed(String);

impl Closed {
    fn new() -> Closed {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let url = format!("http://{}", listener.local_addr().expect("bound listener"));
        drop(listener);
        Closed(url)
    }
}

impl Endpoint for Closed {
    fn url(&self) -> String {
        self.0.clone()
    }
}
