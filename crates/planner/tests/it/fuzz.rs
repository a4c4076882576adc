//! Bad input never panics or hangs, and every rejection names a place: arbitrary bytes, structured
//! mutations of a valid fleet.toml and template, and pathological shapes (huge, deep, binary,
//! empty, not UTF-8). The test command runs 2,000 cases of each; a longer fuzzing run is
//! `STACKFLEET_FUZZ_CASES=200000 cargo test --release -p stackfleet-planner --test it fuzz`.

use std::path::Path;

use proptest::prelude::*;
use stackfleet_planner::fleet::{self, FleetError};
use stackfleet_planner::template::parse_template;

use crate::common::{Dir, TEMPLATE, fleet_text};

/// A valid fleet using every kind of key, the seed of the structured mutations.
fn valid_fleet() -> String {
    let base = fleet_text(
        &["us-east-1", "eu-west-1"],
        "organizational_units = [\"/A\", \"ou-ab12-cdefgh12\"]\naccounts = [\"111122223333\"]\nexclude_accounts = [\"444455556666\"]\nexclude_organizational_units = [\"/A/B\"]",
    );
    format!(
        "{base}[stack_sets.rollout]\nmax_concurrent_percentage = 50\nfailure_tolerance_count = 2\nregion_concurrency = \"sequential\"\nregion_order = [\"eu-west-1\", \"us-east-1\"]\n"
    )
}

/// Loads `bytes` as fleet.toml and checks the outcome is an Ok or located errors.
fn check_fleet(dir: &Dir, bytes: &[u8]) -> Result<(), TestCaseError> {
    let path = dir.dir.path().join("fleet.toml");
    std::fs::write(&path, bytes).unwrap();
    let lines = bytes.iter().filter(|b| **b == b'\n').count() + 1;
    match fleet::load(&path) {
        Ok(_) => {}
        Err(FleetError::Read { .. }) => prop_assert!(false, "a written file must be readable"),
        Err(FleetError::Invalid(diagnostics)) => {
            prop_assert!(!diagnostics.0.is_empty());
            for d in &diagnostics.0 {
                prop_assert!(d.location.line >= 1 && d.location.column >= 1, "{d}");
                prop_assert!(!d.message.is_empty());
                if d.location.file == path {
                    prop_assert!(d.location.line <= lines, "{d} beyond {lines} lines");
                }
            }
        }
    }
    Ok(())
}

fn check_template(body: &str) -> Result<(), TestCaseError> {
    if let Err(d) = parse_template(Path::new("t.yaml"), body) {
        prop_assert!(d.location.line >= 1 && d.location.column >= 1, "{d}");
        prop_assert!(d.location.line <= body.lines().count() + 2, "{d}");
    }
    Ok(())
}

#[derive(Debug, Clone)]
enum Mutation {
    Delete(usize, usize),
    Insert(usize, String),
    DuplicateLine(usize),
    SwapLines(usize, usize),
    ReplaceByte(usize, u8),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1..40usize).prop_map(|(at, n)| Mutation::Delete(at, n)),
        (any::<usize>(), "[\\[\\]{}=\"',.#\\n a-z0-9-]{1,12}")
            .prop_map(|(at, s)| Mutation::Insert(at, s)),
        any::<usize>().prop_map(Mutation::DuplicateLine),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(at, b)| Mutation::ReplaceByte(at, b)),
    ]
}

