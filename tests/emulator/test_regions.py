"""Account Management Region opt-in per account (regions.py), through boto3 against the emulator.

Documents: "Enable or disable AWS Regions in your account", AWS Account Management Reference Guide,
https://docs.aws.amazon.com/accounts/latest/reference/manage-acct-regions.html; "ListRegions",
"GetRegionOptStatus", "EnableRegion", "DisableRegion", AWS Account Management API Reference,
https://docs.aws.amazon.com/accounts/latest/reference/API_ListRegions.html.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.emulator.conftest import MANAGEMENT


def make_org(emulator: Any) -> tuple[Any, str, str]:
    org = emulator.client("organizations")
    org.create_organization(FeatureSet="ALL")
    a = org.create_account(AccountName="a", Email="a@example.com")["CreateAccountStatus"][
        "AccountId"
    ]
    b = org.create_account(AccountName="b", Email="b@example.com")["CreateAccountStatus"][
        "AccountId"
    ]
    return org, a, b


def wait_status(account: Any, region: str, want: str, **kwargs: str) -> None:
    deadline = time.monotonic() + 10
    while True:
        got = account.get_region_opt_status(RegionName=region, **kwargs)["RegionOptStatus"]
        if got == want:
            return
        assert time.monotonic() < deadline, f"{region} stayed {got}, wanted {want}"
        time.sleep(0.02)


def test_default_and_opt_in_regions(emulator: Any) -> None:
    """Enable or disable AWS Regions (Account Management Reference Guide): Regions launched before
    March 20, 2019 are ENABLED_BY_DEFAULT, later ones DISABLED until the account opts in;
    ListRegions (API Reference) filters by RegionOptStatusContains and pages by MaxResults."""
    account = emulator.client("account")
    assert account.get_region_opt_status(RegionName="us-east-1")["RegionOptStatus"] == (
        "ENABLED_BY_DEFAULT"
    )
    assert account.get_region_opt_status(RegionName="ap-east-1")["RegionOptStatus"] == "DISABLED"
    disabled = account.list_regions(RegionOptStatusContains=["DISABLED"])["Regions"]
    assert {r["RegionName"] for r in disabled} >= {
        "ap-east-1",
        "af-south-1",
        "me-south-1",
    }
    assert all(r["RegionOptStatus"] == "DISABLED" for r in disabled)
    pages = list(account.get_paginator("list_regions").paginate(PaginationConfig={"PageSize": 10}))
    assert len(pages) > 1 and all(len(p["Regions"]) <= 10 for p in pages)
    names = [r["RegionName"] for p in pages for r in p["Regions"]]
    assert len(names) == len(set(names)) and "eu-west-1" in names


def test_enable_then_disable_goes_through_enabling_and_disabling(emulator: Any) -> None:
    """EnableRegion / DisableRegion (API Reference): ENABLING then ENABLED, DISABLING then DISABLED;
    a default Region cannot be changed; enabling while DISABLING is a ConflictException."""
    emulator.config(time_scale=0.01)  # 300 emulated seconds = 3 s: ENABLING is observable
    account = emulator.client("account")
    account.enable_region(RegionName="ap-east-1")
    assert account.get_region_opt_status(RegionName="ap-east-1")["RegionOptStatus"] == "ENABLING"
    emulator.config(time_scale=0.0001)
    account.disable_region(RegionName="af-south-1")  # already DISABLED: nothing happens
    wait_status(account, "ap-east-1", "ENABLED")
    # DISABLING must outlast the next call even on a loaded machine: 300 emulated seconds = 3 s.
    emulator.config(time_scale=0.01)
    account.disable_region(RegionName="ap-east-1")
    with pytest.raises(ClientError) as err:
        account.enable_region(RegionName="ap-east-1")
    assert err.value.response["Error"]["Code"] in (
        "ConflictException",
        "ValidationException",
    )
    wait_status(account, "ap-east-1", "DISABLED")
    with pytest.raises(ClientError) as err:
        account.enable_region(RegionName="us-east-1")
    assert err.value.response["Error"]["Code"] == "ValidationException"


def test_account_id_from_the_management_account(emulator: Any) -> None:
    """ListRegions / GetRegionOptStatus (API Reference): AccountId needs trusted access for
    account.amazonaws.com; the management account can't name itself; the state is per account."""
    org, a, b = make_org(emulator)
    account = emulator.client("account")
    with pytest.raises(ClientError) as err:
        account.get_region_opt_status(AccountId=a, RegionName="ap-east-1")
    assert err.value.response["Error"]["Code"] == "AccessDeniedException"
    org.enable_aws_service_access(ServicePrincipal="account.amazonaws.com")
    emulator.config(time_scale=0.0001)
    account.enable_region(AccountId=a, RegionName="ap-east-1")
    wait_status(account, "ap-east-1", "ENABLED", AccountId=a)
    assert (
        account.get_region_opt_status(AccountId=b, RegionName="ap-east-1")["RegionOptStatus"]
        == "DISABLED"
    )
    assert account.get_region_opt_status(RegionName="ap-east-1")["RegionOptStatus"] == "DISABLED"
    with pytest.raises(ClientError) as err:
        account.list_regions(AccountId=MANAGEMENT)
    assert err.value.response["Error"]["Code"] == "ValidationException"
    # The member itself sees its own state without AccountId.
    member = emulator.client("account", account=a)
    assert member.get_region_opt_status(RegionName="ap-east-1")["RegionOptStatus"] == "ENABLED"


def test_account_id_from_members(emulator: Any) -> None:
    """ListRegions (API Reference): only the management account or the Account Management
    delegated administrator may pass AccountId."""
    org, a, b = make_org(emulator)
    org.enable_aws_service_access(ServicePrincipal="account.amazonaws.com")
    with pytest.raises(ClientError) as err:
        emulator.client("account", account=a).list_regions(AccountId=b)
    assert err.value.response["Error"]["Code"] == "AccessDeniedException"
    org.register_delegated_administrator(AccountId=a, ServicePrincipal="account.amazonaws.com")
    got = emulator.client("account", account=a).list_regions(AccountId=b)["Regions"]
    assert {"RegionName": "ap-east-1", "RegionOptStatus": "DISABLED"} in got


def test_bad_next_token_is_a_validation_error(emulator: Any) -> None:
    """ListRegions (API Reference): NextToken comes from a previous response; anything else is
    refused as a ValidationException rather than an internal error."""
    with pytest.raises(ClientError) as err:
        emulator.client("account").list_regions(NextToken="not-a-token")
    assert err.value.response["Error"]["Code"] == "ValidationException"
