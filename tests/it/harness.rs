//! What every end-to-end test needs: a private emulator (moto with the faithful StackSets layer of
//! `tests/emulator`, or plain moto with `STACKFLEET_EMULATOR=moto`), the seed script, the real
//! `stackfleet` binary with a clean AWS environment, and a scratch directory for fleet.toml.
//!
//! ```ignore
//! let moto = Moto::start();
//! let org = seed(&moto, json!({"accounts": [{"name": "prod", "ou": "/Prod"}]}));
//! let ws = Workspace::new().with_marker_template().with_fleet(FLEET);
//! let run = stackfleet(&moto, ws.path(), &["plan", "--output", "json"]);
//! run.assert_code(0);
//! ```
//!
//! Every caller of moto is account 123456789012, so tests never share a server: each test starts
//! its own [`Moto`], which dies with it. [`Moto::state`] proves a command changed nothing there;
//! a [`Tripwire`] endpoint proves a command made no network call at all.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;
use tempfile::TempDir;

/// The repository root, where `.venv`, `scripts/` and `templates/` are.
pub const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// The binary under test.
const STACKFLEET: &str = env!("CARGO_BIN_EXE_stackfleet");

/// How long moto may take to report its port on a busy machine.
const MOTO_START_TIMEOUT: Duration = Duration::from_secs(60);

/// A template moto deploys in any account and region: a `WaitConditionHandle` needs no
/// properties and no physical name (moto fails on unnamed SNS topics and SQS queues in
/// self-managed member stacks, whose stack names contain ':').
pub const MARKER_TEMPLATE: &str = r#"AWSTemplateFormatVersion: "2010-09-09"
Description: stackfleet end-to-end test stack
Parameters:
  Team:
    Type: String
    Description: Who owns the stack
Resources:
  Marker:
    Type: AWS::CloudFormation::WaitConditionHandle
"#;

fn venv(tool: &str) -> PathBuf {
    let path = Path::new(REPO).join(".venv/bin").join(tool);
    assert!(
        path.exists(),
        "{} is missing: run scripts/ensure-venv first",
        path.display()
    );
    path
}

/// Anything the `stackfleet` binary can be pointed at with `AWS_ENDPOINT_URL`.
pub trait Endpoint {
    /// `http://127.0.0.1:PORT`.
    fn url(&self) -> String;
}

/// A moto server of this test alone, on a free port; killed when dropped.
pub struct Moto {
    child: Child,
    url: String,
}

impl Moto {
    /// Starts the emulator on port 0 and waits until it reports its port: the faithful
    /// StackSets emulator (`python -m tests.emulator`, see README.md "The emulator"), or plain
    /// `moto_server` when `STACKFLEET_EMULATOR=moto`, as `scripts/moto` does. Its stderr keeps
    /// being drained in a thread, since moto stops answering once that pipe is full.
    pub fn start() -> Moto {
        match std::env::var("STACKFLEET_EMULATOR").as_deref() {
            Ok("moto") => Moto::plain(),
            Ok("faithful") | Err(std::env::VarError::NotPresent) => {
                let mut python = Command::new(venv("python"));
                python.current_dir(REPO).args(["-m", "tests.emulator"]);
                Moto::spawn(python)
            }
            Ok(other) => panic!("STACKFLEET_EMULATOR must be 'faithful' or 'moto', not {other:?}"),
            Err(e) => panic!("STACKFLEET_EMULATOR: {e}"),
        }
    }

    /// Plain `moto_server`, whatever `STACKFLEET_EMULATOR` says: for the tests of how stackfleet
    /// copes with an endpoint that lacks an API.
    pub fn plain() -> Moto {
        Moto::spawn(Command::new(venv("moto_server")))
    }

    fn spawn(mut command: Command) -> Moto {
        let mut child = command
            .args(["-H", "127.0.0.1", "-p", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the emulator starts");
        let stderr = child.stderr.take().expect("stderr is piped");
        let (tx, rx) = mpsc::channel::<Result<String, String>>();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stderr).lines();
            let mut seen = String::new();
            for line in lines.by_ref() {
                let Ok(line) = line else { break };
                if let Some(url) = line.strip_prefix(" * Running on ") {
                    let _ = tx.send(Ok(url.trim().to_string()));
                    // Keep draining until moto exits and the pipe closes.
                    lines.for_each(drop);
                    return;
                }
                seen.push_str(&line);
                seen.push('\n');
            }
            let _ = tx.send(Err(seen));
        });
        let url = match rx.recv_timeout(MOTO_START_TIMEOUT) {
            Ok(Ok(url)) => url,
            Ok(Err(output)) => {
                let _ = child.wait();
                panic!("the emulator exited before reporting its port:\n{output}");
            }
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the emulator did not report its port within {MOTO_START_TIMEOUT:?}");
            }
        };
        Moto { child, url }
    }
}

