//! Every rejection of fleet.toml, with its line and column.

use crate::common::{Dir, TEMPLATE, fleet_text};
use stackfleet_planner::{Diagnostics, fleet};

/// Line and column (1-based) of the `nth` occurrence of `needle` in `text`.
fn position(text: &str, needle: &str, nth: usize) -> (usize, usize) {
    let offset = text
        .match_indices(needle)
        .nth(nth)
        .unwrap_or_else(|| panic!("{needle:?} not in the text"))
        .0;
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, column)
}

/// Asserts that validating `text` fails with a diagnostic at the `nth` occurrence of `needle`
/// whose message contains `message`.
#[track_caller]
fn rejects_at(text: &str, needle: &str, nth: usize, message: &str) {
    let dir = Dir::new();
    let errors = dir.parse(text).expect_err("the fleet should be rejected");
    let (line, column) = position(text, needle, nth);
    assert!(
        errors.0.iter().any(|d| d.location.line == line
            && d.location.column == column
            && d.message.contains(message)
            && d.location.file.ends_with("fleet.toml")),
        "expected {line}:{column} {message:?}, got:\n{errors}"
    );
    // The rendered error names the file, line and column.
    assert!(
        errors
            .to_string()
            .contains(&format!("fleet.toml:{line}:{column}: ")),
        "{errors}"
    );
}

#[test]
fn accepts_a_valid_fleet() {
    let dir = Dir::new();
    let text = fleet_text(
        &["us-east-1", "eu-west-1"],
        "organizational_units = [\"/A\", \"ou-ab12-cdefgh12\", \"r-ab12\"]\naccounts = [\"111122223333\"]\nexclude_organizational_units = [\"/A/B\"]\nexclude_accounts = [\"444455556666\"]",
    );
    let fleet = dir.parse(&text).unwrap();
    assert_eq!(fleet.name, "baseline");
    let set = &fleet.stack_sets[0];
    assert_eq!(set.regions, ["us-east-1", "eu-west-1"]);
    assert_eq!(set.parameters["Email"], "sec@example.com");
    assert_eq!(set.targets.organizational_units.len(), 3);
    assert!(set.template.parameters["Secret"].no_echo);
}

#[test]
fn defaults_are_inherited_and_overridden() {
    let dir = Dir::new();
    let text = "name = \"baseline\"\n[organization]\nhome_region = \"eu-west-1\"\ncall_as = \"delegated-admin\"\n[defaults]\nregions = [\"eu-west-1\"]\n[defaults.rollout]\nmax_concurrent_count = 5\nfailure_tolerance_percentage = 10\nregion_concurrency = \"sequential\"\n\n[[stack_sets]]\nname = \"a\"\ntemplate = \"monitor.yaml\"\npermission_model = \"service-managed\"\nparameters = { Email = \"x@y.z\" }\nauto_deployment = { enabled = true }\n[stack_sets.rollout]\nmax_concurrent_percentage = 50\n[stack_sets.targets]\norganizational_units = [\"/\"]\n";
    let fleet = dir.parse(text).unwrap();
    let set = &fleet.stack_sets[0];
    assert_eq!(set.regions, ["eu-west-1"]);
    use stackfleet_planner::fleet::{CallAs, Limit, RegionConcurrency};
    assert_eq!(fleet.organization.call_as, CallAs::DelegatedAdmin);
    assert_eq!(set.rollout.max_concurrent, Some(Limit::Percentage(50)));
    assert_eq!(set.rollout.failure_tolerance, Some(Limit::Percentage(10)));
    assert_eq!(
        set.rollout.region_concurrency,
        Some(RegionConcurrency::Sequential)
    );
    assert!(set.auto_deployment.unwrap().enabled);
}

