//! `stackfleet coverage`: where the stack is, and where it is not, and why. Read-only.

use std::path::Path;

use std::collections::BTreeMap;

use stackfleet_planner::coverage::{coverage, with_delivery};
use stackfleet_planner::doctor::governed_regions;
use stackfleet_planner::monitor::delivery;

use crate::checks;
use crate::cli::{CoverageArgs, CoverageFormat};
use crate::commands::plan::write_stdout;
use crate::error::CliError;
use crate::out_file::OutFile;
use crate::printer::Printer;
use crate::render;
use crate::session;
use crate::settings::AwsSettings;

/// What coverage found, for the exit code.
pub struct Outcome {
    /// Whether coverage of the required cells is below `--min-coverage`.
    pub below_minimum: bool,
}

/// Runs `stackfleet coverage`.
pub async fn run(
    config: &Path,
    aws: &AwsSettings,
    args: &CoverageArgs,
    printer: Printer,
) -> Result<Outcome, CliError> {
    let out = args.out.as_deref().map(OutFile::open).transpose()?;
    let (fleet, session) = session::open(config, aws, printer).await?;
    let (read, trails) = tokio::join!(
        session::read_fleet(&session, &fleet, printer),
        checks::trails(&session.sdk, &fleet.organization.home_region)
    );
    let (inventory, observed) = read?;
    let report = coverage(&fleet, &inventory, &observed, args.require_all_accounts)
        .map_err(CliError::Plan)?;
    // Effective coverage: a trail that cannot be read leaves the cells unverified, not an error.
    let trails = trails.map_err(|e| e.to_string());
    let by_region: BTreeMap<String, _> = governed_regions(&fleet)
        .into_iter()
        .map(|r| {
            let d = delivery(&trails, &r);
            (r, d)
        })
        .collect();
    let report = with_delivery(report, &inventory, &by_region, args.require_trail);
    let text = match args.output {
        CoverageFormat::Table => render::coverage::table(&report, args.detail, args.min_coverage),
        CoverageFormat::Json => render::coverage::json(&report, args.min_coverage),
        CoverageFormat::Markdown => {
            render::coverage::markdown(&report, args.detail, args.min_coverage)
        }
        CoverageFormat::Csv => render::coverage::csv(&report),
        CoverageFormat::Html => render::coverage_html::html(
            &report,
            &humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
            args.min_coverage,
        ),
    };
    let text = match out {
        // The report goes to the file, and the table to stdout for the log.
        Some(file) => {
            let path = file.path().display().to_string();
            file.write(&text)?;
            printer.status(format!("wrote the coverage report to {path}"));
            render::coverage::table(&report, args.detail, args.min_coverage)
        }
        None => text,
    };
    write_stdout(&mut std::io::stdout().lock(), &text)?;
    let below_minimum = report.summary.percent < args.min_coverage;
    if below_minimum && report.summary.required == 0 {
        printer.status(format!(
            "no cell is required (fleet.toml selects no account × region), so coverage proves nothing: 0% is below --min-coverage {}%",
            args.min_coverage
        ));
    } else if below_minimum {
        printer.status(format!(
            "coverage {:.1}% of required cells is below --min-coverage {}%",
            report.summary.percent, args.min_coverage
        ));
    }
    Ok(Outcome { below_minimum })
}