impl Moto {
    /// Changes the faithful emulator's time settings (`POST /_emulator/config`, README "The
    /// emulator"), e.g. `{"time_scale": 0.02}` for operations that last long enough to overlap.
    pub fn configure(&self, settings: Value) {
        use std::io::{Read, Write};
        let addr = self.url.trim_start_matches("http://");
        let body = settings.to_string();
        let mut stream = std::net::TcpStream::connect(addr).expect("connect to the emulator");
        write!(
            stream,
            "POST /_emulator/config HTTP/1.0\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .expect("request sent");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("response read");
        assert!(
            response.starts_with("HTTP/1.1 200") || response.starts_with("HTTP/1.0 200"),
            "the emulator refused {body}: {response}"
        );
    }

    /// moto's CloudFormation and Organizations objects (from `GET /moto-api/data.json`), to
    /// prove that a command changed nothing: compare the value before and after it.
    pub fn state(&self) -> Value {
        use std::io::{Read, Write};
        let addr = self.url.trim_start_matches("http://");
        let mut stream = std::net::TcpStream::connect(addr).expect("connect to moto");
        write!(
            stream,
            "GET /moto-api/data.json HTTP/1.0\r\nHost: {addr}\r\n\r\n"
        )
        .expect("request sent");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("response read");
        let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP response");
        assert!(head.starts_with("HTTP/1.1 200"), "moto-api: {head}");
        let all: Value = serde_json::from_str(body).expect("moto-api returns JSON");
        // moto lists a service only once something used it, and every model of it then, if only
        // with no objects: keep just the models that have objects.
        let mut state = serde_json::Map::new();
        for service in ["cloudformation", "organizations"] {
            for (model, objects) in all[service].as_object().into_iter().flatten() {
                if objects.as_array().is_some_and(|o| !o.is_empty()) {
                    state.insert(format!("{service}.{model}"), objects.clone());
                }
            }
        }
        Value::Object(state)
    }
}

impl Endpoint for Moto {
    fn url(&self) -> String {
        self.url.clone()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An endpoint that must never be called: a listener nobody accepts on. Any connection attempt
/// completes in the kernel and stays queued, so [`Tripwire::assert_untouched`] sees it.
pub struct Tripwire {
    listener: TcpListener,
}

impl Tripwire {
    /// Binds a free port on 127.0.0.1.
    pub fn new() -> Tripwire {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        Tripwire { listener }
    }

    /// Panics if anything connected (call it after the process under test exited).
    pub fn assert_untouched(&self) {
        match self.listener.accept() {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Ok((_, peer)) => panic!("expected no network use, but {peer} connected"),
            Err(e) => panic!("accept on the tripwire failed: {e}"),
        }
    }
}

impl Endpoint for Tripwire {
    fn url(&self) -> String {
        format!(
            "http://{}",
            self.listener.local_addr().expect("bound listener")
        )
    }
}

/// Removes every AWS_* and STACKFLEET_* variable (and COLUMNS) the test process inherited, so
/// that only what a test sets reaches a child.
fn clean_env(cmd: &mut Command) -> &mut Command {
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        // COLUMNS sets the table width: snapshots must not depend on the developer's shell.
        if key.starts_with("AWS_") || key.starts_with("STACKFLEET_") || key == "COLUMNS" {
            cmd.env_remove(key.as_ref());
        }
    }
    cmd
}

/// Seeds moto with `scripts/seed_org.py --spec -` (the spec format is documented in that
/// script's header) and returns what it printed: organization, OU and account ids.
pub fn seed(moto: &Moto, spec: Value) -> Value {
    run_seed(moto, &["--spec", "-"], Some(spec))
}

/// Seeds moto with the example organization (`scripts/seed_org.py --example`).
pub fn seed_example(moto: &Moto) -> Value {
    run_seed(moto, &["--example"], None)
}

/// The example organization's spec (`scripts/seed_org.py --dump-example`), to extend with
/// stack sets and pass to [`seed`].
pub fn example_spec() -> Value {
    let out = clean_env(&mut Command::new(venv("python")))
        .current_dir(REPO)
        .args(["scripts/seed_org.py", "--dump-example"])
        .stdin(Stdio::null())
        .output()
        .expect("seed_org.py runs");
    assert!(
        out.status.success(),
        "seed_org.py --dump-example failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("seed_org.py prints JSON")
}

fn run_seed(moto: &Moto, args: &[&str], spec: Option<Value>) -> Value {
    use std::io::Write;
    let mut child = clean_env(&mut Command::new(venv("python")))
        .current_dir(REPO)
        .arg("scripts/seed_org.py")
        .args(["--endpoint", &moto.url])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("seed_org.py starts");
    let mut stdin = child.stdin.take().expect("stdin is piped");
    if let Some(spec) = spec {
        stdin
            .write_all(spec.to_string().as_bytes())
            .expect("spec written");
    }
    drop(stdin);
    let out = child.wait_with_output().expect("seed_org.py runs");
    assert!(
        out.status.success(),
        "seed_org.py failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("seed_org.py prints JSON")
}

/// What every [`boto3`] snippet starts with: `ENDPOINT`, `ARGS` (the JSON argument), `client()`
/// acting as any account (moto models `AssumeRole` into any account id), `instances()` (every
/// page), `wait(stack_set, operation_id)` (until the operation ended: its status), and
/// `stacks()` (the member stacks one account holds in one region, named `StackSet:<stack set>`
/// whichever emulator runs).
const BOTO3_PRELUDE: &str = r#"
import json, re, sys
import boto3
from botocore.config import Config

ENDPOINT = sys.argv[1]
ARGS = json.load(sys.stdin)
MANAGEMENT = "123456789012"
_CFG = Config(retries={"total_max_attempts": 1, "mode": "standard"})
_KEYS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}

def client(service, region="us-east-1", account=None):
    keys = dict(_KEYS)
    if account is not None and account != MANAGEMENT:
        sts = boto3.client("sts", endpoint_url=ENDPOINT, region_name=region, config=_CFG, **_KEYS)
        c = sts.assume_role(
            RoleArn=f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole",
            RoleSessionName="stackfleet-it",
        )["Credentials"]
        keys = {"aws_access_key_id": c["AccessKeyId"], "aws_secret_access_key": c["SecretAccessKey"],
                "aws_session_token": c["SessionToken"]}
    return boto3.client(service, endpoint_url=ENDPOINT, region_name=region, config=_CFG, **keys)

def instances(stack_set):
    pages = client("cloudformation").get_paginator("list_stack_instances").paginate(StackSetName=stack_set)
    return sorted([s["Account"], s["Region"]] for page in pages for s in page["Summaries"])

def wait(stack_set, operation_id):
    """Polls DescribeStackSetOperation until the operation has ended; returns its status."""
    import time
    cf = client("cloudformation")
    while True:
        status = cf.describe_stack_set_operation(StackSetName=stack_set, OperationId=operation_id)[
            "StackSetOperation"]["Status"]
        if status not in ("QUEUED", "RUNNING", "STOPPING"):
            return status
        time.sleep(0.01)

# AWS names a member stack StackSet-<stack set>-<uuid> (the emulator too), plain moto
# StackSet:<stack set>: stacks() shows both as StackSet:<stack set>, without the random part.
_MEMBER = re.compile(r"^StackSet-(.+)-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

def member_name(name):
    m = _MEMBER.match(name)
    return f"StackSet:{m.group(1)}" if m else name

def stacks(account, region):
    out = client("cloudformation", region, account).describe_stacks()["Stacks"]
    return [{"name": member_name(s["StackName"]), "status": s["StackStatus"],
             "outputs": {o["OutputKey"]: o["OutputValue"] for o in s.get("Outputs", [])},
             "parameters": {p["ParameterKey"]: p["ParameterValue"] for p in s.get("Parameters", [])}}
            for s in out]

result = None
"#;

/// Runs a Python snippet with boto3 against `moto`, independently of stackfleet, and returns the
/// JSON of what it assigned to `result`. The snippet sees `ARGS` (= `args`) and the helpers of
/// [`BOTO3_PRELUDE`].
///
/// ```ignore
/// let pairs = boto3(&moto, "result = instances(ARGS)", json!("s3-policy-monitor"));
/// ```
pub fn boto3(moto: &Moto, code: &str, args: Value) -> Value {
    use std::io::Write;
    let empty = Path::new("/dev/null");
    let script = format!(
        "{BOTO3_PRELUDE}\n{code}\nprint(json.dumps(result, default=str, sort_keys=True))\n"
    );
    let mut child = clean_env(&mut Command::new(venv("python")))
        .arg("-c")
        .arg(script)
        .arg(&moto.url)
        .env("AWS_CONFIG_FILE", empty)
        .env("AWS_SHARED_CREDENTIALS_FILE", empty)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python starts");
    let mut stdin = child.stdin.take().expect("stdin is piped");
    stdin
        .write_all(args.to_string().as_bytes())
        .expect("arguments written");
    drop(stdin);
    let out = child.wait_with_output().expect("python runs");
    assert!(
        out.status.success(),
        "boto3 snippet failed ({}):\n{code}\n--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "boto3 snippet printed no JSON ({e}):\n{}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// The `[account, region]` pairs of a stack set's instances, as boto3 lists them.
pub fn listed_instances(moto: &Moto, stack_set: &str) -> Vec<(String, String)> {
    let pairs = boto3(moto, "result = instances(ARGS)", Value::from(stack_set));
    let mut out: Vec<(String, String)> = pairs
        .as_array()
        .expect("a list of pairs")
        .iter()
        .map(|p| {
            (
                p[0].as_str().expect("account").to_string(),
                p[1].as_str().expect("region").to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

/// What boto3 sees of one stack set, read in one call (each call costs a Python start).
#[derive(Debug)]
pub struct Seen {
    /// `(account, region)` of every instance ListStackInstances lists, sorted.
    pub instances: Vec<(String, String)>,
    /// `(OperationId, Action, Status)` of every operation ListStackSetOperations lists, sorted.
    pub operations: Vec<(String, String, String)>,
    /// `"account/region"` → the stacks (`"name STATUS"`, sorted) that DescribeStacks lists with
    /// credentials of that account in that region, for the accounts and regions asked for.
    pub stacks: std::collections::BTreeMap<String, Vec<String>>,
}

/// Reads a stack set's instances and operations and the stacks of `accounts` × `regions` with
/// boto3, independently of stackfleet.
pub fn inspect(moto: &Moto, stack_set: &str, accounts: &[String], regions: &[&str]) -> Seen {
    let seen = boto3(
        moto,
        r#"
cf = client("cloudformation")
ops = cf.list_stack_set_operations(StackSetName=ARGS["name"])["Summaries"]
result = {
    "instances": instances(ARGS["name"]),
    "operations": sorted([o["OperationId"], o["Action"], o["Status"]] for o in ops),
    "stacks": {f"{a}/{r}": sorted(f'{s["name"]} {s["status"]}' for s in stacks(a, r))
               for a in ARGS["accounts"] for r in ARGS["regions"]},
}
"#,
        serde_json::json!({"name": stack_set, "accounts": accounts, "regions": regions}),
    );
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .expect("a list")
            .iter()
            .map(|s| s.as_str().expect("a string").to_string())
            .collect()
    };
    Seen {
        instances: seen["instances"]
            .as_array()
            .expect("instances")
            .iter()
            .map(|p| {
                let p = strings(p);
                (p[0].clone(), p[1].clone())
            })
            .collect(),
        operations: seen["operations"]
            .as_array()
            .expect("operations")
            .iter()
            .map(|o| {
                let o = strings(o);
                (o[0].clone(), o[1].clone(), o[2].clone())
            })
            .collect(),
        stacks: seen["stacks"]
            .as_object()
            .expect("stacks")
            .iter()
            .map(|(cell, list)| (cell.clone(), strings(list)))
            .collect(),
    }
}

/// The id of the account named `name` in `seed`'s output.
pub fn account_id(org: &Value, name: &str) -> String {
    org["accounts"][name]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no account {name:?} in the seeded organization"))
        .to_string()
}

/// How a `stackfleet` run ended.
#[derive(Debug)]
pub struct Run {
    /// The exit code; `None` if a signal ended the process.
    pub code: Option<i32>,
    /// Everything on stdout.
    pub stdout: String,
    /// Everything on stderr.
    pub stderr: String,
}

impl Run {
    /// Panics, showing the whole run, unless it exited with `code`.
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code,
            Some(code),
            "unexpected exit code\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    /// Stdout as JSON; panics (showing it) if it is not exactly one JSON document.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not pure JSON ({e}):\n{}\n--- stderr ---\n{}",
                self.stdout, self.stderr
            )
        })
    }

    /// Exit code, stdout and stderr in one text, for snapshots.
    pub fn snapshot(&self) -> String {
        format!(
            "exit code: {}\n----- stdout -----\n{}----- stderr -----\n{}",
            self.code.map_or("signal".to_string(), |c| c.to_string()),
            self.stdout,
            self.stderr
        )
    }
}

/// Runs the `stackfleet` binary in `dir` against `endpoint` with nothing but the standard AWS SDK
/// variables: dummy static credentials, us-east-1, two attempts per call, and no profile, no
/// service-specific endpoint and no `~/.aws` files of the developer (the config and credentials
/// files are `/dev/null`).
pub fn stackfleet(endpoint: &impl Endpoint, dir: &Path, args: &[&str]) -> Run {
    stackfleet_env(endpoint, dir, args, &[])
}

/// [`stackfleet`] with some variables changed: `(name, Some(value))` sets one, `(name, None)`
/// removes it (for example `("AWS_MAX_ATTEMPTS", None)` to run with stackfleet's own default).
pub fn stackfleet_env(
    endpoint: &impl Endpoint,
    dir: &Path,
    args: &[&str],
    env: &[(&str, Option<&str>)],
) -> Run {
    let child = stackfleet_command(endpoint, dir, args, env)
        .spawn()
        .expect("stackfleet starts");
    finish(child)
}

/// A scratch directory holding a fleet.toml and its templates; removed when dropped.
pub struct Workspace {
    dir: TempDir,
}

impl Workspace {
    /// An empty directory.
    pub fn new() -> Workspace {
        Workspace {
            dir: tempfile::Builder::new()
                .prefix("stackfleet-it-")
                .tempdir()
                .expect("temporary directory"),
        }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `contents` to `relative`, creating parent directories.
    pub fn write(self, relative: &str, contents: &str) -> Self {
        let path = self.dir.path().join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create directory");
        }
        std::fs::write(&path, contents).expect("write file");
        self
    }

    /// Copies `relative` from the repository to the same place here.
    pub fn copy_from_repo(self, relative: &str) -> Self {
        let text = std::fs::read_to_string(Path::new(REPO).join(relative))
            .unwrap_or_else(|e| panic!("read {relative} from the repository: {e}"));
        self.write(relative, &text)
    }

    /// Replaces `from` (which must occur) with `to` in `relative`, in place: a user editing
    /// fleet.toml between two commands.
    pub fn edit(&self, relative: &str, from: &str, to: &str) {
        let path = self.dir.path().join(relative);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        assert!(
            text.contains(from),
            "{relative} does not contain {from:?}:\n{text}"
        );
        std::fs::write(&path, text.replace(from, to)).expect("write file");
    }

    /// Writes fleet.toml.
    pub fn with_fleet(self, toml: &str) -> Self {
        self.write("fleet.toml", toml)
    }

    /// Writes [`MARKER_TEMPLATE`] as `templates/marker.yaml`.
    pub fn with_marker_template(self) -> Self {
        self.write("templates/marker.yaml", MARKER_TEMPLATE)
    }
}

/// The `stackfleet` command [`stackfleet_env`] runs, to start without waiting: stdout and stderr
/// piped, stdin closed.
pub fn stackfleet_command(
    endpoint: &impl Endpoint,
    dir: &Path,
    args: &[&str],
    env: &[(&str, Option<&str>)],
) -> Command {
    // Empty rather than missing: the SDK warns on stderr about a configured file that is absent.
    let empty = Path::new("/dev/null");
    let mut cmd = Command::new(STACKFLEET);
    clean_env(&mut cmd)
        .current_dir(dir)
        .args(args)
        .env("AWS_ENDPOINT_URL", endpoint.url())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_MAX_ATTEMPTS", "2")
        .env("AWS_CONFIG_FILE", empty)
        .env("AWS_SHARED_CREDENTIALS_FILE", empty)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, value) in env {
        match value {
            Some(value) => cmd.env(key, value),
            None => cmd.env_remove(key),
        };
    }
    cmd
}

/// Waits for a `stackfleet` started from [`stackfleet_command`] and returns how it ended.
pub fn finish(child: Child) -> Run {
    let out = child.wait_with_output().expect("stackfleet runs");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
    }
}
