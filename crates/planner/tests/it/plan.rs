//! The planning core on plain values: the desired set, the diff, batching and its properties.

use std::collections::BTreeSet;

use proptest::prelude::*;
use stackfleet_planner::inventory::AccountStatus::{Active, Suspended};
use stackfleet_planner::observed::{InstanceStatus, ObservedStackSet};
use stackfleet_planner::plan::{Cell, OperationAction, Plan, SkipReason, StackSetAction, plan};
use stackfleet_planner::{Fleet, Inventory, Observed};

use crate::common::{Dir, TEMPLATE, fleet_text, instance, nothing, org};
use crate::rng::Rng;

fn fleet(regions: &[&str], targets: &str) -> Fleet {
    Dir::new().parse(&fleet_text(regions, targets)).unwrap()
}

fn deployed(fleet: &Fleet, instances: &[(&str, &str)]) -> Observed {
    let spec = &fleet.stack_sets[0];
    let set = ObservedStackSet {
        name: spec.name.clone(),
        id: format!("{}:1", spec.name),
        description: spec.description.clone(),
        template_body: spec.template.body.clone(),
        parameters: spec.parameters.clone(),
        tags: spec.tags.clone(),
        capabilities: spec.capabilities.clone(),
        permission_model: spec.permission_model,
        administration_role_arn: None,
        execution_role_name: None,
        auto_deployment: None,
        instances: instances.iter().map(|(a, r)| instance(a, r)).collect(),
    };
    Observed {
        stack_sets: [(set.name.clone(), set)].into(),
    }
}

fn cells(list: &[(&str, &str)]) -> Vec<Cell> {
    let mut out: Vec<Cell> = list
        .iter()
        .map(|(a, r)| Cell {
            account: a.to_string(),
            region: r.to_string(),
        })
        .collect();
    out.sort();
    out
}

#[test]
fn a_fresh_rollout_is_one_create_operation() {
    let inventory = org(&[
        ("100000000001", "/A", Active),
        ("100000000002", "/A/B", Active),
        ("100000000003", "/C", Active),
    ]);
    let fleet = fleet(
        &["us-east-1", "eu-west-1"],
        "organizational_units = [\"/A\"]",
    );
    let plan = plan(&fleet, &inventory, &nothing()).unwrap();
    let set = &plan.stack_sets[0];
    assert_eq!(set.action, StackSetAction::Create);
    assert_eq!(
        set.create_instances.len(),
        4,
        "nested OU /A/B included, /C not"
    );
    assert_eq!(set.operations.len(), 1);
    assert_eq!(set.operations[0].action, OperationAction::CreateInstances);
    assert_eq!(set.operations[0].accounts, ["100000000001", "100000000002"]);
    assert_eq!(set.operations[0].regions, ["eu-west-1", "us-east-1"]);
    assert_eq!(plan.summary.create_stack_sets, 1);
    assert_eq!(plan.summary.operations, 1);
    let tags = &set.desired.as_ref().unwrap().tags;
    assert_eq!(tags["stackfleet:fleet"], "default");
}