#[test]
fn rejects_unknown_keys() {
    let text = fleet_text(&["us-east-1"], "organizational_units = [\"/A\"]")
        .replace("home_region", "home_regoin");
    rejects_at(&text, "home_regoin", 0, "unknown field `home_regoin`");
    let text = fleet_text(
        &["us-east-1"],
        "organizational_units = [\"/A\"]\nexclude_ou = [\"/B\"]",
    );
    rejects_at(&text, "exclude_ou", 0, "unknown field `exclude_ou`");
    let text = fleet_text(&["us-east-1"], "organizational_units = [\"/A\"]").replace(
        "name = \"monitor\"",
        "name = \"monitor\"\ncolour = \"blue\"",
    );
    rejects_at(&text, "colour", 0, "unknown field `colour`");
}

#[test]
fn rejects_wrong_types_and_enum_values() {
    let text = fleet_text(&["us-east-1"], "organizational_units = [\"/A\"]")
        .replace("self-managed", "self-service");
    rejects_at(
        &text,
        "\"self-service\"",
        0,
        "unknown variant `self-service`",
    );
    let text = fleet_text(&["us-east-1"], "organizational_units = \"/A\"");
    rejects_at(&text, "\"/A\"", 0, "invalid type");
}

#[test]
fn rejects_malformed_account_ids() {
    let text = fleet_text(&["us-east-1"], "accounts = [\"12345\"]");
    rejects_at(
        &text,
        "\"12345\"",
        0,
        "malformed account id \"12345\": expected 12 digits",
    );
    let text = fleet_text(
        &["us-east-1"],
        "accounts = [\"111122223333\"]\nexclude_accounts = [\"11112222333a\"]",
    );
    rejects_at(&text, "\"11112222333a\"", 0, "malformed account id");
    let text = fleet_text(&["us-east-1"], "accounts = [\"111122223333\"]").replace(
        "home_region = \"us-east-1\"",
        "home_region = \"us-east-1\"\nmanagement_account = \"1234567890123\"",
    );
    rejects_at(&text, "\"1234567890123\"", 0, "malformed account id");
    let text = fleet_text(
        &["us-east-1"],
        "accounts = [\"111122223333\", \"111122223333\"]",
    );
    rejects_at(&text, "\"111122223333\"", 1, "listed twice");
}

#[test]
fn rejects_malformed_ous() {
    let text = fleet_text(&["us-east-1"], "organizational_units = [\"ou-XY-12\"]");
    rejects_at(&text, "\"ou-XY-12\"", 0, "malformed OU \"ou-XY-12\"");
    let text = fleet_text(
        &["us-east-1"],
        "organizational_units = [\"/A\"]\nexclude_organizational_units = [\"Workloads\"]",
    );
    rejects_at(&text, "\"Workloads\"", 0, "malformed OU");
    let text = fleet_text(&["us-east-1"], "organizational_units = [\"/A/\"]");
    rejects_at(&text, "\"/A/\"", 0, "malformed OU path");
}

#[test]
fn rejects_malformed_and_repeated_regions() {
    let text = fleet_text(&["us-east-1", "eu-west"], "organizational_units = [\"/A\"]");
    rejects_at(&text, "\"eu-west\"", 0, "malformed region \"eu-west\"");
    let text = fleet_text(&["us-east-1"], "organizational_units = [\"/A\"]")
        .replace("home_region = \"us-east-1\"", "home_region = \"us-east-l\"");
    rejects_at(&text, "\"us-east-l\"", 0, "malformed region");
    let text = fleet_text(
        &["us-east-1", "us-east-1"],
        "organizational_units = [\"/A\"]",
    );
    rejects_at(&text, "\"us-east-1\"", 2, "listed twice");
    let text = fleet_text(&[], "organizational_units = [\"/A\"]");
    rejects_at(&text, "[]", 0, "at least one region");
}

#[test]
fn rejects_missing_regions() {
    let text = fleet_text(&["us-east-1"], "organizational_units = [\"/A\"]")
        .replace("regions = [\"us-east-1\"]\n", "");
    rejects_at(&text, "\"monitor\"", 0, "has no regions");
}

