//! Every AWS call stackfleet makes, counted by operation name, for a plan and an apply against a
//! real endpoint (the emulator in practice), compared with the fewest pages any reader needs.
//!
//! Run it through `bench/calls` (starts moto, seeds a 1,000-account organization, then runs
//! `cargo bench -p stackfleet-executor --bench calls`). It builds the SDK clients exactly as the
//! CLI does (standard configuration chain, `AWS_ENDPOINT_URL` honoured) plus an interceptor that
//! counts calls, and drives the library the way the CLI's commands do:
//!
//! 1. `plan` with nothing deployed: GetCallerIdentity, then the organization and the stack sets
//!    read concurrently, then the pure plan;
//! 2. `apply` of that plan (the fresh rollout);
//! 3. `plan` again, everything deployed;
//! 4. `apply` again: the reads and plan of 3, the check for operations still running on each
//!    stack set, and `apply` of the empty plan. It must make no mutating call.
//!
//! Without `AWS_ENDPOINT_URL` it prints how to run it and exits: it never talks to real AWS unless
//! pointed there on purpose.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use stackfleet_executor::observe::call_as;
use stackfleet_executor::operation::StackSetContext;
use stackfleet_executor::{PollPolicy, apply, observe};
use stackfleet_planner::fleet::{self, Fleet};
use stackfleet_planner::{Inventory, Observed, Plan, org, plan};

/// Organizations list calls return at most 20 items a page.
const ORGANIZATIONS_PAGE: usize = 20;
/// ListStackInstances and ListStackSets return at most 100 items a page.
const STACKSETS_PAGE: usize = 100;

/// Counts HTTP requests (attempts) by service and operation, remembers each request body to
/// find a page read twice, and tracks how many requests are in flight at once.
#[derive(Debug, Default)]
struct Counter {
    calls: Mutex<BTreeMap<(String, String), usize>>,
    bodies: Mutex<BTreeMap<(String, Vec<u8>), usize>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

#[derive(Debug, Clone)]
struct Counting(Arc<Counter>);

impl Intercept for Counting {
    fn name(&self) -> &'static str {
        "CallCounter"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let (service, operation) = cfg
            .load::<Metadata>()
            .map(|m| (m.service().to_string(), m.name().to_string()))
            .unwrap_or_default();
        let body = context
            .request()
            .body()
            .bytes()
            .unwrap_or_default()
            .to_vec();
        *self
            .0
            .calls
            .lock()
            .expect("counter lock")
            .entry((service, operation.clone()))
            .or_default() += 1;
        *self
            .0
            .bodies
            .lock()
            .expect("counter lock")
            .entry((operation, body))
            .or_default() += 1;
        let now = self.0.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.0.max_in_flight.fetch_max(now, Ordering::SeqCst);
        Ok(())
    }

    fn read_after_attempt(
        &self,
        _: &FinalizerInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        // Called after every attempt, also one that failed before it was sent: never below 0.
        let _ = self
            .0
            .in_flight
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
        Ok(())
    }
}

impl Counter {
    fn take(&self) -> Phase {
        let calls = std::mem::take(&mut *self.calls.lock().expect("counter lock"));
        let bodies = std::mem::take(&mut *self.bodies.lock().expect("counter lock"));
        let repeated = bodies
            .iter()
            // Polling an operation's status repeats the same request on purpose.
            .filter(|((op, _), n)| **n > 1 && !op.starts_with("DescribeStackSetOperation"))
            .map(|((op, _), n)| (op.clone(), n - 1))
            .fold(BTreeMap::new(), |mut m, (op, n)| {
                *m.entry(op).or_insert(0) += n;
                m
            });
        let max_in_flight = self.max_in_flight.swap(0, Ordering::SeqCst);
        Phase {
            calls,
            repeated,
            max_in_flight,
            elapsed: Duration::ZERO,
        }
    }
}

struct Phase {
    calls: BTreeMap<(String, String), usize>,
    repeated: BTreeMap<String, usize>,
    max_in_flight: usize,
    elapsed: Duration,
}

