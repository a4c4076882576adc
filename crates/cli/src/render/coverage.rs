//! Coverage as a table, JSON, Markdown or CSV.

use std::collections::BTreeMap;
use std::fmt::Write;

use stackfleet_planner::coverage::{Coverage, CoverageCell, CoverageStatus, StackSetCoverage};

use super::{count, md_cell, new_table};

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
        CoverageStatus::Orphaned => "G",
        CoverageStatus::Stranded => "T",
        CoverageStatus::Unknown => "!",
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

/// Where an active account with no covered cell belongs in the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AccountGroup {
    /// fleet.toml requires it somewhere and it is not covered there: a real gap.
    Gap,
    /// Excluded on purpose, or the management account that StackSets never deploys to (an
    /// instance left there is `unmanaged`: apply deletes it).
    OnPurpose,
    /// No target selects it (it may still hold an instance that apply deletes).
    Untargeted,
}

/// Whether a required cell with this status is a gap (not covered). Exhaustive on purpose: a new
/// status must say where it belongs.
fn is_gap(status: CoverageStatus) -> bool {
    match status {
        CoverageStatus::Missing
        | CoverageStatus::Failed
        | CoverageStatus::Outdated
        | CoverageStatus::Drifted
        | CoverageStatus::Suspended
        | CoverageStatus::Blind
        | CoverageStatus::Stranded
        | CoverageStatus::Unknown => true,
        // Counted as covered unless `--require-trail`; its cells are listed with their reason.
        CoverageStatus::Unverified
        | CoverageStatus::Covered
        | CoverageStatus::Excluded
        | CoverageStatus::NotDeployable
        | CoverageStatus::Unmanaged
        | CoverageStatus::Orphaned
        | CoverageStatus::Untargeted => false,
    }
}

fn account_group(statuses: &[CoverageStatus]) -> AccountGroup {
    if statuses.iter().any(|s| is_gap(*s)) {
        AccountGroup::Gap
    } else if statuses
        .iter()
        .any(|s| matches!(s, CoverageStatus::Excluded | CoverageStatus::NotDeployable))
        && !statuses.contains(&CoverageStatus::Untargeted)
    {
        AccountGroup::OnPurpose
    } else {
        AccountGroup::Untargeted
    }
}

/// Required cells that are not covered, by status, over all stack sets; with `covered`, they add
/// up to `required`.
fn gaps(report: &Coverage) -> BTreeMap<CoverageStatus, usize> {
    let mut out = BTreeMap::new();
    for c in report.stack_sets.iter().flat_map(|s| &s.cells) {
        if c.required && c.status != CoverageStatus::Covered {
            *out.entry(c.status).or_default() += 1;
        }
    }
    out
}