#[test]
fn rejects_percentages_out_of_range() {
    let base = fleet_text(&["us-east-1"], "organizational_units = [\"/A\"]");
    let text = format!("{base}[stack_sets.rollout]\nfailure_tolerance_percentage = 101\n");
    rejects_at(
        &text,
        "101",
        0,
        "failure_tolerance_percentage must be between 0 and 100, got 101",
    );
    let text = format!("{base}[stack_sets.rollout]\nmax_concurrent_percentage = 0\n");
    rejects_at(
        &text,
        "0\n",
        0,
        "max_concurrent_percentage must be between 1 and 100, got 0",
    );
    let text = format!("{base}[stack_sets.rollout]\nmax_concurrent_count = -3\n");
    rejects_at(&text, "-3", 0, "max_concurrent_count must be at least 1");
}

#[test]
fn rejects_count_and_percentage_together() {
    let text = format!(
        "{}[stack_sets.rollout]\nmax_concurrent_count = 10\nmax_concurrent_percentage = 20\n",
        fleet_text(&["us-east-1"], "organizational_units = [\"/A\"]")
    );
    rejects_at(
        &text,
        "20",
        0,
        "set either max_concurrent_count or max_concurrent_percentage, not both",
    );
}

#[test]
fn rejects_duplicate_stack_set_names() {
    let one = fleet_text(&["us-east-1"], "organizational_units = [\"/A\"]");
    let second = one.split_once("[[stack_sets]]").unwrap().1;
    let text = format!("{one}\n[[stack_sets]]{second}");
    rejects_at(
        &text,
        "\"monitor\"",
        1,
        "duplicate stack set name \"monitor\" (first defined at line",
    );
}

#[test]
fn rejects_missing_and_unparsable_templates() {
    let text = fleet_text(&["us-east-1"], "organizational_units = [\"/A\"]")
        .replace("monitor.yaml", "missing.yaml");
    rejects_at(&text, "\"missing.yaml\"", 0, "cannot read template");

    let dir = Dir::new();
    dir.file(
        "broken.yaml",
        "Resources:\n  T:\n    Type: AWS::SNS::Topic\n    Properties: {Name: [x\n",
    );
    let text = fleet_text(&["us-east-1"], "organizational_units = [\"/A\"]")
        .replace("monitor.yaml", "broken.yaml");
    let errors = dir.parse(&text).unwrap_err();
    let d = &errors.0[0];
    assert!(d.location.file.ends_with("broken.yaml"), "{errors}");
    assert!(d.location.line >= 4, "{errors}");
    assert!(d.message.contains("not valid YAML"), "{errors}");

    dir.file("bad.json", "{\"Resources\": {\"T\": ");
    let text = fleet_text(&["us-east-1"], "organizational_units = [\"/A\"]")
        .replace("monitor.yaml", "bad.json");
    let errors = dir.parse(&text).unwrap_err();
    assert!(errors.0[0].location.file.ends_with("bad.json"), "{errors}");
}

#[test]
fn rejects_undeclared_parameters() {
    let text = fleet_text(&["us-east-1"], "organizational_units = [\"/A\"]").replace(
        "Email = \"sec@example.com\"",
        "Email = \"sec@example.com\", Emial = \"x\"",
    );
    rejects_at(
        &text,
        "Emial",
        0,
        "parameter \"Emial\" is not declared by template monitor.yaml; did you mean \"Email\"?",
    );
}