impl Phase {
    fn total(&self) -> usize {
        self.calls.values().sum()
    }
    fn count(&self, operation: &str) -> usize {
        self.calls
            .iter()
            .filter(|((_, op), _)| op == operation)
            .map(|(_, n)| n)
            .sum()
    }
    fn mutating(&self) -> usize {
        self.calls
            .iter()
            .filter(|((_, op), _)| is_mutating(op))
            .map(|(_, n)| n)
            .sum()
    }
}

fn is_mutating(operation: &str) -> bool {
    [
        "Create", "Update", "Delete", "Detect", "Stop", "Tag", "Untag", "Import",
    ]
    .iter()
    .any(|p| operation.starts_with(p))
}

/// The fewest calls any reader needs for a plan, by operation: one page per 20 OUs and per 20
/// accounts of every parent (at least one each: an empty parent must be asked too), one
/// ListStackSets page per 100 stack sets, one DescribeStackSet per stack set of the fleet and one
/// ListStackInstances page per 100 instances (at least one). `instances_page` is what the
/// endpoint really returns per page (100 on AWS and on the faithful emulator).
fn lower_bound(
    inventory: &Inventory,
    observed: &Observed,
    active_stack_sets: usize,
    instances_page: usize,
) -> BTreeMap<&'static str, usize> {
    let pages = |n: usize, size: usize| n.div_ceil(size).max(1);
    let mut child_ous: BTreeMap<&str, usize> = BTreeMap::new();
    let mut child_accounts: BTreeMap<&str, usize> = BTreeMap::new();
    for ou in inventory.organizational_units.values() {
        if let Some(parent) = &ou.parent_id {
            *child_ous.entry(parent).or_default() += 1;
        }
    }
    for account in inventory.accounts.values() {
        *child_accounts.entry(&account.parent_id).or_default() += 1;
    }
    let mut bound = BTreeMap::new();
    bound.insert("GetCallerIdentity", 1);
    bound.insert("DescribeOrganization", 1);
    bound.insert("ListRoots", 1);
    bound.insert(
        "ListOrganizationalUnitsForParent",
        inventory
            .organizational_units
            .keys()
            .map(|id| {
                pages(
                    child_ous.get(id.as_str()).copied().unwrap_or(0),
                    ORGANIZATIONS_PAGE,
                )
            })
            .sum(),
    );
    bound.insert(
        "ListAccountsForParent",
        inventory
            .organizational_units
            .keys()
            .map(|id| {
                pages(
                    child_accounts.get(id.as_str()).copied().unwrap_or(0),
                    ORGANIZATIONS_PAGE,
                )
            })
            .sum(),
    );
    bound.insert("ListStackSets", pages(active_stack_sets, STACKSETS_PAGE));
    bound.insert("DescribeStackSet", observed.stack_sets.len());
    bound.insert(
        "ListStackInstances",
        observed
            .stack_sets
            .values()
            .map(|s| pages(s.instances.len(), instances_page))
            .sum(),
    );
    bound
}

struct Bench {
    counter: Arc<Counter>,
    cfn: aws_sdk_cloudformation::Client,
    orgs: aws_sdk_organizations::Client,
    sts: aws_sdk_sts::Client,
    fleet: Fleet,
}

impl Bench {
    /// What `stackfleet plan` does: who am I, then organization and stack sets concurrently.
    async fn plan(&self) -> (Plan, Inventory, Observed) {
        self.sts
            .get_caller_identity()
            .send()
            .await
            .expect("GetCallerIdentity");
        let names: Vec<String> = self
            .fleet
            .stack_sets
            .iter()
            .map(|s| s.name.clone())
            .collect();
        let (inventory, observed) = tokio::join!(
            org::read_inventory(&self.orgs),
            observe(
                &self.cfn,
                self.fleet.organization.call_as,
                &self.fleet.name,
                &names
            )
        );
        let inventory = inventory.expect("organization read");
        let observed = observed.expect("stack sets read");
        let plan = plan::plan(&self.fleet, &inventory, &observed).expect("plans");
        (plan, inventory, observed)
    }

