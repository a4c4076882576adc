//! The starter fleet.toml that `stackfleet init` writes: a pure function of what it read.

use std::fmt::Write;

use stackfleet_planner::fleet::CallAs;

/// What `init` learned about the caller's organization.
#[derive(Debug, Clone)]
pub struct Starter {
    /// `o-…`.
    pub organization_id: String,
    /// The organization's management account.
    pub management_account: String,
    /// The account init ran as.
    pub caller_account: String,
    /// Management account or delegated administrator.
    pub call_as: CallAs,
    /// Where the stack sets will live.
    pub home_region: String,
    /// `--assume-role`, if given.
    pub assume_role: Option<String>,
    /// `r-…`.
    pub root_id: String,
    /// Accounts in the organization.
    pub accounts: usize,
    /// OUs directly under the root.
    pub top_level: Vec<TopLevelOu>,
    /// Regions to govern, home region first.
    pub regions: Vec<String>,
    /// Listed as enabled but not AWS region names (left out: validation would reject them).
    pub unknown_regions: Vec<String>,
    /// Why the enabled regions could not be listed, if they could not.
    pub regions_note: Option<String>,
    /// The template's path relative to the fleet file.
    pub template: String,
}

/// An OU directly under the root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopLevelOu {
    /// `/Name`.
    pub path: String,
    /// `ou-…`.
    pub id: String,
    /// Accounts in it and in its nested OUs.
    pub accounts: usize,
}

