//! apply's log as CI keeps it (stdout and stderr not terminals, 100 columns): the plan it carries
//! out before the progress, each operation's outcome once, counts in words that agree with them.

use crate::harness::{Moto, Run, Workspace, seed_example, stackfleet_env};
use crate::plan::assert_fits;

/// The repository's fleet.toml with the marker template, which moto deploys fast.
fn workspace() -> Workspace {
    let ws = Workspace::new()
        .copy_from_repo("fleet.toml")
        .with_marker_template();
    ws.edit(
        "fleet.toml",
        r#"template = "templates/s3-policy-monitor.yaml""#,
        r#"template = "templates/marker.yaml""#,
    );
    ws.edit(
        "fleet.toml",
        r#"parameters = { NotificationEmail = "secops@example.com" }"#,
        r#"parameters = { Team = "security" }"#,
    );
    ws
}

/// The run without the timestamps of progress lines, the operation ids and the polls of a
/// running operation.
fn normalized(run: &Run) -> String {
    let mut text = run.snapshot();
    for word in run
        .stdout
        .split_whitespace()
        .chain(run.stderr.split_whitespace())
    {
        if word.starts_with("stackfleet-") && word.len() > 20 {
            text = text.replace(word, "OPERATION-ID");
        }
    }
    text.lines()
        .map(|l| match l.split_once("Z ") {
            Some((time, rest)) if time.len() == 19 && time.starts_with("20") => {
                format!("TIME {rest}")
            }
            _ => l.to_string(),
        })
        // How many polls saw the operation running depends on the machine's speed.
        .filter(|l| !l.contains(" RUNNING, "))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn unattended_apply_logs_the_plan_then_each_outcome_once() {
    let moto = Moto::start();
    seed_example(&moto);
    let ws = workspace();
    let run = stackfleet_env(
        &moto,
        ws.path(),
        &["apply", "--auto-approve"],
        &[("COLUMNS", Some("100"))],
    );
    run.assert_code(0);
    assert_fits(&run.stdout, 100);
    // The plan's tables in the log fit too; a timestamped progress line is a log line.
    let tables: String = run
        .stderr
        .lines()
        .filter(|l| l.contains('│') || l.contains('┌') || l.contains('└'))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_fits(&tables, 100);

    // The plan, as `plan` renders it, before the first progress line.
    let plan_at = run
        .stderr
        .find("Operations, in order")
        .expect("the plan is logged");
    let progress_at = run.stderr.find("stack set created").expect("progress");
    assert!(plan_at < progress_at, "{}", run.stderr);
    assert!(
        !run.stderr.contains("--detail"),
        "apply has no --detail flag"
    );

    // Each operation's outcome once in the log (stderr), once in the report (stdout).
    let ids: Vec<&str> = run
        .stderr
        .split_whitespace()
        .filter(|w| w.starts_with("stackfleet-") && w.len() > 20)
        .collect();
    assert!(!ids.is_empty(), "{}", run.stderr);
    for id in ids {
        let outcomes = run
            .stderr
            .lines()
            .filter(|l| l.contains(id) && l.contains("SUCCEEDED"))
            .count();
        assert_eq!(outcomes, 1, "{id} ends more than once:\n{}", run.stderr);
    }
    // No "instance(s)", and "1 instance" never "1 instances".
    for text in [&run.stdout, &run.stderr] {
        assert!(!text.contains("(s)"), "{text}");
        assert!(
            !text.contains(" 1 instances") && !text.contains("(1 instances"),
            "{text}"
        );
    }
    // The times, ids and polls aside, the log is what the snapshot shows.
    insta::assert_snapshot!("unattended_apply_100_columns", normalized(&run));
}