#[test]
fn exclusions_suspension_and_the_management_account() {
    let inventory = org(&[
        ("100000000001", "/A", Active),
        ("100000000002", "/A/B", Active),
        ("100000000003", "/C", Suspended),
        ("100000000004", "/C", Active),
    ]);
    let fleet = fleet(
        &["us-east-1"],
        "organizational_units = [\"/\"]\nexclude_organizational_units = [\"/A/B\"]\nexclude_accounts = [\"100000000004\"]",
    );
    let plan = plan(&fleet, &inventory, &nothing()).unwrap();
    let set = &plan.stack_sets[0];
    // Self-managed may deploy to the management account; the suspended one is skipped.
    assert_eq!(
        set.create_instances,
        cells(&[("000000000001", "us-east-1"), ("100000000001", "us-east-1")])
    );
    assert_eq!(set.skipped.len(), 1);
    assert_eq!(set.skipped[0].account, "100000000003");
    assert_eq!(set.skipped[0].reason, SkipReason::Suspended);

    let service = Dir::new()
        .parse(
            &fleet_text(&["us-east-1"], "organizational_units = [\"/\"]")
                .replace("self-managed", "service-managed"),
        )
        .unwrap();
    let plan = stackfleet_planner::plan::plan(&service, &inventory, &nothing()).unwrap();
    let set = &plan.stack_sets[0];
    assert!(
        set.skipped
            .iter()
            .any(|s| s.account == "000000000001" && s.reason == SkipReason::NotDeployable)
    );
    assert!(
        set.create_instances
            .iter()
            .all(|c| c.account != "000000000001")
    );
    // Service-managed operations name the accounts' OUs for DeploymentTargets.
    let op = &set.operations[0];
    assert_eq!(
        op.organizational_units,
        ["ou-root-aaaaaaaa", "ou-root-bbbbbbbb", "ou-root-cccccccc"]
    );
}

#[test]
fn unknown_ous_and_accounts_are_rejected_with_their_location() {
    let inventory = org(&[("100000000001", "/A", Active)]);
    let fleet = fleet(
        &["us-east-1"],
        "organizational_units = [\"/Nope\", \"ou-root-zzzzzzzz\"]\naccounts = [\"999999999999\"]",
    );
    let errors = plan(&fleet, &inventory, &nothing()).unwrap_err();
    let text = errors.to_string();
    assert_eq!(errors.0.len(), 3, "{text}");
    assert!(
        text.contains("fleet.toml:12:25: OU path \"/Nope\" does not exist in organization o-test"),
        "{text}"
    );
    assert!(
        text.contains("OU ou-root-zzzzzzzz does not exist"),
        "{text}"
    );
    assert!(
        text.contains("fleet.toml:13:13: account 999999999999 is not in organization o-test"),
        "{text}"
    );
}

#[test]
fn gaps_are_filled_with_few_rectangles_and_stale_instances_removed() {
    let inventory = org(&[
        ("100000000001", "/A", Active),
        ("100000000002", "/A", Active),
        ("100000000003", "/A", Active),
        ("100000000004", "/C", Active),
    ]);
    let fleet = fleet(
        &["us-east-1", "eu-west-1"],
        "organizational_units = [\"/A\"]",
    );
    let observed = deployed(
        &fleet,
        &[
            ("100000000001", "us-east-1"),
            ("100000000001", "eu-west-1"),
            ("100000000002", "us-east-1"),
            ("100000000003", "us-east-1"),
            ("100000000001", "ap-south-1"),
            ("100000000002", "ap-south-1"),
            ("100000000004", "us-east-1"),
        ],
    );
    let plan = plan(&fleet, &inventory, &observed).unwrap();
    let set = &plan.stack_sets[0];
    assert_eq!(set.action, StackSetAction::None);
    assert_eq!(
        set.create_instances,
        cells(&[("100000000002", "eu-west-1"), ("100000000003", "eu-west-1")])
    );
    assert_eq!(
        set.delete_instances,
        cells(&[
            ("100000000001", "ap-south-1"),
            ("100000000002", "ap-south-1"),
            ("100000000004", "us-east-1")
        ])
    );
    let summary: Vec<(OperationAction, Vec<String>, Vec<String>)> = set
        .operations
        .iter()
        .map(|o| (o.action, o.accounts.clone(), o.regions.clone()))
        .collect();
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert_eq!(
        summary,
        vec![
            (
                OperationAction::DeleteInstances,
                s(&["100000000001", "100000000002"]),
                s(&["ap-south-1"])
            ),
            (
                OperationAction::DeleteInstances,
                s(&["100000000004"]),
                s(&["us-east-1"])
            ),
            (
                OperationAction::CreateInstances,
                s(&["100000000002", "100000000003"]),
                s(&["eu-west-1"])
            ),
        ]
    );
}

