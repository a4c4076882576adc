//! A fault-injecting HTTP proxy between the AWS SDK (inside `stackfleet`) and moto, on 127.0.0.1.
//!
//! `stackfleet` is pointed at it with `AWS_ENDPOINT_URL` like at any endpoint; the proxy reads each
//! HTTP/1.1 request (keep-alive on the SDK's side), names its service (SigV4 credential scope) and
//! operation (`X-Amz-Target` for Organizations' JSON 1.1, `Action=` for CloudFormation's and STS's
//! awsQuery forms), decides a fault, forwards the request to moto on a fresh connection and relays
//! the answer. Every request is counted by operation name, with its outcome, so a test can also
//! assert which calls a command made (the "counting interceptor" of the safety tests).
//!
//! Faults, drawn from a seed:
//! - throttling in each service's real shape: CloudFormation/STS `Throttling` (awsQuery XML, HTTP
//!   400), Organizations `TooManyRequestsException` (JSON 1.1, HTTP 400);
//! - HTTP 500 and 503 (`InternalFailure`/`ServiceUnavailable`, Organizations `ServiceException`);
//! - a dropped connection: the proxy closes the SDK's connection without answering;
//! - latency before forwarding.
//!
//! Faults are decided BEFORE forwarding, so moto never executes a request that failed. The one
//! exception is opt-in: [`Faults::after_forward_reads`] drops or fails some answers of read-only
//! calls after moto answered them (harmless to repeat), and [`Fault::LoseAfterForward`] in
//! [`Faults::first_attempt`] loses the answer of a named operation's first attempt after moto
//! executed it.
//!
//! A fault is a function of (seed, service, operation, request body, how often that exact request
//! was seen), not of arrival order: the same seed injects the same faults into the same sequence
//! of logical requests however concurrent calls interleave.
//!
//! [`Proxy::with_aws_semantics`] fills two gaps of moto (see FIELD-NOTES §4) with what the AWS
//! CloudFormation API reference documents, for the tests that need them: `CreateStackSet` with a
//! name in use fails with `NameAlreadyExistsException` (unless it repeats the
//! `ClientRequestToken` that created it), and a stack set operation whose
//! `OperationId` was already used fails with `OperationIdAlreadyExistsException`; the operation is
//! then known by the caller's id (AWS echoes it; moto assigns its own, which the proxy maps).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::harness::Endpoint;

/// What to inject, and how often (probabilities per request, applied in this order).
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Seeds every decision.
    pub seed: u64,
    /// Probability of a throttling error.
    pub throttle: f64,
    /// Probability of HTTP 500 or 503 (half each).
    pub server_error: f64,
    /// Probability of closing the connection without an answer.
    pub drop: f64,
    /// Added before forwarding, uniformly in `[min, max]`.
    pub latency: Option<(Duration, Duration)>,
    /// For read-only calls (Describe*, List*, Get*), inject half of the 5xx and dropped
    /// connections after moto answered instead of before.
    pub after_forward_reads: bool,
    /// A fault for the first attempt of these operations, whatever the draw: so that a test
    /// does not depend on the seed to reach the calls it is about.
    pub first_attempt: BTreeMap<&'static str, Fault>,
}

/// A fault to inject on purpose (see [`Faults::first_attempt`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The service's throttling error.
    Throttle,
    /// HTTP 500 or 503.
    ServerError(u16),
    /// The connection closed without an answer, before forwarding.
    Drop,
    /// Forwarded, and moto's answer lost (connection closed): what a network failure after AWS
    /// accepted a call looks like to the SDK.
    LoseAfterForward,
}

impl Faults {
    /// No faults: a transparent, counting proxy.
    pub fn none() -> Faults {
        Faults::default()
    }

    /// Only latency, uniformly in `[min, max]`.
    pub fn latency(min: Duration, max: Duration) -> Faults {
        Faults {
            latency: Some((min, max)),
            ..Faults::default()
        }
    }
}

