//! Hangs: `--timeout` bounds a whole command against an endpoint that accepts connections and
//! never answers, says what was still pending, and changes nothing in a run that fits in it.

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::process::Child;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::harness::{
    Endpoint, Moto, Run, Workspace, finish, seed, stackfleet, stackfleet_command,
};
use crate::proxy::{Faults, Proxy};

const FLEET: &str = r#"name = "timeouts"

[organization]
home_region = "us-east-1"
management_account = "123456789012"

[defaults]
regions = ["us-east-1"]

[[stack_sets]]
name = "monitor"
template = "templates/marker.yaml"
permission_model = "self-managed"
parameters = { Team = "security" }

[stack_sets.targets]
organizational_units = ["/"]
"#;

/// An endpoint that accepts every connection, reads what is sent, and never answers.
struct Silent {
    url: String,
    held: Arc<Mutex<Vec<TcpStream>>>,
}

impl Silent {
    fn start() -> Silent {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let url = format!("http://{}", listener.local_addr().expect("bound"));
        let held = Arc::new(Mutex::new(Vec::new()));
        let keep = held.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let mut reader = stream.try_clone().expect("clone stream");
                keep.lock().expect("lock").push(stream);
                // Drain the request so the client never blocks on a full buffer.
                std::thread::spawn(move || {
                    let mut buf = [0u8; 4096];
                    while matches!(reader.read(&mut buf), Ok(n) if n > 0) {}
                });
            }
        });
        Silent { url, held }
    }

    fn connections(&self) -> usize {
        self.held.lock().expect("lock").len()
    }
}

impl Endpoint for Silent {
    fn url(&self) -> String {
        self.url.clone()
    }
}

/// Waits for `child` at most `limit`, killing it then (so a hang fails the test instead of
/// hanging it), and returns how it ended and how long it took.
fn finish_within(mut child: Child, limit: Duration) -> (Run, Duration) {
    let start = Instant::now();
    loop {
        if child.try_wait().expect("wait").is_some() {
            return (finish(child), start.elapsed());
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let run = finish(child);
            panic!(
                "stackfleet still ran after {limit:?}: killed\n--- stderr ---\n{}",
                run.stderr
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn plan_against_an_endpoint_that_never_answers_stops_at_the_timeout() {
    let silent = Silent::start();
    let ws = Workspace::new().with_marker_template().with_fleet(FLEET);
    let child = stackfleet_command(&silent, ws.path(), &["plan", "--timeout", "15s"], &[])
        .spawn()
        .expect("stackfleet starts");
    let (run, took) = finish_within(child, Duration::from_secs(60));
    eprintln!(
        "plan --timeout 15s against a silent endpoint: exit {:?} after {took:?}",
        run.code
    );
    run.assert_code(1);
    assert!(silent.connections() >= 1, "stackfleet never connected");
    // Loose bounds: a busy 2-core machine must not make this flake.
    assert!(took >= Duration::from_secs(14), "stopped early: {took:?}");
    assert!(took < Duration::from_secs(25), "stopped late: {took:?}");
    assert!(
        run.stderr.contains(
            "error: stopped after --timeout 15s; still waiting for: STS GetCallerIdentity"
        ),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("no StackSets operation of this run was running"),
        "{}",
        run.stderr
    );
    assert_eq!(run.stdout, "");
}

#[test]
fn a_generous_timeout_changes_nothing() {
    let moto = Moto::start();
    seed(
        &moto,
        json!({"accounts": [{"name": "prod", "ou": "/Prod"}]}),
    );
    let ws = Workspace::new().with_marker_template().with_fleet(FLEET);
    let without = stackfleet(&moto, ws.path(), &["plan", "--output", "json"]);
    without.assert_code(0);
    let with = stackfleet(
        &moto,
        ws.path(),
        &["plan", "--output", "json", "--timeout", "10m"],
    );
    with.assert_code(0);
    // The same plan but for what makes every plan unique: its nonce, time and operation ids.
    let comparable = |stdout: &str| {
        let mut plan: serde_json::Value = serde_json::from_str(stdout).expect("plan JSON");
        plan["nonce"] = serde_json::Value::Null;
        plan["planned_at"] = serde_json::Value::Null;
        for set in plan["stack_sets"].as_array_mut().unwrap() {
            for op in set["operations"].as_array_mut().unwrap() {
                op["id"] = serde_json::Value::Null;
            }
        }
        plan
    };
    assert_eq!(comparable(&with.stdout), comparable(&without.stdout));
    let applied = stackfleet(
        &moto,
        ws.path(),
        &["apply", "--auto-approve", "--timeout", "6h"],
    );
    applied.assert_code(0);
    stackfleet(
        &moto,
        ws.path(),
        &["plan", "--detailed-exitcode", "--timeout", "90s"],
    )
    .assert_code(0);
}

#[test]
fn an_apply_stopped_by_the_timeout_names_the_call_it_waited_for() {
    let moto = Moto::start();
    seed(
        &moto,
        json!({"accounts": [{"name": "prod", "ou": "/Prod"}]}),
    );
    let proxy = Proxy::start(&moto, Faults::none());
    // CreateStackSet goes through; the instances' call never gets an answer.
    proxy.hold(&["CreateStackInstances"]);
    let ws = Workspace::new().with_marker_template().with_fleet(FLEET);
    let child = stackfleet_command(
        &proxy,
        ws.path(),
        &["apply", "--auto-approve", "--timeout", "20s"],
        &[],
    )
    .spawn()
    .expect("stackfleet starts");
    let (run, took) = finish_within(child, Duration::from_secs(90));
    proxy.release();
    eprintln!(
        "apply --timeout 20s, CreateStackInstances held: exit {:?} after {took:?}",
        run.code
    );
    run.assert_code(1);
    assert!(took < Duration::from_secs(30), "stopped late: {took:?}");
    // Only the held call: every call that was answered is no longer listed as pending.
    assert!(
        run.stderr.contains(
            "error: stopped after --timeout 20s; still waiting for: CloudFormation CreateStackInstances\n"
        ),
        "{}",
        run.stderr
    );
}

#[test]
fn a_timeout_that_is_not_a_duration_is_a_usage_error() {
    let ws = Workspace::new().with_marker_template().with_fleet(FLEET);
    let silent = Silent::start();
    for bad in ["soon", "0s", "15"] {
        let run = stackfleet(&silent, ws.path(), &["plan", "--timeout", bad]);
        run.assert_code(1); // a usage error: exit 1, as every usage error (README "Exit codes")
        assert!(run.stderr.contains("--timeout"), "{}", run.stderr);
    }
    assert_eq!(silent.connections(), 0);
}
