//! Reliability end to end, through the fault-injecting [`Proxy`] in front of moto: throttling,
//! 5xx and dropped connections change nothing but the time a rollout takes; an apply killed at
//! any point (SIGINT or SIGKILL) converges when run again, with no operation started twice; two
//! applies at once share one stack set and one operation per step; no mutating call follows a
//! validation error. docs/reliability.md maps each guarantee to its test here.
//!
//! Every check of the end state reads moto independently of stackfleet (boto3 through
//! [`boto3`]), and every "started once" check counts the calls that reached moto in the proxy's
//! log as well as the operations moto recorded. Progress lines go to stderr (`--nocapture` shows
//! runs, faults, retries and trial results). `STACKFLEET_FAULT_SEED` overrides the fixed seeds.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::{
    MARKER_TEMPLATE, Moto, Run, Workspace, account_id, boto3, finish, listed_instances, seed,
    stackfleet_command, stackfleet_env,
};
use crate::proxy::{Call, Fault, Faults, Proxy, SplitMix, Stats};

const MANAGEMENT: &str = "123456789012";

/// The SDK's retry decisions on stderr (each line "…; retrying after …" is one retry), and 12
/// attempts per call instead of the harness's 2. (With stackfleet's default of 8, a call fails
/// when 8 attempts in a row draw a fault: 0.27^8 ≈ 3e-5 at the fault test's rates, so about one
/// faulty rollout of ~170 calls in 200 would end in a throttling error; with 12, one in 40,000.)
const RETRY_ENV: [(&str, Option<&str>); 2] = [
    ("AWS_MAX_ATTEMPTS", Some("12")),
    (
        "STACKFLEET_LOG",
        Some("warn,aws_smithy_runtime::client::retries=debug"),
    ),
];

