//! How teams run stackfleet: role assumption, `--region`, logs that keep credentials out,
//! `init`, help, completions and the man page, and errors a person can act on.

use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use crate::harness::{
    Endpoint, MARKER_TEMPLATE, Moto, REPO, Run, Tripwire, Workspace, seed, seed_example, stackfleet,
};

const ROLE: &str = "arn:aws:iam::123456789012:role/StackfleetAdmin";

/// One self-managed stack set of the marker template over the whole organization.
const FLEET: &str = r#"name = "baseline"

[organization]
home_region = "us-east-1"
management_account = "123456789012"

[[stack_sets]]
name = "marker"
template = "templates/marker.yaml"
permission_model = "self-managed"
regions = ["us-east-1"]
parameters = { Team = "security" }

[stack_sets.targets]
organizational_units = ["/"]
"#;

/// Runs the binary like [`stackfleet`] (dummy static credentials, us-east-1, two attempts, no
/// `~/.aws` files), with `env` on top; a value of `None` removes the variable.
fn run_with(
    endpoint: &impl Endpoint,
    dir: &Path,
    args: &[&str],
    env: &[(&str, Option<&str>)],
) -> Run {
    let empty = Path::new("/dev/null");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_stackfleet"));
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy().into_owned();
        if key.starts_with("AWS_")
            || key.starts_with("STACKFLEET_")
            || [
                "RUST_LOG",
                "NO_COLOR",
                "GITHUB_RUN_ID",
                "CI_PIPELINE_ID",
                "USER",
                "USERNAME",
                "LOGNAME",
            ]
            .contains(&key.as_str())
        {
            cmd.env_remove(&key);
        }
    }
    cmd.current_dir(dir)
        .args(args)
        .env("AWS_ENDPOINT_URL", endpoint.url())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_MAX_ATTEMPTS", "2")
        .env("AWS_CONFIG_FILE", empty)
        .env("AWS_SHARED_CREDENTIALS_FILE", empty);
    for (key, value) in env {
        match value {
            Some(value) => cmd.env(key, value),
            None => cmd.env_remove(key),
        };
    }
    let out = cmd.stdin(Stdio::null()).output().expect("stackfleet runs");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
    }
}

fn small_org(moto: &Moto) -> Value {
    seed(
        moto,
        json!({"accounts": [{"name": "prod", "ou": "/Prod"}, {"name": "sec", "ou": "/Security"}]}),
    )
}

#[test]
fn assume_role_acts_as_the_role_names_the_run_and_carries_into_the_saved_plan() {
    let moto = Moto::start();
    let org = small_org(&moto);
    let ws = Workspace::new().with_marker_template().with_fleet(FLEET);

    let plan = run_with(
        &moto,
        ws.path(),
        &["plan", "--assume-role", ROLE, "--out", "plan.json"],
        &[("GITHUB_RUN_ID", Some("4242")), ("USER", Some("alice"))],
    );
    plan.assert_code(0);
    // Before planning, stderr says which role, which session, which account and organization.
    for expected in [
        format!("assumed role {ROLE} as session stackfleet-4242"),
        "acting as arn:aws:sts::123456789012:assumed-role/StackfleetAdmin/stackfleet-4242 (account 123456789012)".to_string(),
        format!(
            "organization {}:",
            org["organization_id"].as_str().expect("an organization id")
        ),
    ] {
        assert!(plan.stderr.contains(&expected), "{expected:?} in:\n{}", plan.stderr);
    }
    let saved: Value =
        serde_json::from_str(&std::fs::read_to_string(ws.path().join("plan.json")).unwrap())
            .unwrap();
    assert_eq!(saved["organization"]["assume_role_arn"], ROLE);

    // The role is never taken from the file: without the same --assume-role, planning again
    // gives another plan, and the saved one is refused.
    let apply = run_with(
        &moto,
        ws.path(),
        &["apply", "plan.json", "--auto-approve"],
        &[("USER", Some("alice"))],
    );
    apply.assert_code(1);
    assert!(
        apply.stderr.contains(
            "is not what fleet.toml and the current state give (differs in organization)"
        ),
        "{}",
        apply.stderr
    );
    // With it, apply assumes the role, under this run's session name.
    let apply = run_with(
        &moto,
        ws.path(),
        &[
            "apply",
            "plan.json",
            "--auto-approve",
            "--assume-role",
            ROLE,
        ],
        &[("USER", Some("alice"))],
    );
    apply.assert_code(0);
    assert!(
        apply.stderr.contains(
            "acting as arn:aws:sts::123456789012:assumed-role/StackfleetAdmin/stackfleet-alice"
        ),
        "{}",
        apply.stderr
    );
}

