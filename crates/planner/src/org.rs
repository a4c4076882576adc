//! Reading the organization through AWS Organizations: a thin layer that only fills [`Inventory`].

use std::collections::BTreeMap;

use aws_sdk_organizations::Client;
use aws_sdk_organizations::error::ProvideErrorMetadata;
use futures::stream::{FuturesUnordered, StreamExt};

use crate::errors::error_chain;
use crate::inventory::{Account, AccountStatus, Inventory, OrganizationalUnit};

/// How many OUs are listed at once. Organizations' list calls share a low per-account rate limit,
/// so a few in flight keep the walk fast without provoking throttling.
pub const READ_CONCURRENCY: usize = 4;

/// Organizations list calls return at most 20 items a page (`ListAccountsForParent` allows 1–20).
const PAGE_SIZE: i32 = 20;

/// Why the organization could not be read.
#[derive(Debug, thiserror::Error)]
pub enum OrgError {
    /// The caller's account is not in an organization.
    #[error(
        "the caller's account is not part of an AWS Organization (AWSOrganizationsNotInUseException)"
    )]
    NotInOrganization,
    /// The caller may not read the organization.
    #[error(
        "access denied reading the organization during {operation}: {message}\n  run stackfleet with credentials of the management account or of a delegated administrator, with organizations:Describe*/List* permissions"
    )]
    AccessDenied {
        /// The Organizations operation.
        operation: &'static str,
        /// AWS's message.
        message: String,
    },
    /// Any other failure of an Organizations call.
    #[error("Organizations {operation} failed: {message}")]
    Call {
        /// The Organizations operation.
        operation: &'static str,
        /// The error code and message.
        message: String,
    },
    /// A response lacked a field AWS documents as always present.
    #[error("Organizations {operation} returned no {field}")]
    Incomplete {
        /// The Organizations operation.
        operation: &'static str,
        /// The missing field.
        field: &'static str,
    },
}

fn call_error<E: ProvideErrorMetadata + std::error::Error + 'static>(
    operation: &'static str,
    err: aws_sdk_organizations::error::SdkError<E>,
) -> OrgError {
    let code = err.code().unwrap_or_default().to_string();
    let message = err
        .message()
        .map(str::to_string)
        .unwrap_or_else(|| error_chain(&err));
    match code.as_str() {
        "AWSOrganizationsNotInUseException" => OrgError::NotInOrganization,
        "AccessDeniedException" | "AccessDenied" => OrgError::AccessDenied { operation, message },
        "" => OrgError::Call { operation, message },
        _ => OrgError::Call {
            operation,
            message: format!("{code}: {message}"),
        },
    }
}

