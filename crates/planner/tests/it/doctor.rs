//! doctor's findings and effective coverage on plain values.

use std::collections::BTreeMap;

use stackfleet_planner::Observed;
use stackfleet_planner::coverage::{CoverageStatus, coverage, with_delivery};
use stackfleet_planner::doctor::{Facts, Level, ReadError, fails, findings};
use stackfleet_planner::fleet::FLEET_TAG;
use stackfleet_planner::inventory::AccountStatus::Active;
use stackfleet_planner::monitor::{RegionDelivery, Selection, Selectors, Trail};
use stackfleet_planner::observed::ObservedStackSet;

use crate::common::{Dir, fleet_text, instance, org};

fn trail(multi_region: bool, logging: bool) -> Trail {
    Trail {
        name: "org".to_string(),
        arn: "arn:aws:cloudtrail:us-east-1:111111111111:trail/org".to_string(),
        home_region: "us-east-1".to_string(),
        multi_region,
        organization: true,
        logging: Ok(logging),
        selectors: Ok(Selectors::Basic(vec![])),
    }
}

fn facts(trails: Vec<Trail>) -> Facts {
    Facts {
        caller_account: "111111111111".to_string(),
        trusted_access: None,
        delegated_admins: None,
        probes: vec![],
        trails: Ok(trails),
        opt_in: None,
    }
}

fn level_of(found: &[stackfleet_planner::doctor::Finding], check: &str, subject: &str) -> Level {
    found
        .iter()
        .find(|f| f.check == check && f.subject == subject)
        .unwrap_or_else(|| panic!("no {check} {subject} in {found:#?}"))
        .level
}

#[test]
fn stacksets_access_opt_in_and_unreadable_checks() {
    let fleet = Dir::new()
        .parse(&fleet_text(
            &["us-east-1", "af-south-1"],
            "accounts = [\"222222222222\"]",
        ))
        .unwrap();
    let mut f = facts(vec![trail(true, true)]);
    f.trusted_access = Some(Ok(false));
    f.delegated_admins = Some(Ok(vec!["999999999999".to_string()]));
    f.opt_in = Some(Ok(BTreeMap::from([
        (
            "111111111111".to_string(),
            BTreeMap::from([
                ("us-east-1".to_string(), "ENABLED_BY_DEFAULT".to_string()),
                ("af-south-1".to_string(), "ENABLED".to_string()),
            ]),
        ),
        (
            "222222222222".to_string(),
            BTreeMap::from([
                ("us-east-1".to_string(), "ENABLED_BY_DEFAULT".to_string()),
                ("af-south-1".to_string(), "DISABLED".to_string()),
            ]),
        ),
    ])));
    f.probes = vec![(
        "stack sets".to_string(),
        Err(ReadError {
            action: "cloudformation:ListStackSets".to_string(),
            code: Some("AccessDenied".to_string()),
            reason: "AccessDenied: no".to_string(),
        }),
    )];
    let found = findings(&fleet, &f);
    assert_eq!(level_of(&found, "trusted-access", ""), Level::Fail);
    assert_eq!(
        level_of(&found, "delegated-admin", "111111111111"),
        Level::Fail
    );
    assert_eq!(level_of(&found, "permissions", "stack sets"), Level::Fail);
    assert_eq!(
        level_of(&found, "opt-in-regions", "222222222222 af-south-1"),
        Level::Fail
    );
    assert!(!found.iter().any(|f| f.subject == "111111111111 af-south-1"));
    assert_eq!(
        level_of(&found, "administration-role", "monitor"),
        Level::Unchecked
    );
    assert!(fails(&found));

    // Unreadable trails and opt-in status are unchecked, not failures.
    let mut f = facts(vec![]);
    let denied = ReadError {
        action: "cloudtrail:DescribeTrails".to_string(),
        code: Some("AccessDeniedException".to_string()),
        reason: "denied".to_string(),
    };
    f.trails = Err(denied.clone());
    f.opt_in = Some(Err(denied));
    let found = findings(&fleet, &f);
    assert_eq!(level_of(&found, "cloudtrail", ""), Level::Unchecked);
    assert_eq!(level_of(&found, "opt-in-regions", ""), Level::Unchecked);
    assert!(
        found
            .iter()
            .all(|f| f.fix.is_none() || f.level != Level::Ok)
    );
    assert!(!fails(&found));
}

