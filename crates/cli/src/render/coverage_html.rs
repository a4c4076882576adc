//! Coverage as one self-contained HTML page, for people who will not read a table of 5,000 rows:
//! totals and legend rendered here, the OU × region heat map and the account × region grid drawn
//! by the page's own script from the data embedded once as JSON. Nothing is loaded from the
//! network (the page's Content-Security-Policy forbids it), so it opens from disk or as a CI
//! artifact.
//!
//! The embedded data is compact because 5,000 accounts × 20 regions is 100,000 cells: accounts,
//! OU paths and reasons are listed once, and each stack set's cells are one string with one
//! character per account × region (see [`CellCode`]).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use serde::Serialize;
use stackfleet_planner::coverage::{Coverage, CoverageStatus, StackSetCoverage};

use super::coverage::symbol;

const CSS: &str = include_str!("coverage_html.css");
const JS: &str = include_str!("coverage_html.js");

/// The data the page's script reads.
#[derive(Serialize)]
struct Page<'a> {
    /// Statuses in legend order: a cell's code is an index into this list.
    statuses: Vec<StatusInfo>,
    /// Every OU path with its ancestors, parents before children.
    ous: Vec<String>,
    /// `[id, name, index into ous or -1]`, by account id.
    accounts: Vec<(&'a str, &'a str, i64)>,
    /// Every distinct reason.
    reasons: Vec<&'a str>,
    sets: Vec<SetPage<'a>>,
}

#[derive(Serialize)]
struct StatusInfo {
    label: &'static str,
    letter: &'static str,
    /// Whether a required cell of this status counts as covered (`unverified` does unless
    /// `--require-trail`).
    counts: bool,
}

/// One stack set. A cell's reason is `default_reason[status]` unless `exceptions` (flat pairs of
/// cell index and reason index) says otherwise: most cells of a status share one reason.
#[derive(Serialize)]
struct SetPage<'a> {
    name: &'a str,
    regions: Vec<&'a str>,
    required: usize,
    covered: usize,
    percent: f64,
    /// One [`CellCode`] per account (outer) × region (inner).
    cells: String,
    default_reason: Vec<i64>,
    exceptions: Vec<usize>,
}

/// A cell as one character: `.` for no cell, else the status index as a letter from `a`,
/// upper case when the cell is required.
struct CellCode;

impl CellCode {
    const NONE: u8 = b'.';

    fn of(status: CoverageStatus, required: bool) -> u8 {
        let index = status_index(status) as u8;
        if required { b'A' + index } else { b'a' + index }
    }
}

fn status_index(status: CoverageStatus) -> usize {
    CoverageStatus::ALL
        .iter()
        .position(|s| *s == status)
        .unwrap_or_default()
}

