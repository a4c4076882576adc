//! `stackfleet doctor`'s decisions: from what the reads found ([`Facts`]) to findings, each with
//! what to do. Pure; the CLI reads and renders.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::fleet::{CallAs, Fleet, PermissionModel};
use crate::monitor::{self, RegionDelivery, Selection, Trail};

/// The service principal of StackSets in Organizations (trusted access, delegated administrators).
pub const STACKSETS_PRINCIPAL: &str = "member.org.stacksets.cloudformation.amazonaws.com";

/// What a read found: a value, or why there is none (the AWS error code and message).
pub type Read<T> = Result<T, ReadError>;

/// A read that failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadError {
    /// The AWS operation, as `service:Operation` (the IAM action it needs).
    pub action: String,
    /// The AWS error code, when AWS gave one.
    pub code: Option<String>,
    /// The whole reason, in words.
    pub reason: String,
}

impl ReadError {
    /// Whether AWS refused the caller (a missing permission rather than a missing thing).
    pub fn is_access_denied(&self) -> bool {
        self.code.as_deref().is_some_and(|c| {
            matches!(
                c,
                "AccessDenied" | "AccessDeniedException" | "UnauthorizedOperation"
            )
        })
    }
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.action, self.reason)
    }
}

/// An account's opt-in status of each governed region (`ListRegions`'s `RegionOptStatus`).
pub type OptIn = BTreeMap<String, String>;

/// Everything doctor read; `None` where a check does not apply to this fleet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    /// The caller's account.
    pub caller_account: String,
    /// Whether StackSets trusted access is enabled in Organizations (service-managed fleets).
    pub trusted_access: Option<Read<bool>>,
    /// The delegated administrators of StackSets (when `call_as = "delegated-admin"`).
    pub delegated_admins: Option<Read<Vec<String>>>,
    /// The reads plan and coverage make (organization, stack sets): `(what, result)`.
    pub probes: Vec<(String, Read<()>)>,
    /// The trails the caller sees, with status and selectors.
    pub trails: Read<Vec<Trail>>,
    /// Opt-in status of the governed regions in the caller's account, then per target account
    /// (read only when a governed region is an opt-in region).
    pub opt_in: Option<Read<BTreeMap<String, OptIn>>>,
}

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Level {
    /// It holds.
    Ok,
    /// It could not be checked (not readable, or not read); does not fail doctor.
    Unchecked,
    /// It does not hold: the fleet or its alerts are affected. doctor exits 2.
    Fail,
}

impl Level {
    /// How the level is written in reports.
    pub fn label(self) -> &'static str {
        match self {
            Level::Ok => "ok",
            Level::Unchecked => "unchecked",
            Level::Fail => "FAIL",
        }
    }
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// The check: `trusted-access`, `delegated-admin`, `administration-role`, `permissions`,
    /// `cloudtrail`, `s3-data-events`, `opt-in-regions`.
    pub check: String,
    /// How it came out.
    pub level: Level,
    /// What it is about (a region, an account, a trail), or empty.
    pub subject: String,
    /// What was found.
    pub message: String,
    /// What to do, when something does not hold.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

fn finding(
    check: &str,
    level: Level,
    subject: &str,
    message: String,
    fix: Option<&str>,
) -> Finding {
    Finding {
        check: check.to_string(),
        level,
        subject: subject.to_string(),
        message,
        fix: fix.map(str::to_string),
    }
}

/// The governed regions of the whole fleet, sorted.
pub fn governed_regions(fleet: &Fleet) -> Vec<String> {
    let mut regions: Vec<String> = fleet
        .stack_sets
        .iter()
        .flat_map(|s| s.regions.iter().cloned())
        .collect();
    regions.sort();
    regions.dedup();
    regions
}