    /// What `stackfleet apply` does after planning: look for operations still running on the
    /// fleet's stack sets, then carry the plan out.
    async fn apply(&self, plan: &Plan, observed: &Observed) {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        for name in observed.stack_sets.keys() {
            let ctx = StackSetContext {
                client: &self.cfn,
                call_as: call_as(plan.organization.call_as),
                stack_set: name,
                events: &tx,
                poll: poll(),
            };
            let running = ctx
                .running_operations()
                .await
                .expect("ListStackSetOperations");
            assert!(running.is_empty(), "nothing else runs on the emulator");
        }
        let report = apply(&self.cfn, plan, &tx, poll()).await;
        drop(tx);
        while rx.recv().await.is_some() {}
        assert!(report.converged(), "apply converged: {report:?}");
    }

    fn phase(&self, started: Instant) -> Phase {
        let mut phase = self.counter.take();
        phase.elapsed = started.elapsed();
        phase
    }
}

/// The emulator finishes operations at once; poll it quickly.
fn poll() -> PollPolicy {
    PollPolicy {
        initial: Duration::from_millis(50),
        max: Duration::from_millis(500),
        ..PollPolicy::default()
    }
}

/// The CLI's configuration (`crates/cli/src/aws.rs`): standard chain, stackfleet's retries.
async fn sdk_config(home_region: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(home_region.to_string()))
        .retry_config(stackfleet_executor::retry::retry_config())
        .load()
        .await
}

/// How many active stack sets the account has (uncounted: called between phases).
async fn active_stack_sets(cfn: &aws_sdk_cloudformation::Client) -> usize {
    cfn.list_stack_sets()
        .status(aws_sdk_cloudformation::types::StackSetStatus::Active)
        .into_paginator()
        .items()
        .send()
        .collect::<Vec<_>>()
        .await
        .len()
}

