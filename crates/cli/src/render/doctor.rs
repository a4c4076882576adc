//! Rendering of `stackfleet doctor`'s findings: table, JSON, Markdown.

use stackfleet_planner::doctor::{Finding, Level};

use super::{md_cell, new_table};

fn summary(findings: &[Finding]) -> String {
    let count = |level| findings.iter().filter(|f| f.level == level).count();
    format!(
        "{} ok, {} unchecked, {} failed",
        count(Level::Ok),
        count(Level::Unchecked),
        count(Level::Fail)
    )
}

/// A table, one row per finding, then a summary line.
pub fn table(findings: &[Finding]) -> String {
    let mut table = new_table(&["Check", "Result", "Subject", "Finding", "What to do"]);
    for f in findings {
        table.add_row(vec![
            f.check.clone(),
            f.level.label().to_string(),
            f.subject.clone(),
            f.message.clone(),
            f.fix.clone().unwrap_or_default(),
        ]);
    }
    super::wrap_text(format!("{table}\n{}\n", summary(findings)))
}

/// `{"ok": bool, "findings": [...]}`.
pub fn json(findings: &[Finding]) -> String {
    let value = serde_json::json!({
        "ok": !stackfleet_planner::doctor::fails(findings),
        "findings": findings,
    });
    format!(
        "{}\n",
        serde_json::to_string_pretty(&value).unwrap_or_default()
    )
}

/// A Markdown table for a pull-request comment.
pub fn markdown(findings: &[Finding]) -> String {
    let mut out = String::from(
        "### stackfleet doctor\n\n| Check | Result | Subject | Finding | What to do |\n|---|---|---|---|---|\n",
    );
    for f in findings {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            f.check,
            f.level.label(),
            md_cell(&f.subject),
            md_cell(&f.message),
            md_cell(f.fix.as_deref().unwrap_or(""))
        ));
    }
    out.push_str(&format!("\n{}\n", summary(findings)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(level: Level, message: &str) -> Finding {
        Finding {
            check: "cloudtrail".to_string(),
            level,
            subject: "eu-west-1".to_string(),
            message: message.to_string(),
            fix: (level == Level::Fail).then(|| "fix | it".to_string()),
        }
    }

    #[test]
    fn renders_every_finding_and_the_counts() {
        let findings = [f(Level::Ok, "fine"), f(Level::Fail, "blind: no trail")];
        let table = table(&findings);
        assert!(table.contains("blind: no trail") && table.contains("1 ok, 0 unchecked, 1 failed"));
        let md = markdown(&findings);
        assert!(md.contains("| cloudtrail | FAIL | eu-west-1 | blind: no trail | fix \\| it |"));
        let json: serde_json::Value = serde_json::from_str(&json(&findings)).unwrap();
        assert_eq!(json["ok"], false);
        assert_eq!(json["findings"][1]["level"], "fail");
    }
}
