//! Reading the organization, with canned Organizations responses: paging (including an empty page
//! that still carries a NextToken), nested OUs, statuses, throttling and access errors.

use aws_sdk_organizations::Client;
use aws_sdk_organizations::config::retry::RetryConfig;
use aws_sdk_organizations::operation::describe_organization::DescribeOrganizationOutput;
use aws_sdk_organizations::operation::list_accounts_for_parent::{
    ListAccountsForParentError, ListAccountsForParentOutput,
};
use aws_sdk_organizations::operation::list_organizational_units_for_parent::ListOrganizationalUnitsForParentOutput;
use aws_sdk_organizations::operation::list_roots::ListRootsOutput;
use aws_sdk_organizations::types::{
    Account, AccountState, AccountStatus, Organization, OrganizationalUnit, Root,
};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use stackfleet_planner::inventory::AccountStatus as Status;
use stackfleet_planner::org::{OrgError, read_inventory};

fn account(id: &str, state: Option<AccountState>, status: Option<AccountStatus>) -> Account {
    #[allow(deprecated)]
    Account::builder()
        .id(id)
        .name(format!("n{id}"))
        .email(format!("{id}@example.com"))
        .set_state(state)
        .set_status(status)
        .build()
}

fn ou(id: &str, name: &str) -> OrganizationalUnit {
    OrganizationalUnit::builder().id(id).name(name).build()
}

fn org_rules() -> (aws_smithy_mocks::Rule, aws_smithy_mocks::Rule) {
    let describe = mock!(Client::describe_organization).then_output(|| {
        DescribeOrganizationOutput::builder()
            .organization(
                Organization::builder()
                    .id("o-abc")
                    .master_account_id("000000000001")
                    .build(),
            )
            .build()
    });
    let roots = mock!(Client::list_roots).then_output(|| {
        ListRootsOutput::builder()
            .roots(Root::builder().id("r-abcd").name("Root").build())
            .build()
    });
    (describe, roots)
}

#[tokio::test]
async fn reads_every_page_of_a_nested_tree() {
    let (describe, roots) = org_rules();
    let ous_root = mock!(Client::list_organizational_units_for_parent)
        .match_requests(|r| r.parent_id() == Some("r-abcd") && r.max_results() == Some(20))
        .then_output(|| {
            ListOrganizationalUnitsForParentOutput::builder()
                .organizational_units(ou("ou-abcd-11111111", "Workloads"))
                .build()
        });
    let ous_workloads = mock!(Client::list_organizational_units_for_parent)
        .match_requests(|r| r.parent_id() == Some("ou-abcd-11111111"))
        .then_output(|| {
            ListOrganizationalUnitsForParentOutput::builder()
                .organizational_units(ou("ou-abcd-22222222", "Prod"))
                .build()
        });
    let ous_leaf = mock!(Client::list_organizational_units_for_parent)
        .match_requests(|r| r.parent_id() == Some("ou-abcd-22222222"))
        .then_output(|| ListOrganizationalUnitsForParentOutput::builder().build());
    let accounts_root = mock!(Client::list_accounts_for_parent)
        .match_requests(|r| r.parent_id() == Some("r-abcd"))
        .then_output(|| {
            ListAccountsForParentOutput::builder()
                .accounts(account("000000000001", Some(AccountState::Active), None))
                .build()
        });
    let accounts_workloads = mock!(Client::list_accounts_for_parent)
        .match_requests(|r| r.parent_id() == Some("ou-abcd-11111111"))
        .then_output(|| ListAccountsForParentOutput::builder().build());
    // Three pages for Prod: an empty page that still has a NextToken must not end the listing.
    let prod_1 = mock!(Client::list_accounts_for_parent)
        .match_requests(|r| r.parent_id() == Some("ou-abcd-22222222") && r.next_token().is_none())
        .then_output(|| {
            ListAccountsForParentOutput::builder()
                .accounts(account("100000000001", Some(AccountState::Active), None))
                .next_token("t1")
                .build()
        });
    let prod_2 = mock!(Client::list_accounts_for_parent)
        .match_requests(|r| r.next_token() == Some("t1"))
        .then_output(|| {
            ListAccountsForParentOutput::builder()
                .next_token("t2")
                .build()
        });
    let prod_3 = mock!(Client::list_accounts_for_parent)
        .match_requests(|r| r.next_token() == Some("t2"))
        .then_output(|| {
            ListAccountsForParentOutput::builder()
                .accounts(account(
                    "100000000002",
                    None,
                    Some(AccountStatus::Suspended),
                ))
                .accounts(account(
                    "100000000003",
                    Some(AccountState::PendingClosure),
                    None,
                ))
                .build()
        });
    let client = mock_client!(
        aws_sdk_organizations,
        RuleMode::MatchAny,
        [
            &describe,
            &roots,
            &ous_root,
            &ous_workloads,
            &ous_leaf,
            &accounts_root,
            &accounts_workloads,
            &prod_1,
            &prod_2,
            &prod_3
        ],
        |c| c.retry_config(RetryConfig::disabled())
    );

    let inventory = read_inventory(&client).await.unwrap();
    assert_eq!(inventory.organization_id, "o-abc");
    assert_eq!(inventory.management_account, "000000000001");
    let paths: Vec<&str> = inventory
        .organizational_units
        .values()
        .map(|o| o.path.as_str())
        .collect();
    assert_eq!(paths, ["/Workloads", "/Workloads/Prod", "/"]);
    assert_eq!(inventory.accounts.len(), 4);
    assert_eq!(
        inventory.accounts["100000000001"].parent_id,
        "ou-abcd-22222222"
    );
    assert_eq!(inventory.accounts["100000000002"].status, Status::Suspended);
    assert_eq!(
        inventory.accounts["100000000003"].status,
        Status::PendingClosure
    );
    assert_eq!(
        inventory.account_ou_path("100000000001"),
        Some("/Workloads/Prod")
    );
    for rule in [
        &prod_1,
        &prod_2,
        &prod_3,
        &ous_root,
        &ous_workloads,
        &ous_leaf,
    ] {
        assert_eq!(rule.num_calls(), 1, "every page read exactly once");
    }
}

