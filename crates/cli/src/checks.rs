//! The reads of `stackfleet doctor` and of effective coverage: CloudTrail trails (with status and
//! event selectors), StackSets trusted access and delegated administrators in Organizations, and
//! the opt-in status of regions (Account API). Read-only; every failure becomes a
//! [`ReadError`] for the pure checks in `stackfleet_planner::doctor` to judge.

use std::collections::{BTreeMap, BTreeSet};

use aws_config::{Region, SdkConfig};
use aws_sdk_cloudtrail::error::{ProvideErrorMetadata, SdkError};
use futures::{StreamExt, TryStreamExt};
use stackfleet_planner::doctor::{OptIn, Read, ReadError, STACKSETS_PRINCIPAL};
use stackfleet_planner::errors::error_chain;
use stackfleet_planner::monitor::{
    AdvancedSelector, BasicSelector, FieldCondition, Selectors, Trail,
};

/// Concurrent per-account reads (Account ListRegions).
const CONCURRENCY: usize = 8;

/// A failed SDK call as a [`ReadError`] for `action` (`service:Operation`).
fn read_error<E, R>(action: &str, err: &SdkError<E, R>) -> ReadError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    let reason = match (err.code(), err.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_string(),
        _ => error_chain(err),
    };
    ReadError {
        action: action.to_string(),
        code: err.code().map(str::to_string),
        reason,
    }
}

/// The trails the caller sees from `home_region` (`DescribeTrails` with shadow trails, so that
/// multi-region and organization trails created elsewhere are listed), each with
/// `GetTrailStatus` and `GetEventSelectors`, asked in the trail's home region (a trail's
/// selectors are read where it lives).
pub async fn trails(sdk: &SdkConfig, home_region: &str) -> Read<Vec<Trail>> {
    let client = |region: &str| {
        aws_sdk_cloudtrail::Client::from_conf(
            aws_sdk_cloudtrail::config::Builder::from(sdk)
                .retry_partition(stackfleet_executor::retry::retry_partition())
                .region(Region::new(region.to_string()))
                .build(),
        )
    };
    let listed = client(home_region)
        .describe_trails()
        .include_shadow_trails(true)
        .send()
        .await
        .map_err(|e| read_error("cloudtrail:DescribeTrails", &e))?;
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for t in listed.trail_list() {
        let arn = t.trail_arn().unwrap_or_default().to_string();
        if !seen.insert(arn.clone()) {
            continue;
        }
        // HomeRegion is always set by AWS; the ARN's region is the same.
        let home = t
            .home_region()
            .map(str::to_string)
            .or_else(|| arn.split(':').nth(3).map(str::to_string))
            .unwrap_or_else(|| home_region.to_string());
        let regional = client(&home);
        let status = regional.get_trail_status().name(&arn).send().await;
        let selectors = regional.get_event_selectors().trail_name(&arn).send().await;
        out.push(Trail {
            name: t.name().unwrap_or_default().to_string(),
            arn,
            home_region: home,
            multi_region: t.is_multi_region_trail().unwrap_or(false),
            organization: t.is_organization_trail().unwrap_or(false),
            logging: status
                .map(|s| s.is_logging().unwrap_or(false))
                .map_err(|e| read_error("cloudtrail:GetTrailStatus", &e).to_string()),
            selectors: selectors
                .map(|s| {
                    if s.advanced_event_selectors().is_empty() {
                        Selectors::Basic(s.event_selectors().iter().map(basic).collect())
                    } else {
                        Selectors::Advanced(
                            s.advanced_event_selectors().iter().map(advanced).collect(),
                        )
                    }
                })
                .map_err(|e| read_error("cloudtrail:GetEventSelectors", &e).to_string()),
        });
    }
    out.sort_by(|a, b| a.arn.cmp(&b.arn));
    Ok(out)
}

fn basic(s: &aws_sdk_cloudtrail::types::EventSelector) -> BasicSelector {
    BasicSelector {
        read_write_type: s
            .read_write_type()
            .map_or("All", |r| r.as_str())
            .to_string(),
        include_management_events: s.include_management_events().unwrap_or(true),
        data_resources: s
            .data_resources()
            .iter()
            .map(|d| {
                (
                    d.r#type().unwrap_or_default().to_string(),
                    d.values().to_vec(),
                )
            })
            .collect(),
    }
}