/// How the proxy dealt with one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    /// Forwarded to moto, which answered with this HTTP status; the answer was relayed.
    Forwarded(u16),
    /// Answered with the service's throttling error; not forwarded.
    Throttled,
    /// Answered with HTTP 500 or 503; not forwarded.
    ServerError(u16),
    /// Connection closed without an answer; not forwarded.
    Dropped,
    /// Forwarded (moto answered with this status), then the connection was closed instead of
    /// relaying the answer.
    LostAfterForward(u16),
    /// Forwarded (moto answered), then HTTP 500 or 503 relayed instead of the answer.
    ServerErrorAfterForward(u16),
    /// Answered by the AWS-semantics layer with this error code; not forwarded.
    Refused(&'static str),
    /// Answered by the AWS-semantics layer with the answer of an earlier, identical request
    /// (a CreateStackSet retried with its ClientRequestToken); not forwarded.
    Replayed,
}

impl Outcome {
    /// Whether moto executed the request: it reached moto and moto accepted it (a 2xx answer; a
    /// refusal, such as the faithful emulator's OperationInProgressException, changed nothing).
    pub fn reached_moto(self) -> bool {
        matches!(
            self,
            Outcome::Forwarded(s) | Outcome::LostAfterForward(s) | Outcome::ServerErrorAfterForward(s)
                if (200..300).contains(&s)
        )
    }

    /// Whether the SDK saw an error it retries (a fault, not an answer of moto or of the AWS
    /// semantics layer).
    pub fn is_fault(self) -> bool {
        !matches!(
            self,
            Outcome::Forwarded(_) | Outcome::Refused(_) | Outcome::Replayed
        )
    }

    /// A short name for reports.
    pub fn kind(self) -> &'static str {
        match self {
            Outcome::Forwarded(_) => "forwarded",
            Outcome::Throttled => "throttled",
            Outcome::ServerError(_) => "5xx",
            Outcome::Dropped => "dropped",
            Outcome::LostAfterForward(_) => "lost after forward",
            Outcome::ServerErrorAfterForward(_) => "5xx after forward",
            Outcome::Refused(_) => "refused (AWS semantics)",
            Outcome::Replayed => "replayed (AWS semantics)",
        }
    }
}

/// One request the proxy saw.
#[derive(Debug, Clone)]
pub struct Call {
    /// `cloudformation`, `organizations`, `sts`, … (from the SigV4 credential scope).
    pub service: String,
    /// `CreateStackInstances`, `ListAccountsForParent`, …
    pub operation: String,
    /// The form parameters of an awsQuery request (CloudFormation, STS), decoded, in order;
    /// empty for JSON requests.
    pub params: Vec<(String, String)>,
    /// What happened to it.
    pub outcome: Outcome,
}

impl Call {
    /// The first value of a form parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a list parameter (`Accounts` → `Accounts.member.1`, `.2`, …).
    pub fn list(&self, name: &str) -> Vec<String> {
        let prefix = format!("{name}.member.");
        let mut members: Vec<(u32, String)> = self
            .params
            .iter()
            .filter_map(|(k, v)| Some((k.strip_prefix(&prefix)?.parse().ok()?, v.clone())))
            .collect();
        members.sort();
        members.into_iter().map(|(_, v)| v).collect()
    }

    /// Whether this is a read: `Describe*`, `List*` or `Get*`. Everything else may change state.
    pub fn is_read(&self) -> bool {
        is_read(&self.operation)
    }
}

/// Whether an operation name is read-only (`Describe*`, `List*`, `Get*`): an allow-list, so an
/// operation nobody thought of counts as mutating.
pub fn is_read(operation: &str) -> bool {
    ["Describe", "List", "Get"]
        .iter()
        .any(|p| operation.starts_with(p))
}

/// Everything the proxy saw, in arrival order.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// Every request.
    pub calls: Vec<Call>,
}

