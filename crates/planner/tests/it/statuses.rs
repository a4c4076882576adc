//! The statuses StackSets really reports, on plain values: inoperable, skipped-then-reactivated,
//! orphaned, stranded and unknown instances; the retain tag and rollout of a stack set that left
//! fleet.toml; what the `--allow-delete` guard counts.

use stackfleet_planner::coverage::{CoverageStatus, coverage};
use stackfleet_planner::fleet::{Limit, RETAIN_TAG};
use stackfleet_planner::inventory::AccountStatus::{Active, Suspended};
use stackfleet_planner::observed::{
    DetailedStatus, InstanceStatus, ObservedInstance, ObservedStackSet,
};
use stackfleet_planner::plan::{
    FindingKind, OperationAction, Plan, StackSetAction, plan, removals,
};
use stackfleet_planner::{Fleet, Inventory, Observed};

use crate::common::{Dir, TEMPLATE, fleet_text, instance, org};

const R: &str = "us-east-1";

fn fleet_with(text: String) -> Fleet {
    Dir::new().parse(&text).unwrap()
}

fn fleet() -> Fleet {
    fleet_with(fleet_text(&[R], "organizational_units = [\"/A\"]"))
}

fn stack_set(fleet: &Fleet, name: &str, instances: Vec<ObservedInstance>) -> ObservedStackSet {
    let spec = &fleet.stack_sets[0];
    ObservedStackSet {
        name: name.to_string(),
        id: format!("{name}:1"),
        description: spec.description.clone(),
        template_body: spec.template.body.clone(),
        parameters: spec.parameters.clone(),
        tags: [("stackfleet:fleet".to_string(), fleet.name.clone())].into(),
        capabilities: spec.capabilities.clone(),
        permission_model: spec.permission_model,
        administration_role_arn: None,
        execution_role_name: None,
        auto_deployment: None,
        managed_execution: false,
        instances,
    }
}

fn observed(sets: Vec<ObservedStackSet>) -> Observed {
    Observed {
        stack_sets: sets.into_iter().map(|s| (s.name.clone(), s)).collect(),
    }
}

fn with(account: &str, status: InstanceStatus, detailed: &str) -> ObservedInstance {
    let mut i = instance(account, R);
    i.status = status;
    i.detailed_status = Some(detailed.into());
    i
}

/// (action, accounts, retain_stacks) of each operation of the first stack set.
fn ops(plan: &Plan) -> Vec<(OperationAction, Vec<String>, bool)> {
    plan.stack_sets[0]
        .operations
        .iter()
        .map(|o| (o.action, o.accounts.clone(), o.retain_stacks))
        .collect()
}

fn kinds(plan: &Plan) -> Vec<(String, FindingKind)> {
    plan.stack_sets
        .iter()
        .flat_map(|s| &s.findings)
        .map(|f| (f.account.clone(), f.kind))
        .collect()
}

fn two_accounts() -> Inventory {
    org(&[
        ("100000000001", "/A", Active),
        ("100000000002", "/A", Active),
    ])
}

#[test]
fn an_inoperable_instance_is_released_keeping_its_stack_then_created_again() {
    let fleet = fleet();
    let state = observed(vec![stack_set(
        &fleet,
        "monitor",
        vec![
            instance("100000000001", R),
            with("100000000002", InstanceStatus::Inoperable, "INOPERABLE"),
        ],
    )]);
    let plan = plan(&fleet, &two_accounts(), &state).unwrap();
    let two = vec!["100000000002".to_string()];
    assert_eq!(
        ops(&plan),
        [
            (OperationAction::DeleteInstances, two.clone(), true),
            (OperationAction::CreateInstances, two, false),
        ]
    );
    assert_eq!(
        kinds(&plan),
        [("100000000002".to_string(), FindingKind::Inoperable)]
    );
    assert!(
        plan.stack_sets[0].findings[0]
            .remedy
            .contains("RetainStacks")
    );
    assert_eq!(plan.summary.delete_instances, 1);
    assert_eq!(plan.summary.create_instances, 1);
    // Coverage says failed, with what apply does about it; never covered.
    let report = coverage(&fleet, &two_accounts(), &state, false).unwrap();
    let cell = report.stack_sets[0]
        .cells
        .iter()
        .find(|c| c.account == "100000000002")
        .unwrap();
    assert_eq!(cell.status, CoverageStatus::Failed);
    assert!(cell.reason.contains("creates it again"), "{}", cell.reason);
}