#[test]
fn the_role_in_fleet_toml_is_assumed_and_later_calls_act_as_its_account() {
    let moto = Moto::start();
    small_org(&moto);
    // moto lets anyone assume any role, and calls with those credentials act as the role's
    // account: so the management_account guard now sees 111122223333 and refuses.
    let fleet = FLEET.replace(
        "management_account = \"123456789012\"",
        "management_account = \"123456789012\"\nassume_role_arn = \"arn:aws:iam::111122223333:role/StackfleetAdmin\"",
    );
    let ws = Workspace::new().with_marker_template().with_fleet(&fleet);
    let before = moto.state();
    let run = run_with(&moto, ws.path(), &["plan"], &[("USER", Some("bob"))]);
    run.assert_code(1);
    assert!(
        run.stderr.contains(
            "refusing to run as account 111122223333 (arn:aws:sts::111122223333:assumed-role/StackfleetAdmin/stackfleet-bob)"
        ),
        "{}",
        run.stderr
    );
    assert_eq!(moto.state(), before, "a refused run changes nothing");

    // --assume-role wins over fleet.toml.
    let run = run_with(
        &moto,
        ws.path(),
        &["plan", "--assume-role", ROLE],
        &[("USER", Some("bob"))],
    );
    run.assert_code(0);
}

#[test]
fn a_malformed_role_is_located_in_fleet_toml_or_refused_as_a_flag() {
    let tripwire = Tripwire::new();
    let fleet = FLEET.replace(
        "management_account = \"123456789012\"",
        "management_account = \"123456789012\"\nassume_role_arn = \"arn:aws:iam::123:role/x\"",
    );
    let ws = Workspace::new().with_marker_template().with_fleet(&fleet);
    let run = stackfleet(&tripwire, ws.path(), &["plan"]);
    run.assert_code(1);
    assert!(
        run.stderr.contains(
            "fleet.toml:6:19: assume_role_arn \"arn:aws:iam::123:role/x\" is not an IAM role ARN"
        ),
        "{}",
        run.stderr
    );
    let run = stackfleet(
        &tripwire,
        ws.path(),
        &["validate", "--assume-role", "StackfleetAdmin"],
    );
    run.assert_code(1);
    assert!(
        run.stderr.contains("is not an IAM role ARN"),
        "{}",
        run.stderr
    );
    tripwire.assert_untouched();
}

#[test]
fn region_overrides_the_home_region_for_the_run_and_must_match_a_saved_plan() {
    let moto = Moto::start();
    small_org(&moto);
    let ws = Workspace::new().with_marker_template().with_fleet(FLEET);
    let run = stackfleet(
        &moto,
        ws.path(),
        &[
            "plan",
            "--region",
            "eu-west-1",
            "--output",
            "json",
            "--out",
            "plan.json",
        ],
    );
    run.assert_code(0);
    assert_eq!(run.json()["organization"]["home_region"], "eu-west-1");
    assert!(
        run.stderr.contains("stack sets in eu-west-1"),
        "{}",
        run.stderr
    );

    let before = moto.state();
    let apply = stackfleet(
        &moto,
        ws.path(),
        &[
            "apply",
            "plan.json",
            "--auto-approve",
            "--region",
            "us-east-1",
        ],
    );
    apply.assert_code(1);
    assert!(
        apply
            .stderr
            .contains("was made for stack sets in eu-west-1, not us-east-1; nothing was applied"),
        "{}",
        apply.stderr
    );
    assert_eq!(moto.state(), before);
}