/// The known-region list is help, not a wall: a well-formed name it lacks (a region newer than
/// this stackfleet, or a typo) is accepted with a warning at its place, with a suggestion when
/// one is close.
#[test]
fn unknown_but_well_formed_regions_are_warnings_with_a_suggestion() {
    let dir = Dir::new();
    let text = fleet_text(
        &["us-est-1", "mars-north-1"],
        "organizational_units = [\"/A\"]",
    );
    let fleet = dir.parse(&text).expect("well-formed regions are accepted");
    assert_eq!(fleet.stack_sets[0].regions, ["us-est-1", "mars-north-1"]);
    let rendered = Diagnostics(fleet.warnings.clone())
        .to_string()
        .replace(&dir.dir.path().display().to_string(), "DIR");
    assert_eq!(
        rendered,
        "DIR/fleet.toml:9:12: region \"us-est-1\" is not one this stackfleet knows and is used as written (fine for a region newer than this stackfleet; a typo fails in every account); did you mean \"us-east-1\"?\n\
         DIR/fleet.toml:9:24: region \"mars-north-1\" is not one this stackfleet knows and is used as written (fine for a region newer than this stackfleet; a typo fails in every account)"
    );
    let text = fleet_text(&["us-east-1"], "organizational_units = [\"/A\"]");
    assert!(dir.parse(&text).unwrap().warnings.is_empty());
}

#[test]
fn iam_resources_need_an_iam_capability() {
    let dir = Dir::new();
    let role = "Resources:\n  Role:\n    Type: AWS::IAM::Role\n    Properties:\n      AssumeRolePolicyDocument: {}\n";
    let named = "Resources:\n  Role:\n    Type: AWS::IAM::Role\n    Properties:\n      RoleName: auditor\n      AssumeRolePolicyDocument: {}\n";
    dir.file("role.yaml", role);
    dir.file("named.yaml", named);
    let fleet = |template: &str, capabilities: &str| {
        fleet_text(&["us-east-1"], "organizational_units = [\"/A\"]")
            .replace("monitor.yaml", template)
            .replace(
                "parameters = { Email = \"sec@example.com\" }",
                &format!("capabilities = [{capabilities}]"),
            )
    };
    let message = |template: &str, capabilities: &str| {
        dir.parse(&fleet(template, capabilities))
            .err()
            .map(|e| e.to_string())
    };
    let anonymous = message("role.yaml", "").expect("refused without a capability");
    assert!(
        anonymous.contains("fleet.toml:7:12: template role.yaml creates IAM resources (Role): add capabilities = [\"CAPABILITY_IAM\"]"),
        "{anonymous}"
    );
    assert_eq!(message("role.yaml", "\"CAPABILITY_IAM\""), None);
    assert_eq!(message("role.yaml", "\"CAPABILITY_NAMED_IAM\""), None);
    let named = message("named.yaml", "\"CAPABILITY_IAM\"").expect("a named role needs more");
    assert!(
        named.contains("creates IAM resources with custom names (Role): add capabilities = [\"CAPABILITY_NAMED_IAM\"]"),
        "{named}"
    );
    assert_eq!(message("named.yaml", "\"CAPABILITY_NAMED_IAM\""), None);
}

#[test]
fn rejects_required_parameters_left_unset() {
    let text = fleet_text(&["us-east-1"], "organizational_units = [\"/A\"]")
        .replace("Email = \"sec@example.com\"", "Prefix = \"x\"");
    rejects_at(
        &text,
        "{ Prefix",
        0,
        "leaves required parameter \"Email\" unset",
    );
    let text = fleet_text(&["us-east-1"], "organizational_units = [\"/A\"]")
        .replace("parameters = { Email = \"sec@example.com\" }\n", "");
    rejects_at(
        &text,
        "\"monitor\"",
        0,
        "leaves required parameter \"Email\" unset",
    );
}

#[test]
fn rejects_a_stack_set_without_targets() {
    let text = fleet_text(&["us-east-1"], "exclude_accounts = [\"111122223333\"]");
    rejects_at(&text, "[stack_sets.targets]", 0, "targets nothing");
}

#[test]
fn rejects_transforms_in_service_managed_stack_sets() {
    let dir = Dir::new();
    dir.file(
        "sam.yaml",
        "Transform: AWS::Serverless-2016-10-31\nResources:\n  T:\n    Type: AWS::SNS::Topic\n",
    );
    let text = fleet_text(&["us-east-1"], "organizational_units = [\"/A\"]")
        .replace("monitor.yaml", "sam.yaml")
        .replace("self-managed", "service-managed")
        .replace("parameters = { Email = \"sec@example.com\" }\n", "");
    let errors = dir.parse(&text).unwrap_err();
    assert!(errors.to_string().contains("uses Transform"), "{errors}");
}