impl Stats {
    /// Requests per operation name.
    pub fn requests(&self) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for c in &self.calls {
            *out.entry(c.operation.clone()).or_default() += 1;
        }
        out
    }

    /// The calls of one operation that reached moto.
    pub fn executed(&self, operation: &str) -> Vec<&Call> {
        self.calls
            .iter()
            .filter(|c| c.operation == operation && c.outcome.reached_moto())
            .collect()
    }

    /// The names of the operations that were called at all.
    pub fn operations(&self) -> BTreeSet<String> {
        self.calls.iter().map(|c| c.operation.clone()).collect()
    }

    /// The names of the non-read operations that were called, whatever became of the calls.
    pub fn mutating(&self) -> BTreeSet<String> {
        self.calls
            .iter()
            .filter(|c| !c.is_read())
            .map(|c| c.operation.clone())
            .collect()
    }

    /// Faults injected, by kind.
    pub fn faults(&self) -> BTreeMap<&'static str, usize> {
        let mut out = BTreeMap::new();
        for c in self.calls.iter().filter(|c| c.outcome.is_fault()) {
            *out.entry(c.outcome.kind()).or_default() += 1;
        }
        out
    }

    /// Faults injected in total.
    pub fn fault_count(&self) -> usize {
        self.calls.iter().filter(|c| c.outcome.is_fault()).count()
    }

    /// Faults injected, by `service:Operation`.
    pub fn faults_by_operation(&self) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for c in self.calls.iter().filter(|c| c.outcome.is_fault()) {
            *out.entry(format!("{}:{}", c.service, c.operation))
                .or_default() += 1;
        }
        out
    }

    /// Calls answered by the AWS-semantics layer, as `(operation, error code)`.
    pub fn refused(&self) -> Vec<(String, &'static str)> {
        self.calls
            .iter()
            .filter_map(|c| match c.outcome {
                Outcome::Refused(code) => Some((c.operation.clone(), code)),
                _ => None,
            })
            .collect()
    }
}

/// The proxy: listens on 127.0.0.1 until dropped.
pub struct Proxy {
    url: String,
    shared: Arc<Shared>,
}

struct Shared {
    upstream: String,
    faults: Mutex<Faults>,
    stats: Mutex<Stats>,
    /// How often each exact request (by digest) was seen, for the fault decision.
    seen: Mutex<HashMap<u64, u64>>,
    /// Requests read and not yet answered (or dropped), and when one last began or ended:
    /// forwarding continues after the client went away, so a test waits for quiet before it
    /// looks at moto.
    busy: Mutex<(usize, Instant)>,
    idle: Condvar,
    aws: Option<Mutex<AwsSemantics>>,
    /// While true, every non-read request waits before anything else happens to it.
    gate: Mutex<Gate>,
    gate_changed: Condvar,
    stop: AtomicBool,
}

/// Holding mutating calls back: which, how many arrived while held, and whether they may go on.
#[derive(Default)]
struct Gate {
    closed: bool,
    /// Only these operations, if set; otherwise every non-read one.
    only: Option<BTreeSet<String>>,
    held: usize,
}

/// The state the AWS-semantics layer keeps: stack set names in use, and operations by
/// (stack set, caller's OperationId) with moto's id for them.
#[derive(Default)]
struct AwsSemantics {
    names: BTreeSet<String>,
    /// CreateStackSet answers by name, with the ClientRequestToken that created the stack set:
    /// a retry with the same token gets the same answer, as AWS documents.
    creations: BTreeMap<String, (Option<String>, Message)>,
    operations: BTreeMap<(String, String), String>,
}

/// How long the proxy must have been idle for [`Proxy::wait_idle`]: bytes a killed client sent
/// are read by now.
const QUIET: Duration = Duration::from_millis(200);

/// Operations that start a StackSets operation and take an `OperationId`.
const STACK_SET_OPERATIONS: [&str; 6] = [
    "CreateStackInstances",
    "UpdateStackInstances",
    "DeleteStackInstances",
    "UpdateStackSet",
    "DeleteStackSet",
    "DetectStackSetDrift",
];

/// Calls that name an existing operation by `OperationId`.
const OPERATION_READERS: [&str; 3] = [
    "DescribeStackSetOperation",
    "ListStackSetOperationResults",
    "StopStackSetOperation",
];

impl Proxy {
    /// A proxy to `upstream` (moto) that injects `faults`.
    pub fn start(upstream: &impl Endpoint, faults: Faults) -> Proxy {
        Proxy::spawn(upstream, faults, None)
    }

