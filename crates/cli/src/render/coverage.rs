//! Coverage as a table, JSON, Markdown or CSV.

use std::collections::BTreeMap;
use std::fmt::Write;

use stackfleet_planner::coverage::{Coverage, CoverageCell, CoverageStatus, StackSetCoverage};

use super::{md_cell, new_table};

/// Accounts listed by default before the rest is counted, so that an organization of thousands
/// of accounts still gets a summary that fits one screen.
const ROWS_SHOWN: usize = 25;

/// One character per status in the region matrix (and on the HTML page).
pub(super) fn symbol(status: CoverageStatus) -> &'static str {
    match status {
        CoverageStatus::Covered => "✓",
        CoverageStatus::Missing => "M",
        CoverageStatus::Failed => "F",
        CoverageStatus::Outdated => "O",
        CoverageStatus::Drifted => "D",
        CoverageStatus::Suspended => "S",
        CoverageStatus::Excluded => "X",
        CoverageStatus::NotDeployable => "N",
        CoverageStatus::Unmanaged => "U",
        CoverageStatus::Untargeted => "-",
        CoverageStatus::Blind => "B",
        CoverageStatus::Unverified => "?",
    }
}

fn legend() -> String {
    CoverageStatus::ALL
        .iter()
        .map(|s| format!("{} {}", symbol(*s), s.label()))
        .collect::<Vec<_>>()
        .join("  ")
}

fn statuses(list: &[CoverageStatus]) -> String {
    list.iter()
        .map(|s| s.label())
        .collect::<Vec<_>>()
        .join(", ")
}

fn pct(p: f64) -> String {
    format!("{p:.1}%")
}

/// The report as JSON.
pub fn json(report: &Coverage, min_coverage: f64) -> String {
    let mut value = serde_json::to_value(report).unwrap_or_default();
    if let Some(summary) = value.get_mut("summary").and_then(|s| s.as_object_mut()) {
        summary.insert("min_coverage".into(), min_coverage.into());
        summary.insert("ok".into(), (report.summary.percent >= min_coverage).into());
    }
    let mut text = serde_json::to_string_pretty(&value).unwrap_or_default();
    text.push('\n');
    text
}

/// One line per cell.
pub fn csv(report: &Coverage) -> String {
    let mut out =
        String::from("stack_set,account,account_name,ou_path,region,status,required,reason\n");
    for set in &report.stack_sets {
        for c in &set.cells {
            let fields = [
                set.name.as_str(),
                &c.account,
                &c.account_name,
                &c.ou_path,
                &c.region,
                c.status.label(),
                if c.required { "true" } else { "false" },
                &c.reason,
            ];
            let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
            let _ = writeln!(out, "{}", line.join(","));
        }
    }
    out
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

fn counts(set: &StackSetCoverage) -> BTreeMap<CoverageStatus, usize> {
    let mut out = BTreeMap::new();
    for c in &set.cells {
        *out.entry(c.status).or_default() += 1;
    }
    out
}

/// One account's row: its first cell (for name and OU), its statuses by region, and whether it
/// needs attention (a required cell that is not covered, or a stale instance).
struct Row<'a> {
    first: &'a CoverageCell,
    cells: BTreeMap<&'a str, CoverageStatus>,
    attention: bool,
}

fn is_problem(c: &CoverageCell) -> bool {
    (c.required && !c.status.counts_as_covered(false)) || c.status == CoverageStatus::Unmanaged
}

/// The accounts of a stack set, in account order.
fn rows(set: &StackSetCoverage) -> Vec<Row<'_>> {
    let mut rows: BTreeMap<&str, Row<'_>> = BTreeMap::new();
    for c in &set.cells {
        let row = rows.entry(&c.account).or_insert_with(|| Row {
            first: c,
            cells: BTreeMap::new(),
            attention: false,
        });
        row.cells.insert(&c.region, c.status);
        row.attention |= is_problem(c);
    }
    rows.into_values().collect()
}

fn regions(set: &StackSetCoverage) -> Vec<String> {
    let mut regions: Vec<String> = set.regions.clone();
    for c in &set.cells {
        if !regions.contains(&c.region) {
            regions.push(c.region.clone());
        }
    }
    regions
}

const SHOWN_STATUSES: [CoverageStatus; 6] = [
    CoverageStatus::Missing,
    CoverageStatus::Failed,
    CoverageStatus::Outdated,
    CoverageStatus::Drifted,
    CoverageStatus::Suspended,
    CoverageStatus::Unmanaged,
];

