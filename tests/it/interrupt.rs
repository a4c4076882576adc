//! Ctrl-C during apply, end to end: SIGINT to the real binary while an operation runs on the
//! emulator, slowed down so that it is still running when the signal lands.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{
    Endpoint, MARKER_TEMPLATE, Moto, Run, Workspace, account_id, boto3, seed, stackfleet,
    stackfleet_command,
};

/// The marker template over /Prod only: an instance in /Old is deleted, /Prod's are created.
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
"#;

/// Sets the emulator's time model (README "The emulator": `POST /_emulator/config`).
fn emulator_config(moto: &Moto, settings: Value) {
    let addr = moto.url().trim_start_matches("http://").to_string();
    let body = settings.to_string();
    let mut stream = std::net::TcpStream::connect(&addr).expect("connect to the emulator");
    write!(
        stream,
        "POST /_emulator/config HTTP/1.0\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .expect("request sent");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("response read");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
}

#[test]
fn ctrl_c_names_the_operations_that_go_on_in_aws_and_those_never_started() {
    let moto = Moto::start();
    let org = seed(
        &moto,
        json!({
            "ous": ["/Prod", "/Old"],
            "accounts": [
                {"name": "prod-a", "ou": "/Prod"},
                {"name": "prod-b", "ou": "/Prod"},
                {"name": "old-a", "ou": "/Old"},
            ],
            "stack_sets": [{
                "name": "marker",
                "template_body": MARKER_TEMPLATE,
                "parameters": {"Team": "security"},
                "tags": {"stackfleet:fleet": "baseline"},
                "capabilities": [],
                "instances": [{"account": "old-a", "regions": ["us-east-1"]}],
            }],
        }),
    );
    let old = account_id(&org, "old-a");
    // One instance takes 30 emulated seconds: 6 s here, so the delete still runs at the signal.
    emulator_config(&moto, json!({"time_scale": 0.2}));
    let ws = Workspace::new()
        .write("templates/marker.yaml", MARKER_TEMPLATE)
        .with_fleet(FLEET);

    let mut child = stackfleet_command(&moto, ws.path(), &["apply", "--auto-approve"], &[])
        .spawn()
        .expect("stackfleet starts");
    let stderr = child.stderr.take().expect("stderr is piped");
    let (tx, rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut before = String::new();
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("no operation started within 60 s:\n{before}"));
        before.push_str(&line);
        before.push('\n');
        if line.contains("delete instances (1 instance): started operation") {
            break;
        }
    }
    // std has no kill(2) with a signal and the workspace forbids unsafe: kill(1) it is.
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .expect("stdout is piped")
        .read_to_string(&mut stdout)
        .expect("stdout read");
    let code = child.wait().expect("stackfleet ends").code();
    reader.join().expect("stderr read");
    let after: String = rx.try_iter().map(|l| l + "\n").collect();
    let run = Run {
        code,
        stdout,
        stderr: before.clone() + &after,
    };
    run.assert_code(130);

    // The plan it carried out is in the log, before the progress.
    let plan_at = run
        .stderr
        .find("Operations, in order")
        .expect("the plan is shown");
    let started_at = run.stderr.find("started operation").expect("progress");
    assert!(plan_at < started_at, "{}", run.stderr);

    // The running delete is named with its id and the commands to follow and stop it, and the
    // create that never started is named as such.
    let ids = boto3(
        &moto,
        "result = [[o['OperationId'], o['Action'], o['Status']] for o in client('cloudformation').list_stack_set_operations(StackSetName='marker')['Summaries']]",
        Value::Null,
    );
    // The seed's own create is not this apply's.
    let ops: Vec<&Value> = ids
        .as_array()
        .expect("operations")
        .iter()
        .filter(|o| {
            o[0].as_str()
                .is_some_and(|id| id.starts_with("stackfleet-"))
        })
        .collect();
    assert_eq!(ops.len(), 1, "only the delete was started: {ids}");
    let id = ops[0][0].as_str().expect("an id").to_string();
    assert_eq!(ops[0][1], "DELETE");
    assert!(
        ["RUNNING", "SUCCEEDED"].contains(&ops[0][2].as_str().unwrap_or_default()),
        "Ctrl-C does not stop the operation in AWS: {ids}"
    );
    let report = after
        .split_once("error: interrupted; ")
        .map(|(_, r)| r)
        .unwrap_or_else(|| panic!("no interruption report:\n{}", run.stderr));
    let report = report.replace(&id, "OPERATION-ID").replace(&old, "OLD-A");
    insta::assert_snapshot!("ctrl_c_report", report);

    // The next apply waits for the running operation and finishes the rollout.
    emulator_config(&moto, json!({"time_scale": 0.0003}));
    stackfleet(&moto, ws.path(), &["apply", "--auto-approve"]).assert_code(0);
}