/// Reads the organization: its root, every OU (recursively) and every account with its status and
/// parent. OUs are walked with at most [`READ_CONCURRENCY`] parents in flight; every list call reads
/// all its pages (an empty page with a `NextToken` is not the end). Throttling is retried by the
/// SDK's retry policy, which the client was configured with.
pub async fn read_inventory(client: &Client) -> Result<Inventory, OrgError> {
    let org = client
        .describe_organization()
        .send()
        .await
        .map_err(|e| call_error("DescribeOrganization", e))?;
    let org = org.organization().ok_or(OrgError::Incomplete {
        operation: "DescribeOrganization",
        field: "Organization",
    })?;
    let organization_id = org.id().unwrap_or_default().to_string();
    let management_account = org
        .master_account_id()
        .ok_or(OrgError::Incomplete {
            operation: "DescribeOrganization",
            field: "MasterAccountId",
        })?
        .to_string();

    let roots: Vec<_> = client
        .list_roots()
        .into_paginator()
        .send()
        .try_collect()
        .await
        .map_err(|e| call_error("ListRoots", e))?
        .into_iter()
        .flat_map(|page| page.roots.unwrap_or_default())
        .collect();
    let root = roots.first().ok_or(OrgError::Incomplete {
        operation: "ListRoots",
        field: "Roots",
    })?;
    let root_id = root
        .id()
        .ok_or(OrgError::Incomplete {
            operation: "ListRoots",
            field: "Id",
        })?
        .to_string();

    let mut organizational_units = BTreeMap::new();
    organizational_units.insert(
        root_id.clone(),
        OrganizationalUnit {
            id: root_id.clone(),
            name: root.name().unwrap_or("Root").to_string(),
            parent_id: None,
            path: "/".to_string(),
        },
    );
    let mut accounts = BTreeMap::new();

    let mut queue = vec![root_id.clone()];
    let mut in_flight = FuturesUnordered::new();
    loop {
        while in_flight.len() < READ_CONCURRENCY {
            let Some(parent) = queue.pop() else { break };
            in_flight.push(read_children(client, parent));
        }
        let Some(result) = in_flight.next().await else {
            break;
        };
        let children = result?;
        let parent_path = organizational_units
            .get(&children.parent)
            .map(|ou: &OrganizationalUnit| ou.path.clone())
            .unwrap_or_default();
        for (id, name) in children.ous {
            let path = if parent_path == "/" {
                format!("/{name}")
            } else {
                format!("{parent_path}/{name}")
            };
            queue.push(id.clone());
            organizational_units.insert(
                id.clone(),
                OrganizationalUnit {
                    id,
                    name,
                    parent_id: Some(children.parent.clone()),
                    path,
                },
            );
        }
        for account in children.accounts {
            accounts.insert(account.id.clone(), account);
        }
    }

    Ok(Inventory {
        organization_id,
        management_account,
        root_id,
        organizational_units,
        accounts,
        region_opt_in: Default::default(),
    })
}

/// The direct children of one OU or root.
struct Children {
    parent: String,
    ous: Vec<(String, String)>,
    accounts: Vec<Account>,
}

async fn read_children(client: &Client, parent: String) -> Result<Children, OrgError> {
    let ous = client
        .list_organizational_units_for_parent()
        .parent_id(&parent)
        .max_results(PAGE_SIZE)
        .into_paginator()
        .send()
        .try_collect();
    let accounts = client
        .list_accounts_for_parent()
        .parent_id(&parent)
        .max_results(PAGE_SIZE)
        .into_paginator()
        .send()
        .try_collect();
    let (ous, accounts) = futures::join!(ous, accounts);
    let mut children = Children {
        parent,
        ous: Vec::new(),
        accounts: Vec::new(),
    };
    let ous = ous.map_err(|e| call_error("ListOrganizationalUnitsForParent", e))?;
    let accounts = accounts.map_err(|e| call_error("ListAccountsForParent", e))?;
    for ou in ous
        .into_iter()
        .flat_map(|p| p.organizational_units.unwrap_or_default())
    {
        let (Some(id), Some(name)) = (ou.id(), ou.name()) else {
            return Err(OrgError::Incomplete {
                operation: "ListOrganizationalUnitsForParent",
                field: "Id or Name",
            });
        };
        children.ous.push((id.to_string(), name.to_string()));
    }
    for account in accounts
        .into_iter()
        .flat_map(|p| p.accounts.unwrap_or_default())
    {
        let id = account.id().ok_or(OrgError::Incomplete {
            operation: "ListAccountsForParent",
            field: "Id",
        })?;
        // `State` supersedes the deprecated `Status`; older endpoints only send `Status`.
        let status = match (account.state(), account.status()) {
            (Some(state), _) => AccountStatus::from_aws(state.as_str()),
            #[allow(deprecated)]
            (None, Some(status)) => AccountStatus::from_aws(status.as_str()),
            (None, None) => AccountStatus::Other("UNKNOWN".to_string()),
        };
        children.accounts.push(Account {
            id: id.to_string(),
            name: account.name().unwrap_or_default().to_string(),
            email: account.email().unwrap_or_default().to_string(),
            status,
            parent_id: children.parent.clone(),
        });
    }
    Ok(children)
}
