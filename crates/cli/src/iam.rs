//! Every AWS operation stackfleet makes, in one table, and the least-privilege IAM policies
//! derived from it (`stackfleet iam-policy`). A change that adds a call must add its row here: the
//! end-to-end test `iam_policy` runs the commands through a counting proxy and fails on any
//! operation the matching policy does not allow.

use serde_json::{Value, json};

/// Which policy needs an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// plan, coverage, drift --no-detect, doctor (and init): reads only.
    Read,
    /// apply and drift detection: what changes stack sets.
    Write,
}

/// Which callers make a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    /// Both the management account and a delegated administrator.
    Any,
    /// Only the management account (`call_as = "self"`).
    Management,
    /// Only a delegated administrator (`call_as = "delegated-admin"`).
    DelegatedAdmin,
}

/// One operation stackfleet makes.
#[derive(Debug, Clone, Copy)]
pub struct Call {
    /// The IAM action, `service:Operation`.
    pub action: &'static str,
    /// Which policy allows it.
    pub level: Level,
    /// Which callers make it.
    pub caller: Caller,
}

const fn call(action: &'static str, level: Level, caller: Caller) -> Call {
    Call {
        action,
        level,
        caller,
    }
}

/// Every AWS operation of stackfleet. STS `GetCallerIdentity` needs no permission, and
/// `sts:AssumeRole` (`--assume-role`) is a permission of the identity that assumes the role, not
/// of the role, so neither is here.
pub const CALLS: &[Call] = &[
    // The organization (planner org::read_inventory): plan, apply, coverage, drift, doctor, init.
    call("organizations:DescribeOrganization", R, ANY),
    call("organizations:ListRoots", R, ANY),
    call("organizations:ListOrganizationalUnitsForParent", R, ANY),
    call("organizations:ListAccountsForParent", R, ANY),
    // The fleet's stack sets (executor observe): plan, apply, coverage, drift, doctor.
    call("cloudformation:ListStackSets", R, ANY),
    call("cloudformation:DescribeStackSet", R, ANY),
    call("cloudformation:ListStackInstances", R, ANY),
    // Operations and drift results (executor operation, drift): apply, drift.
    call("cloudformation:ListStackSetOperations", R, ANY),
    call("cloudformation:DescribeStackSetOperation", R, ANY),
    call("cloudformation:ListStackSetOperationResults", R, ANY),
    call("cloudformation:ListStackInstanceResourceDrifts", R, ANY),
    // CloudTrail delivery (cli checks): coverage, doctor.
    call("cloudtrail:DescribeTrails", R, ANY),
    call("cloudtrail:GetTrailStatus", R, ANY),
    call("cloudtrail:GetEventSelectors", R, ANY),
    // doctor's StackSets checks, and the enabled regions (doctor, init; plan, apply and coverage
    // per wanted account when fleet.toml governs an opt-in region, cli session::region_opt_in).
    call(
        "organizations:ListAWSServiceAccessForOrganization",
        R,
        MANAGEMENT,
    ),
    call("organizations:ListDelegatedAdministrators", R, DELEGATED),
    call("account:ListRegions", R, ANY),
    // What apply (executor apply) and drift detection (executor drift) change.
    call("cloudformation:CreateStackSet", W, ANY),
    call("cloudformation:UpdateStackSet", W, ANY),
    call("cloudformation:DeleteStackSet", W, ANY),
    call("cloudformation:CreateStackInstances", W, ANY),
    call("cloudformation:UpdateStackInstances", W, ANY),
    call("cloudformation:DeleteStackInstances", W, ANY),
    call("cloudformation:DetectStackSetDrift", W, ANY),
];

const R: Level = Level::Read;
const W: Level = Level::Write;
const ANY: Caller = Caller::Any;
const MANAGEMENT: Caller = Caller::Management;
const DELEGATED: Caller = Caller::DelegatedAdmin;