#[test]
fn instances_in_suspended_accounts_are_left_alone() {
    let inventory = org(&[
        ("100000000001", "/A", Suspended),
        ("100000000002", "/C", Suspended),
    ]);
    let fleet = fleet(&["us-east-1"], "organizational_units = [\"/A\"]");
    let observed = deployed(
        &fleet,
        &[("100000000001", "us-east-1"), ("100000000002", "us-east-1")],
    );
    let plan = plan(&fleet, &inventory, &observed).unwrap();
    assert!(!plan.summary.has_changes(), "{:?}", plan.summary);
}

#[test]
fn changed_settings_update_the_stack_set_once() {
    let inventory = org(&[("100000000001", "/A", Active)]);
    let fleet = fleet(&["us-east-1"], "organizational_units = [\"/A\"]");
    let mut observed = deployed(&fleet, &[("100000000001", "us-east-1")]);
    let set = observed.stack_sets.get_mut("monitor").unwrap();
    set.template_body = TEMPLATE.replace("Default: mon", "Default: old");
    set.parameters
        .insert("Email".into(), "old@example.com".into());
    set.parameters.insert("Secret".into(), "****".into());
    set.parameters.insert("Prefix".into(), "mon".into());
    set.tags.insert("owner".into(), "someone".into());
    set.tags.insert("stackfleet:fleet".into(), "default".into());
    set.instances[0].status = InstanceStatus::Outdated;
    set.instances[0].detailed_status = Some("FAILED".into());
    let plan = plan(&fleet, &inventory, &observed).unwrap();
    let set = &plan.stack_sets[0];
    assert_eq!(set.action, StackSetAction::Update);
    let fields: Vec<&str> = set.changes.iter().map(|c| c.field.as_str()).collect();
    // The masked NoEcho value cannot be compared and is not reported as a change; Prefix, which
    // StackSets lists with the template's default value, is the same as leaving it unset.
    assert_eq!(fields, ["template", "parameters.Email", "tags.owner"]);
    assert!(
        set.template_diff
            .as_ref()
            .unwrap()
            .contains("-    Default: old\n+    Default: mon")
    );
    // The stack set update reaches the failed instance; no separate retry.
    assert_eq!(set.operations.len(), 1);
    assert_eq!(set.operations[0].action, OperationAction::UpdateStackSet);
    assert!(set.update_instances.is_empty());
}

#[test]
fn secret_parameters_are_masked_in_changes() {
    let inventory = org(&[("100000000001", "/A", Active)]);
    let text = fleet_text(&["us-east-1"], "organizational_units = [\"/A\"]").replace(
        "Email = \"sec@example.com\"",
        "Email = \"sec@example.com\", Secret = \"hunter2\"",
    );
    let fleet = Dir::new().parse(&text).unwrap();
    let mut observed = deployed(&fleet, &[("100000000001", "us-east-1")]);
    let set = observed.stack_sets.get_mut("monitor").unwrap();
    set.parameters.remove("Secret");
    let plan = plan(&fleet, &inventory, &observed).unwrap();
    let change = &plan.stack_sets[0].changes[0];
    assert_eq!(change.field, "parameters.Secret");
    // Before: the template's default (empty); after: the new value, masked.
    assert_eq!(
        (change.before.as_deref(), change.after.as_deref()),
        (Some("****"), Some("****"))
    );
    let shown = serde_json::to_string(&plan.stack_sets[0].changes).unwrap();
    assert!(!shown.contains("hunter2"));
}