/// The findings for `fleet` from `facts`, in check order.
pub fn findings(fleet: &Fleet, facts: &Facts) -> Vec<Finding> {
    let mut out = Vec::new();
    stacksets_checks(fleet, facts, &mut out);
    for (what, read) in &facts.probes {
        out.push(match read {
            Ok(()) => finding("permissions", Level::Ok, what, "readable".to_string(), None),
            Err(e) => finding(
                "permissions",
                Level::Fail,
                what,
                format!("plan and coverage cannot read it: {e}"),
                Some("allow the action for the role stackfleet runs as (`stackfleet iam-policy --for plan`)"),
            ),
        });
    }
    trail_checks(fleet, facts, &mut out);
    opt_in_checks(fleet, facts, &mut out);
    out
}

fn stacksets_checks(fleet: &Fleet, facts: &Facts, out: &mut Vec<Finding>) {
    if let Some(read) = &facts.trusted_access {
        out.push(match read {
            Ok(true) => finding(
                "trusted-access",
                Level::Ok,
                "",
                "StackSets trusted access is enabled in Organizations".to_string(),
                None,
            ),
            Ok(false) => finding(
                "trusted-access",
                Level::Fail,
                "",
                "StackSets trusted access is not enabled: service-managed stack sets cannot deploy".to_string(),
                Some("in the management account: CloudFormation console > StackSets > Activate trusted access (or `aws organizations enable-aws-service-access --service-principal member.org.stacksets.cloudformation.amazonaws.com`)"),
            ),
            Err(e) => unreadable("trusted-access", "", e),
        });
    }
    if let Some(read) = &facts.delegated_admins {
        out.push(match read {
            Ok(admins) if admins.contains(&facts.caller_account) => finding(
                "delegated-admin",
                Level::Ok,
                &facts.caller_account,
                "the caller's account is a registered StackSets delegated administrator".to_string(),
                None,
            ),
            Ok(_) => finding(
                "delegated-admin",
                Level::Fail,
                &facts.caller_account,
                "call_as = \"delegated-admin\" but the caller's account is not a registered StackSets delegated administrator".to_string(),
                Some("from the management account: `aws organizations register-delegated-administrator --service-principal member.org.stacksets.cloudformation.amazonaws.com --account-id ACCOUNT`, or set call_as = \"self\""),
            ),
            Err(e) => unreadable("delegated-admin", &facts.caller_account, e),
        });
    }
    for spec in &fleet.stack_sets {
        if spec.permission_model != PermissionModel::SelfManaged {
            continue;
        }
        let role = spec
            .administration_role_arn
            .clone()
            .unwrap_or_else(|| "AWSCloudFormationStackSetAdministrationRole".to_string());
        // stackfleet carries no IAM client; a role that is missing shows at the first apply.
        out.push(finding(
            "administration-role",
            Level::Unchecked,
            &spec.name,
            format!("self-managed: the administration role {role} is not checked (stackfleet makes no IAM calls)"),
            Some("`aws iam get-role --role-name` it; each target needs the execution role too"),
        ));
    }
    if fleet.organization.call_as == CallAs::DelegatedAdmin
        && fleet
            .stack_sets
            .iter()
            .any(|s| s.permission_model == PermissionModel::SelfManaged)
    {
        // A delegated administrator sees service-managed stack sets only as DELEGATED_ADMIN;
        // stackfleet calls self-managed ones as SELF, in the caller's own account.
        out.push(finding(
            "delegated-admin",
            Level::Ok,
            "",
            "the self-managed stack sets are called as SELF: they live in this delegated administrator's own account, not the management account".to_string(),
            Some("this account needs the administration role, and each target an execution role trusting this account"),
        ));
    }
}

fn unreadable(check: &str, subject: &str, e: &ReadError) -> Finding {
    let fix = if e.is_access_denied() {
        format!("allow {} to check this", e.action)
    } else {
        "retry; -vv shows the calls".to_string()
    };
    Finding {
        check: check.to_string(),
        level: Level::Unchecked,
        subject: subject.to_string(),
        message: format!("could not be read: {e}"),
        fix: Some(fix),
    }
}

