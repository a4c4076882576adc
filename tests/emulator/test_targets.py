"""Service-managed DeploymentTargets and self-managed accounts × Regions (targets.py).

Documents: "DeploymentTargets", AWS CloudFormation API Reference,
https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DeploymentTargets.html;
"Account-level targets for service-managed StackSets", AWS CloudFormation User Guide,
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/account-level-targets.html;
"CreateStackInstances" / "DeleteStackInstances", API Reference (the 50-OU limit, nested OUs);
terraform-provider-aws #27877 / #33785 ("Organizational unit ... not found in StackSet");
"Troubleshoot cross-account analyses in Reachability Analyzer" (the same error on a delete by OU).

The organization is built with boto3 against moto in this process (`mock_aws`), and `targets` reads
it through its adapter, exactly as it does inside the emulator.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from tests.emulator import targets
from tests.emulator.errors import AwsError

MANAGEMENT = "123456789012"


@dataclass
class Org:
    """An organization built through boto3: root, OUs by path, accounts by name."""

    client: object
    root: str
    ous: dict[str, str] = field(default_factory=dict)
    accounts: dict[str, str] = field(default_factory=dict)

    def ou(self, path: str) -> str:
        parent_path, _, name = path.rpartition("/")
        parent = self.ous[parent_path] if parent_path else self.root
        ou_id = self.client.create_organizational_unit(ParentId=parent, Name=name)[
            "OrganizationalUnit"
        ]["Id"]
        self.ous[path] = ou_id
        return ou_id

    def account(self, name: str, ou_path: str | None = None) -> str:
        status = self.client.create_account(AccountName=name, Email=f"{name}@example.com")
        acct = status["CreateAccountStatus"]["AccountId"]
        if ou_path:
            self.client.move_account(
                AccountId=acct,
                SourceParentId=self.root,
                DestinationParentId=self.ous[ou_path],
            )
        self.accounts[name] = acct
        return acct


def build_org() -> Org:
    """/Workloads, /Workloads/Prod, /Workloads/Dev, /Security with accounts, and one at the root."""
    client = boto3.client("organizations", region_name="us-east-1")
    client.create_organization(FeatureSet="ALL")
    org = Org(client, client.list_roots()["Roots"][0]["Id"])
    for path in ("Workloads", "Workloads/Prod", "Workloads/Dev", "Security"):
        org.ou(path)
    org.account("prod-a", "Workloads/Prod")
    org.account("prod-b", "Workloads/Prod")
    org.account("dev-a", "Workloads/Dev")
    org.account("wl-direct", "Workloads")
    org.account("sec-a", "Security")
    org.account("loose")
    return org


@pytest.fixture
def in_process() -> Iterator[None]:
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        targets._reset()
        yield
        targets._reset()


@pytest.fixture
def org(in_process: None) -> Org:
    return build_org()


def stack_set(name: str = "ss", model: str = "SERVICE_MANAGED") -> SimpleNamespace:
    return SimpleNamespace(
        name=name,
        permission_model=model,
        arn=f"arn:aws:cloudformation:us-east-1:{MANAGEMENT}:stackset/{name}:1",
    )


def accounts_of(cells: list[tuple[str, str]]) -> set[str]:
    return {acct for acct, _ in cells}


def create(org: Org, ss: SimpleNamespace, dt: dict, regions: list[str] | None = None) -> list:
    cells = targets.resolve(
        MANAGEMENT,
        ss,
        accounts=None,
        deployment_targets=dt,
        regions=regions or ["us-east-1"],
        action="CREATE",
    )
    targets.record(MANAGEMENT, "us-east-1", ss.name, dt.get("OrganizationalUnitIds", []))
    return cells


def test_nested_ous_are_included_and_the_management_account_never(org: Org) -> None:
    """DeploymentTargets (API Reference): the management account is never deployed to, even at
    the root; CreateStackInstances: a parent OU covers its child OUs."""
    cells = create(org, stack_set(), {"OrganizationalUnitIds": [org.ous["Workloads"]]})
    want = {org.accounts[n] for n in ("prod-a", "prod-b", "dev-a", "wl-direct")}
    assert accounts_of(cells) == want
    everything = create(org, stack_set("all"), {"OrganizationalUnitIds": [org.root]})
    assert MANAGEMENT not in accounts_of(everything)
    assert accounts_of(everything) == set(org.accounts.values())


def test_cells_are_accounts_times_regions(org: Org) -> None:
    """DeploymentTargets: every targeted account in every requested Region."""
    cells = create(
        org,
        stack_set(),
        {"OrganizationalUnitIds": [org.ous["Security"]]},
        ["us-east-1", "eu-west-1"],
    )
    assert cells == [
        (org.accounts["sec-a"], "us-east-1"),
        (org.accounts["sec-a"], "eu-west-1"),
    ]


def test_intersection_and_difference_on_create(org: Org) -> None:
    """Account-level targets (User Guide): INTERSECTION deploys to the listed accounts of the OU,
    DIFFERENCE to all but them."""
    prod = org.ous["Workloads/Prod"]
    a, b = org.accounts["prod-a"], org.accounts["prod-b"]
    outside = org.accounts["sec-a"]
    inter = create(
        org,
        stack_set("i"),
        {
            "OrganizationalUnitIds": [prod],
            "Accounts": [a, outside],
            "AccountFilterType": "INTERSECTION",
        },
    )
    assert accounts_of(inter) == {a}
    diff = create(
        org,
        stack_set("d"),
        {
            "OrganizationalUnitIds": [prod],
            "Accounts": [a],
            "AccountFilterType": "DIFFERENCE",
        },
    )
    assert accounts_of(diff) == {b}


def test_union_is_refused_on_create_and_accepted_on_update(org: Org) -> None:
    """DeploymentTargets: "UNION is not supported for CreateStackInstances operations"; the User
    Guide's UNION example is an update-stack-instances call (OU plus an account elsewhere)."""
    prod = org.ous["Workloads/Prod"]
    ss = stack_set()
    with pytest.raises(AwsError) as err:
        create(
            org,
            ss,
            {
                "OrganizationalUnitIds": [prod],
                "Accounts": [org.accounts["sec-a"]],
                "AccountFilterType": "UNION",
            },
        )
    assert err.value.code == "ValidationError"
    create(org, ss, {"OrganizationalUnitIds": [prod]})
    cells = targets.resolve(
        MANAGEMENT,
        ss,
        accounts=None,
        deployment_targets={
            "OrganizationalUnitIds": [prod],
            "Accounts": [org.accounts["sec-a"]],
            "AccountFilterType": "UNION",
        },
        regions=["us-east-1"],
        action="UPDATE",
    )
    assert accounts_of(cells) == {
        org.accounts["prod-a"],
        org.accounts["prod-b"],
        org.accounts["sec-a"],
    }