#[tokio::main]
async fn main() {
    if std::env::var_os("AWS_ENDPOINT_URL").is_none() {
        eprintln!(
            "calls: AWS_ENDPOINT_URL is not set; run bench/calls, which starts the emulator, seeds it and runs this bench"
        );
        return;
    }
    let fleet_path = std::env::var_os("STACKFLEET_BENCH_FLEET")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../bench/fleet-1000.toml")
        });
    let fleet = fleet::load(&fleet_path).expect("the bench fleet.toml is valid");
    let config = sdk_config(&fleet.organization.home_region).await;
    let counter = Arc::new(Counter::default());
    let interceptor = Counting(counter.clone());
    let bench = Bench {
        cfn: aws_sdk_cloudformation::Client::from_conf(
            aws_sdk_cloudformation::config::Builder::from(&config)
                .interceptor(interceptor.clone())
                .build(),
        ),
        orgs: aws_sdk_organizations::Client::from_conf(
            aws_sdk_organizations::config::Builder::from(&config)
                .interceptor(interceptor.clone())
                .build(),
        ),
        sts: aws_sdk_sts::Client::from_conf(
            aws_sdk_sts::config::Builder::from(&config)
                .interceptor(interceptor)
                .build(),
        ),
        counter,
        fleet,
    };
    let others = active_stack_sets(&bench.cfn).await;
    bench.counter.take();

    let started = Instant::now();
    let (fresh, _, fresh_observed) = bench.plan().await;
    let plan_fresh = bench.phase(started);

    let started = Instant::now();
    bench.apply(&fresh, &fresh_observed).await;
    let apply_fresh = bench.phase(started);

    let started = Instant::now();
    let (deployed, inventory, observed) = bench.plan().await;
    let plan_deployed = bench.phase(started);
    assert!(
        !deployed.summary.has_changes(),
        "the rollout converged: {:?}",
        deployed.summary
    );

    let started = Instant::now();
    let (noop, _, noop_observed) = bench.plan().await;
    bench.apply(&noop, &noop_observed).await;
    let apply_noop = bench.phase(started);

    let active_stack_sets = active_stack_sets(&bench.cfn).await;
    bench.counter.take();
    let instances: usize = observed
        .stack_sets
        .values()
        .map(|s| s.instances.len())
        .sum();
    let regions: usize = bench
        .fleet
        .stack_sets
        .iter()
        .map(|s| s.regions.len())
        .max()
        .unwrap_or(0);
    println!(
        "organization: {} accounts, {} OUs; fleet: {} stack sets × {regions} regions = {instances} instances; {} other stack sets in the account",
        inventory.accounts.len(),
        inventory.organizational_units.len() - 1,
        bench.fleet.stack_sets.len(),
        others,
    );
    println!(
        "fresh rollout: {} create operations for {} instances",
        fresh.summary.operations, fresh.summary.create_instances
    );
    println!();

    // The faithful emulator pages ListStackInstances by 100 as AWS does (plain moto returned one
    // page), so one bound, with AWS's page sizes, serves both.
    let aws = lower_bound(&inventory, &observed, active_stack_sets, STACKSETS_PAGE);
    let phases = [
        ("plan (nothing deployed)", &plan_fresh),
        ("apply (fresh rollout)", &apply_fresh),
        ("plan (deployed)", &plan_deployed),
        ("apply (no-op)", &apply_noop),
    ];
    let mut operations: Vec<&(String, String)> =
        phases.iter().flat_map(|(_, p)| p.calls.keys()).collect();
    operations.sort();
    operations.dedup();
    print!("{:<45}", "service / operation");
    for (name, _) in &phases {
        print!("  {name:>24}");
    }
    println!("  {:>14}", "bound");
    for key @ (service, op) in operations {
        print!("{:<45}", format!("{service} {op}"));
        for (_, phase) in &phases {
            print!("  {:>24}", phase.calls.get(key).copied().unwrap_or(0));
        }
        let show = |b: Option<&usize>| b.map_or("-".to_string(), |n| n.to_string());
        println!("  {:>14}", show(aws.get(op.as_str())));
    }
    print!("{:<45}", "total calls");
    for (_, phase) in &phases {
        print!("  {:>24}", phase.total());
    }
    println!("  {:>14}", aws.values().sum::<usize>());
    print!("{:<45}", "mutating calls");
    for (_, phase) in &phases {
        print!("  {:>24}", phase.mutating());
    }
    println!();
    print!("{:<45}", "requests repeated (same operation and body)");
    for (_, phase) in &phases {
        print!("  {:>24}", phase.repeated.values().sum::<usize>());
    }
    println!();
    print!("{:<45}", "most requests in flight at once");
    for (_, phase) in &phases {
        print!("  {:>24}", phase.max_in_flight);
    }
    println!();
    print!("{:<45}", "wall time on the emulator");
    for (_, phase) in &phases {
        print!("  {:>21.2} s", phase.elapsed.as_secs_f64());
    }
    println!();
    println!();

    // Plan: every read against the fewest pages.
    let bound: usize = aws.values().sum();
    println!(
        "plan (deployed): {} calls for a lower bound of {bound}: {:.2}×",
        plan_deployed.total(),
        plan_deployed.total() as f64 / bound as f64
    );
    let describes = plan_deployed.count("DescribeStackSet");
    println!(
        "  of which DescribeStackSet: {describes} (the fleet has {}; observe() describes every active stack set to find the fleet's tagged ones that left fleet.toml)",
        observed.stack_sets.len()
    );
    println!(
        "apply (no-op): {} mutating calls, {} calls in all ({} ListStackSetOperations on top of the plan's reads)",
        apply_noop.mutating(),
        apply_noop.total(),
        apply_noop.count("ListStackSetOperations")
    );
    assert_eq!(apply_noop.mutating(), 0, "a no-op apply changes nothing");
    for (name, phase) in &phases {
        if !name.starts_with("apply (fresh") {
            assert!(
                phase.repeated.is_empty(),
                "{name}: requests repeated: {:?}",
                phase.repeated
            );
        }
    }
}