fn trail_checks(fleet: &Fleet, facts: &Facts, out: &mut Vec<Finding>) {
    let trails = match &facts.trails {
        Ok(t) => Ok(t.clone()),
        Err(e) => {
            out.push(unreadable("cloudtrail", "", e));
            return;
        }
    };
    let any_org_trail = trails
        .as_ref()
        .is_ok_and(|t| t.iter().any(|t| t.organization));
    for region in governed_regions(fleet) {
        match monitor::delivery(&trails, &region) {
            RegionDelivery::Delivered { trail, object_acl } => {
                out.push(finding(
                    "cloudtrail",
                    Level::Ok,
                    &region,
                    format!("organization trail {trail} is logging and records write management events"),
                    None,
                ));
                let (level, message) = match object_acl {
                    Selection::All => (Level::Ok, format!("{trail} selects S3 object write data events: PutObjectAcl alerts")),
                    Selection::Some(why) => (Level::Fail, format!("{trail} selects S3 object data events for some objects only ({why}): PutObjectAcl elsewhere does not alert")),
                    Selection::None => (Level::Fail, format!("{trail} does not select S3 object write data events: PutObjectAcl does not alert (the three bucket calls still do)")),
                };
                let fix = (level == Level::Fail).then_some(
                    "add an advanced event selector: eventCategory = Data, resources.type = AWS::S3::Object, readOnly = false (docs/monitor.md)",
                );
                out.push(finding("s3-data-events", level, &region, message, fix));
            }
            RegionDelivery::Blind { reason } => out.push(finding(
                "cloudtrail",
                Level::Fail,
                &region,
                format!("blind: {reason}"),
                Some("make the organization trail multi-region, logging (`aws cloudtrail start-logging`), and recording write management events"),
            )),
            // With organization trails present, unverified means their status or selectors
            // were unreadable; without any, nothing records the fleet's accounts that doctor
            // can see, which is the gap to fix.
            RegionDelivery::Unverified { reason } => out.push(finding(
                "cloudtrail",
                if any_org_trail { Level::Unchecked } else { Level::Fail },
                &region,
                format!("unverified: {reason}"),
                Some("create a multi-region organization trail from the management account (or a CloudTrail delegated administrator); docs/monitor.md"),
            )),
        }
    }
}

fn opt_in_checks(fleet: &Fleet, facts: &Facts, out: &mut Vec<Finding>) {
    let Some(read) = &facts.opt_in else {
        return;
    };
    let by_account = match read {
        Ok(map) => map,
        Err(e) => {
            out.push(unreadable("opt-in-regions", "", e));
            return;
        }
    };
    let regions = governed_regions(fleet);
    let mut all_enabled = true;
    for (account, statuses) in by_account {
        for region in &regions {
            let status = statuses.get(region).map_or("unknown", String::as_str);
            if matches!(status, "ENABLED" | "ENABLED_BY_DEFAULT") {
                continue;
            }
            all_enabled = false;
            let whose = if *account == facts.caller_account {
                "the StackSets administrator account"
            } else {
                "the account"
            };
            out.push(finding(
                "opt-in-regions",
                Level::Fail,
                &format!("{account} {region}"),
                format!("{region} is {status} in {whose}: instances there fail"),
                Some("enable the region (Account API EnableRegion, or the console's Regions page), or stop governing it"),
            ));
        }
    }
    if all_enabled {
        out.push(finding(
            "opt-in-regions",
            Level::Ok,
            "",
            format!(
                "every governed region is enabled in the {} read",
                if by_account.len() == 1 {
                    "1 account".to_string()
                } else {
                    format!("{} accounts", by_account.len())
                }
            ),
            None,
        ));
    }
}

/// Whether doctor exits 2: something does not hold.
pub fn fails(findings: &[Finding]) -> bool {
    findings.iter().any(|f| f.level == Level::Fail)
}