/// Escapes text for HTML content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// JSON that is safe inside `<script type="application/json">`: `<`, `>` and `&` cannot end the
/// element or open a comment, and U+2028/U+2029 cannot break older JavaScript parsers. All of
/// them only occur inside JSON strings, where `\uXXXX` means the same character.
pub fn script_json(value: &impl Serialize) -> String {
    let text = serde_json::to_string(value).unwrap_or_else(|_| "null".to_string());
    let mut out = String::with_capacity(text.len() + text.len() / 16);
    for c in text.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// OU paths sorted by their components, so that `/A/B` follows `/A` and precedes `/A-x`.
fn ou_order(path: &str) -> Vec<&str> {
    path.split('/').filter(|p| !p.is_empty()).collect()
}

fn with_ancestors(path: &str, into: &mut BTreeSet<String>) {
    into.insert("/".to_string());
    let mut current = String::new();
    for part in ou_order(path) {
        current.push('/');
        current.push_str(part);
        into.insert(current.clone());
    }
}

/// Governed regions first, then regions where only stale instances are.
fn regions(set: &StackSetCoverage) -> Vec<&str> {
    let mut out: Vec<&str> = set.regions.iter().map(String::as_str).collect();
    for c in &set.cells {
        if !out.contains(&c.region.as_str()) {
            out.push(&c.region);
        }
    }
    out
}

fn page(report: &Coverage) -> Page<'_> {
    let mut accounts: BTreeMap<&str, (&str, &str)> = BTreeMap::new();
    let mut paths: BTreeSet<String> = BTreeSet::new();
    for set in &report.stack_sets {
        for c in &set.cells {
            accounts
                .entry(&c.account)
                .or_insert((&c.account_name, &c.ou_path));
            if !c.ou_path.is_empty() {
                with_ancestors(&c.ou_path, &mut paths);
            }
        }
    }
    let mut ous: Vec<String> = paths.into_iter().collect();
    ous.sort_by(|a, b| ou_order(a).cmp(&ou_order(b)));
    let ou_index: BTreeMap<&str, usize> = ous
        .iter()
        .enumerate()
        .map(|(i, p)| (p.as_str(), i))
        .collect();
    let account_list: Vec<(&str, &str, i64)> = accounts
        .iter()
        .map(|(id, (name, ou))| {
            let index = ou_index.get(ou).map_or(-1, |i| *i as i64);
            (*id, *name, index)
        })
        .collect();
    let account_index: BTreeMap<&str, usize> =
        accounts.keys().enumerate().map(|(i, a)| (*a, i)).collect();

    let mut reasons: Vec<&str> = Vec::new();
    let mut reason_index: BTreeMap<&str, usize> = BTreeMap::new();
    let mut sets = Vec::new();
    for set in &report.stack_sets {
        let regions = regions(set);
        let region_index: BTreeMap<&str, usize> =
            regions.iter().enumerate().map(|(i, r)| (*r, i)).collect();
        let mut cells = vec![CellCode::NONE; accounts.len() * regions.len()];
        // The most frequent reason of each status becomes its default.
        let mut frequency: BTreeMap<(usize, &str), usize> = BTreeMap::new();
        for c in &set.cells {
            *frequency
                .entry((status_index(c.status), c.reason.as_str()))
                .or_default() += 1;
        }
        let mut default_reason = vec![-1_i64; CoverageStatus::ALL.len()];
        let mut best = vec![0_usize; CoverageStatus::ALL.len()];
        for ((status, reason), n) in &frequency {
            if *n > best[*status] {
                best[*status] = *n;
                default_reason[*status] = intern(reason, &mut reasons, &mut reason_index) as i64;
            }
        }
        let mut exceptions = Vec::new();
        for c in &set.cells {
            let index =
                account_index[c.account.as_str()] * regions.len() + region_index[c.region.as_str()];
            cells[index] = CellCode::of(c.status, c.required);
            let reason = intern(&c.reason, &mut reasons, &mut reason_index) as i64;
            if reason != default_reason[status_index(c.status)] {
                exceptions.extend([index, reason as usize]);
            }
        }
        sets.push(SetPage {
            name: &set.name,
            regions,
            required: set.required,
            covered: set.covered,
            percent: set.percent,
            cells: String::from_utf8(cells).unwrap_or_default(),
            default_reason,
            exceptions,
        });
    }
    Page {
        statuses: CoverageStatus::ALL
            .iter()
            .map(|s| StatusInfo {
                label: s.label(),
                letter: symbol(*s),
                counts: s.counts_as_covered(report.summary.require_trail),
            })
            .collect(),
        ous,
        accounts: account_list,
        reasons,
        sets,
    }
}

fn intern<'a>(
    reason: &'a str,
    reasons: &mut Vec<&'a str>,
    index: &mut BTreeMap<&'a str, usize>,
) -> usize {
    *index.entry(reason).or_insert_with(|| {
        reasons.push(reason);
        reasons.len() - 1
    })
}

fn pct(p: f64) -> String {
    format!("{p:.1}%")
}