#[test]
fn verbose_logs_never_show_credentials() {
    const SECRET: &str = "wJalrXUtnFEMIK7MDENGbPxRfiCYSECRETKEY42";
    // moto's session tokens all start with this.
    const MOTO_TOKEN_PREFIX: &str = "FQoGZXIvYXdzE";
    let moto = Moto::start();
    small_org(&moto);
    let ws = Workspace::new().with_marker_template().with_fleet(FLEET);
    let cases: [(&[&str], Option<&str>); 4] = [
        (&["plan", "-vv", "--assume-role", ROLE], None),
        (&["plan", "--assume-role", ROLE], Some("debug")),
        (&["plan", "--assume-role", ROLE], Some("trace")),
        (&["plan", "-vvv"], None),
    ];
    for (args, rust_log) in cases {
        let run = run_with(
            &moto,
            ws.path(),
            args,
            &[
                ("AWS_SECRET_ACCESS_KEY", Some(SECRET)),
                (
                    "AWS_SESSION_TOKEN",
                    Some("IQoJb3JpZ2luX2VjEXAMPLESESSIONTOKEN"),
                ),
                ("RUST_LOG", rust_log),
            ],
        );
        run.assert_code(0);
        assert!(
            run.stderr.contains(" DEBUG "),
            "{args:?} {rust_log:?} logs at debug:\n{}",
            run.stderr
        );
        for secret in [
            SECRET,
            "IQoJb3JpZ2luX2VjEXAMPLESESSIONTOKEN",
            MOTO_TOKEN_PREFIX,
        ] {
            assert!(
                !run.stderr.contains(secret) && !run.stdout.contains(secret),
                "{args:?} {rust_log:?} printed a credential ({secret})"
            );
        }
    }
    // -vv keeps the SDK's wire and signing logs out; an explicit RUST_LOG may ask for them.
    let run = run_with(&moto, ws.path(), &["plan", "-vv"], &[]);
    assert!(!run.stderr.contains("aws_sigv4"), "{}", run.stderr);
    assert!(!run.stderr.contains("aws_smithy_runtime"), "{}", run.stderr);
    // Without -v, no logs at all.
    let run = run_with(&moto, ws.path(), &["plan"], &[]);
    assert!(
        !run.stderr.contains(" INFO ") && !run.stderr.contains(" DEBUG "),
        "{}",
        run.stderr
    );
    // -q silences progress, not results.
    let run = run_with(&moto, ws.path(), &["plan", "-q"], &[]);
    run.assert_code(0);
    assert_eq!(run.stderr, "");
    assert!(run.stdout.contains("Plan: "), "{}", run.stdout);
}