#[test]
fn rejects_settings_of_the_other_permission_model() {
    let text = fleet_text(&["us-east-1"], "organizational_units = [\"/A\"]").replace(
        "name = \"monitor\"",
        "name = \"monitor\"\nauto_deployment = { enabled = true }",
    );
    rejects_at(&text, "{ enabled", 0, "only to service-managed");
}

#[test]
fn accepts_and_checks_the_role_to_assume() {
    let dir = Dir::new();
    let with_role = |arn: &str| {
        fleet_text(&["us-east-1"], "organizational_units = [\"/A\"]").replace(
            "home_region = \"us-east-1\"",
            &format!("home_region = \"us-east-1\"\nassume_role_arn = \"{arn}\""),
        )
    };
    for arn in [
        "arn:aws:iam::123456789012:role/StackfleetAdmin",
        "arn:aws-us-gov:iam::123456789012:role/security/stackfleet-apply",
        "arn:aws-cn:iam::123456789012:role/a+b=c,d.e@f_g-h",
    ] {
        let fleet = dir.parse(&with_role(arn)).unwrap();
        let role = fleet
            .organization
            .assume_role_arn
            .expect("the role is kept");
        assert_eq!(role.value, arn);
        assert_eq!((role.location.line, role.location.column), (4, 19));
    }
    assert!(
        dir.parse(&fleet_text(
            &["us-east-1"],
            "organizational_units = [\"/A\"]"
        ))
        .unwrap()
        .organization
        .assume_role_arn
        .is_none()
    );
    for arn in [
        "StackfleetAdmin",
        "arn:aws:iam::123456789012:user/alice",
        "arn:aws:iam::1234:role/StackfleetAdmin",
        "arn:aws:sts::123456789012:assumed-role/StackfleetAdmin/x",
        "arn:aws:iam::123456789012:role/",
        "arn:azure:iam::123456789012:role/StackfleetAdmin",
    ] {
        rejects_at(
            &with_role(arn),
            &format!("\"{arn}\""),
            0,
            "is not an IAM role ARN",
        );
    }
}

#[test]
fn reports_every_problem_at_once() {
    let text = fleet_text(&["us-east-1", "mars-1"], "accounts = [\"1\", \"2\"]");
    let errors = Dir::new().parse(&text).unwrap_err();
    assert_eq!(errors.0.len(), 3, "{errors}");
}

#[test]
fn rejects_files_that_are_not_toml_or_not_utf8() {
    let dir = Dir::new();
    let errors = dir.parse("").unwrap_err();
    assert!(
        errors.to_string().contains("missing field `organization`"),
        "{errors}"
    );
    let path = dir.file("fleet.toml", "");
    std::fs::write(&path, b"[organization]\nhome_region = \"us-\xff\"\n").unwrap();
    let err = stackfleet_planner::fleet::load(&path).unwrap_err();
    assert!(
        err.to_string()
            .contains("fleet.toml:2:19: fleet.toml is not valid UTF-8"),
        "{err}"
    );
}

#[test]
fn a_fleet_without_a_name_is_refused() {
    let text = fleet_text(&["us-east-1"], "organizational_units = [\"/A\"]")
        .replace("name = \"baseline\"\n", "");
    let err = Dir::new().parse(&text).unwrap_err().to_string();
    assert!(err.contains("fleet.toml needs a top-level `name`"), "{err}");
}

