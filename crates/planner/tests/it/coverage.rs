//! Coverage on plain values: one status per account × region, with the counts that CI gates on.

use stackfleet_planner::coverage::{Coverage, CoverageStatus, coverage};
use stackfleet_planner::inventory::AccountStatus::{Active, Suspended};
use stackfleet_planner::observed::{InstanceStatus, ObservedStackSet};
use stackfleet_planner::{Fleet, Observed};

use crate::common::{Dir, fleet_text, instance, org};

fn status(report: &Coverage, account: &str, region: &str) -> (CoverageStatus, String) {
    let cell = report.stack_sets[0]
        .cells
        .iter()
        .find(|c| c.account == account && c.region == region)
        .unwrap_or_else(|| panic!("no cell {account} {region}"));
    (cell.status, cell.reason.clone())
}

fn deployed(
    fleet: &Fleet,
    instances: Vec<stackfleet_planner::observed::ObservedInstance>,
) -> Observed {
    let spec = &fleet.stack_sets[0];
    let set = ObservedStackSet {
        name: spec.name.clone(),
        id: "id".into(),
        description: None,
        template_body: spec.template.body.clone(),
        parameters: spec.parameters.clone(),
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
        instances,
    };
    Observed {
        stack_sets: [(set.name.clone(), set)].into(),
    }
}

#[test]
fn every_status_with_its_reason() {
    let inventory = org(&[
        ("100000000001", "/A", Active),    // covered in r1, missing in r2
        ("100000000002", "/A", Active),    // failed in r1, outdated in r2
        ("100000000003", "/A/B", Active),  // drifted in r1; instance in an ungoverned region
        ("100000000004", "/A", Suspended), // suspended
        ("100000000005", "/A", Active),    // excluded, with a stale instance in r1
        ("100000000006", "/C", Active),    // untargeted
        ("100000000007", "/A", Active),    // skipped by StackSets while suspended, active again
    ]);
    let fleet = Dir::new()
        .parse(&fleet_text(
            &["us-east-1", "eu-west-1"],
            "organizational_units = [\"/A\"]\nexclude_accounts = [\"100000000005\"]",
        ))
        .unwrap();
    let mut failed = instance("100000000002", "us-east-1");
    failed.status = InstanceStatus::Outdated;
    failed.detailed_status = Some("FAILED".into());
    failed.status_reason = Some(
        "Account 100000000002 should have 'AWSCloudFormationStackSetExecutionRole' role".into(),
    );
    let mut pending = instance("100000000002", "eu-west-1");
    pending.status = InstanceStatus::Outdated;
    pending.detailed_status = Some("PENDING".into());
    let mut drifted = instance("100000000003", "us-east-1");
    drifted.drift_status = Some("DRIFTED".into());
    let mut skipped = instance("100000000007", "us-east-1");
    skipped.status = InstanceStatus::Outdated;
    skipped.detailed_status = Some("SKIPPED_SUSPENDED_ACCOUNT".into());
    let observed = deployed(
        &fleet,
        vec![
            instance("100000000001", "us-east-1"),
            failed,
            pending,
            drifted,
            instance("100000000003", "eu-west-1"),
            instance("100000000003", "ap-south-1"),
            instance("100000000005", "us-east-1"),
            skipped,
            instance("999999999999", "us-east-1"),
        ],
    );
    let report = coverage(&fleet, &inventory, &observed, false).unwrap();
    assert_eq!(
        status(&report, "100000000001", "us-east-1").0,
        CoverageStatus::Covered
    );
    assert_eq!(
        status(&report, "100000000001", "eu-west-1").0,
        CoverageStatus::Missing
    );
    let (s, reason) = status(&report, "100000000002", "us-east-1");
    assert_eq!(s, CoverageStatus::Failed);
    assert!(
        reason.contains("AWSCloudFormationStackSetExecutionRole"),
        "{reason}"
    );
    assert_eq!(
        status(&report, "100000000002", "eu-west-1").0,
        CoverageStatus::Outdated
    );
    assert_eq!(
        status(&report, "100000000003", "us-east-1").0,
        CoverageStatus::Drifted
    );
    let (s, reason) = status(&report, "100000000003", "ap-south-1");
    assert_eq!(s, CoverageStatus::Unmanaged);
    assert!(reason.contains("region is not governed"), "{reason}");
    assert_eq!(
        status(&report, "100000000004", "us-east-1").0,
        CoverageStatus::Suspended
    );
    let (s, reason) = status(&report, "100000000005", "us-east-1");
    assert_eq!(s, CoverageStatus::Unmanaged);
    assert!(reason.contains("excludes"), "{reason}");
    assert_eq!(
        status(&report, "100000000005", "eu-west-1").0,
        CoverageStatus::Excluded
    );
    assert_eq!(
        status(&report, "100000000006", "us-east-1").0,
        CoverageStatus::Untargeted
    );
    // Skipped while suspended, and the account is active again: apply runs it again.
    let (s, reason) = status(&report, "100000000007", "us-east-1");
    assert_eq!(s, CoverageStatus::Outdated);
    assert!(reason.contains("active again"), "{reason}");
    // Never deleted: reported as orphaned, with the remedy.
    let (s, reason) = status(&report, "999999999999", "us-east-1");
    assert_eq!(s, CoverageStatus::Orphaned);
    assert!(reason.contains("no longer in the organization"), "{reason}");
    assert!(reason.contains("--retain-stacks"), "{reason}");

    // Required: accounts 1, 2, 3, 7 (active, targeted, not excluded) × 2 regions; 7 is active in
    // the organization but StackSets skipped it, so it counts as required and uncovered.
    let set = &report.stack_sets[0];
    assert_eq!(set.required, 8);
    assert_eq!(set.covered, 2, "1/us-east-1 and 3/eu-west-1");
    assert_eq!(set.percent, 25.0);
    // Only governed regions and real instances make cells.
    assert!(
        set.cells
            .iter()
            .all(|c| c.region != "ap-south-1" || c.account == "100000000003")
    );

    let uncovered: Vec<&str> = report
        .summary
        .uncovered_accounts
        .iter()
        .map(|a| a.account.as_str())
        .collect();
    assert_eq!(
        uncovered,
        [
            "000000000001",
            "100000000002",
            "100000000005",
            "100000000006",
            "100000000007"
        ]
    );
    let by_ou: Vec<(&str, usize, usize)> = report
        .summary
        .organizational_units
        .iter()
        .map(|o| (o.ou_path.as_str(), o.required, o.covered))
        .collect();
    assert_eq!(by_ou, [("/", 8, 2), ("/A", 8, 2), ("/A/B", 2, 1)]);
}

