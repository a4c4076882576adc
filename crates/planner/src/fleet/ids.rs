//! The shapes of the ids fleet.toml and the command line name: account ids, OU and root ids,
//! stack set names and IAM role ARNs, as AWS defines them.

/// An AWS account id: 12 digits.
pub fn is_account_id(id: &str) -> bool {
    id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit())
}

/// Whether `arn` is an IAM role ARN, `arn:<partition>:iam::<12 digits>:role/<path/name>`, in any
/// partition (`aws`, `aws-cn`, `aws-us-gov`, ...).
pub fn is_role_arn(arn: &str) -> bool {
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(partition), Some("iam"), Some(""), Some(account), Some(resource)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return false;
    };
    let partition_ok = partition
        .strip_prefix("aws")
        .is_some_and(|rest| rest.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'));
    let account_ok = is_account_id(account);
    let name_ok = resource
        .strip_prefix("role/")
        .and_then(|path| path.rsplit('/').next())
        .is_some_and(|name| {
            !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b))
        });
    partition_ok && account_ok && name_ok
}

/// StackSetName: a letter, then letters, digits and hyphens, at most 128 characters.
pub fn is_stack_set_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= 128
        && chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// `^ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}$`, the Organizations OU id pattern.
pub fn is_ou_id(id: &str) -> bool {
    let Some(rest) = id.strip_prefix("ou-") else {
        return false;
    };
    let Some((root, ou)) = rest.split_once('-') else {
        return false;
    };
    let ok = |s: &str, min: usize| {
        (min..=32).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase())
    };
    ok(root, 4) && ok(ou, 8)
}

/// `^r-[0-9a-z]{4,32}$`, the Organizations root id pattern.
pub fn is_root_id(id: &str) -> bool {
    id.strip_prefix("r-").is_some_and(|s| {
        (4..=32).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase())
    })
}