#[test]
fn templates_are_regular_files_under_fleet_toml_unless_absolute_and_read_with_a_limit() {
    let with_template = |path: &str| {
        fleet_text(&["us-east-1"], "organizational_units = [\"/A\"]")
            .replace("\"monitor.yaml\"", &format!("{path:?}"))
    };
    // Not a regular file: a device that never ends, a directory.
    rejects_at(
        &with_template("/dev/zero"),
        "\"/dev/zero\"",
        0,
        "is not a regular file",
    );
    rejects_at(&with_template("."), "\".\"", 0, "is not a regular file");

    // Outside fleet.toml's directory through `..` or a symbolic link: refused.
    let outside = tempfile::tempdir().unwrap();
    let elsewhere = outside.path().join("monitor.yaml");
    std::fs::write(&elsewhere, TEMPLATE).unwrap();
    let dir = Dir::new();
    let sub = dir.dir.path().join("fleet");
    std::fs::create_dir(&sub).unwrap();
    std::fs::write(sub.join("monitor.yaml"), TEMPLATE).unwrap();
    std::os::unix::fs::symlink(&elsewhere, sub.join("link.yaml")).unwrap();
    let parse = |template: &str| {
        let text = with_template(template);
        let path = sub.join("fleet.toml");
        std::fs::write(&path, &text).unwrap();
        fleet::parse(&path, &text)
    };
    for escaping in ["../monitor.yaml", "link.yaml"] {
        let err = parse(escaping).unwrap_err().to_string();
        assert!(
            err.contains("outside fleet.toml's directory"),
            "{escaping}: {err}"
        );
    }
    parse("monitor.yaml").expect("under fleet.toml's directory");
    // An absolute path is an explicit choice.
    parse(elsewhere.to_str().unwrap()).expect("an absolute path is allowed");

    // Larger than CloudFormation takes: refused without reading it all.
    let big = dir.dir.path().join("big.yaml");
    let file = std::fs::File::create(&big).unwrap();
    file.set_len(100 << 20).unwrap(); // 100 MiB, sparse
    let err = Dir::new()
        .parse(&with_template(big.to_str().unwrap()))
        .unwrap_err()
        .to_string();
    assert!(err.contains("is more than 51200 bytes"), "{err}");
}

#[test]
fn a_silent_fleet_gets_the_recommended_rollout_and_a_partial_one_keeps_the_rest() {
    use stackfleet_planner::fleet::{Limit, Rollout};
    let dir = Dir::new();
    let silent = dir
        .parse(&fleet_text(
            &["us-east-1"],
            "organizational_units = [\"/\"]",
        ))
        .unwrap();
    assert_eq!(silent.stack_sets[0].rollout, Rollout::recommended());
    let partial = dir
        .parse(
            &fleet_text(&["us-east-1"], "organizational_units = [\"/\"]").replace(
                "[[stack_sets]]",
                "[defaults.rollout]\nmax_concurrent_count = 5\n\n[[stack_sets]]",
            ),
        )
        .unwrap();
    assert_eq!(
        partial.stack_sets[0].rollout,
        Rollout {
            max_concurrent: Some(Limit::Count(5)),
            ..Rollout::recommended()
        }
    );
}

/// A fleet.toml with one service-managed stack set `monitor`; `entry` is added to the entry and
/// `targets` to its `[stack_sets.targets]`; `organization` to `[organization]`.
fn service_managed(organization: &str, entry: &str, targets: &str) -> String {
    format!(
        "name = \"baseline\"\n[organization]\nhome_region = \"us-east-1\"\n{organization}\n\n[[stack_sets]]\nname = \"monitor\"\ntemplate = \"monitor.yaml\"\npermission_model = \"service-managed\"\nregions = [\"us-east-1\"]\nparameters = {{ Email = \"sec@example.com\" }}\n{entry}\n\n[stack_sets.targets]\norganizational_units = [\"/A\"]\n{targets}\n"
    )
}

/// The rendered diagnostics of `text`, with the temporary directory as `DIR`.
fn rendered_errors(text: &str) -> String {
    let dir = Dir::new();
    let errors = dir.parse(text).expect_err("the fleet should be rejected");
    errors
        .to_string()
        .replace(&dir.dir.path().display().to_string(), "DIR")
}