#[test]
fn an_inoperable_instance_fleet_toml_no_longer_wants_is_only_released() {
    let fleet = fleet_with(fleet_text(
        &[R],
        "organizational_units = [\"/A\"]\nexclude_accounts = [\"100000000002\"]",
    ));
    let state = observed(vec![stack_set(
        &fleet,
        "monitor",
        vec![
            instance("100000000001", R),
            with("100000000002", InstanceStatus::Inoperable, "INOPERABLE"),
        ],
    )]);
    let plan = plan(&fleet, &two_accounts(), &state).unwrap();
    assert_eq!(
        ops(&plan),
        [(
            OperationAction::DeleteInstances,
            vec!["100000000002".to_string()],
            true
        )]
    );
    assert!(
        plan.stack_sets[0].findings[0]
            .remedy
            .contains("does not create it again")
    );
}

#[test]
fn a_skipped_instance_of_an_account_active_again_runs_again() {
    let fleet = fleet();
    let skipped = with(
        "100000000002",
        InstanceStatus::Outdated,
        "SKIPPED_SUSPENDED_ACCOUNT",
    );
    let state = observed(vec![stack_set(
        &fleet,
        "monitor",
        vec![instance("100000000001", R), skipped.clone()],
    )]);
    let plan = plan(&fleet, &two_accounts(), &state).unwrap();
    assert_eq!(
        ops(&plan),
        [(
            OperationAction::UpdateInstances,
            vec!["100000000002".to_string()],
            false
        )]
    );
    assert_eq!(
        kinds(&plan),
        [("100000000002".to_string(), FindingKind::Reactivated)]
    );

    // Still suspended: StackSets cannot deploy there, so nothing is planned or found.
    let suspended = org(&[
        ("100000000001", "/A", Active),
        ("100000000002", "/A", Suspended),
    ]);
    let plan = stackfleet_planner::plan::plan(&fleet, &suspended, &state).unwrap();
    assert!(ops(&plan).is_empty());
    assert!(kinds(&plan).is_empty());
    assert!(!plan.summary.has_changes());
}

#[test]
fn an_instance_of_an_account_that_left_the_organization_is_reported_never_deleted() {
    let fleet = fleet();
    let state = observed(vec![stack_set(
        &fleet,
        "monitor",
        vec![
            instance("100000000001", R),
            instance("100000000002", R),
            instance("999999999999", R),
        ],
    )]);
    let plan = plan(&fleet, &two_accounts(), &state).unwrap();
    assert!(ops(&plan).is_empty(), "{:?}", ops(&plan));
    assert!(!plan.summary.has_changes());
    assert_eq!(
        kinds(&plan),
        [("999999999999".to_string(), FindingKind::Orphaned)]
    );
    let remedy = &plan.stack_sets[0].findings[0].remedy;
    assert!(
        remedy.contains("--accounts 999999999999") && remedy.contains("--retain-stacks"),
        "{remedy}"
    );
}