#[test]
fn the_management_account_is_not_deployable_under_service_managed() {
    let inventory = org(&[("100000000001", "/A", Active)]);
    let fleet = Dir::new()
        .parse(
            &fleet_text(&["us-east-1"], "organizational_units = [\"/\"]")
                .replace("self-managed", "service-managed"),
        )
        .unwrap();
    let report = coverage(&fleet, &inventory, &Observed::default(), false).unwrap();
    let (s, reason) = status(&report, "000000000001", "us-east-1");
    assert_eq!(s, CoverageStatus::NotDeployable);
    assert!(reason.contains("never deploy"), "{reason}");
    assert_eq!(report.stack_sets[0].required, 1);
}

#[test]
fn require_all_accounts_counts_untargeted_accounts() {
    let inventory = org(&[
        ("100000000001", "/A", Active),
        ("100000000002", "/C", Active),
    ]);
    let fleet = Dir::new()
        .parse(&fleet_text(
            &["us-east-1"],
            "organizational_units = [\"/A\"]",
        ))
        .unwrap();
    let observed = deployed(&fleet, vec![instance("100000000001", "us-east-1")]);
    let loose = coverage(&fleet, &inventory, &observed, false).unwrap();
    assert_eq!(
        (
            loose.summary.required,
            loose.summary.covered,
            loose.summary.percent
        ),
        (1, 1, 100.0)
    );
    let strict = coverage(&fleet, &inventory, &observed, true).unwrap();
    // The management account and 100000000002 are untargeted and now required.
    assert_eq!((strict.summary.required, strict.summary.covered), (3, 1));
    assert_eq!(strict.summary.percent, 33.3);
}

#[test]
fn nothing_required_proves_nothing() {
    // Issue 12 item 9: zero required cells read as 100% let a fleet that selects nothing pass.
    let inventory = org(&[("100000000001", "/A", Suspended)]);
    let fleet = Dir::new()
        .parse(&fleet_text(
            &["us-east-1"],
            "organizational_units = [\"/A\"]",
        ))
        .unwrap();
    let report = coverage(&fleet, &inventory, &Observed::default(), false).unwrap();
    assert_eq!(report.summary.required, 0);
    assert_eq!(report.summary.percent, 0.0);
    assert_eq!(report.stack_sets[0].percent, 0.0);
}

#[test]
fn a_current_instance_of_a_stack_set_that_differs_from_fleet_toml_is_outdated() {
    let inventory = org(&[("100000000001", "/A", Active)]);
    let fleet = Dir::new()
        .parse(&fleet_text(
            &["us-east-1"],
            "organizational_units = [\"/A\"]",
        ))
        .unwrap();
    let in_step = deployed(&fleet, vec![instance("100000000001", "us-east-1")]);
    let report = coverage(&fleet, &inventory, &in_step, false).unwrap();
    assert_eq!(
        status(&report, "100000000001", "us-east-1").0,
        CoverageStatus::Covered
    );

    // The template and a parameter changed in fleet.toml; StackSets still says CURRENT, for the
    // old template.
    let mut stale = in_step.clone();
    let set = stale.stack_sets.values_mut().next().unwrap();
    set.template_body.push_str("\n# an older revision\n");
    let key = set.parameters.keys().next().cloned().unwrap();
    set.parameters.insert(key.clone(), "old".into());
    let report = coverage(&fleet, &inventory, &stale, false).unwrap();
    let (s, reason) = status(&report, "100000000001", "us-east-1");
    assert_eq!(s, CoverageStatus::Outdated);
    assert_eq!(
        reason,
        format!("fleet.toml changes template, parameters.{key} of the stack set; apply updates it")
    );
    assert_eq!((report.summary.required, report.summary.covered), (1, 0));

    // A change that does not reach the stacks (the description) leaves the instance covered.
    let mut described = in_step.clone();
    described
        .stack_sets
        .values_mut()
        .next()
        .unwrap()
        .description = Some("other".into());
    let report = coverage(&fleet, &inventory, &described, false).unwrap();
    assert_eq!(
        status(&report, "100000000001", "us-east-1").0,
        CoverageStatus::Covered
    );
}