/// Auto-deployment deploys to every account that joins a targeted OU and ignores account
/// filters, so with it on, account-level targeting is refused at its place, saying why.
#[test]
fn auto_deployment_refuses_account_level_targeting() {
    let text = service_managed(
        "",
        "auto_deployment = { enabled = true }",
        "accounts = [\"111122223333\"]\nexclude_accounts = [\"444455556666\"]\nexclude_organizational_units = [\"/A/B\"]",
    );
    assert_eq!(
        rendered_errors(&text),
        "DIR/fleet.toml:16:13: stack set \"monitor\" has auto_deployment enabled, so it can target only OUs: StackSets' auto-deployment ignores account filters: it deploys to every account that joins a targeted OU (nested OUs included) and removes the instances of accounts that leave; target the accounts' OU, or set auto_deployment.enabled = false to target single accounts\n\
         DIR/fleet.toml:17:21: stack set \"monitor\" has auto_deployment enabled, which cannot honour exclude_accounts: StackSets' auto-deployment ignores account filters: it deploys to every account that joins a targeted OU (nested OUs included) and removes the instances of accounts that leave, so AWS would deploy there and stackfleet delete again; move what you exclude out of the targeted OUs (or target their sibling OUs), or set auto_deployment.enabled = false\n\
         DIR/fleet.toml:18:33: stack set \"monitor\" has auto_deployment enabled, which cannot honour exclude_organizational_units: StackSets' auto-deployment ignores account filters: it deploys to every account that joins a targeted OU (nested OUs included) and removes the instances of accounts that leave, so AWS would deploy there and stackfleet delete again; move what you exclude out of the targeted OUs (or target their sibling OUs), or set auto_deployment.enabled = false"
    );
    // Without auto-deployment, or with it off, the same targets are fine.
    for entry in ["", "auto_deployment = { enabled = false }"] {
        let text = service_managed(
            "",
            entry,
            "accounts = [\"111122223333\"]\nexclude_accounts = [\"444455556666\"]\nexclude_organizational_units = [\"/A/B\"]",
        );
        Dir::new()
            .parse(&text)
            .expect("accepted without auto-deployment");
    }
    // OUs only, with auto-deployment: accepted.
    let text = service_managed("", "auto_deployment = { enabled = true }", "");
    Dir::new().parse(&text).expect("OUs only");
}

/// `CallAs` per stack set: self-managed ones are always SELF, service-managed ones follow
/// `organization.call_as` or their own `call_as`; contradictions are refused at their place.
#[test]
fn call_as_is_chosen_per_stack_set_and_contradictions_are_refused() {
    use stackfleet_planner::fleet::CallAs;
    let dir = Dir::new();
    // A delegated administrator with a self-managed stack set of its own account.
    let text = fleet_text(&["us-east-1"], "organizational_units = [\"/A\"]").replace(
        "home_region = \"us-east-1\"",
        "home_region = \"us-east-1\"\ncall_as = \"delegated-admin\"",
    );
    let fleet = dir.parse(&text).unwrap();
    assert_eq!(fleet.stack_sets[0].call_as, CallAs::SelfAccount);
    let text = service_managed("call_as = \"delegated-admin\"", "", "");
    assert_eq!(
        dir.parse(&text).unwrap().stack_sets[0].call_as,
        CallAs::DelegatedAdmin
    );
    let text = service_managed("", "call_as = \"delegated-admin\"", "");
    assert_eq!(
        dir.parse(&text).unwrap().stack_sets[0].call_as,
        CallAs::DelegatedAdmin
    );

    let self_managed = fleet_text(&["us-east-1"], "organizational_units = [\"/A\"]").replace(
        "name = \"monitor\"",
        "name = \"monitor\"\ncall_as = \"delegated-admin\"",
    );
    assert_eq!(
        rendered_errors(&self_managed),
        "DIR/fleet.toml:7:11: stack set \"monitor\" is self-managed, and StackSets calls a self-managed stack set only as SELF (it lives in the caller's account, whatever organization.call_as says): remove call_as here, or make it permission_model = \"service-managed\""
    );
    let contradiction = service_managed("call_as = \"delegated-admin\"", "call_as = \"self\"", "");
    assert_eq!(
        rendered_errors(&contradiction),
        "DIR/fleet.toml:12:11: stack set \"monitor\" is service-managed with call_as = \"self\", which only the organization's management account may use, but organization.call_as = \"delegated-admin\" says stackfleet runs as a delegated administrator: remove call_as here (it then follows organization.call_as)"
    );
}