#[test]
fn an_update_names_the_instances_that_stay_when_some_are_orphaned() {
    // 999999999999 left the organization: an unscoped UpdateStackSet would run in it. The
    // update names the largest rectangle of the others; the rest is brought up to date after.
    let fleet = fleet_with(fleet_text(
        &[R, "eu-west-1"],
        "organizational_units = [\"/A\"]",
    ));
    let mut old = stack_set(
        &fleet,
        "monitor",
        vec![
            instance("100000000001", R),
            instance("100000000001", "eu-west-1"),
            instance("100000000002", R),
            instance("100000000002", "eu-west-1"),
            instance("999999999999", R),
        ],
    );
    old.parameters.insert("Team".to_string(), "old".to_string());
    let state = observed(vec![old.clone()]);
    let inventory = two_accounts();
    // 100000000002 has no eu-west-1 instance to update after all: a second rectangle.
    let mut partial = old.clone();
    partial
        .instances
        .retain(|i| !(i.account == "100000000002" && i.region == "eu-west-1"));
    let plan = plan(&fleet, &inventory, &state).unwrap();
    let set = &plan.stack_sets[0];
    assert_eq!(set.action, StackSetAction::Update);
    let update = &set.operations[0];
    assert_eq!(update.action, OperationAction::UpdateStackSet);
    assert_eq!(update.accounts, ["100000000001", "100000000002"]);
    assert_eq!(update.regions, ["eu-west-1", R]);
    assert_eq!(update.instances, 4);
    assert_eq!(set.operations.len(), 1, "{:?}", set.operations);
    assert!(
        set.update_instances
            .iter()
            .all(|c| c.account != "999999999999"),
        "{:?}",
        set.update_instances
    );

    // Two rectangles: the larger is the update, the other follows as UpdateStackInstances.
    let plan =
        stackfleet_planner::plan::plan(&fleet, &inventory, &observed(vec![partial])).unwrap();
    let shapes: Vec<_> = plan.stack_sets[0]
        .operations
        .iter()
        .filter(|o| o.action != OperationAction::CreateInstances)
        .map(|o| (o.action, o.accounts.clone(), o.regions.clone()))
        .collect();
    assert_eq!(
        shapes,
        [
            (
                OperationAction::UpdateStackSet,
                vec!["100000000001".to_string(), "100000000002".to_string()],
                vec![R.to_string()]
            ),
            (
                OperationAction::UpdateInstances,
                vec!["100000000001".to_string()],
                vec!["eu-west-1".to_string()]
            ),
        ]
    );
    assert_eq!(plan.stack_sets[0].update_instances.len(), 3);

    // Without an orphan the update stays unscoped: every instance.
    let mut clean = old;
    clean.instances.retain(|i| i.account != "999999999999");
    let plan = stackfleet_planner::plan::plan(&fleet, &inventory, &observed(vec![clean])).unwrap();
    let update = &plan.stack_sets[0].operations[0];
    assert_eq!(update.action, OperationAction::UpdateStackSet);
    assert!(update.accounts.is_empty() && update.regions.is_empty());
    assert_eq!(update.instances, 4);
}

#[test]
fn a_stack_set_that_left_fleet_toml_stays_while_it_holds_an_orphaned_instance() {
    // StackSets deletes only an empty stack set: planning DeleteStackSet here would fail on
    // every apply. The deletable instance still goes, and the finding says why the set stays.
    let remaining = fleet_with(
        fleet_text(&[R], "organizational_units = [\"/A\"]")
            .replace("name = \"monitor\"", "name = \"other\""),
    );
    let old = stack_set(
        &remaining,
        "monitor",
        vec![instance("100000000001", R), instance("999999999999", R)],
    );
    let plan = plan(&remaining, &two_accounts(), &observed(vec![old])).unwrap();
    let set = plan
        .stack_sets
        .iter()
        .find(|s| s.name == "monitor")
        .expect("monitor is planned");
    assert_eq!(set.action, StackSetAction::None);
    assert_eq!(
        set.operations
            .iter()
            .map(|o| (o.action, o.accounts.clone()))
            .collect::<Vec<_>>(),
        [(
            OperationAction::DeleteInstances,
            vec!["100000000001".to_string()]
        )]
    );
    let [finding] = &set.findings[..] else {
        panic!("{:?}", set.findings)
    };
    assert_eq!(finding.kind, FindingKind::Orphaned);
    assert!(
        finding
            .remedy
            .contains("deletes it once this instance is gone"),
        "{}",
        finding.remedy
    );

    // Once only the orphaned instance is left, nothing is planned: no apply fails on it.
    let left = stack_set(&remaining, "monitor", vec![instance("999999999999", R)]);
    let later =
        stackfleet_planner::plan::plan(&remaining, &two_accounts(), &observed(vec![left])).unwrap();
    let set = later
        .stack_sets
        .iter()
        .find(|s| s.name == "monitor")
        .unwrap();
    assert_eq!(set.action, StackSetAction::None);
    assert!(set.operations.is_empty());
    // (`other`, new in fleet.toml, is the only change.)
    assert_eq!(
        (
            later.summary.delete_stack_sets,
            later.summary.delete_instances
        ),
        (0, 0)
    );
}