#[test]
fn saved_plans_mask_secrets_and_apply_restores_them_from_fleet_toml() {
    let inventory = org(&[("100000000001", "/A", Active)]);
    let with = |secret: &str| {
        let text = fleet_text(&["us-east-1"], "organizational_units = [\"/A\"]").replace(
            "Email = \"sec@example.com\"",
            &format!("Email = \"sec@example.com\", Secret = \"{secret}\""),
        );
        let dir = Dir::new();
        let fleet = dir.parse(&text).unwrap();
        (dir, fleet)
    };
    let (_dir, fleet) = with("hunter2");
    let full = plan(&fleet, &inventory, &nothing()).unwrap();
    let masked = full.masked();
    let saved = serde_json::to_string(&masked).unwrap();
    assert!(!saved.contains("hunter2"), "{saved}");
    assert!(saved.contains("\"Secret\":\"****\""));
    assert!(masked.is_masked());

    let mut loaded: Plan = serde_json::from_str(&saved).unwrap();
    loaded.unmask(&fleet).unwrap();
    assert_eq!(
        loaded, full,
        "unmasking gives back exactly the plan that was made"
    );

    let (_other, changed) = with("hunter3");
    let mut stale: Plan = serde_json::from_str(&saved).unwrap();
    let err = stale.unmask(&changed).unwrap_err();
    assert!(
        err.contains("NoEcho parameter Secret of stack set monitor"),
        "{err}"
    );
}

#[test]
fn failed_instances_are_retried() {
    let inventory = org(&[
        ("100000000001", "/A", Active),
        ("100000000002", "/A", Active),
    ]);
    let fleet = fleet(&["us-east-1"], "organizational_units = [\"/A\"]");
    let mut observed = deployed(
        &fleet,
        &[("100000000001", "us-east-1"), ("100000000002", "us-east-1")],
    );
    let set = observed.stack_sets.get_mut("monitor").unwrap();
    set.instances[1].status = InstanceStatus::Outdated;
    set.instances[1].detailed_status = Some("FAILED".into());
    let plan = plan(&fleet, &inventory, &observed).unwrap();
    let set = &plan.stack_sets[0];
    assert_eq!(
        set.update_instances,
        cells(&[("100000000002", "us-east-1")])
    );
    assert_eq!(set.operations[0].action, OperationAction::UpdateInstances);
}

#[test]
fn a_stack_set_that_left_the_fleet_is_deleted_only_if_it_is_ours() {
    let inventory = org(&[("100000000001", "/A", Active)]);
    let fleet = fleet(&["us-east-1"], "organizational_units = [\"/A\"]");
    let mut observed = deployed(&fleet, &[("100000000001", "us-east-1")]);
    for (name, tag) in [
        ("old-ours", Some("default")),
        ("someone-elses", None),
        ("other-fleet", Some("other")),
    ] {
        let mut set = observed.stack_sets["monitor"].clone();
        set.name = name.to_string();
        set.tags.clear();
        if let Some(tag) = tag {
            set.tags.insert("stackfleet:fleet".into(), tag.into());
        }
        observed.stack_sets.insert(name.to_string(), set);
    }
    let plan = plan(&fleet, &inventory, &observed).unwrap();
    let names: Vec<(&str, StackSetAction)> = plan
        .stack_sets
        .iter()
        .map(|s| (s.name.as_str(), s.action))
        .collect();
    assert_eq!(
        names,
        [
            ("monitor", StackSetAction::None),
            ("old-ours", StackSetAction::Delete)
        ]
    );
    assert_eq!(plan.stack_sets[1].delete_instances.len(), 1);
    assert_eq!(plan.summary.delete_stack_sets, 1);
}

#[test]
fn changing_the_permission_model_is_refused() {
    let inventory = org(&[("100000000001", "/A", Active)]);
    let fleet = fleet(&["us-east-1"], "organizational_units = [\"/A\"]");
    let mut observed = deployed(&fleet, &[]);
    observed
        .stack_sets
        .get_mut("monitor")
        .unwrap()
        .permission_model = stackfleet_planner::fleet::PermissionModel::ServiceManaged;
    let err = plan(&fleet, &inventory, &observed).unwrap_err();
    assert!(
        err.to_string().contains("cannot change a permission model"),
        "{err}"
    );
}