fn advanced(s: &aws_sdk_cloudtrail::types::AdvancedEventSelector) -> AdvancedSelector {
    AdvancedSelector {
        name: s.name().map(str::to_string),
        fields: s
            .field_selectors()
            .iter()
            .map(|f| FieldCondition {
                field: f.field().to_string(),
                equals: f.equals().to_vec(),
                starts_with: f.starts_with().to_vec(),
                ends_with: f.ends_with().to_vec(),
                not_equals: f.not_equals().to_vec(),
                not_starts_with: f.not_starts_with().to_vec(),
                not_ends_with: f.not_ends_with().to_vec(),
            })
            .collect(),
    }
}

/// Whether StackSets trusted access is enabled (`ListAWSServiceAccessForOrganization`, which
/// only the management account may call).
pub async fn trusted_access(orgs: &aws_sdk_organizations::Client) -> Read<bool> {
    let action = "organizations:ListAWSServiceAccessForOrganization";
    let pages: Vec<_> = orgs
        .list_aws_service_access_for_organization()
        .into_paginator()
        .send()
        .try_collect()
        .await
        .map_err(|e| read_error(action, &e))?;
    Ok(pages
        .iter()
        .flat_map(|p| p.enabled_service_principals())
        .any(|p| p.service_principal() == Some(STACKSETS_PRINCIPAL)))
}

/// The accounts registered as StackSets delegated administrators.
pub async fn delegated_admins(orgs: &aws_sdk_organizations::Client) -> Read<Vec<String>> {
    let pages: Vec<_> = orgs
        .list_delegated_administrators()
        .service_principal(STACKSETS_PRINCIPAL)
        .into_paginator()
        .send()
        .try_collect()
        .await
        .map_err(|e| read_error("organizations:ListDelegatedAdministrators", &e))?;
    Ok(pages
        .iter()
        .flat_map(|p| p.delegated_administrators())
        .filter_map(|a| a.id().map(str::to_string))
        .collect())
}

/// The opt-in status of `regions` in the caller's account, then, when one of them is an opt-in
/// region (not `ENABLED_BY_DEFAULT` there), in each of `accounts` (Account `ListRegions` with
/// `AccountId`, allowed from the management account or the Account Management delegated
/// administrator). Keyed by account.
pub async fn opt_in(
    sdk: &SdkConfig,
    caller: &str,
    accounts: &[String],
    regions: &[String],
) -> Read<BTreeMap<String, OptIn>> {
    let client = aws_sdk_account::Client::from_conf(
        aws_sdk_account::config::Builder::from(sdk)
            .retry_partition(stackfleet_executor::retry::retry_partition())
            .build(),
    );
    let own = list_regions(&client, None, regions).await?;
    let any_opt_in = own.values().any(|s| s != "ENABLED_BY_DEFAULT");
    let mut out = BTreeMap::from([(caller.to_string(), own)]);
    if !any_opt_in {
        return Ok(out);
    }
    let others: Vec<&String> = accounts.iter().filter(|a| *a != caller).collect();
    let read: Vec<(String, OptIn)> = futures::stream::iter(others)
        .map(|account| {
            let client = &client;
            async move {
                let statuses = list_regions(client, Some(account), regions).await?;
                Ok::<_, ReadError>((account.clone(), statuses))
            }
        })
        .buffer_unordered(CONCURRENCY)
        .try_collect()
        .await?;
    out.extend(read);
    Ok(out)
}

async fn list_regions(
    client: &aws_sdk_account::Client,
    account: Option<&String>,
    regions: &[String],
) -> Read<OptIn> {
    let pages: Vec<_> = client
        .list_regions()
        .set_account_id(account.cloned())
        .into_paginator()
        .send()
        .try_collect()
        .await
        .map_err(|e| {
            let mut err = read_error("account:ListRegions", &e);
            if e.code().is_none()
                && let Some(status) = e.raw_response().map(|r| r.status().as_u16())
            {
                // An HTML page instead of an AWS error: the endpoint lacks the Account API.
                err.reason = format!("HTTP {status} and no AWS error (the endpoint does not implement the Account API)");
            }
            err
        })?;
    Ok(pages
        .iter()
        .flat_map(|p| p.regions())
        .filter_map(|r| {
            let name = r.region_name()?;
            regions.iter().any(|g| g == name).then(|| {
                (
                    name.to_string(),
                    r.region_opt_status()
                        .map_or("unknown", |s| s.as_str())
                        .to_string(),
                )
            })
        })
        .collect())
}