fn fault_seed(default: u64) -> u64 {
    std::env::var("STACKFLEET_FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// How many retries the SDK made, from its debug log.
fn retries(run: &Run) -> usize {
    run.stderr.matches("retrying after").count()
}

fn grid(accounts: &[String], regions: &[&str]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = accounts
        .iter()
        .flat_map(|a| regions.iter().map(move |r| (a.clone(), r.to_string())))
        .collect();
    out.sort();
    out
}

/// The ids of the seeded accounts under `ou_prefix` (all of them for "/"), active ones only.
fn accounts_under(org: &Value, ou_prefix: &str) -> Vec<String> {
    let mut out: Vec<String> = org["accounts"]
        .as_object()
        .expect("accounts")
        .values()
        .filter(|a| a["status"] == "ACTIVE")
        .filter(|a| {
            let path = a["ou_path"].as_str().unwrap_or_default();
            ou_prefix == "/" || path == ou_prefix || path.starts_with(&format!("{ou_prefix}/"))
        })
        .map(|a| a["id"].as_str().expect("id").to_string())
        .collect();
    out.sort();
    out
}

/// The names of every stack set moto holds, sorted, duplicates kept.
fn stack_set_names(moto: &Moto) -> Vec<String> {
    let names = boto3(
        moto,
        "result = sorted(s['StackSetName'] for s in client('cloudformation').list_stack_sets()['Summaries'])",
        Value::Null,
    );
    serde_json::from_value(names).expect("a list of names")
}

/// The operations moto recorded for a stack set, as `[action, status]`.
fn moto_operations(moto: &Moto, stack_set: &str) -> Vec<(String, String)> {
    let ops = boto3(
        moto,
        "result = [[o['Action'], o['Status']] for o in client('cloudformation').list_stack_set_operations(StackSetName=ARGS)['Summaries']]",
        Value::from(stack_set),
    );
    serde_json::from_value(ops).expect("a list of operations")
}

/// The account × region cells a CreateStackInstances or DeleteStackInstances call named.
fn cells(call: &Call) -> Vec<(String, String)> {
    let regions = call.list("Regions");
    let mut out: Vec<(String, String)> = call
        .list("Accounts")
        .into_iter()
        .flat_map(|a| regions.iter().map(move |r| (a.clone(), r.clone())))
        .collect();
    out.sort();
    out
}

/// Asserts that no stack set was created twice, no cell created or deleted twice and no stack
/// set updated twice by the calls that reached moto: with moto's synchronous operations, a call
/// that reached moto is an operation that ran, so a repeat is a second copy of it.
fn assert_nothing_started_twice(stats: &Stats) {
    let mut created_sets = BTreeMap::<String, usize>::new();
    for c in stats.executed("CreateStackSet") {
        *created_sets
            .entry(c.param("StackSetName").unwrap_or_default().to_string())
            .or_default() += 1;
    }
    assert!(
        created_sets.values().all(|n| *n == 1),
        "a stack set was created more than once: {created_sets:?}"
    );
    for operation in ["CreateStackInstances", "DeleteStackInstances"] {
        let mut seen = BTreeSet::new();
        for c in stats.executed(operation) {
            let set = c.param("StackSetName").unwrap_or_default().to_string();
            for cell in cells(c) {
                assert!(
                    seen.insert((set.clone(), cell.clone())),
                    "{operation} ran twice for {set} {cell:?}"
                );
            }
        }
    }
    let mut updates = BTreeMap::<String, usize>::new();
    for c in stats.executed("UpdateStackSet") {
        *updates
            .entry(c.param("StackSetName").unwrap_or_default().to_string())
            .or_default() += 1;
    }
    assert!(
        updates.values().all(|n| *n == 1),
        "a stack set was updated more than once: {updates:?}"
    );
}

/// Replaces the values of `keys` anywhere in `value` with a placeholder.
fn without(mut value: Value, keys: &[&str]) -> Value {
    fn walk(v: &mut Value, keys: &[&str]) {
        match v {
            Value::Object(map) => {
                for (k, child) in map.iter_mut() {
                    if keys.contains(&k.as_str()) {
                        *child = Value::from("<varies>");
                    } else {
                        walk(child, keys);
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|i| walk(i, keys)),
            _ => {}
        }
    }
    walk(&mut value, keys);
    value
}

// ---------------------------------------------------------------------------------------------
// Faults: 200 accounts × 3 regions with 20% throttling, 5% 5xx and 2% dropped connections.

const BIG_REGIONS: [&str; 3] = ["us-east-1", "eu-west-1", "ap-southeast-2"];

/// One self-managed stack set of the marker template over the whole organization.
const BIG_FLEET: &str = r#"name = "baseline"

[organization]
home_region = "us-east-1"
management_account = "123456789012"

[[stack_sets]]
name = "marker"
template = "templates/marker.yaml"
permission_model = "self-managed"
regions = ["us-east-1", "eu-west-1", "ap-southeast-2"]
parameters = { Team = "security" }

[stack_sets.targets]
organizational_units = ["/"]
"#;

/// What plan → apply → plan → coverage printed and did on one moto.
struct Rollout {
    plan: Value,
    apply: Value,
    replan: Value,
    coverage: Value,
    stats: Stats,
    retries: usize,
    runs: usize,
    elapsed: Duration,
}

/// Seeds a fresh moto with `spec` directly (not through the proxy, so both rollouts start from
/// the same ids), then runs plan → apply plan.json → plan → coverage through a proxy injecting
/// `faults`, and checks moto's end state independently.
fn rollout(spec: &Value, faults: Faults) -> Rollout {
    let moto = Moto::start();
    let org = seed(&moto, spec.clone());
    let proxy = Proxy::start(&moto, faults);
    let ws = Workspace::new()
        .with_marker_template()
        .with_fleet(BIG_FLEET);
    let started = Instant::now();
    let run = |args: &[&str], code: i32| {
        let run = stackfleet_env(&proxy, ws.path(), args, &RETRY_ENV);
        run.assert_code(code);
        run
    };
    let plan = run(&["plan", "--output", "json", "--out", "plan.json"], 0);
    let apply = run(
        &["apply", "plan.json", "--auto-approve", "--output", "json"],
        0,
    );
    let replan = run(&["plan", "--output", "json", "--detailed-exitcode"], 0);
    let coverage = run(&["coverage", "--output", "json"], 0);
    let elapsed = started.elapsed();
    proxy.wait_idle(Duration::from_secs(30));
    let stats = proxy.stats();

    // Independently of stackfleet: exactly the desired instances, one stack set, one operation.
    let mut accounts = accounts_under(&org, "/");
    accounts.push(MANAGEMENT.to_string());
    accounts.sort();
    assert_eq!(accounts.len(), 201);
    assert_eq!(
        listed_instances(&moto, "marker"),
        grid(&accounts, &BIG_REGIONS)
    );
    assert_eq!(stack_set_names(&moto), ["marker"]);
    assert_eq!(
        moto_operations(&moto, "marker"),
        [("CREATE".to_string(), "SUCCEEDED".to_string())]
    );
    // The plan's one operation, started once, over every cell.
    assert_eq!(stats.executed("CreateStackSet").len(), 1);
    let creates = stats.executed("CreateStackInstances");
    assert_eq!(
        creates.len(),
        1,
        "CreateStackInstances reached moto {} times",
        creates.len()
    );
    assert_eq!(cells(creates[0]), grid(&accounts, &BIG_REGIONS));
    assert_eq!(
        stats.mutating(),
        BTreeSet::from([
            "CreateStackInstances".to_string(),
            "CreateStackSet".to_string()
        ])
    );
    assert_nothing_started_twice(&stats);

    Rollout {
        plan: plan.json(),
        apply: apply.json(),
        replan: replan.json(),
        coverage: coverage.json(),
        retries: [&plan, &apply, &replan, &coverage]
            .into_iter()
            .map(retries)
            .sum(),
        runs: 4,
        stats,
        elapsed,
    }
}

#[test]
fn faults_change_nothing_but_the_time_a_rollout_takes() {
    let spec = json!({
        "seed": 4242,
        "generate": [{"ou": "/Team{i:02d}", "count": 10, "accounts_per_ou": 20}],
    });
    let seed = fault_seed(20260);
    let faults = Faults {
        seed,
        throttle: 0.20,
        server_error: 0.05,
        drop: 0.02,
        // Whatever the draw, every kind of fault meets the calls that change something.
        first_attempt: BTreeMap::from([
            ("CreateStackSet", Fault::Drop),
            ("CreateStackInstances", Fault::Throttle),
            ("DescribeStackSetOperation", Fault::ServerError(503)),
        ]),
        ..Faults::none()
    };
    // Side by side: the fault-free run mostly waits for nothing, the faulty one for back-off.
    let (clean, faulty) = std::thread::scope(|s| {
        let clean = s.spawn(|| rollout(&spec, Faults::none()));
        let faulty = s.spawn(|| rollout(&spec, faults));
        (
            clean.join().expect("fault-free rollout"),
            faulty.join().expect("faulty rollout"),
        )
    });

    assert_eq!(clean.stats.fault_count(), 0);
    assert_eq!(clean.retries, 0, "the fault-free run retried");
    assert_eq!(
        faulty.retries,
        faulty.stats.fault_count(),
        "every fault is retried exactly once by the SDK"
    );
    let faults = faulty.stats.faults();
    // The calls that change something met faults too, and still reached moto once each.
    for operation in ["CreateStackSet", "CreateStackInstances"] {
        let requests = faulty.stats.requests()[operation];
        assert!(requests >= 2, "{operation} met no fault");
        assert_eq!(faulty.stats.executed(operation).len(), 1);
    }
    for kind in ["throttled", "5xx", "dropped"] {
        assert!(
            faults.get(kind).is_some_and(|n| *n > 0),
            "no {kind} fault injected: {faults:?}"
        );
    }

    // Same plan (fingerprint included; each plan draws its own nonce, time and so OperationIds),
    // report, convergence and coverage.
    let stamp = ["nonce", "planned_at", "id"];
    assert_eq!(
        without(faulty.plan.clone(), &stamp),
        without(clean.plan.clone(), &stamp),
        "the plan differs under faults"
    );
    assert_eq!(clean.plan["summary"]["create_instances"], 603);
    assert_eq!(clean.plan["summary"]["operations"], 1);
    // moto draws operation ids at random: only they may differ.
    assert_eq!(
        without(faulty.apply.clone(), &["operation_id"]),
        without(clean.apply.clone(), &["operation_id"])
    );
    assert_eq!(clean.apply["converged"], true);
    assert_eq!(
        without(faulty.replan.clone(), &stamp),
        without(clean.replan.clone(), &stamp),
        "the plan after apply differs under faults"
    );
    assert_eq!(clean.replan["summary"]["operations"], 0);
    assert_eq!(
        faulty.coverage, clean.coverage,
        "coverage differs under faults"
    );
    assert_eq!(clean.coverage["summary"]["percent"], 100.0);

    let total = |s: &Stats| s.calls.len();
    eprintln!(
        "faults (seed {seed}): {} runs per side; fault-free {} requests in {:.1?}; faulty {} requests, \
         {} faults {:?} (by operation {:?}), {} SDK retries, in {:.1?}",
        faulty.runs,
        total(&clean.stats),
        clean.elapsed,
        total(&faulty.stats),
        faulty.stats.fault_count(),
        faults,
        faulty.stats.faults_by_operation(),
        faulty.retries,
        faulty.elapsed,
    );
}

// ---------------------------------------------------------------------------------------------
// A small fleet with every kind of step: a new stack set (create it, create instances) and an
// existing one to delete from, update and extend.

const SMALL_REGIONS: [&str; 2] = ["us-east-1", "eu-west-1"];

const SMALL_FLEET: &str = r#"name = "baseline"

[organization]
home_region = "us-east-1"
management_account = "123456789012"

[defaults]
regions = ["us-east-1", "eu-west-1"]

[[stack_sets]]
name = "alpha"
template = "templates/marker.yaml"
permission_model = "self-managed"
parameters = { Team = "security" }

[stack_sets.targets]
organizational_units = ["/"]
exclude_organizational_units = ["/Excluded"]

[[stack_sets]]
name = "beta"
template = "templates/marker.yaml"
permission_model = "self-managed"
parameters = { Team = "security" }

[stack_sets.targets]
organizational_units = ["/Workloads"]
"#;

/// The organization, and `beta` as an earlier version of the fleet left it: the old parameter,
/// instances in /Excluded (to delete) and in /Workloads/A's first region only.
fn small_spec() -> Value {
    let mut accounts = vec![
        json!({"name": "sec-1", "ou": "/Security"}),
        json!({"name": "sec-2", "ou": "/Security"}),
        json!({"name": "ex-1", "ou": "/Excluded"}),
        json!({"name": "ex-2", "ou": "/Excluded"}),
    ];
    for team in ["a", "b"] {
        for i in 1..=4 {
            accounts.push(json!({
                "name": format!("w{team}-{i}"),
                "ou": format!("/Workloads/{}", team.to_uppercase()),
            }));
        }
    }
    json!({
        "seed": 11,
        "accounts": accounts,
        "stack_sets": [{
            "name": "beta",
            "template_body": MARKER_TEMPLATE,
            "parameters": {"Team": "old"},
            "tags": {"stackfleet:fleet": "baseline"},
            "capabilities": [],
            "instances": [
                {"accounts": ["ex-1", "ex-2"], "regions": ["us-east-1"]},
                {"ous": ["/Workloads/A"], "regions": ["us-east-1"]},
            ],
        }],
    })
}

/// A seeded moto with the small fleet's workspace, and the instances each stack set must end
/// with.
struct Small {
    moto: Moto,
    ws: Workspace,
    alpha: Vec<(String, String)>,
    beta: Vec<(String, String)>,
    /// The operations moto recorded for beta while seeding (one per instance entry).
    seeded_beta_operations: usize,
}

impl Small {
    fn new() -> Small {
        let moto = Moto::start();
        let org = seed(&moto, small_spec());
        let mut alpha: Vec<String> = accounts_under(&org, "/")
            .into_iter()
            .filter(|a| *a != account_id(&org, "ex-1") && *a != account_id(&org, "ex-2"))
            .collect();
        alpha.push(MANAGEMENT.to_string());
        alpha.sort();
        let beta = accounts_under(&org, "/Workloads");
        let seeded_beta_operations = moto_operations(&moto, "beta").len();
        Small {
            seeded_beta_operations,
            moto,
            ws: Workspace::new()
                .with_marker_template()
                .with_fleet(SMALL_FLEET),
            alpha: grid(&alpha, &SMALL_REGIONS),
            beta: grid(&beta, &SMALL_REGIONS),
        }
    }

    /// Checks the end state in moto, independently of stackfleet: each stack set once, exactly
    /// its desired instances, and exactly the operations of one uninterrupted apply.
    fn assert_converged(&self, stats: &Stats) {
        assert_eq!(stack_set_names(&self.moto), ["alpha", "beta"]);
        assert_eq!(listed_instances(&self.moto, "alpha"), self.alpha);
        assert_eq!(listed_instances(&self.moto, "beta"), self.beta);
        let actions = |set: &str, seeded: usize| -> Vec<String> {
            let mut ops = moto_operations(&self.moto, set);
            assert!(ops.len() >= seeded, "{set}: {ops:?}");
            ops.drain(..seeded);
            assert!(ops.iter().all(|(_, s)| s == "SUCCEEDED"), "{set}: {ops:?}");
            let mut actions: Vec<String> = ops.into_iter().map(|(a, _)| a).collect();
            actions.sort();
            actions
        };
        assert_eq!(actions("alpha", 0), ["CREATE"]);
        // Delete /Excluded, update the parameter, create the two missing rectangles.
        assert_eq!(
            actions("beta", self.seeded_beta_operations),
            ["CREATE", "CREATE", "DELETE", "UPDATE"]
        );
        assert_nothing_started_twice(stats);
        assert_eq!(stats.executed("CreateStackSet").len(), 1);
    }

    /// `stackfleet plan --detailed-exitcode` says there is nothing left to do.
    fn assert_nothing_to_do(&self, endpoint: &Proxy) {
        stackfleet_env(
            endpoint,
            self.ws.path(),
            &["plan", "--detailed-exitcode"],
            &[],
        )
        .assert_code(0);
    }
}

// ---------------------------------------------------------------------------------------------
// Interruptions.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Signal {
    Int,
    Kill,
}

/// One interrupted apply and its rerun.
#[derive(Debug)]
struct Trial {
    delay: Duration,
    /// The killed run's exit code (`None`: ended by the signal).
    code: Option<i32>,
    /// Calls of the killed run that reached moto and changed something.
    mutations_before: usize,
    /// The operations Ctrl-C said go on in AWS.
    listed: usize,
    rerun: Duration,
}

/// The `stack set: operation id` lines under "these StackSets operations go on in AWS:".
fn listed_operations(stderr: &str) -> Vec<(String, String)> {
    let Some((_, rest)) = stderr.split_once("go on in AWS:\n") else {
        return Vec::new();
    };
    rest.lines()
        .take_while(|l| l.starts_with("    "))
        // `    set: id (what)`, each followed by its `follow:` and `stop:` commands, indented more.
        .filter(|l| !l.starts_with("      "))
        .filter_map(|l| {
            let (set, id) = l.trim().split_once(": ")?;
            Some((set.to_string(), id.split_whitespace().next()?.to_string()))
        })
        .collect()
}

/// Latency that makes an apply of the small fleet last a few seconds (moto's operations end at
/// once), so that a kill can land in planning, between operations or inside a call.
fn slow() -> Faults {
    Faults::latency(Duration::from_millis(60), Duration::from_millis(260))
}

/// How long one uninterrupted, slowed-down apply of the small fleet takes.
fn calibrate() -> Duration {
    let small = Small::new();
    let proxy = Proxy::start(&small.moto, slow());
    let started = Instant::now();
    stackfleet_env(&proxy, small.ws.path(), &["apply", "--auto-approve"], &[]).assert_code(0);
    let took = started.elapsed();
    small.assert_converged(&proxy.stats());
    took
}

fn interrupt_trial(signal: Signal, delay: Duration) -> Trial {
    let small = Small::new();
    let proxy = Proxy::start(&small.moto, slow());
    let mut child = stackfleet_command(&proxy, small.ws.path(), &["apply", "--auto-approve"], &[])
        .spawn()
        .expect("stackfleet starts");
    std::thread::sleep(delay);
    match signal {
        Signal::Int => {
            // std has no kill(2) with a signal and the workspace forbids unsafe: kill(1) it is.
            let status = Command::new("kill")
                .args(["-INT", &child.id().to_string()])
                .status()
                .expect("kill runs");
            assert!(status.success() || child.try_wait().ok().flatten().is_some());
        }
        Signal::Kill => {
            let _ = child.kill();
        }
    }
    let killed = finish(child);
    // A request the killed run sent may still be on its way to moto, as it would be to AWS.
    proxy.wait_idle(Duration::from_secs(30));
    let before = proxy.stats();
    let mutations_before = before
        .calls
        .iter()
        .filter(|c| !c.is_read() && c.outcome.reached_moto())
        .count();

    match (signal, killed.code) {
        // Ctrl-C while apply carries the plan out: what goes on in AWS, how to resume, 130.
        (Signal::Int, Some(130)) => {
            assert!(
                killed.stderr.contains("error: interrupted; ")
                    && (killed.stderr.contains("run `stackfleet apply` again")
                        || killed.stderr.contains("run `stackfleet plan` to see")
                        || killed.stderr.contains("changed nothing")),
                "Ctrl-C does not say what runs and how to resume:\n{}",
                killed.stderr
            );
            assert!(
                killed.stderr.contains("go on in AWS:")
                    || killed.stderr.contains("no StackSets operation was running"),
                "{}",
                killed.stderr
            );
            // What it lists are operations StackSets knows by those ids.
            for (set, id) in listed_operations(&killed.stderr) {
                let ids = boto3(
                    &small.moto,
                    "result = [o['OperationId'] for o in client('cloudformation').list_stack_set_operations(StackSetName=ARGS)['Summaries']]",
                    Value::from(set.as_str()),
                );
                assert!(
                    ids.as_array()
                        .is_some_and(|ids| ids.contains(&Value::from(id.as_str()))),
                    "Ctrl-C listed {set}: {id}, which moto does not know: {ids}"
                );
            }
        }
        // Before apply starts to change anything, Ctrl-C ends the process like any other: it
        // has nothing to report, and indeed changed nothing.
        (_, None) if signal == Signal::Kill || mutations_before == 0 => {}
        // The run had finished before the signal.
        (_, Some(0)) => {}
        (_, code) => panic!(
            "{signal:?} after {delay:?}: unexpected end {code:?}\n--- stderr ---\n{}",
            killed.stderr
        ),
    }

    proxy.set_faults(Faults::none());
    let started = Instant::now();
    stackfleet_env(&proxy, small.ws.path(), &["apply", "--auto-approve"], &[]).assert_code(0);
    let rerun = started.elapsed();
    small.assert_nothing_to_do(&proxy);
    proxy.wait_idle(Duration::from_secs(30));
    small.assert_converged(&proxy.stats());
    Trial {
        delay,
        code: killed.code,
        mutations_before,
        listed: listed_operations(&killed.stderr).len(),
        rerun,
    }
}

/// Kills `stackfleet apply` at `trials` seeded random points spread over a whole apply (one
/// per equal slice of its duration), reruns it, and checks the end state each time.
fn interrupt_trials(signal: Signal, trials: u32, seed: u64) {
    let duration = calibrate();
    let mut rng = SplitMix(seed);
    let mut results = Vec::new();
    for i in 0..trials {
        let slice = duration.mul_f64(1.1) / trials;
        let delay = slice * i + slice.mul_f64(rng.unit());
        results.push(interrupt_trial(signal, delay));
    }
    eprintln!(
        "interruptions ({signal:?}, seed {seed}): an uninterrupted apply takes {duration:.1?}; {} trials:",
        results.len()
    );
    for t in &results {
        eprintln!(
            "  kill after {:>5} ms: exit {:<6} {} of 6 changes had reached moto, {} operation(s) \
             listed as running; the rerun converged in {} ms",
            t.delay.as_millis(),
            t.code.map_or("signal".to_string(), |c| c.to_string()),
            t.mutations_before,
            t.listed,
            t.rerun.as_millis()
        );
    }
    // The trials landed before, during and after the changes.
    assert!(results.iter().any(|t| t.mutations_before == 0));
    assert!(results.iter().any(|t| t.mutations_before > 0));
}

#[test]
fn ctrl_c_at_random_points_then_apply_again_converges() {
    interrupt_trials(Signal::Int, 6, fault_seed(7));
}

#[test]
fn sigkill_at_random_points_then_apply_again_converges() {
    interrupt_trials(Signal::Kill, 6, fault_seed(8));
}

// ---------------------------------------------------------------------------------------------
// Lost answers and two runs at once: these need the two AWS behaviours moto lacks (a stack set
// name in use and a reused OperationId are refused), which the proxy supplies.

#[test]
fn a_lost_answer_to_a_started_operation_does_not_start_it_again() {
    let small = Small::new();
    let faults = Faults {
        seed: fault_seed(3),
        // Reads fail too, half of them after moto answered: reads are safe to repeat.
        server_error: 0.1,
        drop: 0.1,
        after_forward_reads: true,
        first_attempt: BTreeMap::from([
            ("CreateStackSet", Fault::LoseAfterForward),
            ("CreateStackInstances", Fault::LoseAfterForward),
            ("DeleteStackInstances", Fault::LoseAfterForward),
            ("UpdateStackSet", Fault::LoseAfterForward),
            ("ListStackSets", Fault::LoseAfterForward),
        ]),
        ..Faults::none()
    };
    let proxy = Proxy::with_aws_semantics(&small.moto, faults, &["beta"]);
    let run = stackfleet_env(
        &proxy,
        small.ws.path(),
        &["apply", "--auto-approve"],
        &RETRY_ENV,
    );
    run.assert_code(0);
    proxy.wait_idle(Duration::from_secs(30));
    let stats = proxy.stats();
    // Each first answer was lost after moto carried the call out; the SDK's retry was refused as
    // AWS refuses it, and apply followed the operation it had already started. CreateStackSet's
    // retry repeats its ClientRequestToken, which AWS answers like the first call.
    let lost = stats
        .calls
        .iter()
        .filter(|c| !c.is_read() && c.outcome.kind() == "lost after forward")
        .count();
    assert_eq!(lost, 6, "{:?}", stats.requests());
    assert!(
        stats
            .calls
            .iter()
            .any(|c| c.operation == "ListStackSets" && c.outcome.kind() == "lost after forward"),
        "no read failed after moto answered: {:?}",
        stats.faults()
    );
    let mut refused = stats.refused();
    refused.sort();
    assert_eq!(
        refused,
        [
            (
                "CreateStackInstances".to_string(),
                "OperationIdAlreadyExistsException"
            ),
            (
                "CreateStackInstances".to_string(),
                "OperationIdAlreadyExistsException"
            ),
            (
                "CreateStackInstances".to_string(),
                "OperationIdAlreadyExistsException"
            ),
            (
                "DeleteStackInstances".to_string(),
                "OperationIdAlreadyExistsException"
            ),
            (
                "UpdateStackSet".to_string(),
                "OperationIdAlreadyExistsException"
            ),
        ]
    );
    assert_eq!(
        run.stderr
            .matches(
                "already exists (started by an interrupted or a concurrent run); waiting for it"
            )
            .count(),
        5,
        "{}",
        run.stderr
    );
    assert_eq!(retries(&run), stats.fault_count());
    small.assert_converged(&stats);
    // The check runs with the harness's 2 attempts: without faults, or a read would fail it.
    proxy.set_faults(Faults::none());
    small.assert_nothing_to_do(&proxy);
}

#[test]
fn two_applies_at_once_end_with_one_stack_set_and_exactly_the_desired_instances() {
    let small = Small::new();
    // Operations that outlast the calls' arrival, as on AWS: a copy of a step that meets the
    // other run's running operation is refused as in progress.
    small.moto.configure(json!({"time_scale": 0.01}));
    let proxy = Proxy::with_aws_semantics(
        &small.moto,
        Faults::latency(Duration::from_millis(20), Duration::from_millis(80)),
        &["beta"],
    );
    // Both runs plan from the same state: their first change (alpha's CreateStackSet, beta's
    // DeleteStackInstances, each run's two stack sets in parallel) waits until all four arrive.
    proxy.hold_mutations();
    let spawn = || {
        stackfleet_command(&proxy, small.ws.path(), &["apply", "--auto-approve"], &[])
            .spawn()
            .expect("stackfleet starts")
    };
    let (first, second) = (spawn(), spawn());
    proxy.wait_for_held(4, Duration::from_secs(120));
    proxy.release();
    let runs = [finish(first), finish(second)];
    // Each plan has its own nonce, so the runs never share an operation id: one run's
    // CreateStackSet wins, the other's is refused as a name in use, and that run plans again
    // and finds alpha its own (same fleet tag). Both end by reading StackSets again.
    for run in &runs {
        run.assert_code(0);
    }
    proxy.wait_idle(Duration::from_secs(30));
    let stats = proxy.stats();
    assert_eq!(stats.executed("CreateStackSet").len(), 1);
    assert_eq!(stack_set_names(&small.moto), ["alpha", "beta"]);
    assert_eq!(listed_instances(&small.moto, "alpha"), small.alpha);
    assert_eq!(listed_instances(&small.moto, "beta"), small.beta);
    // One operation per step: a copy is refused while the other runs, and one that would start
    // after the other's has finished is caught by the check before each step.
    small.assert_converged(&stats);
    small.assert_nothing_to_do(&proxy);
}

#[test]
fn a_stack_set_created_by_someone_else_after_the_plan_is_not_taken_for_ours() {
    let small = Small::new();
    let proxy = Proxy::with_aws_semantics(&small.moto, Faults::none(), &["beta"]);
    proxy.hold_mutations();
    let child = stackfleet_command(&proxy, small.ws.path(), &["apply", "--auto-approve"], &[])
        .spawn()
        .expect("stackfleet starts");
    // apply has planned to create alpha and holds at its first changes (alpha's CreateStackSet,
    // beta's DeleteStackInstances). Meanwhile a colleague creates alpha with another parameter.
    proxy.wait_for_held(2, Duration::from_secs(60));
    boto3(
        &small.moto,
        "client('cloudformation').create_stack_set(StackSetName='alpha', TemplateBody=ARGS, \
         Parameters=[{'ParameterKey': 'Team', 'ParameterValue': 'colleague'}])",
        Value::from(MARKER_TEMPLATE),
    );
    proxy.note_stack_set("alpha");
    proxy.release();
    let run = finish(child);
    // The colleague's alpha carries no stackfleet:fleet tag: apply plans again, refuses to take
    // it over, names it, and fails.
    run.assert_code(1);
    assert!(
        run.stderr.contains(
            "stack set \"alpha\" exists and is not this fleet's: it has no stackfleet:fleet tag"
        ),
        "{}",
        run.stderr
    );
    let params = boto3(
        &small.moto,
        "result = client('cloudformation').describe_stack_set(StackSetName='alpha')['StackSet']['Parameters']",
        Value::Null,
    );
    assert_eq!(
        params,
        json!([{"ParameterKey": "Team", "ParameterValue": "colleague"}]),
        "the colleague's stack set was left as it was"
    );
}

#[test]
fn an_apply_whose_second_round_converges_exits_zero() {
    let small = Small::new();
    let proxy = Proxy::with_aws_semantics(&small.moto, Faults::none(), &["beta"]);
    proxy.hold_mutations();
    let child = stackfleet_command(&proxy, small.ws.path(), &["apply", "--auto-approve"], &[])
        .spawn()
        .expect("stackfleet starts");
    // A concurrent run of this fleet creates alpha first (with our tag, another parameter).
    proxy.wait_for_held(2, Duration::from_secs(60));
    boto3(
        &small.moto,
        "client('cloudformation').create_stack_set(StackSetName='alpha', TemplateBody=ARGS, \
         Parameters=[{'ParameterKey': 'Team', 'ParameterValue': 'colleague'}], \
         Tags=[{'Key': 'stackfleet:fleet', 'Value': 'baseline'}])",
        Value::from(MARKER_TEMPLATE),
    );
    proxy.note_stack_set("alpha");
    proxy.release();
    let run = finish(child);
    assert!(
        run.stderr.contains("planning again"),
        "the first round was superseded:\n{}",
        run.stderr
    );
    run.assert_code(0);
    assert!(
        run.stderr
            .contains("checked: the stack sets match fleet.toml"),
        "{}",
        run.stderr
    );
    small.assert_nothing_to_do(&proxy);
}

#[test]
fn an_instance_removed_out_of_band_twice_is_created_again_each_time() {
    let small = Small::new();
    let proxy = Proxy::with_aws_semantics(&small.moto, Faults::none(), &["beta"]);
    let apply = || stackfleet_env(&proxy, small.ws.path(), &["apply", "--auto-approve"], &[]);
    apply().assert_code(0);
    let (account, region) = small.alpha[0].clone();
    for round in 1..=2 {
        // The same state each time: the same fingerprint and the same plan, but never the same
        // operation id, so the second creation is not taken for the first, finished one.
        boto3(
            &small.moto,
            "client('cloudformation').delete_stack_instances(StackSetName='alpha', \
             Accounts=[ARGS[0]], Regions=[ARGS[1]], RetainStacks=False)",
            json!([account, region]),
        );
        assert!(
            !listed_instances(&small.moto, "alpha").contains(&(account.clone(), region.clone())),
            "round {round}: removed"
        );
        let run = apply();
        run.assert_code(0);
        assert!(
            listed_instances(&small.moto, "alpha").contains(&(account.clone(), region.clone())),
            "round {round}: apply exited 0 but the instance is still missing:\n{}",
            run.stderr
        );
    }
    small.assert_nothing_to_do(&proxy);
}

#[test]
fn an_apply_planned_between_two_operations_of_another_does_not_repeat_them() {
    let small = Small::new();
    // Operations that last about as long as the calls take to arrive, as on AWS (minutes per
    // instance there), so that StackSets refuses a step while the other run's is still running.
    // Without ManagedExecution: with it StackSets queues the copy instead of refusing it, and a
    // copy whose check ran before the other run's operation started runs too (docs/reliability.md).
    small.moto.configure(json!({"time_scale": 0.01}));
    small.ws.edit(
        "fleet.toml",
        "[defaults]\n",
        "[defaults]\nmanaged_execution = false\n",
    );
    let proxy = Proxy::with_aws_semantics(&small.moto, Faults::none(), &["beta"]);
    // The first run creates alpha and deletes beta's /Excluded instances, then stops before
    // alpha's instances and beta's update: the moment between two of its operations.
    proxy.hold(&["CreateStackInstances", "UpdateStackSet"]);
    let first = stackfleet_command(&proxy, small.ws.path(), &["apply", "--auto-approve"], &[])
        .spawn()
        .expect("stackfleet starts");
    proxy.wait_for_held(2, Duration::from_secs(60));
    // A second run plans now: nothing is running in StackSets at this moment.
    let second = stackfleet_command(&proxy, small.ws.path(), &["apply", "--auto-approve"], &[])
        .spawn()
        .expect("stackfleet starts");
    proxy.wait_for_held(4, Duration::from_secs(60));
    proxy.release();
    for run in [finish(first), finish(second)] {
        run.assert_code(0);
    }
    proxy.wait_idle(Duration::from_secs(30));
    small.assert_converged(&proxy.stats());
}

#[test]
fn a_step_another_run_carried_out_after_the_plan_is_not_repeated() {
    let small = Small::new();
    // The first run plans, then stops at its first changes (alpha's CreateStackSet, beta's
    // DeleteStackInstances), already past its check of beta's operations.
    let slow = Proxy::start(&small.moto, Faults::none());
    slow.hold_mutations();
    let first = stackfleet_command(&slow, small.ws.path(), &["apply", "--auto-approve"], &[])
        .spawn()
        .expect("stackfleet starts");
    slow.wait_for_held(2, Duration::from_secs(60));
    // Meanwhile a second run, through an endpoint of its own, applies the whole fleet.
    let fast = Proxy::start(&small.moto, Faults::none());
    stackfleet_env(&fast, small.ws.path(), &["apply", "--auto-approve"], &[]).assert_code(0);
    slow.release();
    let run = finish(first);
    run.assert_code(0);
    // beta's next steps (update, create) were the second run's operations already: the first
    // run sees them, created after its plan, and plans again instead of repeating them.
    assert!(run.stderr.contains("planning again"), "{}", run.stderr);
    slow.wait_idle(Duration::from_secs(30));
    let stats = slow.stats();
    assert_eq!(stats.executed("UpdateStackSet").len(), 0, "{}", run.stderr);
    assert_eq!(
        stats.executed("CreateStackInstances").len(),
        0,
        "{}",
        run.stderr
    );
    assert_eq!(stack_set_names(&small.moto), ["alpha", "beta"]);
    assert_eq!(listed_instances(&small.moto, "alpha"), small.alpha);
    assert_eq!(listed_instances(&small.moto, "beta"), small.beta);
    small.assert_nothing_to_do(&fast);
}

// ---------------------------------------------------------------------------------------------
// Safety: no mutating call after a validation error.

/// Runs `args` through a counting proxy and checks that the command failed and that moto
/// saw no mutating call (an allow-list of Describe*, List*, Get*) and is unchanged; returns the
/// operations called.
fn refused_without_change(
    moto: &Moto,
    ws: &Workspace,
    args: &[&str],
    expect: &str,
) -> BTreeSet<String> {
    let proxy = Proxy::start(moto, Faults::none());
    let before = moto.state();
    let run = stackfleet_env(&proxy, ws.path(), args, &[]);
    run.assert_code(1);
    assert!(
        run.stderr.contains(expect),
        "expected {expect:?} in:\n{}",
        run.stderr
    );
    proxy.wait_idle(Duration::from_secs(30));
    let stats = proxy.stats();
    assert!(
        stats.mutating().is_empty(),
        "{args:?} made mutating calls {:?} after: {}",
        stats.mutating(),
        run.stderr
    );
    assert!(before == moto.state(), "{args:?} changed moto's state");
    stats.operations()
}

#[test]
fn no_mutating_call_follows_a_validation_error() {
    let small = Small::new();
    let moto = &small.moto;
    let fleet = |toml: &str| Workspace::new().with_marker_template().with_fleet(toml);
    let apply = ["apply", "--auto-approve", "--allow-delete"];

    // fleet.toml itself: no call at all.
    let syntax = fleet(&SMALL_FLEET.replace("name = \"alpha\"", "name = \"alpha"));
    let calls = refused_without_change(moto, &syntax, &apply, "nothing was sent to AWS");
    assert!(calls.is_empty(), "{calls:?}");
    let semantic = fleet(&SMALL_FLEET.replace(
        "regions = [\"us-east-1\", \"eu-west-1\"]",
        "regions = [\"us-east-1\", \"moon-base\"]",
    ));
    let calls = refused_without_change(moto, &semantic, &apply, "nothing was sent to AWS");
    assert!(calls.is_empty(), "{calls:?}");

    // A saved plan that is not one: no call at all.
    let ws = fleet(SMALL_FLEET).write("plan.json", "{\"format_version\": 999}");
    let calls = refused_without_change(
        moto,
        &ws,
        &["apply", "plan.json", "--auto-approve"],
        "cannot use plan",
    );
    assert!(calls.is_empty(), "{calls:?}");

    // Against the live organization: reads only.
    let missing_ou = fleet(&SMALL_FLEET.replace("[\"/Workloads\"]", "[\"/Workloads/Nope\"]"));
    let calls = refused_without_change(moto, &missing_ou, &apply, "nothing was changed in AWS");
    assert!(calls.contains("ListAccountsForParent"), "{calls:?}");
    let unknown_account = fleet(&SMALL_FLEET.replace(
        "organizational_units = [\"/Workloads\"]",
        "organizational_units = [\"/Workloads\"]\naccounts = [\"999999999999\"]",
    ));
    refused_without_change(moto, &unknown_account, &apply, "nothing was changed in AWS");
    let wrong_account = fleet(&SMALL_FLEET.replace(
        "management_account = \"123456789012\"",
        "management_account = \"210987654321\"",
    ));
    let calls = refused_without_change(moto, &wrong_account, &apply, "refusing to run as account");
    assert_eq!(calls, BTreeSet::from(["GetCallerIdentity".to_string()]));

    // Guards of apply: no terminal to confirm on, too many deletions, a stale saved plan.
    let ws = fleet(SMALL_FLEET);
    refused_without_change(
        moto,
        &ws,
        &["apply"],
        "refusing to apply without confirmation",
    );
    let shrink = fleet(&SMALL_FLEET.replace("[\"/Workloads\"]", "[\"/Workloads/B\"]"));
    // beta then loses /Excluded and /Workloads/A: 6 instances, over the guard of 5.
    refused_without_change(
        moto,
        &shrink,
        &["apply", "--auto-approve"],
        "--allow-delete",
    );
    stackfleet_env(moto, ws.path(), &["plan", "--out", "plan.json"], &[]).assert_code(0);
    boto3(
        moto,
        "client('organizations').create_account(Email='late@example.com', AccountName='late')",
        Value::Null,
    );
    refused_without_change(
        moto,
        &ws,
        &["apply", "plan.json", "--auto-approve"],
        "nothing was applied",
    );
}
