//! The AWS session of a command (credentials, assumed role, caller, clients) and the read step:
//! everything a plan is computed from. Read-only.

use std::collections::BTreeSet;
use std::path::Path;

use stackfleet_planner::fleet::{self, CallAs, Fleet, Located, PermissionModel};
use stackfleet_planner::inventory::RegionOptIn;
use stackfleet_planner::{Inventory, Observed, org};

use aws_config::SdkConfig;

use crate::aws::{self, Identity};
use crate::error::CliError;
use crate::printer::Printer;
use crate::settings::{AwsSettings, session_name};

/// Clients in the home region, and who is calling.
pub struct Session {
    /// CloudFormation in the home region.
    pub cfn: aws_sdk_cloudformation::Client,
    /// Organizations.
    pub orgs: aws_sdk_organizations::Client,
    /// The account the calls are made as.
    pub caller_account: String,
    /// The configuration the clients were made from (for clients in other regions).
    pub sdk: SdkConfig,
}

/// Loads credentials the standard way (with `--profile`), in `region` (the chain's when `None`),
/// assumes `role` if one is set, and asks STS who that is. Says on stderr which role it assumed.
pub async fn login(
    aws: &AwsSettings,
    region: Option<&str>,
    role: Option<&str>,
    printer: Printer,
) -> Result<(SdkConfig, Identity), CliError> {
    // The SDK panics on an empty endpoint URL; `export AWS_ENDPOINT_URL=` is easy to leave in CI.
    if std::env::var_os("AWS_ENDPOINT_URL").is_some_and(|v| v.is_empty()) {
        return Err(CliError::EmptyEndpoint);
    }
    if let Some(profile) = &aws.profile {
        crate::profiles::check(profile).await?;
    }
    let mut config = aws::sdk_config(aws.profile.as_deref(), region).await;
    if let Some(role) = role {
        let session = session_name(|name| std::env::var(name).ok());
        config = aws::assume_role(&config, role, &session, &aws.pending).await?;
        printer.status(format!("assumed role {role} as session {session}"));
    }
    let caller = aws::identity(&config, &aws.pending).await?;
    tracing::info!(arn = %caller.arn, account = %caller.account, "caller identity");
    Ok((config, caller))
}

/// Logs in (see [`login`]) in the home region, checks the caller against
/// `organization.management_account` when fleet.toml sets it and stackfleet calls as the
/// management account, and says on stderr whom stackfleet acts as. (As a delegated administrator,
/// [`check_organization`] applies the guard to the organization instead.)
pub async fn connect(
    aws: &AwsSettings,
    home_region: &str,
    role: Option<&str>,
    guard: Option<&Located<String>>,
    call_as: CallAs,
    printer: Printer,
) -> Result<Session, CliError> {
    let (config, caller) = login(aws, Some(home_region), role, printer).await?;
    if let Some(expected) = guard
        && call_as == CallAs::SelfAccount
        && expected.value != caller.account
    {
        return Err(CliError::WrongAccount {
            actual: caller.account,
            arn: caller.arn,
            expected: expected.value.clone(),
            location: expected.location.clone(),
        });
    }
    printer.status(format!(
        "acting as {} (account {}); stack sets in {home_region}",
        caller.arn, caller.account
    ));
    Ok(Session {
        cfn: aws::cloudformation(&config, &aws.pending),
        orgs: aws::organizations(&config, &aws.pending),
        caller_account: caller.account,
        sdk: config,
    })
}

/// Reads fleet.toml (with the command line's overrides) and connects as it says: the region,
/// the role, the management-account guard and the caller it names.
pub async fn open(
    config: &Path,
    aws: &AwsSettings,
    printer: Printer,
) -> Result<(Fleet, Session), CliError> {
    let mut fleet = fleet::load(config)?;
    crate::diagnostics::warn(&fleet.warnings, printer);
    crate::placeholders::warn(&fleet, printer);
    if let Some(region) = aws.region.as_deref()
        && !stackfleet_planner::regions::is_known_region(region)
    {
        printer.status(format!(
            "warning: --region {region} is not a region this version of stackfleet knows{}; using it as given",
            stackfleet_planner::suggest::did_you_mean(
                region,
                stackfleet_planner::regions::KNOWN_REGIONS.iter().copied()
            )
        ));
    }
    aws.apply_to(&mut fleet);
    let session = connect(
        aws,
        &fleet.organization.home_region,
        aws.fleet_role(&fleet),
        fleet.organization.management_account.as_ref(),
        fleet.organization.call_as,
        printer,
    )
    .await?;
    Ok((fleet, session))
}

