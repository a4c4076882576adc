//! Planner core at scale: validation + desired set + diff + batching on a synthetic organization
//! (N accounts in a 5-level OU tree × 30 regions × 3 stack sets, 5 % of instances missing at
//! random and 1 % stale), for N = 100, 1,000 and 10,000. Prints wall time per size and the
//! process's peak memory. Run: `cargo bench -p stackfleet-planner --bench plan`.
//!
//! A bench binary rather than criterion: one run per size is enough to see linear growth, and the
//! peak memory figure needs a process of its own.

use std::collections::BTreeMap;
use std::time::Instant;

use stackfleet_planner::fleet;
use stackfleet_planner::inventory::{Account, AccountStatus, Inventory, OrganizationalUnit};
use stackfleet_planner::observed::{InstanceStatus, Observed, ObservedInstance, ObservedStackSet};
use stackfleet_planner::plan::plan;
use stackfleet_planner::regions::KNOWN_REGIONS;

/// A deterministic pseudo-random sequence (xorshift), so every run plans the same organization.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn chance(&mut self, per_mille: u64) -> bool {
        self.next() % 1000 < per_mille
    }
}

/// Five levels of OUs, four children each below the root (4 + 16 + 64 + 256 + 1024 OUs).
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
                parent_id: leaves[i % leaves.len()].clone(),
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
    }
}

fn main() {
    let dir = std::env::temp_dir().join(format!("stackfleet-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::write(
        dir.join("t.yaml"),
        "Resources:\n  H:\n    Type: AWS::CloudFormation::WaitConditionHandle\n",
    )
    .expect("template");
    let regions: Vec<&str> = KNOWN_REGIONS
        .iter()
        .copied()
        .filter(|r| !r.starts_with("cn-") && !r.starts_with("us-gov"))
        .take(30)
        .collect();
    let mut text =
        format!("[organization]\nhome_region = \"us-east-1\"\n[defaults]\nregions = {regions:?}\n");
    for n in 0..3 {
        text.push_str(&format!(
            "[[stack_sets]]\nname = \"set-{n}\"\ntemplate = \"t.yaml\"\npermission_model = \"self-managed\"\n[stack_sets.targets]\norganizational_units = [\"/\"]\nexclude_organizational_units = [\"/L0N3/L1N3\"]\n"
        ));
    }
    let path = dir.join("fleet.toml");
    std::fs::write(&path, &text).expect("fleet.toml");

    println!(
        "accounts  regions  stack sets  instances desired  to create  to delete  operations  time"
    );
    let mut per_instance = Vec::new();
    for size in [100usize, 1_000, 10_000] {
        let inventory = organization(size);
        let mut rng = Rng(0x5eed + size as u64);
        // The deployed state: every desired instance, minus 5 % at random, plus 1 % stale ones
        // in a region that fleet.toml does not govern.
        let mut observed = Observed::default();
        for n in 0..3 {
            let mut instances = Vec::new();
            for account in inventory.accounts.values() {
                for region in &regions {
                    if !rng.chance(50) {
                        instances.push(instance(&account.id, region));
                    }
                }
                if rng.chance(300) {
                    instances.push(instance(&account.id, "me-south-1"));
                }
            }
            let name = format!("set-{n}");
            observed
                .stack_sets
                .insert(name.clone(), stack_set(&name, instances));
        }

        let started = Instant::now();
        let fleet = fleet::load(&path).expect("the bench fleet is valid");
        let observed = with_template(observed, &fleet.stack_sets[0].template.body);
        let plan = plan(&fleet, &inventory, &observed).expect("plans");
        let elapsed = started.elapsed();
        let desired: usize = plan.stack_sets.iter().map(|s| s.desired_instances).sum();
        println!(
            "{size:>8}  {:>7}  {:>10}  {desired:>17}  {:>9}  {:>9}  {:>10}  {:>7.1} ms",
            regions.len(),
            plan.stack_sets.len(),
            plan.summary.create_instances,
            plan.summary.delete_instances,
            plan.summary.operations,
            elapsed.as_secs_f64() * 1000.0
        );
        per_instance.push(elapsed.as_secs_f64() * 1e9 / desired as f64);
    }
    println!(
        "ns per desired instance: {}",
        per_instance
            .iter()
            .map(|n| format!("{n:.0}"))
            .collect::<Vec<_>>()
            .join(" → ")
    );
    println!("peak memory (VmHWM): {}", peak_memory());
    let _ = std::fs::remove_dir_all(&dir);
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

fn stack_set(name: &str, instances: Vec<ObservedInstance>) -> ObservedStackSet {
    ObservedStackSet {
        name: name.to_string(),
        id: format!("{name}:id"),
        description: None,
        template_body: String::new(),
        parameters: BTreeMap::new(),
        tags: BTreeMap::new(),
        capabilities: Default::default(),
        permission_model: stackfleet_planner::fleet::PermissionModel::SelfManaged,
        administration_role_arn: None,
        execution_role_name: None,
        auto_deployment: None,
        instances,
    }
}

/// The deployed template is the fleet's, so the bench measures instance planning, not a diff.
fn with_template(mut observed: Observed, body: &str) -> Observed {
    for set in observed.stack_sets.values_mut() {
        set.template_body = body.to_string();
    }
    observed
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