#[test]
fn a_service_managed_deletion_names_every_recorded_ou_whatever_the_instance_order() {
    let inventory = org(&[("100000000001", "/A", Active)]);
    let fleet = fleet(&["us-east-1"], "organizational_units = [\"/A\"]");
    let mut observed = deployed(&fleet, &[]);
    let mut old = observed.stack_sets["monitor"].clone();
    old.name = "old".into();
    old.permission_model = stackfleet_planner::fleet::PermissionModel::ServiceManaged;
    old.tags.insert(
        stackfleet_planner::fleet::FLEET_TAG.into(),
        fleet.name.clone(),
    );
    // The account moved between OUs: its instances name two of them.
    let mut east = instance("100000000001", "us-east-1");
    east.organizational_unit_id = Some("ou-root-cccccccc".into());
    let mut west = instance("100000000001", "eu-west-1");
    west.organizational_unit_id = Some("ou-root-aaaaaaaa".into());
    let mut plans = Vec::new();
    for instances in [vec![east.clone(), west.clone()], vec![west, east]] {
        old.instances = instances;
        observed.stack_sets.insert("old".into(), old.clone());
        plans.push(plan(&fleet, &inventory, &observed).unwrap());
    }
    assert_eq!(
        serde_json::to_string(&plans[0]).unwrap(),
        serde_json::to_string(&plans[1]).unwrap()
    );
    let deletion = plans[0]
        .stack_sets
        .iter()
        .find(|s| s.name == "old")
        .unwrap();
    assert_eq!(deletion.action, StackSetAction::Delete);
    // StackSets selects each instance by its own recorded OU: both are named, not the parent.
    assert_eq!(
        deletion.operations[0].organizational_units,
        ["ou-root-aaaaaaaa", "ou-root-cccccccc"]
    );
}

#[test]
fn service_managed_creates_name_the_current_parent_and_deletes_the_recorded_ou() {
    // 1 moved from /A to /C and gains a region; 3 moved from /A to /C and is excluded.
    let inventory = org(&[
        ("100000000001", "/C", Active),
        ("100000000003", "/C", Active),
    ]);
    let text = fleet_text(
        &["us-east-1", "eu-west-1"],
        "organizational_units = [\"/A\", \"/C\"]\nexclude_accounts = [\"100000000003\"]",
    )
    .replace("\"self-managed\"", "\"service-managed\"");
    let fleet = Dir::new().parse(&text).unwrap();
    let mut observed = deployed(
        &fleet,
        &[("100000000001", "us-east-1"), ("100000000003", "us-east-1")],
    );
    let set = observed.stack_sets.get_mut("monitor").unwrap();
    for instance in &mut set.instances {
        instance.organizational_unit_id = Some("ou-root-aaaaaaaa".into());
    }
    let plan = plan(&fleet, &inventory, &observed).unwrap();
    let ops = &plan.stack_sets[0].operations;
    assert_eq!(ops.len(), 2, "{ops:#?}");
    assert_eq!(ops[0].action, OperationAction::DeleteInstances);
    assert_eq!(ops[0].accounts, ["100000000003"]);
    assert_eq!(ops[0].organizational_units, ["ou-root-aaaaaaaa"]);
    assert_eq!(ops[1].action, OperationAction::CreateInstances);
    assert_eq!(ops[1].accounts, ["100000000001"]);
    assert_eq!(ops[1].organizational_units, ["ou-root-cccccccc"]);
}

// ---- properties ----------------------------------------------------------------------------

const REGIONS: [&str; 4] = ["us-east-1", "eu-west-1", "ap-south-1", "sa-east-1"];
const PATHS: [&str; 4] = ["/", "/A", "/A/B", "/C"];

