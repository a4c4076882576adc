"""Trusted access, delegated administrators and CallAs (org.py, access.py).

Documents: "Reference: API operations by account", AWS Organizations API Reference,
https://docs.aws.amazon.com/organizations/latest/APIReference/action-reference.html;
"RegisterDelegatedAdministrator", AWS Organizations API Reference; "Register a delegated
administrator member account" and "Activate trusted access for StackSets with AWS Organizations",
AWS CloudFormation User Guide; the CallAs parameter in "CreateStackSet", AWS CloudFormation API
Reference, https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStackSet.html.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from tests.emulator import access, org
from tests.emulator.errors import AwsError

STACKSETS = "member.org.stacksets.cloudformation.amazonaws.com"
MANAGEMENT = "123456789012"
ROOT = Path(__file__).resolve().parents[2]


def member_org(emulator: Any) -> tuple[Any, str, str, str]:
    client = emulator.client("organizations")
    client.create_organization(FeatureSet="ALL")
    root = client.list_roots()["Roots"][0]["Id"]
    ou = client.create_organizational_unit(ParentId=root, Name="Security")["OrganizationalUnit"][
        "Id"
    ]
    admin = client.create_account(AccountName="admin", Email="admin@example.com")[
        "CreateAccountStatus"
    ]["AccountId"]
    other = client.create_account(AccountName="other", Email="other@example.com")[
        "CreateAccountStatus"
    ]["AccountId"]
    client.move_account(AccountId=admin, SourceParentId=root, DestinationParentId=ou)
    return client, root, admin, other


def reads(client: Any, root: str) -> dict[str, Any]:
    """Each read the design lists, as one call."""
    return {
        "ListRoots": lambda: client.list_roots(),
        "ListAccounts": lambda: client.list_accounts(),
        "ListAccountsForParent": lambda: client.list_accounts_for_parent(ParentId=root),
        "ListOrganizationalUnitsForParent": lambda: client.list_organizational_units_for_parent(
            ParentId=root
        ),
    }


def test_unregistered_member_cannot_read_the_organization(emulator: Any) -> None:
    """Reference: API operations by account: DescribeOrganization from any account; ListRoots,
    ListAccounts, ListAccountsForParent, ListOrganizationalUnitsForParent only from the management
    account or a delegated administrator (AccessDeniedException otherwise)."""
    _, root, admin, _ = member_org(emulator)
    member = emulator.client("organizations", account=admin)
    assert member.describe_organization()["Organization"]["MasterAccountId"] == MANAGEMENT
    for name, call in reads(member, root).items():
        with pytest.raises(ClientError) as err:
            call()
        assert err.value.response["Error"]["Code"] == "AccessDeniedException", name
        assert "don't have permissions" in err.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as err:
        member.create_organizational_unit(ParentId=root, Name="Nope")
    assert err.value.response["Error"]["Code"] == "AccessDeniedException"


def test_registered_delegated_admin_reads_the_whole_organization(emulator: Any) -> None:
    """RegisterDelegatedAdministrator: "It grants read-only access to AWS Organizations service
    data"; the StackSets principal is member.org.stacksets.cloudformation.amazonaws.com (Register a
    delegated administrator, CloudFormation User Guide). Management-only calls stay denied."""
    client, root, admin, other = member_org(emulator)
    client.register_delegated_administrator(AccountId=admin, ServicePrincipal=STACKSETS)
    listed = client.list_delegated_administrators(ServicePrincipal=STACKSETS)
    assert [a["Id"] for a in listed["DelegatedAdministrators"]] == [admin]
    member = emulator.client("organizations", account=admin)
    got = {name: call() for name, call in reads(member, root).items()}
    assert got["ListRoots"]["Roots"][0]["Id"] == root
    ids = {a["Id"] for a in got["ListAccounts"]["Accounts"]}
    assert ids == {MANAGEMENT, admin, other}
    assert {a["Id"] for a in got["ListAccountsForParent"]["Accounts"]} == {
        MANAGEMENT,
        other,
    }
    assert [o["Name"] for o in got["ListOrganizationalUnitsForParent"]["OrganizationalUnits"]] == [
        "Security"
    ]
    with pytest.raises(ClientError) as err:
        member.move_account(AccountId=other, SourceParentId=root, DestinationParentId=root)
    assert err.value.response["Error"]["Code"] == "AccessDeniedException"


def test_account_outside_any_organization(emulator: Any) -> None:
    """An account in no organization: AWSOrganizationsNotInUseException (cloud-custodian #8106)."""
    lonely = emulator.client("organizations", account="999999999999")
    with pytest.raises(ClientError) as err:
        lonely.list_accounts()
    assert err.value.response["Error"]["Code"] == "AWSOrganizationsNotInUseException"


def test_at_most_five_stacksets_delegated_admins(emulator: Any) -> None:
    """Register a delegated administrator (CloudFormation User Guide): "Your organization can have
    up to five registered delegated administrators at one time"."""
    client = emulator.client("organizations")
    client.create_organization(FeatureSet="ALL")
    accounts = [
        client.create_account(AccountName=f"a{i}", Email=f"a{i}@example.com")[
            "CreateAccountStatus"
        ]["AccountId"]
        for i in range(6)
    ]
    for acct in accounts[:5]:
        client.register_delegated_administrator(AccountId=acct, ServicePrincipal=STACKSETS)
    with pytest.raises(ClientError) as err:
        client.register_delegated_administrator(AccountId=accounts[5], ServicePrincipal=STACKSETS)
    assert err.value.response["Error"]["Code"] == "ConstraintViolationException"


# ----------------------------------------------------------------------------- CallAs


@pytest.fixture
def in_process() -> Iterator[SimpleNamespace]:
    org.install()  # the emulator's Organizations patches, in this process too
    with mock_aws():
        client = boto3.client(
            "organizations",
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        client.create_organization(FeatureSet="ALL")
        admin = client.create_account(AccountName="admin", Email="admin@example.com")[
            "CreateAccountStatus"
        ]["AccountId"]
        yield SimpleNamespace(client=client, admin=admin)


def test_call_as_delegated_admin_needs_registration(
    in_process: SimpleNamespace,
) -> None:
    """CallAs (CreateStackSet, API Reference): DELEGATED_ADMIN needs the account registered as a
    delegated administrator ("Account used is not a delegated administrator", cdk-stacksets #265)
    and acts on the management account's stack sets."""
    ns = in_process
    for caller in (ns.admin, MANAGEMENT):
        with pytest.raises(AwsError) as err:
            access.check(caller, "DELEGATED_ADMIN", "SERVICE_MANAGED", "CreateStackSet")
        assert err.value.message == access.NOT_DELEGATED
    ns.client.register_delegated_administrator(AccountId=ns.admin, ServicePrincipal=STACKSETS)
    with pytest.raises(AwsError) as err:
        access.check(ns.admin, "DELEGATED_ADMIN", "SERVICE_MANAGED", "CreateStackSet")
    assert err.value.message == access.NO_TRUSTED_ACCESS
    ns.client.enable_aws_service_access(ServicePrincipal=STACKSETS)
    assert access.check(ns.admin, "DELEGATED_ADMIN", "SERVICE_MANAGED", "CreateStackSet") == (
        MANAGEMENT
    )
    assert access.check(ns.admin, "DELEGATED_ADMIN", None, "ListStackSets") == MANAGEMENT
    with pytest.raises(AwsError, match="SERVICE_MANAGED"):
        access.check(ns.admin, "DELEGATED_ADMIN", "SELF_MANAGED", "CreateStackSet")


def test_call_as_self(in_process: SimpleNamespace) -> None:
    """CallAs SELF: the caller's own stack sets; a service-managed one only from the management
    account ("You must be the management account or delegated admin account ...",
    terraform-provider-aws #32536) with trusted access ("You must enable organizations access ...",
    pepperize/cdk-organizations #1718)."""
    ns = in_process
    assert access.check(ns.admin, "SELF", "SELF_MANAGED", "CreateStackSet") == ns.admin
    assert access.check(ns.admin, None, None, "ListStackSets") == ns.admin
    with pytest.raises(AwsError) as err:
        access.check(ns.admin, "SELF", "SERVICE_MANAGED", "CreateStackSet")
    assert err.value.message == access.NOT_MANAGEMENT_OR_DELEGATED
    with pytest.raises(AwsError) as err:
        access.check(MANAGEMENT, "SELF", "SERVICE_MANAGED", "CreateStackSet")
    assert err.value.message == access.NO_TRUSTED_ACCESS
    ns.client.enable_aws_service_access(ServicePrincipal=STACKSETS)
    assert access.check(MANAGEMENT, "SELF", "SERVICE_MANAGED", "CreateStackSet") == MANAGEMENT
    with pytest.raises(AwsError, match="enum value set"):
        access.check(MANAGEMENT, "ADMIN", None, "ListStackSets")


def test_delegated_admin_sees_only_service_managed_stack_sets() -> None:
    """cloudformation-coverage-roadmap #987: as a delegated administrator only service-managed
    stack sets are visible; SELF sees all of the caller's own."""
    service = SimpleNamespace(permission_model="SERVICE_MANAGED")
    selfm = SimpleNamespace(permission_model="SELF_MANAGED")
    assert access.visible("111111111111", "DELEGATED_ADMIN", service)
    assert not access.visible("111111111111", "DELEGATED_ADMIN", selfm)
    assert access.visible(MANAGEMENT, "SELF", selfm) and access.visible(MANAGEMENT, None, service)


def test_org_readers_in_process(in_process: SimpleNamespace) -> None:
    """The helpers other modules use read the same organization (RegisterDelegatedAdministrator)."""
    ns = in_process
    assert org.management_account(ns.admin) == MANAGEMENT
    assert org.account_status(ns.admin) == "ACTIVE"
    assert not org.is_delegated_admin(ns.admin)
    assert org.management_account("999999999999") is None


def test_call_as_through_the_api(emulator: Any) -> None:
    """CallAs (CreateStackSet, ListStackSets, API Reference): a registered delegated administrator
    creates a service-managed stack set in the management account and, as DELEGATED_ADMIN, sees
    only service-managed stack sets (cloudformation-coverage-roadmap #987); an unregistered member
    gets "Account used is not a delegated administrator"; SELF from a member on a
    SERVICE_MANAGED stack set gets "You must be the management account or delegated admin ..."."""
    client, _, admin, other = member_org(emulator)
    client.enable_aws_service_access(ServicePrincipal=STACKSETS)
    client.register_delegated_administrator(AccountId=admin, ServicePrincipal=STACKSETS)
    template = '{"Resources": {"M": {"Type": "AWS::CloudFormation::WaitConditionHandle"}}}'
    management = emulator.client("cloudformation")
    management.create_stack_set(StackSetName="own", TemplateBody=template)
    delegated = emulator.client("cloudformation", account=admin)
    delegated.create_stack_set(
        StackSetName="org-wide",
        TemplateBody=template,
        PermissionModel="SERVICE_MANAGED",
        AutoDeployment={"Enabled": False},
        CallAs="DELEGATED_ADMIN",
    )
    seen = {s["StackSetName"] for s in management.list_stack_sets()["Summaries"]}
    assert seen == {"own", "org-wide"}  # created in the management account
    as_admin = delegated.list_stack_sets(CallAs="DELEGATED_ADMIN")["Summaries"]
    assert [s["StackSetName"] for s in as_admin] == ["org-wide"]
    assert delegated.list_stack_sets()["Summaries"] == []  # SELF: its own, none
    outsider = emulator.client("cloudformation", account=other)
    with pytest.raises(ClientError) as err:
        outsider.list_stack_sets(CallAs="DELEGATED_ADMIN")
    assert err.value.response["Error"]["Message"] == access.NOT_DELEGATED
    with pytest.raises(ClientError) as err:
        outsider.create_stack_set(
            StackSetName="nope",
            TemplateBody=template,
            PermissionModel="SERVICE_MANAGED",
            AutoDeployment={"Enabled": False},
        )
    assert err.value.response["Error"]["Code"] == "ValidationError"
    assert err.value.response["Error"]["Message"] == access.NOT_MANAGEMENT_OR_DELEGATED


def test_seeded_delegated_administrator(emulator: Any) -> None:
    """scripts/seed_org.py's "trusted_access" and "delegated_administrators" (Activate trusted
    access / Register a delegated administrator member account, CloudFormation User Guide): the
    seeded administrator reads the organization and acts as DELEGATED_ADMIN at once."""
    spec = {
        "ous": ["/Security"],
        "accounts": [{"name": "tooling", "ou": "/Security"}, {"name": "app"}],
        "trusted_access": True,
        "delegated_administrators": [{"account": "tooling"}],
    }
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "seed_org.py"),
            "--endpoint",
            emulator.endpoint,
            "--spec",
            "-",
        ],
        input=json.dumps(spec),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    tooling = out["accounts"]["tooling"]["id"]
    assert out["trusted_access"] == [STACKSETS]
    assert out["delegated_administrators"] == [[tooling, STACKSETS]]
    member = emulator.client("organizations", account=tooling)
    assert len(member.list_accounts()["Accounts"]) == 3
    cfn = emulator.client("cloudformation", account=tooling)
    assert cfn.list_stack_sets(CallAs="DELEGATED_ADMIN")["Summaries"] == []


def test_list_accounts_pages_hold_at_most_twenty(emulator: Any) -> None:
    """ListAccounts (Organizations API Reference): MaxResults ranges 1-20, so without it a page
    holds at most 20 accounts and NextToken leads to the rest."""
    client = emulator.client("organizations")
    client.create_organization(FeatureSet="ALL")
    for i in range(24):
        client.create_account(AccountName=f"a{i}", Email=f"a{i}@example.com")
    first = client.list_accounts()
    assert len(first["Accounts"]) == 20 and "NextToken" in first
    pages = list(client.get_paginator("list_accounts").paginate())
    assert sum(len(p["Accounts"]) for p in pages) == 25