def test_create_with_ous_and_accounts_needs_a_filter_type(org: Org) -> None:
    """DeploymentTargets: "When performing create operations, if you specify both
    OrganizationalUnitIds and Accounts, you must also specify the AccountFilterType property"."""
    with pytest.raises(AwsError, match="AccountFilterType"):
        create(
            org,
            stack_set(),
            {
                "OrganizationalUnitIds": [org.ous["Security"]],
                "Accounts": [org.accounts["sec-a"]],
            },
        )


def test_none_acts_on_every_account_of_the_ous(org: Org) -> None:
    """DeploymentTargets: NONE performs stack operations on all accounts in the OUs."""
    cells = create(
        org,
        stack_set(),
        {
            "OrganizationalUnitIds": [org.ous["Workloads/Dev"]],
            "AccountFilterType": "NONE",
        },
    )
    assert accounts_of(cells) == {org.accounts["dev-a"]}


def test_more_than_fifty_ous_is_a_validation_error(org: Org) -> None:
    """CreateStackInstances / DeleteStackInstances: at most 50 OUs per operation."""
    ous = [f"ou-abcd-{i:08d}" for i in range(51)]
    with pytest.raises(AwsError) as err:
        create(org, stack_set(), {"OrganizationalUnitIds": ous})
    assert err.value.code == "ValidationError"
    assert "50" in err.value.message