/// Refuses an organization whose management account is not `organization.management_account`.
pub fn check_organization(
    inventory: &Inventory,
    guard: Option<&Located<String>>,
) -> Result<(), CliError> {
    match guard {
        Some(expected) if expected.value != inventory.management_account => {
            Err(CliError::WrongOrganization {
                organization: inventory.organization_id.clone(),
                actual: inventory.management_account.clone(),
                expected: expected.value.clone(),
                location: expected.location.clone(),
            })
        }
        _ => Ok(()),
    }
}

/// Every `CallAs` the fleet's stack sets are called as: `organization.call_as` (under which a
/// service-managed stack set that left fleet.toml is found) and each stack set's own.
pub fn callers(fleet: &Fleet) -> BTreeSet<CallAs> {
    std::iter::once(fleet.organization.call_as)
        .chain(fleet.stack_sets.iter().map(|s| s.call_as))
        .collect()
}

/// Reads the fleet's stack sets under each of its `CallAs` values. A delegated administrator
/// sees service-managed stack sets only as `DELEGATED_ADMIN` and its own self-managed ones only
/// as `SELF` (cloudformation-coverage-roadmap #987), so a fleet with both is read twice and each
/// listing keeps its own kind.
pub async fn observe(
    cfn: &aws_sdk_cloudformation::Client,
    fleet: &Fleet,
    names: &[String],
) -> Result<Observed, stackfleet_executor::ExecError> {
    let callers = callers(fleet);
    if callers.len() == 1 {
        let caller = fleet.organization.call_as;
        return stackfleet_executor::observe(cfn, caller, &fleet.name, names).await;
    }
    let (own, delegated) = tokio::join!(
        stackfleet_executor::observe(cfn, CallAs::SelfAccount, &fleet.name, names),
        stackfleet_executor::observe(cfn, CallAs::DelegatedAdmin, &fleet.name, names),
    );
    let mut observed = own?;
    observed
        .stack_sets
        .retain(|_, s| s.permission_model == PermissionModel::SelfManaged);
    observed.stack_sets.extend(
        delegated?
            .stack_sets
            .into_iter()
            .filter(|(_, s)| s.permission_model == PermissionModel::ServiceManaged),
    );
    Ok(observed)
}

/// Reads the organization and the fleet's stack sets concurrently.
pub async fn read(
    session: &Session,
    fleet: &Fleet,
    names: &[String],
    printer: Printer,
) -> Result<(Inventory, Observed), CliError> {
    let (inventory, observed) = tokio::join!(
        org::read_inventory(&session.orgs),
        observe(&session.cfn, fleet, names)
    );
    let mut inventory = match inventory {
        Ok(inventory) => inventory,
        Err(err) => {
            return Err(who_may_read(
                &session.orgs,
                &session.caller_account,
                fleet.organization.call_as,
                err,
            )
            .await);
        }
    };
    let observed = observed?;
    inventory.region_opt_in = region_opt_in(session, fleet, &inventory, printer).await;
    printer.status(format!(
        "organization {}: {} in {}; {} of the fleet's stack sets {}",
        inventory.organization_id,
        crate::render::count(inventory.accounts.len(), "account", "accounts"),
        crate::render::count(
            inventory.organizational_units.len().saturating_sub(1),
            "OU",
            "OUs"
        ),
        observed.stack_sets.len(),
        if observed.stack_sets.len() == 1 {
            "exists"
        } else {
            "exist"
        }
    ));
    Ok((inventory, observed))
}

