//! `stackfleet doctor`: reads what the fleet's alerts depend on, lets the planner judge it, and
//! prints the findings. Makes read calls only (a test counts them).

use std::path::Path;

use stackfleet_planner::doctor::{self, Facts, ReadError};
use stackfleet_planner::errors::error_chain;
use stackfleet_planner::fleet::{CallAs, PermissionModel};
use stackfleet_planner::inventory::AccountStatus;
use stackfleet_planner::org;

use crate::checks;
use crate::cli::{DoctorArgs, OutputFormat};
use crate::commands::plan::write_stdout;
use crate::error::CliError;
use crate::printer::Printer;
use crate::render;
use crate::session;
use crate::settings::AwsSettings;

/// Runs doctor; `Ok(true)` when something does not hold (exit 2).
pub async fn run(
    config: &Path,
    aws: &AwsSettings,
    args: &DoctorArgs,
    printer: Printer,
) -> Result<bool, CliError> {
    let (fleet, session) = session::open(config, aws, printer).await?;
    let home = fleet.organization.home_region.clone();
    let names: Vec<String> = fleet.stack_sets.iter().map(|s| s.name.clone()).collect();
    let service_managed = fleet
        .stack_sets
        .iter()
        .any(|s| s.permission_model == PermissionModel::ServiceManaged);
    let delegated = fleet.organization.call_as == CallAs::DelegatedAdmin;

    // The permission check is a probe: the same reads plan and coverage make, whose failure is
    // reported instead of stopping doctor. Mutating calls are never probed.
    let (inventory, observed, trails, trusted, admins) = tokio::join!(
        org::read_inventory(&session.orgs),
        session::observe(&session.cfn, &fleet, &names),
        checks::trails(&session.sdk, &home),
        async {
            if service_managed {
                Some(checks::trusted_access(&session.orgs).await)
            } else {
                None
            }
        },
        async {
            if delegated {
                Some(checks::delegated_admins(&session.orgs).await)
            } else {
                None
            }
        },
    );
    let probe_error = |action: &str, reason: String| ReadError {
        action: action.to_string(),
        code: None,
        reason,
    };
    let mut probes = vec![(
        "organization (plan, coverage)".to_string(),
        inventory
            .as_ref()
            .map(|_| ())
            .map_err(|e| probe_error("organizations:DescribeOrganization/List*", error_chain(e))),
    )];
    probes.push((
        "stack sets (plan, coverage)".to_string(),
        observed
            .as_ref()
            .map(|_| ())
            .map_err(|e| probe_error("cloudformation:ListStackSets/Describe*", error_chain(e))),
    ));
    let regions = doctor::governed_regions(&fleet);
    let opt_in = match &inventory {
        Ok(inventory) => {
            let accounts: Vec<String> = inventory
                .accounts
                .values()
                .filter(|a| a.status == AccountStatus::Active)
                .map(|a| a.id.clone())
                .collect();
            Some(checks::opt_in(&session.sdk, &session.caller_account, &accounts, &regions).await)
        }
        Err(_) => None,
    };
    let facts = Facts {
        caller_account: session.caller_account.clone(),
        trusted_access: trusted,
        delegated_admins: admins,
        probes,
        trails,
        opt_in,
    };
    let findings = doctor::findings(&fleet, &facts);
    let text = match args.output {
        OutputFormat::Table => render::doctor::table(&findings),
        OutputFormat::Json => render::doctor::json(&findings),
        OutputFormat::Markdown => render::doctor::markdown(&findings),
    };
    write_stdout(&mut std::io::stdout().lock(), &text)?;
    let fails = doctor::fails(&findings);
    if fails {
        printer.status("doctor: something the fleet's alerts need does not hold (exit 2)");
    }
    Ok(fails)
}