#[test]
fn a_service_managed_instance_recorded_under_an_ou_that_is_gone_is_stranded() {
    let fleet = fleet_with(
        fleet_text(&[R], "organizational_units = [\"/A\"]")
            .replace("self-managed", "service-managed"),
    );
    // 100000000002 sits in /C now, which fleet.toml does not target; its instance was deployed
    // through an OU the organization no longer has. 100000000003 moved to /C too, but the OU
    // recorded on its instance still exists: the delete names it.
    let inventory = org(&[
        ("100000000001", "/A", Active),
        ("100000000002", "/C", Active),
        ("100000000003", "/C", Active),
    ]);
    let mut gone = instance("100000000002", R);
    gone.organizational_unit_id = Some("ou-root-deleted1".to_string());
    let mut moved = instance("100000000003", R);
    moved.organizational_unit_id = Some("ou-root-aaaaaaaa".to_string());
    let mut kept = instance("100000000001", R);
    kept.organizational_unit_id = Some("ou-root-aaaaaaaa".to_string());
    let state = observed(vec![stack_set(&fleet, "monitor", vec![kept, gone, moved])]);
    let plan = plan(&fleet, &inventory, &state).unwrap();
    assert_eq!(
        ops(&plan),
        [(
            OperationAction::DeleteInstances,
            vec!["100000000003".to_string()],
            false
        )]
    );
    assert_eq!(
        plan.stack_sets[0].operations[0].organizational_units,
        ["ou-root-aaaaaaaa"]
    );
    assert_eq!(
        kinds(&plan),
        [("100000000002".to_string(), FindingKind::Stranded)]
    );
    let report = coverage(&fleet, &inventory, &state, false).unwrap();
    let cell = report.stack_sets[0]
        .cells
        .iter()
        .find(|c| c.account == "100000000002")
        .unwrap();
    assert_eq!(cell.status, CoverageStatus::Stranded);
}

#[test]
fn an_unknown_status_is_reported_and_never_counted_as_covered() {
    let fleet = fleet();
    let mut strange = instance("100000000002", R);
    strange.detailed_status = Some(DetailedStatus::from("SOMETHING_NEW"));
    let state = observed(vec![stack_set(
        &fleet,
        "monitor",
        vec![instance("100000000001", R), strange],
    )]);
    let plan = plan(&fleet, &two_accounts(), &state).unwrap();
    assert!(ops(&plan).is_empty());
    assert_eq!(
        kinds(&plan),
        [("100000000002".to_string(), FindingKind::UnknownStatus)]
    );
    let report = coverage(&fleet, &two_accounts(), &state, false).unwrap();
    let cell = report.stack_sets[0]
        .cells
        .iter()
        .find(|c| c.account == "100000000002")
        .unwrap();
    assert_eq!(cell.status, CoverageStatus::Unknown);
    assert!(cell.reason.contains("SOMETHING_NEW"), "{}", cell.reason);
    assert_eq!(report.stack_sets[0].covered, 1);
    assert_eq!(report.stack_sets[0].required, 2);
}