    /// A proxy that also answers as AWS does where moto does not (duplicate stack set names,
    /// reused OperationIds). `existing` names the stack sets already in moto.
    pub fn with_aws_semantics(
        upstream: &impl Endpoint,
        faults: Faults,
        existing: &[&str],
    ) -> Proxy {
        let aws = AwsSemantics {
            names: existing.iter().map(|s| s.to_string()).collect(),
            creations: BTreeMap::new(),
            operations: BTreeMap::new(),
        };
        Proxy::spawn(upstream, faults, Some(Mutex::new(aws)))
    }

    fn spawn(upstream: &impl Endpoint, faults: Faults, aws: Option<Mutex<AwsSemantics>>) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("bound listener");
        let shared = Arc::new(Shared {
            upstream: upstream.url().trim_start_matches("http://").to_string(),
            faults: Mutex::new(faults),
            stats: Mutex::new(Stats::default()),
            seen: Mutex::new(HashMap::new()),
            busy: Mutex::new((0, Instant::now())),
            idle: Condvar::new(),
            aws,
            gate: Mutex::new(Gate::default()),
            gate_changed: Condvar::new(),
            stop: AtomicBool::new(false),
        });
        let accepting = shared.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if accepting.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let shared = accepting.clone();
                std::thread::spawn(move || serve(&shared, stream));
            }
        });
        Proxy {
            url: format!("http://{addr}"),
            shared,
        }
    }

    /// Replaces the faults for the requests that follow.
    pub fn set_faults(&self, faults: Faults) {
        *lock(&self.shared.faults) = faults;
    }

    /// A copy of everything seen so far.
    pub fn stats(&self) -> Stats {
        lock(&self.shared.stats).clone()
    }

    /// Tells the AWS-semantics layer that a stack set named `name` exists (created in moto
    /// directly, not through the proxy).
    pub fn note_stack_set(&self, name: &str) {
        let aws = self
            .shared
            .aws
            .as_ref()
            .expect("a proxy with AWS semantics");
        lock(aws).names.insert(name.to_string());
    }

    /// Holds every mutating call back (reads go on) until [`Proxy::release`]: two runs can then
    /// be made to plan from the same state before either changes it.
    pub fn hold_mutations(&self) {
        let mut gate = lock(&self.shared.gate);
        gate.closed = true;
        gate.only = None;
        gate.held = 0;
    }

    /// [`Proxy::hold_mutations`] for the named operations only.
    pub fn hold(&self, operations: &[&str]) {
        let mut gate = lock(&self.shared.gate);
        gate.closed = true;
        gate.only = Some(operations.iter().map(|o| o.to_string()).collect());
        gate.held = 0;
    }

    /// Waits until `count` mutating calls are held back, at most `timeout`.
    pub fn wait_for_held(&self, count: usize, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let mut gate = lock(&self.shared.gate);
        while gate.held < count {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "only {} of {count} mutating calls arrived within {timeout:?}",
                gate.held
            );
            gate = self
                .shared
                .gate_changed
                .wait_timeout(gate, left)
                .expect("proxy lock")
                .0;
        }
    }

    /// Lets held and later mutating calls go on.
    pub fn release(&self) {
        lock(&self.shared.gate).closed = false;
        self.shared.gate_changed.notify_all();
    }

    /// Waits until no request has been handled for [`QUIET`] (a killed client's last request
    /// may still be on its way to moto), at most `timeout`.
    pub fn wait_idle(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let mut busy = lock(&self.shared.busy);
        loop {
            let quiet = busy.1.elapsed();
            if busy.0 == 0 && quiet >= QUIET {
                return;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "the proxy still handles {} request(s) after {timeout:?}",
                busy.0
            );
            let wait = if busy.0 == 0 { QUIET - quiet } else { left };
            busy = self
                .shared
                .idle
                .wait_timeout(busy, wait.min(left))
                .expect("proxy lock")
                .0;
        }
    }
}

impl Endpoint for Proxy {
    fn url(&self) -> String {
        self.url.clone()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so that it sees the flag.
        let _ = TcpStream::connect(self.url.trim_start_matches("http://"));
    }
}

