//! Planner core at scale: validation + desired set + diff + batching on a synthetic organization
//! (N accounts in a 5-level OU tree × 30 regions × 3 stack sets, 5 % of instances missing at
//! random, 1 % stale, one excluded OU still deployed), for N = 100, 1,000 and 10,000.
//!
//! Prints, per size, the best and median wall time of several runs, the time per desired
//! instance, the planner's own peak allocation (bytes it holds at once above its inputs, counted
//! by a wrapping global allocator) and, at the end, the whole process's peak resident memory,
//! which includes building the synthetic inputs. Last, one plan at 10,000 accounts that also
//! deletes a retired service-managed stack set deployed everywhere (300,000 instances whose
//! operations name each account's OU).
//!
//! Run: `cargo bench -p stackfleet-planner --bench plan` (single-threaded: the planner uses one
//! core). `-- --quick` runs each size once.
//!
//! A bench binary rather than criterion: a few runs per size are enough to see linear growth,
//! and the memory figures need a process of its own.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use peak_alloc::PeakAlloc;
#[path = "../tests/it/rng.rs"]
mod rng;

use rng::Rng;
use stackfleet_planner::fleet;
use stackfleet_planner::inventory::{Account, AccountStatus, Inventory, OrganizationalUnit};
use stackfleet_planner::observed::{InstanceStatus, Observed, ObservedInstance, ObservedStackSet};
use stackfleet_planner::plan::{fingerprint, plan};
use stackfleet_planner::regions::KNOWN_REGIONS;

/// Counts every allocation, so that the planner's own peak can be told apart from its inputs.
#[global_allocator]
static ALLOCATOR: PeakAlloc = PeakAlloc;

/// Five levels of OUs, four children each below the root (4 + 16 + 64 + 256 + 1024 OUs); accounts
/// spread over the 1,024 leaves; every 97th account suspended.
fn organization(accounts: usize) -> Inventory {
    let mut ous = BTreeMap::new();
    ous.insert(
        "r-root".to_string(),
        OrganizationalUnit {
            id: "r-root".into(),
            name: "Root".into(),
            parent_id: None,
            path: "/".into(),
        },
    );
    let mut level = vec!["r-root".to_string()];
    for depth in 0..5 {
        let mut next = Vec::new();
        for parent in &level {
            for child in 0..4 {
                let id = format!("ou-root-{:08x}", ous.len());
                let parent_path = &ous[parent].path;
                let path = if parent_path == "/" {
                    format!("/L{depth}N{child}")
                } else {
                    format!("{parent_path}/L{depth}N{child}")
                };
                ous.insert(
                    id.clone(),
                    OrganizationalUnit {
                        id: id.clone(),
                        name: format!("L{depth}N{child}"),
                        parent_id: Some(parent.clone()),
                        path,
                    },
                );
                next.push(id);
            }
        }
        level = next;
    }
    let leaves = level;
    let accounts = (0..accounts)
        .map(|i| {
            let id = format!("{:012}", 100_000_000_000u64 + i as u64);
            let account = Account {
                id: id.clone(),
                name: format!("account-{i}"),
                email: format!("a{i}@example.com"),
                status: if i % 97 == 0 {
                    AccountStatus::Suspended
                } else {
                    AccountStatus::Active
                },
                // Round-robin over the leaves, so that every size has accounts under the
                // excluded OU (/L0N3/L1N3 holds leaves 960..1024 of 1,024).
                parent_id: leaves[(i * 37) % leaves.len()].clone(),
            };
            (id, account)
        })
        .collect();
    Inventory {
        organization_id: "o-bench".into(),
        management_account: "999999999999".into(),
        root_id: "r-root".into(),
        organizational_units: ous,
        accounts,
        region_opt_in: Default::default(),
    }
}

/// What StackSets reports: for each stack set, every account (the excluded OU included, so its
/// instances are to delete) in every region, minus 5 % at random (to create); 1 % of the present
/// ones are stale, `OUTDATED` after a failed operation (to run again).
fn deployed(inventory: &Inventory, regions: &[&str], template: &str, seed: u64) -> Observed {
    let mut rng = Rng(seed);
    let mut observed = Observed::default();
    for n in 0..3 {
        let mut instances = Vec::new();
        for account in inventory.accounts.values() {
            for region in regions {
                if rng.chance(50) {
                    continue;
                }
                let mut i = instance(&account.id, region);
                if rng.chance(10) {
                    i.status = InstanceStatus::Outdated;
                    i.detailed_status = Some("FAILED".into());
                    i.status_reason = Some("Resource handler returned an error".into());
                }
                instances.push(i);
            }
        }
        let name = format!("set-{n}");
        observed
            .stack_sets
            .insert(name.clone(), stack_set(&name, instances, template));
    }
    observed
}