def test_service_managed_refuses_plain_accounts(org: Org) -> None:
    """aws-cli #8248: "StackSets with SERVICE_MANAGED permission model can only have
    OrganizationalUnit as target"; DeploymentTargets: create and delete name OUs."""
    ss = stack_set()
    for kwargs in (
        {"accounts": [org.accounts["sec-a"]], "deployment_targets": None},
        {"accounts": None, "deployment_targets": {"Accounts": [org.accounts["sec-a"]]}},
    ):
        for action in ("CREATE", "DELETE"):
            with pytest.raises(AwsError, match="can only have OrganizationalUnit as target"):
                targets.resolve(MANAGEMENT, ss, regions=["us-east-1"], action=action, **kwargs)


def test_update_and_delete_with_an_ou_the_stack_set_does_not_target(org: Org) -> None:
    """terraform-provider-aws #27877/#33785: "ValidationError: Organizational unit ou-... not found
    in StackSet" on UpdateStackInstances; Reachability Analyzer troubleshooting: the same message
    on a delete by OU (second-hand evidence, so DELETE follows UPDATE)."""
    ss = stack_set()
    create(org, ss, {"OrganizationalUnitIds": [org.ous["Workloads/Prod"]]})
    other = org.ous["Security"]
    for action in ("UPDATE", "DELETE"):
        with pytest.raises(AwsError) as err:
            targets.resolve(
                MANAGEMENT,
                ss,
                accounts=None,
                deployment_targets={"OrganizationalUnitIds": [other]},
                regions=["us-east-1"],
                action=action,
            )
        assert err.value.code == "ValidationError"
        assert err.value.message == f"Organizational unit {other} not found in StackSet"
    # A child of a targeted OU is not itself targeted (strict reading).
    create(org, stack_set("parent"), {"OrganizationalUnitIds": [org.ous["Workloads"]]})
    with pytest.raises(AwsError, match="not found in StackSet"):
        targets.resolve(
            MANAGEMENT,
            stack_set("parent"),
            accounts=None,
            deployment_targets={"OrganizationalUnitIds": [org.ous["Workloads/Prod"]]},
            regions=["us-east-1"],
            action="DELETE",
        )


def test_delete_selects_by_the_recorded_ou_not_the_current_parent(org: Org) -> None:
    """DeleteStackInstances by OU removes the instances deployed through that OU, even when the
    account has moved since (FIELD-NOTES §7, "use the OU recorded on the instance")."""
    ss = stack_set()
    prod, sec = org.ous["Workloads/Prod"], org.ous["Security"]
    create(org, ss, {"OrganizationalUnitIds": [prod]})
    mover = org.accounts["prod-a"]
    org.client.move_account(AccountId=mover, SourceParentId=prod, DestinationParentId=sec)
    cells = targets.resolve(
        MANAGEMENT,
        ss,
        accounts=None,
        deployment_targets={"OrganizationalUnitIds": [prod]},
        regions=["us-east-1"],
        action="DELETE",
    )
    assert accounts_of(cells) == {mover, org.accounts["prod-b"]}
    assert targets.instance_ou(MANAGEMENT, "us-east-1", "ss", mover) == prod


def test_delete_with_intersection_keeps_only_the_listed_accounts(org: Org) -> None:
    """Account-level targets: the filter applies to delete operations too."""
    ss = stack_set()
    prod = org.ous["Workloads/Prod"]
    create(org, ss, {"OrganizationalUnitIds": [prod]})
    cells = targets.resolve(
        MANAGEMENT,
        ss,
        accounts=None,
        deployment_targets={
            "OrganizationalUnitIds": [prod],
            "Accounts": [org.accounts["prod-b"]],
            "AccountFilterType": "INTERSECTION",
        },
        regions=["us-east-1", "eu-west-1"],
        action="DELETE",
    )
    assert cells == [
        (org.accounts["prod-b"], "us-east-1"),
        (org.accounts["prod-b"], "eu-west-1"),
    ]


def test_unknown_ou_on_create_fails_the_operation(org: Org) -> None:
    """An OU that does not exist: AWS accepts the call and fails the operation with "Target
    organizational unit could not be found" (elastic/cloudbeat #2681)."""
    with pytest.raises(targets.TargetOperationFailure) as err:
        create(org, stack_set(), {"OrganizationalUnitIds": ["ou-zzzz-00000000"]})
    assert err.value.operation_status_reason == "Target organizational unit could not be found"


