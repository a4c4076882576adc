//! Errors that point at the real cause: an endpoint where nothing listens (named, and at once), an
//! endpoint that is not an AWS API, and a member account used where the management account is
//! needed.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::harness::{
    Endpoint, MARKER_TEMPLATE, Moto, Run, Workspace, account_id, seed, stackfleet_env,
};

/// The marker template over the whole organization, without a management-account guard, so that
/// the organization read is what meets a member account.
const FLEET: &str = r#"name = "baseline"

[organization]
home_region = "us-east-1"

[[stack_sets]]
name = "marker"
template = "templates/marker.yaml"
permission_model = "self-managed"
regions = ["us-east-1"]
parameters = { Team = "security" }

[stack_sets.targets]
organizational_units = ["/"]
"#;

fn workspace() -> Workspace {
    Workspace::new()
        .write("templates/marker.yaml", MARKER_TEMPLATE)
        .with_fleet(FLEET)
}

/// A port nothing listens on: connections are refused at once.
struct ClosedPort(String);

impl ClosedPort {
    fn new() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        ClosedPort(format!("http://{}", listener.local_addr().unwrap()))
    }
}

impl Endpoint for ClosedPort {
    fn url(&self) -> String {
        self.0.clone()
    }
}

/// Some other web server: every request gets a 404 HTML page, with no AWS request id.
struct NotAws(String);

impl NotAws {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
                let mut buf = [0u8; 8192];
                let _ = stream.read(&mut buf);
                let body = "<!DOCTYPE html><html><body><h1>Not Found</h1></body></html>";
                let _ = write!(
                    stream,
                    "HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        NotAws(url)
    }
}

impl Endpoint for NotAws {
    fn url(&self) -> String {
        self.0.clone()
    }
}

/// The run's snapshot with the endpoint's port replaced.
fn snapshot(run: &Run, endpoint: &impl Endpoint) -> String {
    run.snapshot()
        .replace(&endpoint.url(), "http://127.0.0.1:PORT")
}

#[test]
fn a_closed_port_is_named_and_fails_at_once() {
    let ws = workspace();
    let closed = ClosedPort::new();
    let started = Instant::now();
    // stackfleet's own retry configuration (8 attempts), not the harness's 2.
    let run = stackfleet_env(&closed, ws.path(), &["plan"], &[("AWS_MAX_ATTEMPTS", None)]);
    let took = started.elapsed();
    run.assert_code(1);
    insta::assert_snapshot!("closed_port", snapshot(&run, &closed));
    // Retried with back-off, a refused connection took about 34 s.
    assert!(took < Duration::from_secs(5), "took {took:?}");
}

#[test]
fn a_closed_port_fails_at_once_when_a_role_is_assumed_first() {
    // AssumeRole is the first call then; the credentials provider's own STS client used to
    // retry the refused connection for about 34 s.
    let ws = workspace();
    let closed = ClosedPort::new();
    let started = Instant::now();
    let run = stackfleet_env(
        &closed,
        ws.path(),
        &[
            "plan",
            "--assume-role",
            "arn:aws:iam::123456789012:role/StackfleetAdmin",
        ],
        &[("AWS_MAX_ATTEMPTS", None)],
    );
    let took = started.elapsed();
    run.assert_code(1);
    assert!(
        run.stderr
            .contains("cannot assume role arn:aws:iam::123456789012:role/StackfleetAdmin")
            && run
                .stderr
                .contains(&format!("nothing listens at {}", closed.url())),
        "{}",
        run.stderr
    );
    assert!(took < Duration::from_secs(5), "took {took:?}");
}

#[test]
fn an_endpoint_that_is_not_aws_says_so() {
    let ws = workspace();
    let server = NotAws::start();
    let run = stackfleet_env(
        &server,
        ws.path(),
        &["coverage"],
        &[("AWS_MAX_ATTEMPTS", None)],
    );
    run.assert_code(1);
    insta::assert_snapshot!("not_aws", snapshot(&run, &server));
}

#[test]
fn a_member_account_is_named_with_the_management_account() {
    let moto = Moto::start();
    let org = seed(
        &moto,
        json!({"accounts": [{"name": "security-tooling", "ou": "/Security"}]}),
    );
    let member = account_id(&org, "security-tooling");
    let role = format!("arn:aws:iam::{member}:role/OrganizationAccountAccessRole");
    let ws = workspace();
    let run = stackfleet_env(&moto, ws.path(), &["plan", "--assume-role", &role], &[]);
    run.assert_code(1);
    let org_id = org["organization_id"].as_str().unwrap();
    let text = run
        .snapshot()
        .replace(&member, "MEMBER")
        .replace(org_id, "o-ORG");
    insta::assert_snapshot!("member_account", text);
    assert!(
        run.stderr.contains(&format!(
            "error: you are {member}, a member account; the management account of organization {org_id} is 123456789012\n"
        )),
        "{}",
        run.stderr
    );
}