/// Strict failure tolerance starts at the lower of max_concurrent and failure_tolerance + 1:
/// validate says so where the mode is set (the stack set's rollout or the inherited defaults).
#[test]
fn strict_failure_tolerance_that_caps_concurrency_is_a_warning() {
    let dir = Dir::new();
    let with_rollout = |rollout: &str| {
        fleet_text(&["us-east-1"], "organizational_units = [\"/A\"]").replace(
            "\n\n[stack_sets.targets]",
            &format!("\n[stack_sets.rollout]\n{rollout}\n\n[stack_sets.targets]"),
        )
    };
    let warnings = |text: &str| {
        let fleet = dir.parse(text).expect("a warning is not an error");
        Diagnostics(fleet.warnings)
            .to_string()
            .replace(&dir.dir.path().display().to_string(), "DIR")
    };
    assert_eq!(
        warnings(&with_rollout(
            "max_concurrent_count = 10\nfailure_tolerance_count = 1\nconcurrency_mode = \"strict-failure-tolerance\""
        )),
        "DIR/fleet.toml:14:20: stack set \"monitor\": with concurrency_mode = \"strict-failure-tolerance\" StackSets starts at the lower of max_concurrent and failure_tolerance + 1, so no more than 2 accounts run at once; raise failure_tolerance_* or use \"soft-failure-tolerance\" to get max_concurrent_*"
    );
    assert_eq!(
        warnings(&with_rollout(
            "max_concurrent_percentage = 25\nfailure_tolerance_percentage = 10\nconcurrency_mode = \"strict-failure-tolerance\""
        )),
        "DIR/fleet.toml:14:20: stack set \"monitor\": with concurrency_mode = \"strict-failure-tolerance\" StackSets starts at the lower of max_concurrent and failure_tolerance + 1, so no more than 10 % of a region's accounts + 1 run at once; raise failure_tolerance_* or use \"soft-failure-tolerance\" to get max_concurrent_*"
    );
    // No cap: tolerance + 1 reaches max_concurrent, soft mode, or one account at a time.
    for quiet in [
        "max_concurrent_count = 3\nfailure_tolerance_count = 2\nconcurrency_mode = \"strict-failure-tolerance\"",
        "max_concurrent_count = 10\nfailure_tolerance_count = 1\nconcurrency_mode = \"soft-failure-tolerance\"",
        "max_concurrent_count = 1\nconcurrency_mode = \"strict-failure-tolerance\"",
        "max_concurrent_percentage = 10\nfailure_tolerance_percentage = 10\nconcurrency_mode = \"strict-failure-tolerance\"",
    ] {
        assert_eq!(warnings(&with_rollout(quiet)), "", "{quiet}");
    }
    // Inherited from [defaults.rollout]: the warning points there.
    let text = fleet_text(&["us-east-1"], "organizational_units = [\"/A\"]").replace(
        "\n\n[[stack_sets]]",
        "\n[defaults.rollout]\nmax_concurrent_count = 8\nconcurrency_mode = \"strict-failure-tolerance\"\n\n[[stack_sets]]",
    );
    assert_eq!(
        warnings(&text),
        "DIR/fleet.toml:6:20: stack set \"monitor\": with concurrency_mode = \"strict-failure-tolerance\" StackSets starts at the lower of max_concurrent and failure_tolerance + 1, so no more than 10 % of a region's accounts + 1 run at once; raise failure_tolerance_* or use \"soft-failure-tolerance\" to get max_concurrent_*"
    );
}