#[derive(Debug, Clone)]
struct Case {
    accounts: Vec<(String, &'static str, bool)>,
    targets: Vec<&'static str>,
    excluded: Vec<&'static str>,
    regions: Vec<&'static str>,
    existing: Vec<(usize, &'static str)>,
}

fn case() -> impl Strategy<Value = Case> {
    (
        proptest::collection::vec((0..PATHS.len(), proptest::bool::weighted(0.9)), 1..12),
        proptest::sample::subsequence(PATHS.to_vec(), 1..=2),
        proptest::sample::subsequence(PATHS[1..].to_vec(), 0..=1),
        proptest::sample::subsequence(REGIONS.to_vec(), 1..=4),
        proptest::collection::vec(
            (0..12usize, proptest::sample::select(REGIONS.to_vec())),
            0..30,
        ),
    )
        .prop_map(|(accounts, targets, excluded, regions, existing)| Case {
            accounts: accounts
                .into_iter()
                .enumerate()
                .map(|(i, (p, active))| {
                    (
                        format!("{:012}", 200_000_000_000u64 + i as u64),
                        PATHS[p],
                        active,
                    )
                })
                .collect(),
            targets,
            excluded,
            regions,
            existing,
        })
}

fn setup(case: &Case) -> (Fleet, Inventory, Observed, BTreeSet<(String, String)>) {
    let accounts: Vec<(&str, &str, _)> = case
        .accounts
        .iter()
        .map(|(id, path, active)| (id.as_str(), *path, if *active { Active } else { Suspended }))
        .collect();
    let inventory = org(&accounts);
    let quote = |v: &[&str]| {
        v.iter()
            .map(|p| format!("{p:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let fleet = fleet(
        &case.regions,
        &format!(
            "organizational_units = [{}]\nexclude_organizational_units = [{}]",
            quote(&case.targets),
            quote(&case.excluded)
        ),
    );
    let existing: BTreeSet<(String, String)> = case
        .existing
        .iter()
        .filter_map(|(i, r)| case.accounts.get(*i).map(|a| (a.0.clone(), r.to_string())))
        .collect();
    let refs: Vec<(&str, &str)> = existing
        .iter()
        .map(|(a, r)| (a.as_str(), r.as_str()))
        .collect();
    let observed = deployed(&fleet, &refs);

    // The desired set, computed independently of the planner: active accounts (the management
    // account included: self-managed) under a targeted OU and under no excluded one, × regions.
    let under = |id: &str, prefix: &str| {
        let path = inventory.account_ou_path(id).unwrap();
        prefix == "/" || path == prefix || path.starts_with(&format!("{prefix}/"))
    };
    let mut desired = BTreeSet::new();
    for (id, account) in &inventory.accounts {
        let active = account.status == Active;
        if active
            && case.targets.iter().any(|t| under(id, t))
            && !case.excluded.iter().any(|e| under(id, e))
        {
            for r in &case.regions {
                desired.insert((id.clone(), r.to_string()));
            }
        }
    }
    (fleet, inventory, observed, desired)
}

fn op_cells(plan: &Plan, action: OperationAction) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = plan.stack_sets[0]
        .operations
        .iter()
        .filter(|o| o.action == action)
        .flat_map(|o| {
            o.accounts
                .iter()
                .flat_map(|a| o.regions.iter().map(move |r| (a.clone(), r.clone())))
        })
        .collect();
    out.sort();
    out
}

fn as_pairs(cells: &[Cell]) -> Vec<(String, String)> {
    cells
        .iter()
        .map(|c| (c.account.clone(), c.region.clone()))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn plans_exactly_the_missing_and_the_unwanted(case in case()) {
        let (fleet, inventory, observed, desired) = setup(&case);
        let plan = plan(&fleet, &inventory, &observed).unwrap();
        let existing: BTreeSet<(String, String)> = observed.stack_sets["monitor"]
            .instances.iter().map(|i| (i.account.clone(), i.region.clone())).collect();
        let suspended: BTreeSet<&str> = case.accounts.iter().filter(|a| !a.2).map(|a| a.0.as_str()).collect();

        // Every desired-and-absent instance is planned exactly once, and nothing else is created.
        let missing: Vec<(String, String)> = desired.difference(&existing).cloned().collect();
        prop_assert_eq!(as_pairs(&plan.stack_sets[0].create_instances), missing.clone());
        // Rectangles cover exactly those cells, none twice, no undesired cell.
        prop_assert_eq!(op_cells(&plan, OperationAction::CreateInstances), missing);

        // Every present-and-undesired instance in an account StackSets can act on is deleted.
        let unwanted: Vec<(String, String)> = existing
            .difference(&desired)
            .filter(|(a, _)| !suspended.contains(a.as_str()))
            .cloned()
            .collect();
        prop_assert_eq!(as_pairs(&plan.stack_sets[0].delete_instances), unwanted.clone());
        prop_assert_eq!(op_cells(&plan, OperationAction::DeleteInstances), unwanted);
    }

    #[test]
    fn applying_the_plan_leaves_nothing_to_do(case in case()) {
        let (fleet, inventory, mut observed, _) = setup(&case);
        let first = plan(&fleet, &inventory, &observed).unwrap();
        let set = observed.stack_sets.get_mut("monitor").unwrap();
        let deleted: BTreeSet<(String, String)> = as_pairs(&first.stack_sets[0].delete_instances).into_iter().collect();
        set.instances.retain(|i| !deleted.contains(&(i.account.clone(), i.region.clone())));
        for c in &first.stack_sets[0].create_instances {
            set.instances.push(instance(&c.account, &c.region));
        }
        set.instances.sort();
        let second = plan(&fleet, &inventory, &observed).unwrap();
        prop_assert!(!second.summary.has_changes(), "{:?}", second.summary);
        prop_assert_eq!(second.summary.operations, 0);
    }

    #[test]
    fn same_inputs_same_plan_byte_for_byte(case in case(), seed in any::<u64>()) {
        let (fleet, inventory, observed, _) = setup(&case);
        let a = serde_json::to_string(&plan(&fleet, &inventory, &observed).unwrap()).unwrap();

        // The same facts in another order: fleet.toml's target lists, the organization's accounts
        // and OUs as a reader might collect them, and the instances as StackSets pages them.
        let mut rng = Rng(seed | 1);
        let mut targets = case.targets.clone();
        let mut excluded = case.excluded.clone();
        rng.shuffle(&mut targets);
        rng.shuffle(&mut excluded);
        let reordered = Case { targets, excluded, ..case.clone() };
        let (fleet_b, _, _, _) = setup(&reordered);
        let mut accounts: Vec<_> = inventory.accounts.clone().into_iter().collect();
        let mut ous: Vec<_> = inventory.organizational_units.clone().into_iter().collect();
        rng.shuffle(&mut accounts);
        rng.shuffle(&mut ous);
        let inventory_b = Inventory {
            accounts: accounts.into_iter().collect(),
            organizational_units: ous.into_iter().collect(),
            ..inventory.clone()
        };
        let mut observed_b = observed.clone();
        for set in observed_b.stack_sets.values_mut() {
            rng.shuffle(&mut set.instances);
        }
        let b = serde_json::to_string(&plan(&fleet_b, &inventory_b, &observed_b).unwrap()).unwrap();
        prop_assert_eq!(a, b);
    }
}

#[test]
fn the_fingerprint_follows_the_state() {
    let inventory = org(&[("100000000001", "/A", Active)]);
    let fleet = fleet(&["us-east-1"], "organizational_units = [\"/A\"]");
    let a = plan(&fleet, &inventory, &nothing()).unwrap();
    let mut moved = inventory.clone();
    moved.accounts.get_mut("100000000001").unwrap().parent_id = "ou-root-cccccccc".into();
    let b = plan(&fleet, &moved, &nothing()).unwrap();
    assert_ne!(a.fingerprint, b.fingerprint);
    assert_eq!(
        a.fingerprint,
        plan(&fleet, &inventory, &nothing()).unwrap().fingerprint
    );
}