/// The default administration role of self-managed stack sets; stackfleet passes it (or the
/// fleet's `administration_role_arn`) to CloudFormation when it creates or updates one.
const ADMINISTRATION_ROLE: &str = "arn:aws:iam::*:role/AWSCloudFormationStackSetAdministrationRole";

/// The actions allowed to `caller` up to `level`, sorted.
pub fn actions(level: Level, delegated_admin: bool) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = CALLS
        .iter()
        .filter(|c| level == Level::Write || c.level == Level::Read)
        .filter(|c| match c.caller {
            Caller::Any => true,
            Caller::Management => !delegated_admin,
            Caller::DelegatedAdmin => delegated_admin,
        })
        .map(|c| c.action)
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// The IAM policy document for `level` and the caller.
pub fn policy(level: Level, delegated_admin: bool) -> Value {
    let all = actions(level, delegated_admin);
    let (read, write): (Vec<&str>, Vec<&str>) = all.into_iter().partition(|a| {
        CALLS
            .iter()
            .any(|c| c.action == *a && c.level == Level::Read)
    });
    let mut statements = vec![json!({
        "Sid": "StackfleetRead",
        "Effect": "Allow",
        "Action": read,
        "Resource": "*",
    })];
    if !write.is_empty() {
        statements.push(json!({
            "Sid": "StackfleetApply",
            "Effect": "Allow",
            "Action": write,
            "Resource": "*",
        }));
        // A delegated administrator manages service-managed stack sets only, which need no
        // administration role.
        if !delegated_admin {
            statements.push(json!({
                "Sid": "PassStackSetAdministrationRole",
                "Effect": "Allow",
                "Action": ["iam:PassRole"],
                "Resource": ADMINISTRATION_ROLE,
                "Condition": {"StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}},
            }));
        }
    }
    json!({"Version": "2012-10-17", "Statement": statements})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_read_action(action: &str) -> bool {
        let operation = action.split(':').nth(1).unwrap_or("");
        ["Describe", "List", "Get"]
            .iter()
            .any(|p| operation.starts_with(p))
    }

    #[test]
    fn the_read_policy_allows_no_mutating_action() {
        for delegated in [false, true] {
            let policy = policy(Level::Read, delegated);
            let statements = policy["Statement"].as_array().unwrap();
            assert_eq!(statements.len(), 1, "{policy:#}");
            for action in statements[0]["Action"].as_array().unwrap() {
                let action = action.as_str().unwrap();
                assert!(is_read_action(action), "{action} in the read policy");
            }
        }
    }

    #[test]
    fn the_apply_policy_adds_exactly_the_write_calls() {
        let apply = actions(Level::Write, false);
        let read = actions(Level::Read, false);
        let added: Vec<&&str> = apply.iter().filter(|a| !read.contains(a)).collect();
        assert!(added.iter().all(|a| !is_read_action(a)), "{added:?}");
        assert!(added.contains(&&"cloudformation:CreateStackInstances"));
        assert!(read.iter().all(|a| apply.contains(a)));
        // The callers differ only by their doctor check.
        assert!(read.contains(&"organizations:ListAWSServiceAccessForOrganization"));
        let delegated = actions(Level::Read, true);
        assert!(delegated.contains(&"organizations:ListDelegatedAdministrators"));
        assert!(!delegated.contains(&"organizations:ListAWSServiceAccessForOrganization"));
    }

    #[test]
    fn policies_are_iam_json() {
        for level in [Level::Read, Level::Write] {
            for delegated in [false, true] {
                let p = policy(level, delegated);
                assert_eq!(p["Version"], "2012-10-17");
                for s in p["Statement"].as_array().unwrap() {
                    assert_eq!(s["Effect"], "Allow");
                    assert!(s["Resource"].is_string());
                    let actions = s["Action"].as_array().unwrap();
                    assert!(!actions.is_empty());
                    for a in actions {
                        let a = a.as_str().unwrap();
                        let (service, op) = a.split_once(':').unwrap();
                        assert!(
                            !service.is_empty() && op.chars().next().unwrap().is_ascii_uppercase(),
                            "{a}"
                        );
                    }
                }
            }
        }
    }
}
