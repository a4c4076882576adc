//! `--profile` checked against the AWS config and credentials files before any call, so that a
//! misspelt name says so (with the names that exist) instead of "no AWS credentials".

use aws_types::os_shim_internal::{Env, Fs};
use stackfleet_planner::suggest::did_you_mean;

use crate::error::CliError;

/// Fails when the files that `AWS_CONFIG_FILE` and `AWS_SHARED_CREDENTIALS_FILE` (or `~/.aws`)
/// name do not define `profile`. Files that cannot be read are left to the SDK to report.
pub async fn check(profile: &str) -> Result<(), CliError> {
    let Ok(set) =
        aws_config::profile::load(&Fs::real(), &Env::real(), &Default::default(), None).await
    else {
        return Ok(());
    };
    if set.get_profile(profile).is_some() {
        return Ok(());
    }
    let mut known: Vec<&str> = set.profiles().collect();
    known.sort_unstable();
    Err(CliError::UnknownProfile {
        name: profile.to_string(),
        hint: unknown_hint(profile, &known),
    })
}

/// What to say about a profile that does not exist, given the ones that do (pure).
fn unknown_hint(profile: &str, known: &[&str]) -> String {
    if known.is_empty() {
        return "no profile is defined in the AWS config or credentials files (`aws configure sso` \
                creates one)"
            .to_string();
    }
    let suggestion = did_you_mean(profile, known.iter().copied());
    let shown: Vec<String> = known.iter().take(10).map(|k| k.to_string()).collect();
    format!(
        "profiles that exist: {}{}{suggestion}",
        shown.join(", "),
        if known.len() > shown.len() {
            ", …"
        } else {
            ""
        }
    )
}

#[cfg(test)]
mod tests {
    use super::unknown_hint;

    #[test]
    fn names_the_closest_profile() {
        assert_eq!(
            unknown_hint("secruity-admin", &["default", "security-admin"]),
            "profiles that exist: default, security-admin; did you mean \"security-admin\"?"
        );
        assert_eq!(
            unknown_hint("prod", &["default"]),
            "profiles that exist: default"
        );
        assert!(unknown_hint("prod", &[]).starts_with("no profile is defined"));
    }
}
