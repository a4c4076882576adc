//! The planning core on plain values: the desired set, the diff, batching and its properties.

use std::collections::BTreeSet;

use proptest::prelude::*;
use stackfleet_planner::inventory::AccountStatus::{Active, Suspended};
use stackfleet_planner::observed::{InstanceStatus, ObservedStackSet};
use stackfleet_planner::plan::{
    Cell, MASK, NOECHO_TAG, OperationAction, Plan, SkipReason, StackSetAction, plan,
};
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
        // As stackfleet left it: the fleet's own tag included.
        tags: spec
            .tags
            .clone()
            .into_iter()
            .chain([("stackfleet:fleet".to_string(), fleet.name.clone())])
            .collect(),
        capabilities: spec.capabilities.clone(),
        permission_model: spec.permission_model,
        administration_role_arn: None,
        execution_role_name: None,
        auto_deployment: None,
        managed_execution: false,
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
    assert_eq!(tags["stackfleet:fleet"], "baseline");
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
        text.contains("fleet.toml:13:25: OU path \"/Nope\" does not exist in organization o-test"),
        "{text}"
    );
    assert!(
        text.contains("OU ou-root-zzzzzzzz does not exist"),
        "{text}"
    );
    // A misspelt path gets the closest one.
    let misspelt = self::fleet(&["us-east-1"], "organizational_units = [\"/A/b\"]");
    let hint = plan(&misspelt, &inventory, &nothing())
        .unwrap_err()
        .to_string();
    assert!(
        hint.contains(
            "OU path \"/A/b\" does not exist in organization o-test; did you mean \"/A/B\"?"
        ),
        "{hint}"
    );
    assert!(
        text.contains("fleet.toml:14:13: account 999999999999 is not in organization o-test"),
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
    set.tags
        .insert("stackfleet:fleet".into(), "baseline".into());
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
    // It rolls out to every instance, and the plan counts them (issue 16 item 2).
    assert_eq!(set.update_instances.len(), set.existing_instances);
    assert_eq!(set.update_instances.len(), set.operations[0].instances);
    assert_eq!(plan.summary.update_instances, set.existing_instances);
}

/// The fleet with NoEcho parameter `Secret` set to `value`.
fn with_secret(value: &str) -> Result<(Dir, Fleet), String> {
    let text = fleet_text(&["us-east-1"], "organizational_units = [\"/A\"]").replace(
        "Email = \"sec@example.com\"",
        &format!("Email = \"sec@example.com\", Secret = \"{value}\""),
    );
    let dir = Dir::new();
    let fleet = dir.parse(&text).map_err(|e| e.to_string())?;
    Ok((dir, fleet))
}

#[test]
fn a_plain_noecho_value_is_refused_at_its_place_without_echoing_it() {
    let Err(err) = with_secret("hunter2") else {
        panic!("a plain NoEcho value was accepted");
    };
    assert!(err.contains("fleet.toml:10:"), "{err}");
    assert!(
        err.contains("parameter \"Secret\" is NoEcho in template monitor.yaml: give it a dynamic reference such as \"{{resolve:secretsmanager:"),
        "{err}"
    );
    assert!(!err.contains("hunter2"), "{err}");
}

#[test]
fn noecho_is_read_as_cloudformation_reads_it_in_any_case() {
    for spelling in ["true", "\"true\"", "\"True\"", "\"TRUE\""] {
        let dir = Dir::new();
        let template = TEMPLATE.replace("NoEcho: true", &format!("NoEcho: {spelling}"));
        assert_ne!(template, TEMPLATE.replace("NoEcho: true", "NoEcho: false"));
        dir.file("monitor.yaml", &template);
        let text = fleet_text(&["us-east-1"], "organizational_units = [\"/A\"]").replace(
            "Email = \"sec@example.com\"",
            "Email = \"sec@example.com\", Secret = \"hunter2\"",
        );
        let err = dir.parse(&text).unwrap_err().to_string();
        assert!(err.contains("is NoEcho"), "NoEcho: {spelling}: {err}");
    }
}