/// The report for people: totals, per stack set, per OU, uncovered accounts, then the accounts
/// that need attention with a region matrix (all accounts with `detail`).
pub fn table(report: &Coverage, detail: bool) -> String {
    let mut out = String::new();
    let s = &report.summary;
    let _ = writeln!(
        out,
        "Coverage of organization {}: {} of {} required account × region cells covered ({})\n",
        report.organization_id,
        s.covered,
        s.required,
        pct(s.percent)
    );
    let mut header = vec!["Stack set", "Required", "Covered", "Percent"];
    header.extend(SHOWN_STATUSES.iter().map(|s| s.label()));
    let mut t = new_table(&header);
    for set in &report.stack_sets {
        let counts = counts(set);
        let mut row = vec![
            set.name.clone(),
            set.required.to_string(),
            set.covered.to_string(),
            pct(set.percent),
        ];
        row.extend(
            SHOWN_STATUSES
                .iter()
                .map(|st| counts.get(st).copied().unwrap_or(0).to_string()),
        );
        t.add_row(row);
    }
    let _ = writeln!(out, "{t}");

    let mut ous = new_table(&["OU", "Required", "Covered", "Percent"]);
    for ou in &s.organizational_units {
        ous.add_row(vec![
            ou.ou_path.clone(),
            ou.required.to_string(),
            ou.covered.to_string(),
            pct(ou.percent),
        ]);
    }
    let _ = writeln!(out, "\nBy OU (nested OUs included):\n{ous}");

    if s.uncovered_accounts.is_empty() {
        let _ = writeln!(
            out,
            "\nEvery active account is covered by at least one stack set."
        );
    } else {
        let mut t = new_table(&["Account", "Name", "OU", "Status"]);
        let shown = if detail {
            s.uncovered_accounts.len()
        } else {
            ROWS_SHOWN
        };
        for a in s.uncovered_accounts.iter().take(shown) {
            t.add_row(vec![
                a.account.clone(),
                a.account_name.clone(),
                a.ou_path.clone(),
                statuses(&a.statuses),
            ]);
        }
        let _ = writeln!(
            out,
            "\n!! {} active account(s) are covered by no stack set at all:\n{t}",
            s.uncovered_accounts.len()
        );
        if s.uncovered_accounts.len() > shown {
            let _ = writeln!(
                out,
                "… and {} more (--detail lists all)",
                s.uncovered_accounts.len() - shown
            );
        }
    }

    for set in &report.stack_sets {
        let regions = regions(set);
        let rows: Vec<Row<'_>> = rows(set)
            .into_iter()
            .filter(|r| detail || r.attention)
            .collect();
        if rows.is_empty() {
            continue;
        }
        let mut header: Vec<&str> = vec!["Account", "Name", "OU"];
        header.extend(regions.iter().map(String::as_str));
        let mut t = new_table(&header);
        let shown = if detail { rows.len() } else { ROWS_SHOWN };
        for r in rows.iter().take(shown) {
            let mut row = vec![
                r.first.account.clone(),
                r.first.account_name.clone(),
                r.first.ou_path.clone(),
            ];
            row.extend(regions.iter().map(|g| {
                r.cells
                    .get(g.as_str())
                    .map_or(" ", |s| symbol(*s))
                    .to_string()
            }));
            t.add_row(row);
        }
        let title = if detail {
            "All accounts"
        } else {
            "Accounts that need attention"
        };
        let _ = writeln!(out, "\n{title} — {}:\n{t}", set.name);
        if rows.len() > shown {
            let _ = writeln!(
                out,
                "… and {} more (--detail lists all, --output json has every cell and reason)",
                rows.len() - shown
            );
        }
        let reasons = problem_reasons(set);
        if !reasons.is_empty() && !detail {
            let _ = writeln!(out, "Reasons:");
            for (reason, n) in reasons.iter().take(10) {
                let _ = writeln!(out, "  {n} × {reason}");
            }
        }
        let findings = cell_findings(set);
        if !findings.is_empty() {
            let _ = writeln!(out, "Findings (the alert is weakened, not blind):");
            for (finding, n) in findings {
                let _ = writeln!(out, "  {n} × {finding}");
            }
        }
    }
    let _ = writeln!(out, "\nLegend: {}", legend());
    out
}