#[test]
fn a_single_region_trail_leaves_other_regions_blind_and_counts_them_uncovered() {
    let fleet = Dir::new()
        .parse(&fleet_text(
            &["us-east-1", "eu-west-1"],
            "organizational_units = [\"/A\"]",
        ))
        .unwrap();
    let inventory = org(&[
        ("222222222222", "/A", Active),
        ("333333333333", "/A", Active),
    ]);
    let spec = &fleet.stack_sets[0];
    let set = ObservedStackSet {
        name: spec.name.clone(),
        id: format!("{}:1", spec.name),
        description: spec.description.clone(),
        template_body: spec.template.body.clone(),
        parameters: spec.parameters.clone(),
        // As apply leaves it: fleet.toml's tags and this fleet's tag, so nothing is pending.
        tags: spec
            .tags
            .clone()
            .into_iter()
            .chain([(FLEET_TAG.to_string(), fleet.name.clone())])
            .collect(),
        capabilities: spec.capabilities.clone(),
        permission_model: spec.permission_model,
        administration_role_arn: None,
        execution_role_name: None,
        auto_deployment: None,
        managed_execution: false,
        instances: ["222222222222", "333333333333"]
            .iter()
            .flat_map(|a| ["us-east-1", "eu-west-1"].map(|r| instance(a, r)))
            .collect(),
    };
    let observed = Observed {
        stack_sets: [(set.name.clone(), set)].into(),
    };
    let report = coverage(&fleet, &inventory, &observed, false).unwrap();
    assert_eq!(report.summary.percent, 100.0);

    let trails = Ok(vec![trail(false, true)]);
    let delivery: BTreeMap<String, RegionDelivery> = ["us-east-1", "eu-west-1"]
        .iter()
        .map(|r| {
            (
                r.to_string(),
                stackfleet_planner::monitor::delivery(&trails, r),
            )
        })
        .collect();
    let effective = with_delivery(report.clone(), &inventory, &delivery, false);
    assert_eq!(effective.summary.percent, 50.0);
    assert_eq!(effective.summary.by_status[&CoverageStatus::Blind], 2);
    let us = effective.stack_sets[0]
        .cells
        .iter()
        .find(|c| c.region == "us-east-1" && c.status == CoverageStatus::Covered)
        .unwrap();
    assert!(
        us.finding
            .as_deref()
            .is_some_and(|f| f.contains("PutObjectAcl"))
    );
    assert_eq!(
        level_of(
            &findings(&fleet, &facts(vec![trail(false, true)])),
            "cloudtrail",
            "eu-west-1"
        ),
        Level::Fail
    );

    // No organization trail: unverified, covered unless the trail is required.
    let unknown: BTreeMap<String, RegionDelivery> = ["us-east-1", "eu-west-1"]
        .iter()
        .map(|r| {
            (
                r.to_string(),
                RegionDelivery::Unverified {
                    reason: "no organization trail".to_string(),
                },
            )
        })
        .collect();
    let lenient = with_delivery(report.clone(), &inventory, &unknown, false);
    assert_eq!(lenient.summary.percent, 100.0);
    assert_eq!(lenient.summary.by_status[&CoverageStatus::Unverified], 4);
    let strict = with_delivery(report.clone(), &inventory, &unknown, true);
    assert_eq!(strict.summary.percent, 0.0);
    let uncovered: Vec<&str> = strict
        .summary
        .uncovered_accounts
        .iter()
        .map(|a| a.account.as_str())
        .collect();
    assert!(uncovered.contains(&"222222222222") && uncovered.contains(&"333333333333"));

    // Delivered everywhere with S3 object writes: covered and no finding.
    let healthy: BTreeMap<String, RegionDelivery> = ["us-east-1", "eu-west-1"]
        .iter()
        .map(|r| {
            (
                r.to_string(),
                RegionDelivery::Delivered {
                    trail: "org".to_string(),
                    object_acl: Selection::All,
                },
            )
        })
        .collect();
    let good = with_delivery(report, &inventory, &healthy, true);
    assert_eq!(good.summary.percent, 100.0);
    assert!(good.stack_sets[0].cells.iter().all(|c| c.finding.is_none()));
}