/// A poisoned lock only means another test thread panicked; the data is still what it was.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// One HTTP request or response.
#[derive(Clone)]
struct Message {
    /// The request line or status line.
    start: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Message {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The message with its body framed by Content-Length, without hop-by-hop headers.
    fn to_bytes(&self, extra: &[(&str, &str)]) -> Vec<u8> {
        let mut out = format!("{}\r\n", self.start);
        for (k, v) in &self.headers {
            let hop = [
                "connection",
                "keep-alive",
                "transfer-encoding",
                "content-length",
                "expect",
            ];
            if !hop.iter().any(|h| k.eq_ignore_ascii_case(h)) {
                out.push_str(&format!("{k}: {v}\r\n"));
            }
        }
        for (k, v) in extra {
            out.push_str(&format!("{k}: {v}\r\n"));
        }
        out.push_str(&format!("Content-Length: {}\r\n\r\n", self.body.len()));
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(&self.body);
        bytes
    }
}

/// Reads one message from `r`: `None` at a clean end of the stream. `eof_body` reads a body
/// without Content-Length or chunking up to the end of the stream (responses only).
fn read_message(r: &mut impl BufRead, eof_body: bool) -> std::io::Result<Option<Message>> {
    let mut start = String::new();
    if r.read_line(&mut start)? == 0 {
        return Ok(None);
    }
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let mut msg = Message {
        start: start.trim_end().to_string(),
        headers,
        body: Vec::new(),
    };
    let chunked = msg
        .header("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    if chunked {
        loop {
            let mut size = String::new();
            r.read_line(&mut size)?;
            let size = size.trim().split(';').next().unwrap_or_default();
            let size = usize::from_str_radix(size, 16)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
            if size == 0 {
                // Trailers, up to the empty line.
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line)? == 0 || line.trim().is_empty() {
                        break;
                    }
                }
                break;
            }
            let mut chunk = vec![0; size + 2];
            r.read_exact(&mut chunk)?;
            chunk.truncate(size);
            msg.body.extend_from_slice(&chunk);
        }
    } else if let Some(len) = msg.header("content-length") {
        let len: usize = len
            .parse()
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
        msg.body = vec![0; len];
        r.read_exact(&mut msg.body)?;
    } else if eof_body {
        r.read_to_end(&mut msg.body)?;
    }
    Ok(Some(msg))
}

/// Serves one SDK connection, request after request, until the SDK closes it or a fault drops it.
fn serve(shared: &Shared, stream: TcpStream) {
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let mut writer = stream;
    loop {
        let request = match read_message(&mut reader, false) {
            Ok(Some(r)) => r,
            _ => return,
        };
        {
            let mut busy = lock(&shared.busy);
            *busy = (busy.0 + 1, Instant::now());
        }
        let keep = handle(shared, &request, &mut writer);
        let mut busy = lock(&shared.busy);
        *busy = (busy.0 - 1, Instant::now());
        if busy.0 == 0 {
            shared.idle.notify_all();
        }
        drop(busy);
        if !keep {
            let _ = writer.shutdown(Shutdown::Both);
            return;
        }
    }
}

/// What the proxy decided for one request.
enum Decision {
    Forward,
    Throttle,
    ServerError(u16),
    Drop,
    LoseAfterForward,
    ServerErrorAfterForward(u16),
}