/// The error for a failed read of the organization. When AWS refused it (AccessDenied), the caller
/// may be a member account: DescribeOrganization, which "can be called from any account in the
/// organization" while ListAccounts "can be called only from the organization's management account
/// or by a member account that is a delegated administrator" (AWS Organizations API Reference,
/// DescribeOrganization and ListAccounts,
/// https://docs.aws.amazon.com/organizations/latest/APIReference/API_DescribeOrganization.html,
/// https://docs.aws.amazon.com/organizations/latest/APIReference/API_ListAccounts.html), names
/// the management account to use instead.
pub async fn who_may_read(
    orgs: &aws_sdk_organizations::Client,
    caller: &str,
    call_as: CallAs,
    err: org::OrgError,
) -> CliError {
    if !matches!(err, org::OrgError::AccessDenied { .. }) {
        return err.into();
    }
    let Ok(described) = orgs.describe_organization().send().await else {
        return err.into();
    };
    let Some(organization) = described.organization() else {
        return err.into();
    };
    let management = organization.master_account_id().unwrap_or_default();
    if management.is_empty() || management == caller {
        return err.into();
    }
    CliError::MemberAccount {
        caller: caller.to_string(),
        organization: organization.id().unwrap_or_default().to_string(),
        management: management.to_string(),
        not_admin: match call_as {
            CallAs::DelegatedAdmin => " that is not a registered delegated administrator",
            CallAs::SelfAccount => "",
        },
        hint: match call_as {
            CallAs::DelegatedAdmin => {
                "register it from the management account (`aws organizations register-delegated-administrator --service-principal member.org.stacksets.cloudformation.amazonaws.com --account-id ID`), or run with the management account's credentials"
            }
            CallAs::SelfAccount => {
                "run stackfleet with credentials of the management account (--profile, or --assume-role a role in it), or from a delegated administrator with organization.call_as = \"delegated-admin\""
            }
        },
    }
}

/// Reads what a plan of `fleet` is computed from: the organization, which must be the one
/// fleet.toml names, and the fleet's stack sets.
pub async fn read_fleet(
    session: &Session,
    fleet: &Fleet,
    printer: Printer,
) -> Result<(Inventory, Observed), CliError> {
    let names: Vec<String> = fleet.stack_sets.iter().map(|s| s.name.clone()).collect();
    let (inventory, observed) = read(session, fleet, &names, printer).await?;
    check_organization(&inventory, fleet.organization.management_account.as_ref())?;
    Ok((inventory, observed))
}

/// Which governed opt-in regions the fleet's accounts (and the caller's) have not enabled, with
/// doctor's read (Account `ListRegions`, [`crate::checks::opt_in`]). Only when fleet.toml governs
/// a region that may need opting in, so the usual fleet makes no call; then one call for the
/// caller and one per account the fleet wants (8 at once: about 1,000 calls for 1,000 accounts).
/// `ListRegions` of another account needs the management account or the Account Management
/// delegated administrator, and trusted access for account.amazonaws.com: when the read fails,
/// stackfleet says so and plans those regions as if enabled (failures then show in apply and
/// coverage) rather than guessing.
async fn region_opt_in(
    session: &Session,
    fleet: &Fleet,
    inventory: &Inventory,
    printer: Printer,
) -> RegionOptIn {
    let regions: Vec<String> = stackfleet_planner::doctor::governed_regions(fleet)
        .into_iter()
        .filter(|r| stackfleet_planner::regions::may_need_opt_in(r))
        .collect();
    if regions.is_empty() {
        return RegionOptIn::default();
    }
    let accounts: Vec<String> = stackfleet_planner::targets::desired_accounts(fleet, inventory)
        .into_iter()
        .collect();
    match crate::checks::opt_in(&session.sdk, &session.caller_account, &accounts, &regions).await {
        Ok(statuses) => RegionOptIn::from_statuses(&session.caller_account, &statuses),
        Err(e) => {
            printer.status(format!(
                "warning: could not read whether opt-in regions {} are enabled per account ({e}); \
                 they are planned as if enabled, and instances there fail where they are not \
                 (`stackfleet doctor` checks them; the caller needs account:ListRegions as the \
                 management account or the Account Management delegated administrator)",
                regions.join(", ")
            ));
            RegionOptIn::default()
        }
    }
}