#[test]
fn a_changed_secret_reference_is_planned_though_stacksets_masks_the_value() {
    let inventory = org(&[("100000000001", "/A", Active)]);
    let v1 = "{{resolve:ssm-secure:/monitor/secret:1}}";
    let v2 = "{{resolve:ssm-secure:/monitor/secret:2}}";
    let (_d1, first) = with_secret(v1).unwrap();
    let created = plan(&first, &inventory, &nothing()).unwrap();
    let desired = created.stack_sets[0].desired.clone().unwrap();
    // What apply left: the reference, which StackSets shows as ****, and the tag.
    let mut observed = deployed(&first, &[("100000000001", "us-east-1")]);
    let set = observed.stack_sets.get_mut("monitor").unwrap();
    set.tags = desired.tags.clone();
    set.parameters.insert("Secret".into(), MASK.into());
    assert!(desired.tags.contains_key(NOECHO_TAG));
    // The same reference: nothing to do.
    let again = plan(&first, &inventory, &observed).unwrap();
    assert!(
        !again.summary.has_changes(),
        "{:?}",
        again.stack_sets[0].changes
    );
    // A new version of the secret: an update, which shows the reference (not a secret).
    let (_d2, second) = with_secret(v2).unwrap();
    let rotated = plan(&second, &inventory, &observed).unwrap();
    let set = &rotated.stack_sets[0];
    assert_eq!(set.action, StackSetAction::Update);
    let change = set
        .changes
        .iter()
        .find(|c| c.field == "parameters.Secret")
        .expect("the parameter change");
    assert_eq!(
        (change.before.as_deref(), change.after.as_deref()),
        (Some(MASK), Some(v2))
    );
    assert!(
        set.changes
            .iter()
            .any(|c| c.field == format!("tags.{NOECHO_TAG}"))
    );
    assert_eq!(
        set.desired.as_ref().unwrap().parameters["Secret"],
        v2,
        "the update sends the new reference"
    );
    // A plan holds no digest of anything: plan.json carries references only.
    let saved = serde_json::to_string(&rotated).unwrap();
    assert!(!saved.contains("no_echo_digests"));
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
        ("old-ours", Some("baseline")),
        ("almost-ours", Some("baseline ")),
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

/// With auto-deployment, creates name fleet.toml's OU (the outermost one holding the account),
/// so that the OUs StackSets auto-deploys to are exactly fleet.toml's: never the account's parent
/// (/A/B here), and never the root for an account under it.
#[test]
fn with_auto_deployment_creates_name_the_targeted_ou_not_the_parent() {
    let inventory = org(&[
        ("100000000001", "/A/B", Active),
        ("100000000002", "/A", Active),
        ("100000000003", "/C", Active),
    ]);
    let text = fleet_text(&["us-east-1"], "organizational_units = [\"/A\", \"/A/B\"]")
        .replace("\"self-managed\"", "\"service-managed\"");
    let with = text.replace(
        "name = \"monitor\"",
        "name = \"monitor\"\nauto_deployment = { enabled = true }",
    );
    let planned = plan(&Dir::new().parse(&with).unwrap(), &inventory, &nothing()).unwrap();
    let ops = &planned.stack_sets[0].operations;
    assert_eq!(ops.len(), 1, "{ops:#?}");
    assert_eq!(ops[0].accounts, ["100000000001", "100000000002"]);
    assert_eq!(ops[0].organizational_units, ["ou-root-aaaaaaaa"]);
    // Without it, each account's parent, as before.
    let planned = plan(&Dir::new().parse(&text).unwrap(), &inventory, &nothing()).unwrap();
    let ous: BTreeSet<&String> = planned.stack_sets[0]
        .operations
        .iter()
        .flat_map(|o| &o.organizational_units)
        .collect();
    assert_eq!(
        ous,
        BTreeSet::from([
            &"ou-root-aaaaaaaa".to_string(),
            &"ou-root-bbbbbbbb".to_string()
        ])
    );
}

/// A governed opt-in region that an account (or the administrator account) has not enabled is
/// never planned: those cells are skipped with the reason, the rest is planned as usual.
#[test]
fn opt_in_regions_not_enabled_are_skipped_not_planned() {
    let mut inventory = org(&[
        ("100000000001", "/A", Active),
        ("100000000002", "/A", Active),
    ]);
    inventory.region_opt_in.accounts.insert(
        "100000000002".into(),
        [("eu-south-1".to_string(), "DISABLED".to_string())].into(),
    );
    let fleet = fleet(
        &["us-east-1", "eu-south-1"],
        "organizational_units = [\"/A\"]",
    );
    let planned = plan(&fleet, &inventory, &nothing()).unwrap();
    let set = &planned.stack_sets[0];
    assert_eq!(set.desired_instances, 3);
    assert_eq!(set.create_instances.len(), 3);
    assert!(!set.create_instances.contains(&Cell {
        account: "100000000002".into(),
        region: "eu-south-1".into()
    }));
    let skip = set
        .skipped
        .iter()
        .find(|s| s.reason == SkipReason::RegionNotEnabled)
        .expect("skipped");
    assert_eq!(
        (skip.account.as_str(), skip.regions.as_slice()),
        ("100000000002", &["eu-south-1".to_string()][..])
    );
    // Not enabled in the administrator account: the region is skipped everywhere.
    inventory.region_opt_in.accounts.clear();
    inventory
        .region_opt_in
        .administrator
        .insert("eu-south-1".into());
    let planned = plan(&fleet, &inventory, &nothing()).unwrap();
    let set = &planned.stack_sets[0];
    assert!(set.create_instances.iter().all(|c| c.region == "us-east-1"));
    assert_eq!(set.skipped.len(), 2);
    // Failed instances there are not retried either.
    let mut observed = deployed(&fleet, &[("100000000001", "eu-south-1")]);
    observed.stack_sets.get_mut("monitor").unwrap().instances[0].status = InstanceStatus::Outdated;
    observed.stack_sets.get_mut("monitor").unwrap().instances[0].detailed_status =
        Some("FAILED".into());
    let planned = plan(&fleet, &inventory, &observed).unwrap();
    assert!(planned.stack_sets[0].update_instances.is_empty());
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

#[test]
fn a_same_named_stack_set_without_our_tag_is_refused_unless_adopted() {
    let inventory = org(&[("100000000001", "/A", Active)]);
    let fleet = fleet(&["us-east-1"], "organizational_units = [\"/A\"]");
    for (tag, says) in [
        (None, "it has no stackfleet:fleet tag"),
        (
            Some("other"),
            "its stackfleet:fleet tag is \"other\", not \"baseline\"",
        ),
    ] {
        let mut observed = deployed(&fleet, &[("100000000001", "us-east-1")]);
        let set = observed.stack_sets.get_mut("monitor").unwrap();
        set.tags.remove("stackfleet:fleet");
        if let Some(tag) = tag {
            set.tags.insert("stackfleet:fleet".into(), tag.into());
        }
        let err = plan(&fleet, &inventory, &observed).unwrap_err().to_string();
        assert!(
            err.contains("stack set \"monitor\" exists and is not this fleet's"),
            "{err}"
        );
        assert!(err.contains(says), "{err}");
        assert!(err.contains("adopt = true"), "{err}");

        // Adopted explicitly: an update whose only change is the fleet tag, shown as such.
        let mut adopting = fleet.clone();
        adopting.stack_sets[0].adopt = true;
        let plan = plan(&adopting, &inventory, &observed).unwrap();
        let set = &plan.stack_sets[0];
        assert!(set.adopt);
        assert_eq!(set.action, StackSetAction::Update);
        assert_eq!(set.changes.len(), 1, "{:?}", set.changes);
        assert_eq!(set.changes[0].field, "tags.stackfleet:fleet");
        assert_eq!(set.changes[0].before.as_deref(), tag);
        assert_eq!(set.changes[0].after.as_deref(), Some("baseline"));
        assert_eq!(set.operations[0].action, OperationAction::UpdateStackSet);
    }
    // Once ours, `adopt = true` changes nothing.
    let mut adopting = fleet.clone();
    adopting.stack_sets[0].adopt = true;
    let observed = deployed(&fleet, &[("100000000001", "us-east-1")]);
    let plan = plan(&adopting, &inventory, &observed).unwrap();
    assert!(!plan.stack_sets[0].adopt);
    assert_eq!(plan.stack_sets[0].action, StackSetAction::None);
}

#[test]
fn stamping_gives_unique_ids_per_nonce_and_is_deterministic() {
    let inventory = org(&[
        ("100000000001", "/A", Active),
        ("100000000002", "/C", Active),
    ]);
    let fleet = fleet(&["us-east-1"], "organizational_units = [\"/A\"]");
    let observed = deployed(&fleet, &[("100000000002", "us-east-1")]);
    let base = plan(&fleet, &inventory, &observed).unwrap();
    let ids = |p: &stackfleet_planner::Plan| -> Vec<String> {
        p.stack_sets[0]
            .operations
            .iter()
            .map(|o| o.id.clone())
            .collect()
    };
    let first = base.clone().stamped("nonce-a", 100);
    let again = base.clone().stamped("nonce-a", 100);
    let second = base.clone().stamped("nonce-b", 100);
    assert_eq!(first, again, "same inputs and stamp, same plan");
    assert_eq!(ids(&first).len(), 2);
    assert_ne!(ids(&first), ids(&base));
    for (a, b) in ids(&first).iter().zip(ids(&second)) {
        assert_ne!(
            *a, b,
            "another plan of the same state never shares an operation id"
        );
    }
    assert_eq!(first.nonce, "nonce-a");
    assert_eq!(first.planned_at, 100);
    // Stamping a stamped plan again with its own nonce changes nothing.
    assert_eq!(first.clone().stamped("nonce-a", 100), first);
}