/// Distinct cell findings (such as S3 data events not selected), with how many cells have each.
fn cell_findings(set: &StackSetCoverage) -> BTreeMap<&str, usize> {
    let mut out = BTreeMap::new();
    for finding in set.cells.iter().filter_map(|c| c.finding.as_deref()) {
        *out.entry(finding).or_default() += 1;
    }
    out
}

/// Distinct reasons of cells that need attention, most frequent first.
fn problem_reasons(set: &StackSetCoverage) -> Vec<(String, usize)> {
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    for c in &set.cells {
        if is_problem(c) {
            *reasons
                .entry(format!("{}: {}", c.status.label(), c.reason))
                .or_default() += 1;
        }
    }
    let mut out: Vec<(String, usize)> = reasons.into_iter().collect();
    out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    out
}

/// The report for a pull-request comment: totals first, details folded.
pub fn markdown(report: &Coverage) -> String {
    let mut out = String::new();
    let s = &report.summary;
    let _ = writeln!(out, "### stackfleet coverage: {}\n", pct(s.percent));
    let _ = writeln!(
        out,
        "**{} of {} required account × region cells covered** in organization `{}`.\n",
        s.covered, s.required, report.organization_id
    );
    let _ = write!(out, "| Stack set | Required | Covered | Percent |");
    for st in SHOWN_STATUSES {
        let _ = write!(out, " {} |", st.label());
    }
    let _ = write!(out, "\n|---|--:|--:|--:|");
    for _ in SHOWN_STATUSES {
        let _ = write!(out, "--:|");
    }
    let _ = writeln!(out);
    for set in &report.stack_sets {
        let counts = counts(set);
        let _ = write!(
            out,
            "| `{}` | {} | {} | {} |",
            md_cell(&set.name),
            set.required,
            set.covered,
            pct(set.percent)
        );
        for st in SHOWN_STATUSES {
            let _ = write!(out, " {} |", counts.get(&st).copied().unwrap_or(0));
        }
        let _ = writeln!(out);
    }
    if !s.uncovered_accounts.is_empty() {
        let _ = writeln!(
            out,
            "\n> [!WARNING]\n> {} active account(s) are covered by no stack set at all:",
            s.uncovered_accounts.len()
        );
        for a in s.uncovered_accounts.iter().take(ROWS_SHOWN) {
            let _ = writeln!(
                out,
                "> - `{}` {} (`{}`): {}",
                a.account,
                md_cell(&a.account_name),
                a.ou_path,
                statuses(&a.statuses)
            );
        }
        if s.uncovered_accounts.len() > ROWS_SHOWN {
            let _ = writeln!(
                out,
                "> - … and {} more",
                s.uncovered_accounts.len() - ROWS_SHOWN
            );
        }
    }
    let _ = writeln!(
        out,
        "\n<details><summary>By OU</summary>\n\n| OU | Required | Covered | Percent |\n|---|--:|--:|--:|"
    );
    for ou in &s.organizational_units {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} |",
            md_cell(&ou.ou_path),
            ou.required,
            ou.covered,
            pct(ou.percent)
        );
    }
    let _ = writeln!(out, "\n</details>");
    for set in &report.stack_sets {
        let regions = regions(set);
        let rows: Vec<Row<'_>> = rows(set).into_iter().filter(|r| r.attention).collect();
        if rows.is_empty() {
            continue;
        }
        let _ = writeln!(
            out,
            "\n<details><summary>Accounts that need attention — <code>{}</code> ({})</summary>\n",
            md_cell(&set.name),
            rows.len()
        );
        let _ = write!(out, "| Account | Name | OU |");
        for r in &regions {
            let _ = write!(out, " {r} |");
        }
        let _ = write!(out, "\n|---|---|---|");
        for _ in &regions {
            let _ = write!(out, ":-:|");
        }
        let _ = writeln!(out);
        for row in &rows {
            let _ = write!(
                out,
                "| `{}` | {} | `{}` |",
                row.first.account,
                md_cell(&row.first.account_name),
                md_cell(&row.first.ou_path)
            );
            for r in &regions {
                let _ = write!(
                    out,
                    " {} |",
                    row.cells.get(r.as_str()).map_or(" ", |s| symbol(*s))
                );
            }
            let _ = writeln!(out);
        }
        let _ = writeln!(out, "\nReasons:\n");
        for (reason, n) in problem_reasons(set) {
            let _ = writeln!(out, "- {n} × {}", md_cell(&reason));
        }
        let _ = writeln!(out, "\n</details>");
    }
    let _ = writeln!(out, "\nLegend: {}", legend());
    out
}