#[test]
fn retain_stacks_on_delete_is_recorded_as_a_tag_and_outlives_the_entry() {
    let retaining = fleet_with(fleet_text(&[R], "organizational_units = [\"/A\"]").replace(
        "permission_model = \"self-managed\"",
        "permission_model = \"self-managed\"\nretain_stacks_on_delete = true",
    ));
    // An existing stack set without the tag: the plan adds it, as a tag change reviewers see.
    let state = observed(vec![stack_set(
        &retaining,
        "monitor",
        vec![instance("100000000001", R), instance("100000000002", R)],
    )]);
    let planned = plan(&retaining, &two_accounts(), &state).unwrap();
    let change = planned.stack_sets[0]
        .changes
        .iter()
        .find(|c| c.field == format!("tags.{RETAIN_TAG}"))
        .expect("the retain tag is a change");
    assert_eq!(change.after.as_deref(), Some("true"));

    // The entry left fleet.toml (another stack set stays): its deletion keeps the stacks and
    // runs with [defaults.rollout].
    let remaining = fleet_with(
        fleet_text(&[R], "organizational_units = [\"/A\"]")
            .replace("name = \"monitor\"", "name = \"other\"")
            .replace(
                "\n\n[[stack_sets]]",
                "\n\n[defaults.rollout]\nmax_concurrent_count = 7\n\n[[stack_sets]]",
            ),
    );
    let mut old = stack_set(
        &remaining,
        "monitor",
        vec![instance("100000000001", R), instance("100000000002", R)],
    );
    old.tags.insert(RETAIN_TAG.to_string(), "true".to_string());
    let mut untagged = old.clone();
    untagged.name = "plain".to_string();
    untagged.tags.remove(RETAIN_TAG);
    let plan = plan(&remaining, &two_accounts(), &observed(vec![old, untagged])).unwrap();
    let deleted = |name: &str| {
        plan.stack_sets
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("{name} is planned"))
    };
    for (name, retain) in [("monitor", true), ("plain", false)] {
        let set = deleted(name);
        assert!(
            set.operations
                .iter()
                .all(|o| o.action == OperationAction::DeleteInstances && o.retain_stacks == retain),
            "{name}: {:?}",
            set.operations
        );
        assert_eq!(
            set.rollout.as_ref().and_then(|r| r.max_concurrent),
            Some(Limit::Count(7)),
            "{name}"
        );
    }
}

#[test]
fn the_guard_counts_instances_and_removed_resources_per_account() {
    let fleet = fleet_with(fleet_text(
        &[R, "eu-west-1"],
        "organizational_units = [\"/A\"]\nexclude_accounts = [\"100000000002\"]",
    ));
    // Deployed: the template with one more resource, which fleet.toml's template drops.
    let mut set = stack_set(
        &fleet,
        "monitor",
        vec![
            instance("100000000001", R),
            instance("100000000001", "eu-west-1"),
            instance("100000000002", R),
        ],
    );
    set.template_body = TEMPLATE.replace(
        "Resources:\n",
        "Resources:\n  Extra:\n    Type: AWS::SNS::Topic\n",
    );
    let plan = plan(&fleet, &two_accounts(), &observed(vec![set])).unwrap();
    let s = &plan.stack_sets[0];
    assert_eq!(s.removed_resources, ["Extra"]);
    let r = removals(&plan);
    assert_eq!(r.by_account["100000000001"].resources, 2);
    assert_eq!(r.by_account["100000000001"].instances, 0);
    assert_eq!(r.by_account["100000000002"].instances, 1);
    assert_eq!((r.total(), r.accounts()), (3, 2));
    assert_eq!(plan.summary.removed_resources, 2);
    let words = r.describe();
    assert!(
        words.contains("1 instance in 1 account")
            && words.contains("2 resources in 1 account (Extra from monitor)"),
        "{words}"
    );
}

#[test]
fn the_retain_tag_counts_against_the_fifty_tags_of_a_stack_set() {
    let tags: Vec<String> = (0..49).map(|i| format!("k{i} = \"v\"")).collect();
    let text = fleet_text(&[R], "organizational_units = [\"/A\"]").replace(
        "permission_model = \"self-managed\"",
        &format!(
            "permission_model = \"self-managed\"\ntags = {{ {} }}",
            tags.join(", ")
        ),
    );
    assert!(
        Dir::new().parse(&text).is_ok(),
        "49 tags and the fleet's own"
    );
    let retaining = text.replace(
        "permission_model = \"self-managed\"",
        "permission_model = \"self-managed\"\nretain_stacks_on_delete = true",
    );
    let error = Dir::new().parse(&retaining).unwrap_err().to_string();
    assert!(
        error.contains("at most 48 tags here (50 minus the 2 stackfleet adds)"),
        "{error}"
    );
}