def test_self_managed_is_accounts_times_regions(in_process: None) -> None:
    """CreateStackInstances (self-managed): the accounts × Regions rectangle; Accounts or
    DeploymentTargets, not both; OUs are for service-managed stack sets only."""
    ss = stack_set(model="SELF_MANAGED")
    cells = targets.resolve(
        MANAGEMENT,
        ss,
        accounts=["111111111111", "222222222222", "111111111111"],
        deployment_targets=None,
        regions=["us-east-1", "eu-west-1"],
        action="CREATE",
    )
    assert cells == [
        ("111111111111", "us-east-1"),
        ("222222222222", "us-east-1"),
        ("111111111111", "eu-west-1"),
        ("222222222222", "eu-west-1"),
    ]
    with pytest.raises(AwsError, match="can only have accounts as target"):
        targets.resolve(
            MANAGEMENT,
            ss,
            accounts=None,
            deployment_targets={"OrganizationalUnitIds": ["ou-abcd-12345678"]},
            regions=["us-east-1"],
            action="CREATE",
        )
    with pytest.raises(AwsError, match="not both"):
        targets.resolve(
            MANAGEMENT,
            ss,
            accounts=["111111111111"],
            deployment_targets={"Accounts": ["222222222222"]},
            regions=["us-east-1"],
            action="CREATE",
        )
    with pytest.raises(AwsError, match="regular expression"):
        targets.resolve(
            MANAGEMENT,
            ss,
            accounts=["ou-abcd-1"],
            deployment_targets=None,
            regions=["us-east-1"],
            action="UPDATE",
        )


def test_pure_tree_without_moto() -> None:
    """The decisions run on plain data too (DeploymentTargets, nested OUs)."""
    tree = targets.OrgTree(
        root="r-abcd",
        management="123456789012",
        parents={
            "r-abcd": None,
            "ou-abcd-aaaaaaaa": "r-abcd",
            "ou-abcd-bbbbbbbb": "ou-abcd-aaaaaaaa",
        },
        accounts={"123456789012": "r-abcd", "111111111111": "ou-abcd-bbbbbbbb"},
    )
    got = targets.service_managed_accounts(tree, {"OrganizationalUnitIds": ["r-abcd"]}, "CREATE")
    assert got == ["111111111111"]


# ----------------------------------------------------------------------------- through the emulator

STACKSETS = "member.org.stacksets.cloudformation.amazonaws.com"
TEMPLATE = '{"Resources": {"M": {"Type": "AWS::CloudFormation::WaitConditionHandle"}}}'


def _wait(cfn: Any, name: str, op: str) -> dict:
    deadline = time.monotonic() + 20
    while True:
        got = cfn.describe_stack_set_operation(StackSetName=name, OperationId=op)[
            "StackSetOperation"
        ]
        if got["Status"] not in ("RUNNING", "QUEUED", "STOPPING"):
            return got
        assert time.monotonic() < deadline, got
        time.sleep(0.02)


def _listed(cfn: Any, name: str) -> dict[str, str | None]:
    rows = [
        r
        for page in cfn.get_paginator("list_stack_instances").paginate(StackSetName=name)
        for r in page["Summaries"]
    ]
    return {r["Account"]: r.get("OrganizationalUnitId") for r in rows}