#[test]
fn init_writes_a_commented_starter_that_validates_and_plans_as_written() {
    let moto = Moto::start();
    let org = seed_example(&moto);
    let ws = Workspace::new();
    let before = moto.state();
    let run = stackfleet(&moto, ws.path(), &["init"]);
    run.assert_code(0);
    assert_eq!(moto.state(), before, "init changes nothing in AWS");
    let text = std::fs::read_to_string(ws.path().join("fleet.toml")).expect("fleet.toml written");
    let org_id = org["organization_id"].as_str().unwrap();
    for expected in [
        format!("# stackfleet fleet for organization {org_id} (management account 123456789012)"),
        "home_region = \"us-east-1\"".to_string(),
        "management_account = \"123456789012\"".to_string(),
        "call_as = \"self\"".to_string(),
        "organizational_units = [\"/\"]".to_string(),
        format!(
            "#   \"/Workloads\",      # {}, 15 accounts",
            org["ous"]["/Workloads"].as_str().unwrap()
        ),
        format!(
            "#   \"/Security\",       # {}, 2 accounts",
            org["ous"]["/Security"].as_str().unwrap()
        ),
        // The regions the Account API lists as enabled, the home region first.
        "# The regions enabled in account 123456789012 (Account ListRegions).".to_string(),
        "regions = [\"us-east-1\", \"ap-northeast-1\",".to_string(),
        "template = \"templates/s3-policy-monitor.yaml\"".to_string(),
    ] {
        assert!(text.contains(&expected), "{expected:?} in:\n{text}");
    }
    // The monitor's template comes along, so that a fresh install has everything.
    assert_eq!(
        std::fs::read_to_string(ws.path().join("templates/s3-policy-monitor.yaml")).unwrap(),
        std::fs::read_to_string(Path::new(REPO).join("templates/s3-policy-monitor.yaml")).unwrap()
    );
    assert!(run.stderr.contains("it is valid"), "{}", run.stderr);

    // As written: valid offline, and it plans against the organization.
    let tripwire = Tripwire::new();
    let placeholder = "warning: stack set s3-policy-monitor: parameters.NotificationEmail is still init's placeholder \"change-me@example.com\"";
    let valid = stackfleet(&tripwire, ws.path(), &["validate"]);
    valid.assert_code(0);
    assert!(valid.stderr.contains(placeholder), "{}", valid.stderr);
    tripwire.assert_untouched();
    let plan = stackfleet(&moto, ws.path(), &["plan"]);
    plan.assert_code(0);
    assert!(plan.stdout.contains("s3-policy-monitor"), "{}", plan.stdout);
    assert!(plan.stderr.contains(placeholder), "{}", plan.stderr);
    // Flagged until changed.
    ws.edit(
        "fleet.toml",
        "change-me@example.com",
        "security-alerts@corp.example",
    );
    let changed = stackfleet(&tripwire, ws.path(), &["validate"]);
    changed.assert_code(0);
    assert!(!changed.stderr.contains("warning"), "{}", changed.stderr);
    std::fs::write(ws.path().join("fleet.toml"), &text).unwrap();

    // Never overwrites without --force, and refuses before any AWS call.
    let edited = format!("{text}# mine\n");
    std::fs::write(ws.path().join("fleet.toml"), &edited).unwrap();
    let again = stackfleet(&tripwire, ws.path(), &["init"]);
    again.assert_code(1);
    assert!(
        again
            .stderr
            .contains("fleet.toml already exists; nothing was written"),
        "{}",
        again.stderr
    );
    tripwire.assert_untouched();
    assert_eq!(
        std::fs::read_to_string(ws.path().join("fleet.toml")).unwrap(),
        edited
    );
    stackfleet(&moto, ws.path(), &["init", "--force"]).assert_code(0);
    assert_eq!(
        std::fs::read_to_string(ws.path().join("fleet.toml")).unwrap(),
        text
    );
}

#[test]
fn init_falls_back_to_the_home_region_on_an_endpoint_without_the_account_api() {
    // Plain moto has no Account API: init says so, and falls back to the home region.
    let moto = Moto::plain();
    seed_example(&moto);
    let ws = Workspace::new();
    stackfleet(&moto, ws.path(), &["init"]).assert_code(0);
    let text = std::fs::read_to_string(ws.path().join("fleet.toml")).expect("fleet.toml written");
    for expected in [
        "# stackfleet could not list the enabled regions (the endpoint answered ListRegions with HTTP 404",
        "regions = [\"us-east-1\"]",
    ] {
        assert!(text.contains(expected), "{expected:?} in:\n{text}");
    }
}