/// The verdict first: percent, pass or fail against `--min-coverage`, and the gaps by status.
fn verdict(report: &Coverage, min_coverage: f64) -> String {
    let s = &report.summary;
    if s.required == 0 {
        return format!(
            "FAIL: no cell is required (fleet.toml selects no account × region), so coverage proves nothing (--min-coverage {min_coverage}%)"
        );
    }
    let pass = s.percent >= min_coverage;
    let gaps: Vec<String> = gaps(report)
        .iter()
        .map(|(st, n)| format!("{n} {}", st.label()))
        .collect();
    format!(
        "{}: {} of {} required account × region cells covered ({}), {} --min-coverage {min_coverage}%{}",
        if pass { "PASS" } else { "FAIL" },
        s.covered,
        s.required,
        pct(s.percent),
        if pass { "at or above" } else { "below" },
        if gaps.is_empty() {
            String::new()
        } else {
            format!("; not covered: {}", gaps.join(", "))
        }
    )
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

/// Required cells per status, for the stack-set summary: covered plus the others is required.
fn counts(set: &StackSetCoverage) -> BTreeMap<CoverageStatus, usize> {
    let mut out = BTreeMap::new();
    for c in set.cells.iter().filter(|c| c.required) {
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
    (c.required && !c.status.counts_as_covered(false))
        || matches!(
            c.status,
            CoverageStatus::Unmanaged
                | CoverageStatus::Orphaned
                | CoverageStatus::Stranded
                | CoverageStatus::Unknown
        )
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

/// The gap columns of the stack-set summary: required cells that are not covered, by status, so
/// that Required = Covered + these.
const SHOWN_STATUSES: [CoverageStatus; 5] = [
    CoverageStatus::Missing,
    CoverageStatus::Failed,
    CoverageStatus::Outdated,
    CoverageStatus::Drifted,
    CoverageStatus::Suspended,
];

/// The cells that are not required, by status ("2 suspended, 4 excluded, 2 unmanaged"), or
/// `None` when every cell is required.
fn not_required(set: &StackSetCoverage) -> Option<String> {
    let mut by_status: BTreeMap<CoverageStatus, usize> = BTreeMap::new();
    for c in set.cells.iter().filter(|c| !c.required) {
        *by_status.entry(c.status).or_default() += 1;
    }
    let parts: Vec<String> = by_status
        .iter()
        .map(|(st, n)| format!("{n} {}", st.label()))
        .collect();
    (!parts.is_empty()).then(|| {
        format!(
            "{}: {} not required ({})",
            set.name,
            count(by_status.values().sum(), "cell", "cells"),
            parts.join(", ")
        )
    })
}

/// The report for people: totals, per stack set, per OU, uncovered accounts, then the accounts
/// that need attention with a region matrix (all accounts with `detail`).
pub fn table(report: &Coverage, detail: bool, min_coverage: f64) -> String {
    let mut out = String::new();
    let s = &report.summary;
    let _ = writeln!(
        out,
        "Coverage of organization {}\n{}\n",
        report.organization_id,
        verdict(report, min_coverage)
    );
    // The percentage shares the covered column: with every status counted, a stack set's name
    // stays whole at 100 columns.
    let mut header = vec!["Stack set", "Required", "Covered"];
    header.extend(SHOWN_STATUSES.iter().map(|s| s.label()));
    let mut t = new_table(&header);
    for set in &report.stack_sets {
        let counts = counts(set);
        let mut row = vec![
            set.name.clone(),
            set.required.to_string(),
            format!("{} ({})", set.covered, pct(set.percent)),
        ];
        row.extend(
            SHOWN_STATUSES
                .iter()
                .map(|st| counts.get(st).copied().unwrap_or(0).to_string()),
        );
        t.add_row(row);
    }
    let _ = writeln!(out, "{t}");
    for line in report.stack_sets.iter().filter_map(not_required) {
        let _ = writeln!(out, "{line}");
    }

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
    }
    for (group, title) in [
        (
            AccountGroup::Gap,
            "!! Required by fleet.toml and covered nowhere",
        ),
        (AccountGroup::Untargeted, "Not targeted by fleet.toml"),
        (
            AccountGroup::OnPurpose,
            "Excluded on purpose (fleet.toml exclusions, the management account)",
        ),
    ] {
        let accounts: Vec<_> = s
            .uncovered_accounts
            .iter()
            .filter(|a| account_group(&a.statuses) == group)
            .collect();
        if accounts.is_empty() {
            continue;
        }
        let mut t = new_table(&["Account", "Name", "OU", "Status"]);
        let shown = if detail { accounts.len() } else { ROWS_SHOWN };
        for a in accounts.iter().take(shown) {
            t.add_row(vec![
                a.account.clone(),
                a.account_name.clone(),
                a.ou_path.clone(),
                statuses(&a.statuses),
            ]);
        }
        let _ = writeln!(
            out,
            "\n{title}: {}\n{t}",
            count(accounts.len(), "account", "accounts")
        );
        if accounts.len() > shown {
            let _ = writeln!(
                out,
                "… and {} more (--detail lists all)",
                accounts.len() - shown
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
    super::wrap_text(out)
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
pub fn markdown(report: &Coverage, detail: bool, min_coverage: f64) -> String {
    let mut out = String::new();
    let s = &report.summary;
    let _ = writeln!(out, "### stackfleet coverage: {}\n", pct(s.percent));
    let _ = writeln!(
        out,
        "**{}** (organization `{}`)\n",
        verdict(report, min_coverage),
        report.organization_id
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
    let lines: Vec<String> = report.stack_sets.iter().filter_map(not_required).collect();
    if !lines.is_empty() {
        let _ = writeln!(out, "\n{}", lines.join("<br>\n"));
    }
    for group in [
        AccountGroup::Gap,
        AccountGroup::Untargeted,
        AccountGroup::OnPurpose,
    ] {
        let accounts: Vec<_> = s
            .uncovered_accounts
            .iter()
            .filter(|a| account_group(&a.statuses) == group)
            .collect();
        if accounts.is_empty() {
            continue;
        }
        let n = count(accounts.len(), "account", "accounts");
        // Only the real gap is a warning; the rest is folded away.
        let (open, prefix, close) = match group {
            AccountGroup::Gap => (
                format!("\n> [!WARNING]\n> Required by fleet.toml and covered nowhere: {n}"),
                "> ",
                String::new(),
            ),
            AccountGroup::Untargeted => (
                format!("\n<details><summary>Not targeted by fleet.toml: {n}</summary>\n"),
                "",
                "\n</details>".to_string(),
            ),
            AccountGroup::OnPurpose => (
                format!("\n<details><summary>Excluded on purpose: {n}</summary>\n"),
                "",
                "\n</details>".to_string(),
            ),
        };
        let _ = writeln!(out, "{open}");
        let shown = if detail { accounts.len() } else { ROWS_SHOWN };
        for a in accounts.iter().take(shown) {
            let _ = writeln!(
                out,
                "{prefix}- `{}` {} (`{}`): {}",
                a.account,
                md_cell(&a.account_name),
                a.ou_path,
                statuses(&a.statuses)
            );
        }
        if accounts.len() > shown {
            let _ = writeln!(out, "{prefix}- … and {} more", accounts.len() - shown);
        }
        if !close.is_empty() {
            let _ = writeln!(out, "{close}");
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
        let rows: Vec<Row<'_>> = rows(set)
            .into_iter()
            .filter(|r| detail || r.attention)
            .collect();
        if rows.is_empty() {
            continue;
        }
        let _ = writeln!(
            out,
            "\n<details><summary>{} — <code>{}</code> ({})</summary>\n",
            if detail {
                "All accounts"
            } else {
                "Accounts that need attention"
            },
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

#[cfg(test)]
mod tests {
    use stackfleet_planner::coverage::CoverageStatus::*;

    use super::{AccountGroup, account_group};

    #[test]
    fn only_required_gaps_are_warnings_and_exclusions_are_on_purpose() {
        assert_eq!(account_group(&[Missing, Excluded]), AccountGroup::Gap);
        assert_eq!(account_group(&[Outdated]), AccountGroup::Gap);
        assert_eq!(account_group(&[Excluded]), AccountGroup::OnPurpose);
        assert_eq!(
            account_group(&[Excluded, Unmanaged]),
            AccountGroup::OnPurpose
        );
        assert_eq!(account_group(&[NotDeployable]), AccountGroup::OnPurpose);
        assert_eq!(account_group(&[Untargeted]), AccountGroup::Untargeted);
        assert_eq!(
            account_group(&[Untargeted, Unmanaged]),
            AccountGroup::Untargeted
        );
    }
}