/// A TOML string literal (quotes and escapes as TOML wants them).
fn quoted(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

/// Text made safe for a `#` comment: one line.
fn comment(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// The starter fleet.toml.
pub fn fleet_toml(s: &Starter) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# stackfleet fleet for organization {} (management account {}), written by `stackfleet init`.",
        s.organization_id, s.management_account
    );
    out.push_str(
        "# `stackfleet validate` checks it offline, `stackfleet plan` shows what apply would change, and\n\
         # `stackfleet apply` rolls it out. Every key is described in the README (\"fleet.toml\").\n\n",
    );
    out.push_str(
        "name = \"security-baseline\"   # tags the fleet's stack sets (stackfleet:fleet)\n\n",
    );

    out.push_str("[organization]\n");
    let _ = writeln!(
        out,
        "home_region = {}              # where the stack sets live",
        quoted(&s.home_region)
    );
    let _ = writeln!(
        out,
        "management_account = {}    # refuse to act on any other organization",
        quoted(&s.management_account)
    );
    match s.call_as {
        CallAs::SelfAccount => out.push_str(
            "call_as = \"self\"                       # init ran as the management account; \"delegated-admin\" from a delegated administrator\n",
        ),
        CallAs::DelegatedAdmin => {
            let _ = writeln!(
                out,
                "call_as = \"delegated-admin\"            # init ran as account {}, not the management account: it must be a\n                                       # registered StackSets delegated administrator",
                s.caller_account
            );
        }
    }
    match &s.assume_role {
        Some(role) => {
            let _ = writeln!(
                out,
                "assume_role_arn = {}   # assumed through STS before anything else",
                quoted(role)
            );
        }
        None => {
            let _ = writeln!(
                out,
                "# assume_role_arn = \"arn:aws:iam::{}:role/StackfleetAdmin\"   # assume a role first (or --assume-role)",
                if s.call_as == CallAs::SelfAccount {
                    &s.management_account
                } else {
                    &s.caller_account
                }
            );
        }
    }

    out.push_str("\n[defaults]\n");
    match &s.regions_note {
        None => {
            let _ = writeln!(
                out,
                "# The regions enabled in account {} (Account ListRegions). Keep those you govern: each needs a\n\
                 # CloudTrail trail logging management events (and S3 data events for PutObjectAcl).",
                s.caller_account
            );
        }
        Some(reason) => {
            let _ = writeln!(
                out,
                "# stackfleet could not list the enabled regions ({}),\n\
                 # so this is only the home region: add every region you govern. Each needs a CloudTrail trail\n\
                 # logging management events (and S3 data events for PutObjectAcl).",
                comment(reason)
            );
        }
    }
    if !s.unknown_regions.is_empty() {
        let _ = writeln!(
            out,
            "# Also listed as enabled, but not AWS region names (left out): {}",
            comment(&s.unknown_regions.join(", "))
        );
    }
    let regions: Vec<String> = s.regions.iter().map(|r| quoted(r)).collect();
    let _ = writeln!(out, "regions = [{}]", regions.join(", "));
    out.push_str(
        "\n# How fast StackSets rolls out. Without this table stackfleet uses these same values (AWS alone\n\
         # would go one account at a time, one region after another: days for a thousand accounts):\n\
         # every account of every region at once, so a rollout takes about one stack's time, and a\n\
         # region stops starting accounts once more than 10 % of them failed (AWS may start fewer at\n\
         # once in a large region, which lets that stop act). For a staged rollout that always stops a\n\
         # broken template after a quarter of each region, set 25: four times as long.\n\
         # Drift detection and deletions use it too. `stackfleet plan` says how long a plan takes.\n\
         [defaults.rollout]\n\
         max_concurrent_percentage = 100        # accounts at once, per region (25: staged)\n\
         failure_tolerance_percentage = 10      # failed accounts per region before StackSets stops\n\
         region_concurrency = \"parallel\"        # or \"sequential\" (with region_order)\n\
         concurrency_mode = \"soft-failure-tolerance\"\n",
    );

    out.push_str("\n[[stack_sets]]\n");
    out.push_str("name = \"s3-policy-monitor\"\n");
    out.push_str("description = \"Alerts on S3 bucket policy and ACL changes\"\n");
    let _ = writeln!(
        out,
        "template = {}   # relative to this file",
        quoted(&s.template)
    );
    out.push_str(
        "# service-managed: StackSets deploys through AWS Organizations (enable trusted access for\n\
         # CloudFormation StackSets first), never to the management account. \"self-managed\" instead\n\
         # needs AWSCloudFormationStackSetAdministrationRole here and AWSCloudFormationStackSetExecutionRole\n\
         # in every target account.\n\
         permission_model = \"service-managed\"\n\
         # Auto-deployment: StackSets itself, without stackfleet, deploys to every account that joins a\n\
         # targeted OU (nested OUs included) and deletes the instances of accounts that leave one (keeps\n\
         # their stacks with retain_stacks_on_account_removal = true). It ignores account-level targeting,\n\
         # so with it on, fleet.toml targets whole OUs only: accounts and exclude_* are refused. Set\n\
         # enabled = false to pick single accounts, and run `stackfleet apply` for new accounts.\n\
         auto_deployment = { enabled = true, retain_stacks_on_account_removal = false }\n\
         # CHANGE ME: who receives the alerts. SNS first e-mails a confirmation for every account x region\n\
         # (examples/hub-and-spoke/fleet.toml needs only one).\n\
         # A parameter the template marks NoEcho takes a dynamic reference, never the secret itself:\n\
         # Token = \"{{resolve:secretsmanager:NAME:SecretString:KEY}}\" or \"{{resolve:ssm-secure:/NAME:1}}\".\n\
         parameters = { NotificationEmail = \"change-me@example.com\" }\n\
         tags = { owner = \"security\" }\n",
    );

    out.push_str("\n[stack_sets.targets]\n");
    let _ = writeln!(
        out,
        "# The whole organization: root {} and every OU under it ({}).",
        s.root_id,
        super::count(s.accounts, "account", "accounts")
    );
    out.push_str("organizational_units = [\"/\"]\n");
    if !s.top_level.is_empty() {
        out.push_str("# Or only some top-level OUs (their nested OUs are included):\n");
        out.push_str("# organizational_units = [\n");
        let width = s
            .top_level
            .iter()
            .map(|ou| quoted(&ou.path).len())
            .max()
            .unwrap_or(0);
        for ou in &s.top_level {
            let path = format!("{},", quoted(&ou.path));
            let _ = writeln!(
                out,
                "#   {path:<w$} # {}, {}",
                ou.id,
                if ou.accounts == 1 {
                    "1 account".to_string()
                } else {
                    format!("{} accounts", ou.accounts)
                },
                w = width + 1
            );
        }
        out.push_str("# ]\n");
    }
    out.push_str(
        "# With auto_deployment on, every account in these OUs gets the stack: to leave one out, move it to\n\
         # an OU outside them. With auto_deployment off, you may also write:\n\
         # accounts = [\"111122223333\"]                   # single accounts, wherever they are\n\
         # exclude_organizational_units = [\"/Sandbox\"]   # OU paths or ids\n\
         # exclude_accounts = [\"111122223333\"]\n",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn starter() -> Starter {
        Starter {
            organization_id: "o-abc".to_string(),
            management_account: "123456789012".to_string(),
            caller_account: "123456789012".to_string(),
            call_as: CallAs::SelfAccount,
            home_region: "us-east-1".to_string(),
            assume_role: None,
            root_id: "r-ab12".to_string(),
            accounts: 3,
            top_level: vec![
                TopLevelOu {
                    path: "/Prod \"EU\"".to_string(),
                    id: "ou-ab12-11111111".to_string(),
                    accounts: 2,
                },
                TopLevelOu {
                    path: "/Sec".to_string(),
                    id: "ou-ab12-22222222".to_string(),
                    accounts: 1,
                },
            ],
            regions: vec!["us-east-1".to_string(), "eu-west-1".to_string()],
            unknown_regions: vec![],
            regions_note: None,
            template: "templates/s3-policy-monitor.yaml".to_string(),
        }
    }

    #[test]
    fn the_starter_is_toml_with_quoted_names() {
        let text = fleet_toml(&starter());
        let value: toml::Table = text.parse().expect("valid TOML");
        assert_eq!(value["organization"]["call_as"].as_str(), Some("self"));
        assert_eq!(
            value["defaults"]["regions"].as_array().map(Vec::len),
            Some(2)
        );
        // A name with quotes becomes a TOML literal string.
        assert!(
            text.contains("#   '/Prod \"EU\"', # ou-ab12-11111111, 2 accounts\n"),
            "{text}"
        );
        assert!(
            text.contains("#   \"/Sec\",       # ou-ab12-22222222, 1 account\n"),
            "{text}"
        );
    }

    #[test]
    fn a_delegated_admin_with_a_role_and_no_region_list() {
        let mut s = starter();
        s.caller_account = "222233334444".to_string();
        s.call_as = CallAs::DelegatedAdmin;
        s.assume_role = Some("arn:aws:iam::222233334444:role/Admin".to_string());
        s.regions = vec!["eu-west-1".to_string()];
        s.regions_note = Some("AccessDeniedException: not\nallowed".to_string());
        let text = fleet_toml(&s);
        let value: toml::Table = text.parse().expect("valid TOML");
        assert_eq!(
            value["organization"]["call_as"].as_str(),
            Some("delegated-admin")
        );
        assert_eq!(
            value["organization"]["assume_role_arn"].as_str(),
            Some("arn:aws:iam::222233334444:role/Admin")
        );
        assert!(
            text.contains(
                "could not list the enabled regions (AccessDeniedException: not allowed)"
            )
        );
    }
}