#[tokio::test]
async fn throttling_is_retried_and_access_errors_name_the_fix() {
    let (describe, roots) = org_rules();
    let ous = mock!(Client::list_organizational_units_for_parent)
        .then_output(|| ListOrganizationalUnitsForParentOutput::builder().build());
    let throttled = mock!(Client::list_accounts_for_parent)
        .sequence()
        .http_status(400, Some(r#"{"__type":"TooManyRequestsException","Message":"AWS Organizations can't complete your request because another request is already in progress."}"#.into()))
        .output(|| {
            ListAccountsForParentOutput::builder()
                .accounts(account("000000000001", Some(AccountState::Active), None))
                .build()
        })
        .build();
    let client = mock_client!(
        aws_sdk_organizations,
        RuleMode::MatchAny,
        [&describe, &roots, &ous, &throttled],
        |c| c.retry_config(
            RetryConfig::standard()
                .with_max_attempts(3)
                .with_initial_backoff(std::time::Duration::from_millis(1))
        )
    );
    let inventory = read_inventory(&client).await.unwrap();
    assert_eq!(inventory.accounts.len(), 1);
    assert_eq!(throttled.num_calls(), 2);

    let (describe, roots) = org_rules();
    let denied = mock!(Client::list_accounts_for_parent).then_error(|| {
        ListAccountsForParentError::AccessDeniedException(
            aws_sdk_organizations::types::error::AccessDeniedException::builder()
                .message("You don't have permissions to access this resource.")
                .meta(
                    aws_sdk_organizations::error::ErrorMetadata::builder()
                        .code("AccessDeniedException")
                        .message("You don't have permissions to access this resource.")
                        .build(),
                )
                .build(),
        )
    });
    let client = mock_client!(
        aws_sdk_organizations,
        RuleMode::MatchAny,
        [&describe, &roots, &ous, &denied],
        |c| c.retry_config(RetryConfig::disabled())
    );
    let err = read_inventory(&client).await.unwrap_err();
    assert!(matches!(err, OrgError::AccessDenied { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("management account or of a delegated administrator"),
        "{err}"
    );
}