/// The page. `generated` is when the report was made (RFC 3339), shown in the header;
/// `min_coverage` is the threshold the run was held to.
pub fn html(report: &Coverage, generated: &str, min_coverage: f64) -> String {
    let s = &report.summary;
    let org = escape(&report.organization_id);
    let mut out = String::with_capacity(64 * 1024);
    let _ = write!(
        out,
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<meta name="generator" content="stackfleet {version}">
<title>Coverage of {org}: {percent}</title>
<style>
{CSS}</style>
</head>
<body>
<header>
<h1>Coverage of organization <span id="organization">{org}</span></h1>
<p class="meta">Report of <time id="generated" datetime="{generated}">{generated}</time> · minimum {min}</p>
<p class="total"><strong id="total-percent" class="{ok}">{percent}</strong> of the required account × region cells are covered: <span id="total-covered">{covered}</span> of <span id="total-required">{required}</span>{verdict}</p>
"#,
        version = env!("CARGO_PKG_VERSION"),
        generated = escape(generated),
        min = pct(min_coverage),
        percent = pct(s.percent),
        covered = s.covered,
        required = s.required,
        ok = if s.percent >= min_coverage {
            "ok"
        } else {
            "below"
        },
        verdict = if s.percent >= min_coverage {
            ""
        } else {
            " — below the minimum"
        },
    );
    out.push_str("<ul class=\"legend\" id=\"legend\" aria-label=\"Cells by status\">\n");
    for status in CoverageStatus::ALL {
        let n = s.by_status.get(&status).copied().unwrap_or(0);
        let _ = writeln!(
            out,
            r#"<li data-status="{label}"><span class="c st-{label}" aria-hidden="true">{letter}</span> {label} <b class="n">{n}</b></li>"#,
            label = status.label(),
            letter = symbol(status),
        );
    }
    out.push_str("</ul>\n");
    if report.stack_sets.len() > 1 {
        out.push_str("<table class=\"sets\" id=\"set-totals\"><thead><tr><th>Stack set</th><th>Required</th><th>Covered</th><th>Percent</th></tr></thead><tbody>\n");
        for set in &report.stack_sets {
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&set.name),
                set.required,
                set.covered,
                pct(set.percent)
            );
        }
        out.push_str("</tbody></table>\n");
    }
    let _ = write!(
        out,
        r#"</header>
<noscript><p>The heat map and the account grid need JavaScript; the totals above are complete, and <code>stackfleet coverage --output csv</code> lists every cell.</p></noscript>
<main id="app"></main>
<script type="application/json" id="coverage-data">{data}</script>
<script>
{JS}</script>
</body>
</html>
"#,
        data = script_json(&page(report)),
    );
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    use serde_json::Value;
    use stackfleet_planner::coverage::{
        Coverage, CoverageCell, CoverageStatus, CoverageSummary, StackSetCoverage,
    };

    use super::{escape, html, script_json};

    const NASTY: &str = "</script><script>alert(\"x\")</script> & <!-- \u{2028}\u{2029}";

    fn cell(
        account: &str,
        name: &str,
        ou: &str,
        region: &str,
        status: CoverageStatus,
    ) -> CoverageCell {
        CoverageCell {
            account: account.to_string(),
            account_name: name.to_string(),
            ou_path: ou.to_string(),
            region: region.to_string(),
            status,
            reason: format!("{} because", status.label()),
            required: matches!(
                status,
                CoverageStatus::Covered | CoverageStatus::Missing | CoverageStatus::Failed
            ),
            finding: None,
        }
    }

    /// Totals as the planner computes them (required cells, covered ones, floor to 0.1 %).
    fn report(organization: &str, sets: Vec<(&str, Vec<&str>, Vec<CoverageCell>)>) -> Coverage {
        let mut by_status = BTreeMap::new();
        let percent = |c: usize, r: usize| {
            if r == 0 {
                100.0
            } else {
                (c as f64 * 1000.0 / r as f64).floor() / 10.0
            }
        };
        let stack_sets: Vec<StackSetCoverage> = sets
            .into_iter()
            .map(|(name, regions, cells)| {
                for c in &cells {
                    *by_status.entry(c.status).or_default() += 1;
                }
                let required = cells.iter().filter(|c| c.required).count();
                let covered = cells
                    .iter()
                    .filter(|c| c.required && c.status == CoverageStatus::Covered)
                    .count();
                StackSetCoverage {
                    name: name.to_string(),
                    regions: regions.into_iter().map(String::from).collect(),
                    required,
                    covered,
                    percent: percent(covered, required),
                    cells,
                }
            })
            .collect();
        let required = stack_sets.iter().map(|s| s.required).sum();
        let covered = stack_sets.iter().map(|s| s.covered).sum();
        Coverage {
            organization_id: organization.to_string(),
            stack_sets,
            summary: CoverageSummary {
                required,
                covered,
                percent: percent(covered, required),
                by_status,
                uncovered_accounts: Vec::new(),
                organizational_units: Vec::new(),
                require_trail: false,
            },
        }
    }

    fn small() -> Coverage {
        use CoverageStatus::*;
        report(
            "o-<b>org</b>",
            vec![
                (
                    "monitor",
                    vec!["us-east-1", "eu-west-1"],
                    vec![
                        cell(
                            "111111111111",
                            NASTY,
                            "/Workloads/Prod",
                            "us-east-1",
                            Covered,
                        ),
                        cell(
                            "111111111111",
                            NASTY,
                            "/Workloads/Prod",
                            "eu-west-1",
                            Missing,
                        ),
                        cell(
                            "111111111111",
                            NASTY,
                            "/Workloads/Prod",
                            "ap-south-1",
                            Unmanaged,
                        ),
                        cell("222222222222", "dev", "/Workloads-x", "us-east-1", Failed),
                        cell("222222222222", "dev", "/Workloads-x", "eu-west-1", Covered),
                        cell("333333333333", "gone", "", "us-east-1", Unmanaged),
                    ],
                ),
                (
                    "second",
                    vec!["us-east-1"],
                    vec![cell(
                        "222222222222",
                        "dev",
                        "/Workloads-x",
                        "us-east-1",
                        Excluded,
                    )],
                ),
            ],
        )
    }

    /// The embedded data of a page, parsed back.
    fn data(page: &str) -> Value {
        let start = page
            .find(r#"<script type="application/json" id="coverage-data">"#)
            .expect("data block")
            + r#"<script type="application/json" id="coverage-data">"#.len();
        let end = start + page[start..].find("</script>").expect("end of data block");
        serde_json::from_str(&page[start..end]).expect("the data block is JSON")
    }

    /// Every cell of every stack set as the page's script will read it:
    /// (set, account, region) → (status, required, reason).
    fn decoded(data: &Value) -> BTreeMap<(String, String, String), (String, bool, String)> {
        let text = |v: &Value| v.as_str().unwrap().to_string();
        let accounts = data["accounts"].as_array().unwrap();
        let statuses = data["statuses"].as_array().unwrap();
        let reasons = data["reasons"].as_array().unwrap();
        let mut out = BTreeMap::new();
        for set in data["sets"].as_array().unwrap() {
            let regions = set["regions"].as_array().unwrap();
            let codes: Vec<char> = set["cells"].as_str().unwrap().chars().collect();
            assert_eq!(codes.len(), accounts.len() * regions.len());
            let exceptions: BTreeMap<u64, u64> = set["exceptions"]
                .as_array()
                .unwrap()
                .chunks(2)
                .map(|p| (p[0].as_u64().unwrap(), p[1].as_u64().unwrap()))
                .collect();
            for (i, code) in codes.iter().enumerate() {
                if *code == '.' {
                    continue;
                }
                let status = (code.to_ascii_lowercase() as u8 - b'a') as usize;
                let reason = exceptions
                    .get(&(i as u64))
                    .copied()
                    .unwrap_or_else(|| set["default_reason"][status].as_u64().unwrap());
                out.insert(
                    (
                        text(&set["name"]),
                        text(&accounts[i / regions.len()][0]),
                        text(&regions[i % regions.len()]),
                    ),
                    (
                        text(&statuses[status]["label"]),
                        code.is_ascii_uppercase(),
                        text(&reasons[reason as usize]),
                    ),
                );
            }
        }
        out
    }

    #[test]
    fn escapes_html_and_script_json() {
        assert_eq!(
            escape(r#"<a href="x">Tom & Jerry's</a>"#),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt;"
        );
        let json = script_json(&NASTY);
        assert_eq!(
            json,
            r#""\u003c/script\u003e\u003cscript\u003ealert(\"x\")\u003c/script\u003e \u0026 \u003c!-- \u2028\u2029""#
        );
        // Still the same string for a JSON parser.
        assert_eq!(serde_json::from_str::<String>(&json).unwrap(), NASTY);
    }

    #[test]
    fn user_data_cannot_leave_the_data_block() {
        let report = small();
        let page = html(&report, "2026-11-29T20:00:00Z\"<x>", 100.0);
        // Exactly the two scripts of the page: the data and the code.
        assert_eq!(page.matches("<script").count(), 2, "{page}");
        assert_eq!(page.matches("</script>").count(), 2);
        assert!(!page.contains("alert(\"x\")</script>"));
        assert!(!page.contains('\u{2028}') && !page.contains('\u{2029}'));
        assert!(page.contains(
            "Coverage of organization <span id=\"organization\">o-&lt;b&gt;org&lt;/b&gt;</span>"
        ));
        assert!(page.contains(r#"datetime="2026-11-29T20:00:00Z&quot;&lt;x&gt;""#));
        // Nothing that could fetch: no URL, and a policy that forbids it.
        assert!(!page.contains("http://") && !page.contains("https://") && !page.contains("src="));
        assert!(page.contains("default-src 'none'"));
    }

    #[test]
    fn the_data_block_holds_every_cell_once() {
        let report = small();
        let data = data(&html(&report, "now", 100.0));
        let mut expected = BTreeMap::new();
        for set in &report.stack_sets {
            for c in &set.cells {
                expected.insert(
                    (set.name.clone(), c.account.clone(), c.region.clone()),
                    (c.status.label().to_string(), c.required, c.reason.clone()),
                );
            }
        }
        assert_eq!(decoded(&data), expected);
        assert_eq!(data["accounts"][0][1], NASTY);
        // OU paths in tree order, ancestors included, and the account outside the organization
        // without one.
        assert_eq!(
            data["ous"],
            serde_json::json!(["/", "/Workloads", "/Workloads/Prod", "/Workloads-x"])
        );
        assert_eq!(
            data["accounts"][2],
            serde_json::json!(["333333333333", "gone", -1])
        );
        assert_eq!(
            data["sets"][0]["regions"],
            serde_json::json!(["us-east-1", "eu-west-1", "ap-south-1"])
        );
    }

    #[test]
    fn header_snapshot() {
        let page = html(&small(), "2026-11-29T20:00:00Z", 90.0);
        // The assets change often and say nothing about the report: leave them out.
        let css = page.find("<style>").unwrap();
        let css_end = page.find("</style>").unwrap();
        let script = page.rfind("<script>").unwrap();
        let script_end = page.rfind("</script>").unwrap();
        let page = format!(
            "{}<style>…</style>{}<script>…</script>{}",
            &page[..css],
            &page[css_end + "</style>".len()..script],
            &page[script_end + "</script>".len()..]
        )
        .replace(env!("CARGO_PKG_VERSION"), "VERSION");
        insta::assert_snapshot!(page);
    }

    /// A large organization for the browser test and the size budget: 5,000 accounts in 40 OUs ×
    /// 20 regions, plus a second stack set over 3 regions; statuses of every kind, names with
    /// markup. Writes the page and its JSON report to `target/html-artifacts/`.
    #[test]
    fn five_thousand_accounts_stay_small() {
        let report = generated(5000, 20);
        let started = std::time::Instant::now();
        let page = html(&report, "2026-11-29T20:00:00Z", 100.0);
        let elapsed = started.elapsed();
        let cells: usize = report.stack_sets.iter().map(|s| s.cells.len()).sum();
        assert_eq!(cells, 5000 * 20 + 5000 * 3 + 40);
        // About 100 bytes per account and 1 per cell; the budget leaves room, not waste.
        assert!(page.len() < 1_200_000, "{} bytes", page.len());
        assert_eq!(decoded(&data(&page)).len(), cells);
        let dir = artifacts();
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("generated-5000.html"), &page).unwrap();
        std::fs::write(
            dir.join("generated-5000.json"),
            super::super::coverage::json(&report, 100.0),
        )
        .unwrap();
        eprintln!("5,000 × 20: {} bytes, rendered in {elapsed:?}", page.len());
    }

    /// `target/html-artifacts` of this workspace (or of CARGO_TARGET_DIR).
    fn artifacts() -> PathBuf {
        std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"))
            .join("html-artifacts")
    }

    /// Deterministic pseudo-random coverage (no clock, no `rand`: an LCG).
    fn generated(accounts: usize, regions: usize) -> Coverage {
        use CoverageStatus::*;
        let mut seed: u64 = 42;
        let mut next = move |n: u64| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) % n
        };
        let all_regions = [
            "us-east-1",
            "us-east-2",
            "us-west-1",
            "us-west-2",
            "ca-central-1",
            "eu-west-1",
            "eu-west-2",
            "eu-west-3",
            "eu-central-1",
            "eu-north-1",
            "eu-south-1",
            "ap-south-1",
            "ap-northeast-1",
            "ap-northeast-2",
            "ap-northeast-3",
            "ap-southeast-1",
            "ap-southeast-2",
            "sa-east-1",
            "me-south-1",
            "af-south-1",
        ];
        let regions: Vec<&str> = all_regions[..regions].to_vec();
        let mut ous = vec![
            "/Security".to_string(),
            "/Infrastructure".to_string(),
            "/Sandbox".to_string(),
        ];
        for env in ["Prod", "Staging", "Dev"] {
            for team in 1..=12 {
                ous.push(format!("/Workloads/{env}/Team{team:02}"));
            }
        }
        let ous: Vec<String> = ous.into_iter().take(39).chain(["/".to_string()]).collect();
        let nasty = [
            "<script>alert('pwned')</script>",
            "</script><img src=x onerror=alert(1)>",
            "Tom & Jerry's \"shop\"",
            "line\u{2028}separator",
            "東京 ünïcödé",
        ];
        let mut main = Vec::new();
        let mut second = Vec::new();
        for i in 0..accounts {
            let account = format!("{:012}", 100_000_000_000 + i as u64 * 7919);
            let ou = &ous[i % ous.len()];
            let name = if i < nasty.len() {
                nasty[i].to_string()
            } else {
                format!(
                    "acct-{i:05}-{}",
                    ["payments", "orders", "search", "data", "web"][i % 5]
                )
            };
            let suspended = next(100) < 1;
            let management = i == accounts - 1;
            for (set, set_regions) in [(&mut main, &regions[..]), (&mut second, &regions[..3])] {
                for region in set_regions {
                    let (status, reason, required) = if management {
                        (
                            NotDeployable,
                            "management account: service-managed stack sets never deploy to it"
                                .to_string(),
                            false,
                        )
                    } else if suspended {
                        (
                            Suspended,
                            "account is suspended: StackSets cannot deploy to it".to_string(),
                            false,
                        )
                    } else if ou == "/Sandbox" {
                        (Excluded, "excluded by fleet.toml".to_string(), false)
                    } else if ou == "/Infrastructure" {
                        (
                            Untargeted,
                            "no target of fleet.toml selects this account".to_string(),
                            false,
                        )
                    } else {
                        match next(1000) {
                            0..=29 => (
                                Missing,
                                "no stack instance; apply creates it".to_string(),
                                true,
                            ),
                            30..=34 => (
                                Failed,
                                format!(
                                    "ResourceLogicalId:Topic, ResourceType:AWS::SNS::Topic, ResourceStatusReason:Rate exceeded (request {})",
                                    next(1_000_000)
                                ),
                                true,
                            ),
                            35..=44 => {
                                (Outdated, "instance is outdated (RUNNING)".to_string(), true)
                            }
                            45..=47 => (
                                Drifted,
                                "the stack was changed outside StackSets (last drift detection)"
                                    .to_string(),
                                true,
                            ),
                            _ => (Covered, "current".to_string(), true),
                        }
                    };
                    set.push(CoverageCell {
                        account: account.clone(),
                        account_name: name.clone(),
                        ou_path: ou.clone(),
                        region: region.to_string(),
                        status,
                        reason,
                        required,
                        finding: None,
                    });
                }
            }
            // A few stale instances in a region fleet.toml does not govern.
            if i % 125 == 7 {
                main.push(CoverageCell {
                    account: account.clone(),
                    account_name: name.clone(),
                    ou_path: ou.clone(),
                    region: "il-central-1".to_string(),
                    status: Unmanaged,
                    reason: "an instance exists but the region is not governed by fleet.toml; apply deletes it".to_string(),
                    required: false,
                    finding: None,
                });
            }
        }
        // The planner's order: by account, then region.
        for set in [&mut main, &mut second] {
            set.sort_by(|a, b| (&a.account, &a.region).cmp(&(&b.account, &b.region)));
        }
        report(
            "o-exampleorg1",
            vec![
                ("s3-policy-monitor", regions.clone(), main),
                ("guardrails", regions[..3].to_vec(), second),
            ],
        )
    }
}
