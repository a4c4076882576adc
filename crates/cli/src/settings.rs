//! The settings step: global flags merged with fleet.toml before a command runs.

use std::time::Duration;

use stackfleet_planner::Fleet;

use crate::cli::GlobalArgs;
use crate::pending::Pending;

/// How to reach AWS, from the flags; fleet.toml fills what they leave open.
#[derive(Debug, Clone, Default)]
pub struct AwsSettings {
    /// `--profile` (or `AWS_PROFILE`); otherwise the standard chain.
    pub profile: Option<String>,
    /// `--region`: the stack sets' region and the SDK's, for this run.
    pub region: Option<String>,
    /// `--assume-role`: wins over `organization.assume_role_arn`.
    pub assume_role: Option<String>,
    /// `--timeout`: how long the whole command may take.
    pub timeout: Option<Duration>,
    /// The calls and operations in flight, for the message when `--timeout` stops the command.
    pub pending: Pending,
}

impl AwsSettings {
    /// The AWS settings of the command line.
    pub fn from_args(global: &GlobalArgs) -> Self {
        AwsSettings {
            profile: global.profile.clone(),
            region: global.region.clone(),
            assume_role: global.assume_role.clone(),
            timeout: global.timeout,
            pending: Pending::default(),
        }
    }

    /// Applies `--region` to fleet.toml's `organization.home_region`, so that planning, the saved
    /// plan and every call use the same region.
    pub fn apply_to(&self, fleet: &mut Fleet) {
        if let Some(region) = &self.region {
            fleet.organization.home_region = region.clone();
        }
    }

    /// The role to assume: `--assume-role`, else `configured` (fleet.toml or a saved plan).
    pub fn role<'a>(&'a self, configured: Option<&'a str>) -> Option<&'a str> {
        self.assume_role.as_deref().or(configured)
    }

    /// The role to assume for `fleet`.
    pub fn fleet_role<'a>(&'a self, fleet: &'a Fleet) -> Option<&'a str> {
        self.role(
            fleet
                .organization
                .assume_role_arn
                .as_ref()
                .map(|arn| arn.value.as_str()),
        )
    }
}

/// The name of the STS role session: `stackfleet-<CI run id or user>`, so that CloudTrail shows
/// which run or person applied. Sanitized to what AssumeRole accepts (`[\w+=,.@-]{2,64}`).
pub fn session_name(var: impl Fn(&str) -> Option<String>) -> String {
    let who = [
        "GITHUB_RUN_ID",
        "CI_PIPELINE_ID",
        "USER",
        "USERNAME",
        "LOGNAME",
    ]
    .iter()
    .find_map(|name| var(name).filter(|v| !v.trim().is_empty()));
    let raw = match who {
        Some(who) => format!("stackfleet-{}", who.trim()),
        None => "stackfleet".to_string(),
    };
    raw.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_+=,.@-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(64)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::session_name;

    fn env<'a>(vars: &'a [(&str, &str)]) -> impl Fn(&str) -> Option<String> + 'a {
        |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn session_names_identify_the_run_and_fit_sts() {
        assert_eq!(
            session_name(env(&[("GITHUB_RUN_ID", "8123456789"), ("USER", "runner")])),
            "stackfleet-8123456789"
        );
        assert_eq!(
            session_name(env(&[("CI_PIPELINE_ID", "42"), ("USER", "x")])),
            "stackfleet-42"
        );
        assert_eq!(
            session_name(env(&[("USER", "jane.doe@corp")])),
            "stackfleet-jane.doe@corp"
        );
        assert_eq!(
            session_name(env(&[("USER", "DOMAIN\\Jane Doe")])),
            "stackfleet-DOMAIN-Jane-Doe"
        );
        assert_eq!(session_name(env(&[("GITHUB_RUN_ID", " ")])), "stackfleet");
        let long = "x".repeat(100);
        assert_eq!(session_name(env(&[("USER", &long)])).len(), 64);
    }
}