/// Handles one request; false if the connection must be closed.
fn handle(shared: &Shared, request: &Message, client: &mut TcpStream) -> bool {
    let service = service_of(request);
    let operation = operation_of(request);
    let params = if request
        .header("content-type")
        .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"))
    {
        parse_form(&String::from_utf8_lossy(&request.body))
    } else {
        Vec::new()
    };
    if !is_read(&operation) {
        let mut gate = lock(&shared.gate);
        let held = match &gate.only {
            Some(only) => only.contains(&operation),
            None => true,
        };
        if gate.closed && held {
            gate.held += 1;
            shared.gate_changed.notify_all();
            while gate.closed {
                gate = shared.gate_changed.wait(gate).expect("proxy lock");
            }
        }
    }
    let faults = lock(&shared.faults).clone();
    let digest = fnv(&[service.as_bytes(), operation.as_bytes(), &request.body]);
    let attempt = {
        let mut seen = lock(&shared.seen);
        let n = seen.entry(digest).or_default();
        *n += 1;
        *n - 1
    };
    // Each input goes through the mixer on its own: XOR-ing them raw gives correlated draws for
    // consecutive attempts (long runs of faults on one request).
    let mut rng = SplitMix(mix(faults.seed ^ mix(digest ^ mix(attempt))));
    let decision = decide(&faults, &operation, attempt, &mut rng);
    if let Some((min, max)) = faults.latency {
        let span = max.saturating_sub(min).as_micros() as f64;
        std::thread::sleep(min + Duration::from_micros((rng.unit() * span) as u64));
    }

    let record = |outcome: Outcome| {
        lock(&shared.stats).calls.push(Call {
            service: service.clone(),
            operation: operation.clone(),
            params: params.clone(),
            outcome,
        });
    };
    let write = |client: &mut TcpStream, bytes: &[u8]| client.write_all(bytes).is_ok();
    match decision {
        Decision::Throttle => {
            record(Outcome::Throttled);
            write(client, &throttling(&service))
        }
        Decision::ServerError(status) => {
            record(Outcome::ServerError(status));
            write(client, &server_error(&service, status))
        }
        Decision::Drop => {
            record(Outcome::Dropped);
            false
        }
        Decision::Forward | Decision::LoseAfterForward | Decision::ServerErrorAfterForward(_) => {
            let answer = match &shared.aws {
                Some(aws) if service == "cloudformation" => {
                    forward_as_aws(shared, aws, request, &operation, &params)
                }
                _ => forward(&shared.upstream, request).map(Answer::Moto),
            };
            let response = match answer {
                Ok(Answer::Moto(response)) => response,
                Ok(Answer::Refused(code, bytes)) => {
                    record(Outcome::Refused(code));
                    return write(client, &bytes);
                }
                Ok(Answer::Replayed(response)) => {
                    record(Outcome::Replayed);
                    return write(client, &response.to_bytes(&[]));
                }
                Err(e) => panic!("the proxy cannot reach moto at {}: {e}", shared.upstream),
            };
            let status = status_of(&response);
            match decision {
                Decision::LoseAfterForward => {
                    record(Outcome::LostAfterForward(status));
                    false
                }
                Decision::ServerErrorAfterForward(code) => {
                    record(Outcome::ServerErrorAfterForward(code));
                    write(client, &server_error(&service, code))
                }
                _ => {
                    record(Outcome::Forwarded(status));
                    write(client, &response.to_bytes(&[]))
                }
            }
        }
    }
}

fn decide(faults: &Faults, operation: &str, attempt: u64, rng: &mut SplitMix) -> Decision {
    if attempt == 0
        && let Some(fault) = faults.first_attempt.get(operation)
    {
        return match fault {
            Fault::Throttle => Decision::Throttle,
            Fault::ServerError(status) => Decision::ServerError(*status),
            Fault::Drop => Decision::Drop,
            Fault::LoseAfterForward => Decision::LoseAfterForward,
        };
    }
    let r = rng.unit();
    let status = if rng.unit() < 0.5 { 500 } else { 503 };
    let after = faults.after_forward_reads && is_read(operation) && rng.unit() < 0.5;
    if r < faults.throttle {
        Decision::Throttle
    } else if r < faults.throttle + faults.server_error {
        if after {
            Decision::ServerErrorAfterForward(status)
        } else {
            Decision::ServerError(status)
        }
    } else if r < faults.throttle + faults.server_error + faults.drop {
        if after {
            Decision::LoseAfterForward
        } else {
            Decision::Drop
        }
    } else {
        Decision::Forward
    }
}

