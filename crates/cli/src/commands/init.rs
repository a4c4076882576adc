//! `stackfleet init`: a commented starter fleet.toml for the caller's organization. Read-only in
//! AWS; writes the fleet file and, unless one is there, the monitor's template beside it.

use std::path::{Path, PathBuf};

use aws_config::retry::RetryConfig;
use aws_sdk_account::error::ProvideErrorMetadata;
use aws_sdk_account::types::RegionOptStatus;
use stackfleet_planner::fleet::{self, CallAs};
use stackfleet_planner::org;
use stackfleet_planner::regions::is_well_formed_region;

use crate::aws;
use crate::cli::InitArgs;
use crate::error::CliError;
use crate::printer::Printer;
use crate::render::init::{Starter, TopLevelOu, fleet_toml};
use crate::session;
use crate::settings::AwsSettings;

/// The standalone monitor, shipped inside the binary so that a fresh install can start from it.
const MONITOR_TEMPLATE: &str = include_str!("../../../../templates/s3-policy-monitor.yaml");

/// Where the template goes, relative to the fleet file (and as written in it).
const TEMPLATE_PATH: &str = "templates/s3-policy-monitor.yaml";

/// Runs `stackfleet init`.
pub async fn run(
    config: &Path,
    aws: &AwsSettings,
    args: &InitArgs,
    printer: Printer,
) -> Result<(), CliError> {
    // Refuse before any AWS call, so that a typo costs nothing.
    if config.exists() && !args.force {
        return Err(CliError::Exists(config.display().to_string()));
    }
    let (sdk, caller) = session::login(
        aws,
        aws.region.as_deref(),
        aws.assume_role.as_deref(),
        printer,
    )
    .await?;
    let home_region = sdk
        .region()
        .map(|r| r.as_ref().to_string())
        .ok_or(CliError::NoRegion)?;
    if !is_well_formed_region(&home_region) {
        return Err(CliError::Aws {
            doing: "choose the home region".to_string(),
            reason: format!("{home_region:?} is not an AWS region name"),
            hint: "pass --region with a region such as us-east-1",
        });
    }
    printer.status(format!(
        "acting as {} (account {}); reading the organization and the enabled regions",
        caller.arn, caller.account
    ));
    let orgs = crate::aws::organizations(&sdk, &aws.pending);
    let inventory = org::read_inventory(&orgs).await?;
    // One call, rarely throttled; an endpoint without the Account API (an emulator) answers
    // HTTP 500, which must not cost the standard retries' back-off.
    let account = aws_sdk_account::Client::from_conf(
        aws_sdk_account::config::Builder::from(&sdk)
            .retry_config(RetryConfig::standard().with_max_attempts(2))
            .interceptor(aws.pending.interceptor())
            .build(),
    );
    let regions = enabled_regions(&account).await;

    let (regions, unknown_regions, regions_note) = match regions {
        Ok(list) => {
            let (known, unknown): (Vec<String>, Vec<String>) =
                list.into_iter().partition(|r| is_well_formed_region(r));
            (known, unknown, None)
        }
        Err(reason) => (Vec::new(), Vec::new(), Some(reason)),
    };
    let mut regions = regions;
    // The home region first: the stack sets live there, and it is governed like the others.
    regions.retain(|r| *r != home_region);
    regions.sort();
    regions.insert(0, home_region.clone());

    let starter = Starter {
        organization_id: inventory.organization_id.clone(),
        management_account: inventory.management_account.clone(),
        caller_account: caller.account.clone(),
        call_as: if caller.account == inventory.management_account {
            CallAs::SelfAccount
        } else {
            CallAs::DelegatedAdmin
        },
        home_region,
        assume_role: aws.assume_role.clone(),
        root_id: inventory.root_id.clone(),
        accounts: inventory.accounts.len(),
        top_level: top_level_ous(&inventory),
        regions,
        unknown_regions,
        regions_note,
        template: TEMPLATE_PATH.to_string(),
    };
    let text = fleet_toml(&starter);

    let template = match config.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(dir) => dir.join(TEMPLATE_PATH),
        None => PathBuf::from(TEMPLATE_PATH),
    };
    if template.exists() {
        printer.status(format!(
            "kept {} (already there; fleet.toml uses it)",
            template.display()
        ));
    } else {
        write(&template, MONITOR_TEMPLATE)?;
        printer.status(format!("wrote {}", template.display()));
    }
    write(config, &text)?;
    // The promise is a file that validates as written: hold init to it.
    let fleet = fleet::load(config)?;
    printer.status(format!(
        "wrote {}: stack set {} in {} of organization {}; it is valid",
        config.display(),
        fleet
            .stack_sets
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        crate::render::count(
            fleet.stack_sets.first().map_or(0, |s| s.regions.len()),
            "region",
            "regions"
        ),
        inventory.organization_id
    ));
    printer.status(format!(
        "next: set NotificationEmail in {}, review the regions and targets, then run `stackfleet plan{}`",
        config.display(),
        if config == Path::new("fleet.toml") {
            String::new()
        } else {
            format!(" -c {}", config.display())
        }
    ));
    Ok(())
}

/// The regions enabled in the caller's account (Account ListRegions), or why they are unknown.
async fn enabled_regions(client: &aws_sdk_account::Client) -> Result<Vec<String>, String> {
    let pages: Result<Vec<_>, _> = client
        .list_regions()
        .region_opt_status_contains(RegionOptStatus::Enabled)
        .region_opt_status_contains(RegionOptStatus::EnabledByDefault)
        .into_paginator()
        .send()
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect();
    match pages {
        Ok(pages) => Ok(pages
            .iter()
            .flat_map(|p| p.regions())
            .filter_map(|r| r.region_name().map(str::to_string))
            .collect()),
        Err(e) => {
            let status = e.raw_response().map(|r| r.status().as_u16());
            let reason = match (e.code(), status) {
                // An HTML page instead of an AWS error: the endpoint lacks the Account API.
                (None, Some(status)) => format!(
                    "the endpoint answered ListRegions with HTTP {status} and no AWS error; it does not implement the Account API"
                ),
                (Some("AccessDeniedException"), _) => format!(
                    "{}; allow account:ListRegions to list them",
                    e.message().unwrap_or("access denied")
                ),
                _ => match aws::sdk_error("list the enabled regions", &e) {
                    CliError::Aws { reason, .. } => reason,
                    other => other.to_string(),
                },
            };
            tracing::info!(%reason, "Account ListRegions failed; falling back to the home region");
            Err(reason)
        }
    }
}

/// The OUs directly under the root, by path, with how many accounts each holds (nested included).
fn top_level_ous(inventory: &stackfleet_planner::Inventory) -> Vec<TopLevelOu> {
    let mut out: Vec<TopLevelOu> = inventory
        .organizational_units
        .values()
        .filter(|ou| ou.parent_id.as_deref() == Some(inventory.root_id.as_str()))
        .map(|ou| TopLevelOu {
            path: ou.path.clone(),
            id: ou.id.clone(),
            accounts: inventory
                .accounts
                .values()
                .filter(|a| {
                    inventory
                        .organizational_units
                        .get(&a.parent_id)
                        .is_some_and(|parent| {
                            parent.path == ou.path
                                || parent.path.starts_with(&format!("{}/", ou.path))
                        })
                })
                .count(),
        })
        .collect();
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

fn write(path: &Path, text: &str) -> Result<(), CliError> {
    let error = |source| CliError::Write {
        path: path.display().to_string(),
        source,
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(error)?;
    }
    std::fs::write(path, text).map_err(error)
}