def test_service_managed_targets_through_the_api(emulator: Any) -> None:
    """DeploymentTargets through CreateStackInstances / UpdateStackInstances /
    DeleteStackInstances (API Reference): nested OUs and INTERSECTION on create, the management
    account left out, "Organizational unit ... not found in StackSet" on update and delete
    (terraform-provider-aws #27877/#33785, Reachability Analyzer troubleshooting)."""
    org = emulator.client("organizations")
    org.create_organization(FeatureSet="ALL")
    org.enable_aws_service_access(ServicePrincipal=STACKSETS)
    root = org.list_roots()["Roots"][0]["Id"]
    wl = org.create_organizational_unit(ParentId=root, Name="Workloads")["OrganizationalUnit"]["Id"]
    prod = org.create_organizational_unit(ParentId=wl, Name="Prod")["OrganizationalUnit"]["Id"]
    sec = org.create_organizational_unit(ParentId=root, Name="Sec")["OrganizationalUnit"]["Id"]
    ids = {}
    for name, parent in (("p1", prod), ("p2", prod), ("w1", wl), ("s1", sec)):
        acct = org.create_account(AccountName=name, Email=f"{name}@example.com")[
            "CreateAccountStatus"
        ]["AccountId"]
        org.move_account(AccountId=acct, SourceParentId=root, DestinationParentId=parent)
        ids[name] = acct
    cfn = emulator.client("cloudformation")
    cfn.create_stack_set(
        StackSetName="sm",
        TemplateBody=TEMPLATE,
        PermissionModel="SERVICE_MANAGED",
        AutoDeployment={"Enabled": False},
    )
    op = cfn.create_stack_instances(
        StackSetName="sm",
        DeploymentTargets={
            "OrganizationalUnitIds": [wl],
            "Accounts": [ids["p1"], ids["w1"], ids["s1"]],
            "AccountFilterType": "INTERSECTION",
        },
        Regions=["us-east-1"],
    )["OperationId"]
    assert _wait(cfn, "sm", op)["Status"] == "SUCCEEDED"
    assert _listed(cfn, "sm") == {ids["p1"]: wl, ids["w1"]: wl}
    with pytest.raises(ClientError) as err:
        cfn.create_stack_instances(
            StackSetName="sm",
            DeploymentTargets={
                "OrganizationalUnitIds": [wl],
                "Accounts": [ids["s1"]],
                "AccountFilterType": "UNION",
            },
            Regions=["us-east-1"],
        )
    assert err.value.response["Error"]["Code"] == "ValidationError"
    for call in (cfn.update_stack_instances, cfn.delete_stack_instances):
        kwargs = {"RetainStacks": False} if call == cfn.delete_stack_instances else {}
        with pytest.raises(ClientError) as err:
            call(
                StackSetName="sm",
                DeploymentTargets={"OrganizationalUnitIds": [sec]},
                Regions=["us-east-1"],
                **kwargs,
            )
        assert err.value.response["Error"]["Code"] == "ValidationError"
        assert err.value.response["Error"]["Message"] == (
            f"Organizational unit {sec} not found in StackSet"
        )
    op = cfn.delete_stack_instances(
        StackSetName="sm",
        DeploymentTargets={
            "OrganizationalUnitIds": [wl],
            "Accounts": [ids["w1"]],
            "AccountFilterType": "INTERSECTION",
        },
        Regions=["us-east-1"],
        RetainStacks=False,
    )["OperationId"]
    assert _wait(cfn, "sm", op)["Status"] == "SUCCEEDED"
    assert _listed(cfn, "sm") == {ids["p1"]: wl}
    assert MANAGEMENT not in _listed(cfn, "sm")


def test_untarget_after_deleting_every_instance_of_an_ou(org: Org) -> None:
    """DeleteStackInstances by OU (API Reference): once no instance remains under an OU, the stack
    set no longer targets it, and an update naming it is "not found in StackSet"."""
    ss = stack_set()
    prod, sec = org.ous["Workloads/Prod"], org.ous["Security"]
    create(org, ss, {"OrganizationalUnitIds": [prod]})
    create(org, ss, {"OrganizationalUnitIds": [sec]})
    assert targets.targeted_ous(MANAGEMENT, "us-east-1", "ss") == sorted([prod, sec])
    # Prod's instances remain in one account: Prod stays a target.
    assert targets.untarget(MANAGEMENT, "us-east-1", "ss", [prod], [org.accounts["prod-b"]]) == []
    assert targets.untarget(MANAGEMENT, "us-east-1", "ss", [prod], []) == [prod]
    assert targets.targeted_ous(MANAGEMENT, "us-east-1", "ss") == [sec]
    with pytest.raises(AwsError, match="not found in StackSet"):
        targets.resolve(
            MANAGEMENT,
            ss,
            accounts=None,
            deployment_targets={"OrganizationalUnitIds": [prod]},
            regions=["us-east-1"],
            action="UPDATE",
        )