fn apply(text: &str, mutations: &[Mutation]) -> Vec<u8> {
    let mut bytes = text.as_bytes().to_vec();
    for m in mutations {
        let len = bytes.len().max(1);
        match m {
            Mutation::Delete(at, n) => {
                let at = at % len;
                let end = (at + n).min(bytes.len());
                if at < end {
                    bytes.drain(at..end);
                }
            }
            Mutation::Insert(at, s) => {
                let at = at % (bytes.len() + 1);
                bytes.splice(at..at, s.bytes());
            }
            Mutation::DuplicateLine(i) | Mutation::SwapLines(i, _) => {
                let mut lines: Vec<Vec<u8>> =
                    bytes.split(|b| *b == b'\n').map(<[u8]>::to_vec).collect();
                let a = i % lines.len();
                match m {
                    Mutation::DuplicateLine(_) => {
                        let line = lines[a].clone();
                        lines.insert(a, line);
                    }
                    Mutation::SwapLines(_, j) => {
                        let b = j % lines.len();
                        lines.swap(a, b);
                    }
                    _ => unreachable!(),
                }
                bytes = lines.join(&b'\n');
            }
            Mutation::ReplaceByte(at, b) => {
                if !bytes.is_empty() {
                    let at = at % bytes.len();
                    bytes[at] = *b;
                }
            }
        }
    }
    bytes
}

/// Cases per property: 2,000 in the test command, more on demand.
fn cases() -> u32 {
    std::env::var("STACKFLEET_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn arbitrary_bytes_give_located_errors(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        check_fleet(&Dir::new(), &bytes)?;
    }

    #[test]
    fn mutated_fleets_give_located_errors(mutations in proptest::collection::vec(mutation(), 1..6)) {
        check_fleet(&Dir::new(), &apply(&valid_fleet(), &mutations))?;
    }

    #[test]
    fn mutated_templates_give_located_errors(mutations in proptest::collection::vec(mutation(), 1..6)) {
        let bytes = apply(TEMPLATE, &mutations);
        check_template(&String::from_utf8_lossy(&bytes))?;
    }

    #[test]
    fn arbitrary_text_templates_give_located_errors(body in "\\PC{0,300}") {
        check_template(&body)?;
    }
}

#[test]
fn the_seed_of_the_mutations_is_valid() {
    Dir::new().parse(&valid_fleet()).unwrap();
}

#[test]
fn pathological_shapes_are_rejected_quickly_with_a_location() {
    let dir = Dir::new();
    let deep_array = format!(
        "[organization]\nhome_region = \"us-east-1\"\nx = {}{}\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let deep_table = format!("x = {}1{}\n", "{a=".repeat(50_000), "}".repeat(50_000));
    let dotted = format!(
        "[organization]\nhome_region = \"us-east-1\"\n{}b = 1\n",
        "a.".repeat(50_000)
    );
    let huge = format!(
        "name = \"f\"\n[organization]\nhome_region = \"us-east-1\"\n{}",
        "# padding\n".repeat(1_000_000)
    );
    let started = std::time::Instant::now();
    for (what, text) in [
        ("deep array", deep_array.as_bytes()),
        ("deep inline table", deep_table.as_bytes()),
        ("long dotted key", dotted.as_bytes()),
        ("empty", b"".as_slice()),
        (
            "binary",
            b"\x00\x01\x02\xff\xfe[organization]\x00".as_slice(),
        ),
        (
            "not UTF-8",
            b"[organization]\nhome_region = \"\xc3\x28\"\n".as_slice(),
        ),
    ] {
        let path = dir.file("fleet.toml", "");
        std::fs::write(&path, text).unwrap();
        let err = fleet::load(&path).expect_err(what);
        let FleetError::Invalid(d) = err else {
            panic!("{what}: {err}")
        };
        assert!(d.0[0].location.line >= 1, "{what}: {d}");
    }
    // A huge but valid file (10 MB of comments) is simply read.
    let path = dir.file("fleet.toml", &huge);
    let fleet = fleet::load(&path).expect("comments are valid TOML");
    assert!(fleet.stack_sets.is_empty());
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );

    let deep_yaml = format!("Resources: {}{}\n", "[".repeat(25_000), "]".repeat(25_000));
    let d = parse_template(Path::new("t.yaml"), &deep_yaml).unwrap_err();
    assert!(d.message.contains("not valid YAML"), "{d}");
    let aliases = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\ng: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\nResources: [*g, *g, *g, *g, *g, *g, *g, *g, *g]\n";
    let started = std::time::Instant::now();
    let _ = parse_template(Path::new("t.yaml"), aliases);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "alias bomb took {:?}",
        started.elapsed()
    );
}