#[test]
fn every_command_has_an_example_and_completions_and_a_man_page_exist() {
    let tripwire = Tripwire::new();
    let dir = Workspace::new();
    let top = stackfleet(&tripwire, dir.path(), &["--help"]);
    top.assert_code(0);
    assert!(top.stdout.contains("Examples:"), "{}", top.stdout);
    for command in [
        "init",
        "validate",
        "plan",
        "apply",
        "coverage",
        "drift",
        "completions",
        "man",
    ] {
        for args in [vec!["help", command], vec![command, "--help"]] {
            let run = stackfleet(&tripwire, dir.path(), &args);
            run.assert_code(0);
            assert!(
                run.stdout.contains(&format!("stackfleet {command}"))
                    && run.stdout.contains("Example"),
                "{args:?}:\n{}",
                run.stdout
            );
        }
    }
    for (shell, marker) in [
        ("bash", "_stackfleet()"),
        ("zsh", "#compdef stackfleet"),
        ("fish", "complete -c stackfleet"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let run = stackfleet(&tripwire, dir.path(), &["completions", shell]);
        run.assert_code(0);
        assert!(run.stdout.contains(marker), "{shell}:\n{}", run.stdout);
        assert!(run.stdout.contains("coverage"), "{shell}");
    }
    let man = stackfleet(&tripwire, dir.path(), &["--no-color", "man"]);
    man.assert_code(0);
    assert!(man.stdout.contains(".TH stackfleet 1"), "{}", man.stdout);
    assert!(man.stdout.contains("assume\\-role"), "{}", man.stdout);
    tripwire.assert_untouched();
}

/// A port nothing listens on: connections are refused at once.
struct ClosedPort(String);

impl ClosedPort {
    fn new() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        ClosedPort(format!("http://{}", listener.local_addr().unwrap()))
    }
}

impl Endpoint for ClosedPort {
    fn url(&self) -> String {
        self.0.clone()
    }
}

/// One screen, a next step, and none of Rust's debug output.
#[track_caller]
fn assert_user_facing(run: &Run, first_line: &str, hint: &str) {
    run.assert_code(1);
    assert!(run.stderr.starts_with(first_line), "{}", run.stderr);
    assert!(run.stderr.contains(hint), "{}", run.stderr);
    assert!(run.stderr.lines().count() <= 12, "{}", run.stderr);
    for dump in [
        "DispatchFailure(",
        " { ",
        "panicked",
        "backtrace",
        "RUST_BACKTRACE",
    ] {
        assert!(!run.stderr.contains(dump), "{dump:?} in:\n{}", run.stderr);
    }
}

#[test]
fn errors_fit_one_screen_say_what_to_do_and_show_no_debug_dump() {
    let ws = Workspace::new()
        .write("templates/marker.yaml", MARKER_TEMPLATE)
        .with_fleet(FLEET);
    let closed = ClosedPort::new();
    let run = run_with(
        &closed,
        ws.path(),
        &["plan"],
        &[("RUST_BACKTRACE", Some("1"))],
    );
    assert_user_facing(
        &run,
        "error: cannot determine who is calling (STS GetCallerIdentity): nothing listens at http://127.0.0.1:",
        "\n  start the endpoint, or fix or unset AWS_ENDPOINT_URL",
    );

    let run = run_with(
        &closed,
        ws.path(),
        &["coverage"],
        &[
            ("AWS_ACCESS_KEY_ID", None),
            ("AWS_SECRET_ACCESS_KEY", None),
            ("AWS_EC2_METADATA_DISABLED", Some("true")),
        ],
    );
    assert_user_facing(
        &run,
        "error: cannot determine who is calling",
        "\n  no AWS credentials: sign in with `aws sso login --profile NAME`",
    );

    // A profile that the config files do not define is named as such, with the close one, before
    // any call (the closed port would refuse it anyway).
    let config = ws.path().join("aws-config");
    std::fs::write(
        &config,
        "[default]\nregion = us-east-1\n[profile security-admin]\nregion = us-east-1\n",
    )
    .unwrap();
    let config = config.to_string_lossy().into_owned();
    let run = run_with(
        &closed,
        ws.path(),
        &["drift", "--profile", "secruity-admin"],
        &[
            ("AWS_EC2_METADATA_DISABLED", Some("true")),
            ("AWS_CONFIG_FILE", Some(&config)),
        ],
    );
    assert_user_facing(
        &run,
        "error: profile \"secruity-admin\" does not exist\n",
        "\n  profiles that exist: default, security-admin; did you mean \"security-admin\"?",
    );
}
