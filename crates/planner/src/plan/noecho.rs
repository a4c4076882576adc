//! NoEcho parameters. fleet.toml gives them dynamic references only (`{{resolve:secretsmanager:…}}`,
//! `{{resolve:ssm-secure:…}}`), never the secret itself (`fleet::check` refuses plain values), so
//! no plan, file or log of stackfleet ever holds a secret, and the reference can be shown, saved
//! and compared as it is. CloudFormation resolves the reference when it creates or updates a stack,
//! and stores and returns only the reference ("CloudFormation never stores the actual secure
//! string value. Instead, it only stores the literal dynamic reference", AWS CloudFormation User
//! Guide, "Get a secure string value from Systems Manager Parameter Store",
//! https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/dynamic-references-ssm-secure-strings.html).
//!
//! StackSets still answers `****` for a NoEcho parameter, so the references a stack set was last
//! given are recorded in its [`NOECHO_TAG`]: a digest of them (they are not secret; the digest
//! only keeps the tag short). A changed reference (a new secret, or a new version of one) changes
//! the tag, and so the plan updates the stack set.

use std::collections::{BTreeMap, BTreeSet};

use sha2::{Digest, Sha256};

use crate::digest::hex;

/// What CloudFormation shows for a NoEcho parameter, and what stackfleet shows when that is
/// all it knows.
pub const MASK: &str = "****";

/// The stack set tag that records which dynamic references its NoEcho parameters were given.
pub const NOECHO_TAG: &str = "stackfleet:noecho-references";

/// The services whose dynamic references hold secrets (AWS CloudFormation User Guide, "Get values
/// stored in other services using dynamic references",
/// https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/dynamic-references.html).
const SECRET_SERVICES: &[&str] = &["secretsmanager", "ssm-secure"];

/// Whether `value` is one dynamic reference to a secret, `{{resolve:secretsmanager:…}}` or
/// `{{resolve:ssm-secure:…}}`, and nothing else.
pub fn is_secret_reference(value: &str) -> bool {
    let Some(inner) = value
        .strip_prefix("{{resolve:")
        .and_then(|v| v.strip_suffix("}}"))
    else {
        return false;
    };
    let Some((service, rest)) = inner.split_once(':') else {
        return false;
    };
    SECRET_SERVICES.contains(&service)
        && !rest.is_empty()
        && !rest.contains("{{")
        && !rest.contains("}}")
}

/// The [`NOECHO_TAG`] value for the NoEcho parameters `no_echo` among `parameters`, or `None`
/// when fleet.toml sets none of them.
pub fn references_tag(
    parameters: &BTreeMap<String, String>,
    no_echo: &BTreeSet<String>,
) -> Option<String> {
    let mut hasher = Sha256::new();
    let mut any = false;
    for (key, value) in parameters.iter().filter(|(k, _)| no_echo.contains(*k)) {
        any = true;
        for part in [key, value] {
            hasher.update(part.as_bytes());
            hasher.update([0]);
        }
    }
    any.then(|| hex(&hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_whole_references_to_secrets_count() {
        for ok in [
            "{{resolve:secretsmanager:prod/monitor:SecretString:token}}",
            "{{resolve:secretsmanager:arn:aws:secretsmanager:us-east-1:123456789012:secret:x-AbCdEf}}",
            "{{resolve:ssm-secure:/monitor/token:3}}",
        ] {
            assert!(is_secret_reference(ok), "{ok}");
        }
        for bad in [
            "hunter2",
            "",
            "{{resolve:ssm:/plain/value}}",
            "{{resolve:secretsmanager:}}",
            "prefix{{resolve:ssm-secure:/x}}",
            "{{resolve:ssm-secure:/x}}suffix",
            "{{resolve:ssm-secure:/x}}{{resolve:ssm-secure:/y}}",
        ] {
            assert!(!is_secret_reference(bad), "{bad}");
        }
    }

    #[test]
    fn the_tag_changes_with_any_reference_and_ignores_other_parameters() {
        let no_echo: BTreeSet<String> = ["Token".to_string()].into();
        let params = |token: &str, team: &str| -> BTreeMap<String, String> {
            [("Token".into(), token.into()), ("Team".into(), team.into())].into()
        };
        let v1 = references_tag(&params("{{resolve:ssm-secure:/t:1}}", "a"), &no_echo);
        let v2 = references_tag(&params("{{resolve:ssm-secure:/t:2}}", "a"), &no_echo);
        assert!(v1.is_some());
        assert_ne!(v1, v2);
        assert_eq!(
            v1,
            references_tag(&params("{{resolve:ssm-secure:/t:1}}", "b"), &no_echo)
        );
        assert_eq!(references_tag(&params("x", "a"), &BTreeSet::new()), None);
    }
}