struct Run {
    elapsed: Duration,
    peak_bytes: usize,
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let dir = std::env::temp_dir().join(format!("stackfleet-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let template = "Resources:\n  H:\n    Type: AWS::CloudFormation::WaitConditionHandle\n";
    std::fs::write(dir.join("t.yaml"), template).expect("template");
    let regions: Vec<&str> = KNOWN_REGIONS
        .iter()
        .copied()
        .filter(|r| !r.starts_with("cn-") && !r.starts_with("us-gov"))
        .take(30)
        .collect();
    let mut text = format!(
        "name = \"bench\"\n[organization]\nhome_region = \"us-east-1\"\n[defaults]\nregions = {regions:?}\n"
    );
    for n in 0..3 {
        text.push_str(&format!(
            "[[stack_sets]]\nname = \"set-{n}\"\ntemplate = \"t.yaml\"\npermission_model = \"self-managed\"\n[stack_sets.targets]\norganizational_units = [\"/\"]\nexclude_organizational_units = [\"/L0N3/L1N3\"]\n"
        ));
    }
    let path = dir.join("fleet.toml");
    std::fs::write(&path, &text).expect("fleet.toml");

    println!(
        "accounts  instances desired  create  delete  re-run  operations  best time  median time  ns/instance  planner peak  fingerprint"
    );
    let mut per_instance = Vec::new();
    for size in [100usize, 1_000, 10_000] {
        let inventory = organization(size);
        let observed = deployed(&inventory, &regions, template, 0x5eed + size as u64);
        let runs = if quick {
            1
        } else {
            [15, 7, 5][per_instance.len()]
        };

        let mut results = Vec::new();
        let mut last = None;
        for _ in 0..runs {
            drop(last.take());
            let before = ALLOCATOR.current_usage();
            ALLOCATOR.reset_peak_usage();
            let started = Instant::now();
            // Validation (fleet.toml and its template) is part of the measured work.
            let fleet = fleet::load(&path).expect("the bench fleet is valid");
            let plan = plan(&fleet, &inventory, &observed).expect("plans");
            let elapsed = started.elapsed();
            results.push(Run {
                elapsed,
                peak_bytes: ALLOCATOR.peak_usage() - before,
            });
            last = Some(plan);
        }
        let plan = last.expect("at least one run");
        let started = Instant::now();
        let _ = std::hint::black_box(fingerprint(&inventory, &observed));
        let fingerprint_time = started.elapsed();

        results.sort_by_key(|r| r.elapsed);
        let best = results[0].elapsed;
        let median = results[results.len() / 2].elapsed;
        let peak = results.iter().map(|r| r.peak_bytes).max().unwrap_or(0);
        let desired: usize = plan.stack_sets.iter().map(|s| s.desired_instances).sum();
        let ns = best.as_secs_f64() * 1e9 / desired as f64;
        println!(
            "{size:>8}  {desired:>17}  {:>6}  {:>6}  {:>6}  {:>10}  {:>6.1} ms  {:>8.1} ms  {ns:>11.0}  {:>9.1} MB  {:>6.1} ms",
            plan.summary.create_instances,
            plan.summary.delete_instances,
            plan.summary.update_instances,
            plan.summary.operations,
            best.as_secs_f64() * 1000.0,
            median.as_secs_f64() * 1000.0,
            peak as f64 / 1e6,
            fingerprint_time.as_secs_f64() * 1000.0,
        );
        per_instance.push(ns);
    }
    println!(
        "ns per desired instance (best run): {}",
        per_instance
            .iter()
            .map(|n| format!("{n:.0}"))
            .collect::<Vec<_>>()
            .join(" → ")
    );
    println!(
        "process peak resident memory (VmHWM, inputs included): {}",
        peak_memory()
    );
    retired_service_managed(&path, &regions, template);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A service-managed stack set of the fleet that left fleet.toml, deployed to all 10,000
/// accounts in 30 regions: its deletion names each account's OU.
fn retired_service_managed(path: &std::path::Path, regions: &[&str], template: &str) {
    let inventory = organization(10_000);
    let fleet = fleet::load(path).expect("the bench fleet is valid");
    let mut observed = deployed(&inventory, regions, template, 0x5eed);
    let instances = inventory
        .accounts
        .values()
        .flat_map(|a| {
            regions.iter().map(|r| ObservedInstance {
                organizational_unit_id: Some(a.parent_id.clone()),
                ..instance(&a.id, r)
            })
        })
        .collect();
    let mut retired = stack_set("retired", instances, template);
    retired.permission_model = stackfleet_planner::fleet::PermissionModel::ServiceManaged;
    retired
        .tags
        .insert(fleet::FLEET_TAG.to_string(), fleet.name.clone());
    observed.stack_sets.insert("retired".into(), retired);
    let started = Instant::now();
    let plan = plan(&fleet, &inventory, &observed).expect("plans");
    println!(
        "10,000 accounts plus a retired service-managed stack set (300,000 instances to delete in {} operations): {:.1} ms",
        plan.stack_sets
            .iter()
            .find(|s| s.name == "retired")
            .map_or(0, |s| s.operations.len()),
        started.elapsed().as_secs_f64() * 1000.0
    );
}

fn instance(account: &str, region: &str) -> ObservedInstance {
    ObservedInstance {
        account: account.to_string(),
        region: region.to_string(),
        status: InstanceStatus::Current,
        detailed_status: Some("SUCCEEDED".into()),
        status_reason: None,
        drift_status: None,
        organizational_unit_id: None,
    }
}

/// The deployed template is the fleet's, so the bench measures instance planning, not a diff.
fn stack_set(name: &str, instances: Vec<ObservedInstance>, template: &str) -> ObservedStackSet {
    ObservedStackSet {
        name: name.to_string(),
        id: format!("{name}:id"),
        description: None,
        template_body: template.to_string(),
        parameters: BTreeMap::new(),
        // The bench fleet's own stack sets (fleet.toml `name = "bench"`).
        tags: [("stackfleet:fleet".to_string(), "bench".to_string())].into(),
        capabilities: Default::default(),
        permission_model: stackfleet_planner::fleet::PermissionModel::SelfManaged,
        administration_role_arn: None,
        execution_role_name: None,
        auto_deployment: None,
        managed_execution: false,
        instances,
    }
}

fn peak_memory() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM"))
                .map(|l| l.split_whitespace().skip(1).collect::<Vec<_>>().join(" "))
        })
        .unwrap_or_else(|| "unknown".into())
}