/// What forwarding produced: moto's answer, or an error the AWS-semantics layer gave instead.
enum Answer {
    Moto(Message),
    Refused(&'static str, Vec<u8>),
    Replayed(Message),
}

/// Sends `request` to moto on a fresh connection and reads the whole answer.
fn forward(upstream: &str, request: &Message) -> std::io::Result<Message> {
    let mut moto = TcpStream::connect(upstream)?;
    moto.write_all(&request.to_bytes(&[("Connection", "close")]))?;
    let mut reader = BufReader::new(moto);
    read_message(&mut reader, true)?.ok_or_else(|| std::io::ErrorKind::UnexpectedEof.into())
}

/// [`forward`] for CloudFormation with the AWS behaviour moto lacks. The lock is held across
/// the forward so that two concurrent calls are decided one after the other, as AWS does.
fn forward_as_aws(
    shared: &Shared,
    aws: &Mutex<AwsSemantics>,
    request: &Message,
    operation: &str,
    params: &[(String, String)],
) -> std::io::Result<Answer> {
    let mut state = lock(aws);
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let stack_set = param("StackSetName").unwrap_or_default();
    let ours = param("OperationId");
    if operation == "CreateStackSet" && state.names.contains(&stack_set) {
        if let (Some(token), Some((Some(first), answer))) =
            (param("ClientRequestToken"), state.creations.get(&stack_set))
            && token == *first
        {
            return Ok(Answer::Replayed(answer.clone()));
        }
        let message = format!("A StackSet with name {stack_set} already exists");
        return Ok(Answer::Refused(
            "NameAlreadyExistsException",
            query_error(409, "Sender", "NameAlreadyExistsException", &message),
        ));
    }
    let mut request = Message {
        start: request.start.clone(),
        headers: request.headers.clone(),
        body: request.body.clone(),
    };
    if let Some(ours) = &ours {
        let key = (stack_set.clone(), ours.clone());
        if STACK_SET_OPERATIONS.contains(&operation) && state.operations.contains_key(&key) {
            let message = format!("The operation ID {ours} already exists");
            return Ok(Answer::Refused(
                "OperationIdAlreadyExistsException",
                query_error(409, "Sender", "OperationIdAlreadyExistsException", &message),
            ));
        }
        if OPERATION_READERS.contains(&operation)
            && let Some(theirs) = state.operations.get(&key)
        {
            request.body = replace_param(&request.body, "OperationId", ours, theirs);
        }
    }
    let mut response = forward(&shared.upstream, &request)?;
    let ok = status_of(&response) == 200;
    if ok && operation == "CreateStackSet" {
        state.names.insert(stack_set.clone());
        state.creations.insert(
            stack_set.clone(),
            (param("ClientRequestToken"), response.clone()),
        );
    }
    if ok && operation == "DeleteStackSet" {
        state.names.remove(&stack_set);
    }
    if ok
        && STACK_SET_OPERATIONS.contains(&operation)
        && let Some(ours) = ours
        && let Some(theirs) = xml_value(&response.body, "OperationId")
    {
        state.operations.insert((stack_set, ours), theirs);
    }
    // Every answer names operations by the caller's ids, as AWS's do.
    let mut body = String::from_utf8_lossy(&response.body).into_owned();
    for ((_, ours), theirs) in &state.operations {
        body = body.replace(theirs.as_str(), ours);
    }
    response.body = body.into_bytes();
    Ok(Answer::Moto(response))
}

fn replace_param(body: &[u8], name: &str, from: &str, to: &str) -> Vec<u8> {
    let body = String::from_utf8_lossy(body);
    body.split('&')
        .map(|pair| {
            if pair == format!("{name}={from}") {
                format!("{name}={to}")
            } else {
                pair.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("&")
        .into_bytes()
}

fn xml_value(body: &[u8], tag: &str) -> Option<String> {
    let body = String::from_utf8_lossy(body);
    let open = format!("<{tag}>");
    let start = body.find(&open)? + open.len();
    let end = body[start..].find('<')? + start;
    Some(body[start..end].trim().to_string())
}

fn status_of(response: &Message) -> u16 {
    response
        .start
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// The service from the SigV4 credential scope: `Credential=AKID/DATE/REGION/SERVICE/aws4_request`.
fn service_of(request: &Message) -> String {
    request
        .header("authorization")
        .and_then(|a| a.split("Credential=").nth(1))
        .and_then(|c| c.split('/').nth(3))
        .unwrap_or("unknown")
        .to_string()
}

/// The operation: `X-Amz-Target: Prefix.Operation` (JSON protocols) or `Action=` (awsQuery).
fn operation_of(request: &Message) -> String {
    if let Some(target) = request.header("x-amz-target") {
        return target.rsplit('.').next().unwrap_or(target).to_string();
    }
    parse_form(&String::from_utf8_lossy(&request.body))
        .into_iter()
        .find(|(k, _)| k == "Action")
        .map_or_else(|| rest_operation(request), |(_, v)| v)
}

/// A REST-JSON operation (the Account API's `POST /listRegions`) by its path: `ListRegions`.
fn rest_operation(request: &Message) -> String {
    let path = request.start.split_whitespace().nth(1).unwrap_or("");
    let name = path
        .trim_start_matches('/')
        .split(['/', '?'])
        .next()
        .unwrap_or("");
    let mut chars = name.chars();
    match chars.next() {
        Some(first) if name.chars().all(|c| c.is_ascii_alphanumeric()) => {
            first.to_ascii_uppercase().to_string() + chars.as_str()
        }
        _ => "unknown".to_string(),
    }
}

fn parse_form(body: &str) -> Vec<(String, String)> {
    body.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = || {
            let pair = bytes.get(i + 1..i + 3)?;
            u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()
        };
        match (bytes[i], hex()) {
            (b'+', _) => out.push(b' '),
            (b'%', Some(b)) => {
                out.push(b);
                i += 2;
            }
            (b, _) => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// An awsQuery error (CloudFormation, STS).
fn query_error(status: u16, kind: &str, code: &str, message: &str) -> Vec<u8> {
    let body = format!(
        "<ErrorResponse xmlns=\"http://cloudformation.amazonaws.com/doc/2010-05-15/\"><Error><Type>{kind}</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>{}</RequestId></ErrorResponse>",
        request_id()
    );
    response(status, "text/xml", &body)
}

/// An AWS JSON 1.1 error (Organizations).
fn json_error(status: u16, code: &str, message: &str) -> Vec<u8> {
    let body = format!("{{\"__type\":\"{code}\",\"Message\":\"{message}\"}}");
    response(status, "application/x-amz-json-1.1", &body)
}

fn response(status: u16, content_type: &str, body: &str) -> Vec<u8> {
    let reason = match status {
        400 => "Bad Request",
        409 => "Conflict",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Error",
    };
    Message {
        start: format!("HTTP/1.1 {status} {reason}"),
        headers: vec![
            ("Content-Type".to_string(), content_type.to_string()),
            ("x-amzn-RequestId".to_string(), request_id()),
        ],
        body: body.as_bytes().to_vec(),
    }
    .to_bytes(&[])
}

/// The throttling error each service really sends.
fn throttling(service: &str) -> Vec<u8> {
    if service == "organizations" {
        json_error(
            400,
            "TooManyRequestsException",
            "AWS Organizations can't complete your request because another request is already in progress. Try again later.",
        )
    } else {
        query_error(400, "Sender", "Throttling", "Rate exceeded")
    }
}

fn server_error(service: &str, status: u16) -> Vec<u8> {
    match (service, status) {
        ("organizations", _) => json_error(
            status,
            "ServiceException",
            "AWS Organizations can't complete your request because it encountered an internal error. Try again later.",
        ),
        (_, 503) => query_error(
            503,
            "Receiver",
            "ServiceUnavailable",
            "Service is unavailable.",
        ),
        _ => query_error(
            500,
            "Receiver",
            "InternalFailure",
            "We encountered an internal error. Please try again.",
        ),
    }
}

fn request_id() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    format!(
        "00000000-0000-4000-8000-{:012x}",
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// FNV-1a over several byte strings (each followed by a separator).
fn fnv(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.iter().chain(std::iter::once(&0xff)) {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// splitmix64's output function: a bijection with full avalanche.
fn mix(z: u64) -> u64 {
    SplitMix(z).next_u64()
}

/// splitmix64: small, seedable, good enough to draw faults.
pub struct SplitMix(pub u64);

impl SplitMix {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}
