"""Automatic deployments driven by Organizations changes (autodeploy.py), through boto3 against the
emulator.

Documents: "AutoDeployment", AWS CloudFormation API Reference,
https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_AutoDeployment.html;
"Enable or disable automatic deployments for StackSets in AWS Organizations", AWS CloudFormation
User Guide; terraform-provider-aws #19015 / #24879 (RetainStacksOnAccountRemoval without
auto-deployment is a ValidationError).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.emulator import autodeploy
from tests.emulator.errors import AwsError

STACKSETS = "member.org.stacksets.cloudformation.amazonaws.com"
TEMPLATE = json.dumps(
    {"Resources": {"Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "auto"}}}}
)


def wait_for(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 15
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def setup(emulator: Any, retain: bool) -> dict[str, Any]:
    org = emulator.client("organizations")
    org.create_organization(FeatureSet="ALL")
    org.enable_aws_service_access(ServicePrincipal=STACKSETS)
    root = org.list_roots()["Roots"][0]["Id"]
    prod = org.create_organizational_unit(ParentId=root, Name="Prod")["OrganizationalUnit"]["Id"]
    team = org.create_organizational_unit(ParentId=prod, Name="Team")["OrganizationalUnit"]["Id"]
    other = org.create_organizational_unit(ParentId=root, Name="Other")["OrganizationalUnit"]["Id"]
    cfn = emulator.client("cloudformation")
    cfn.create_stack_set(
        StackSetName="auto",
        TemplateBody=TEMPLATE,
        PermissionModel="SERVICE_MANAGED",
        AutoDeployment={"Enabled": True, "RetainStacksOnAccountRemoval": retain},
    )
    op = cfn.create_stack_instances(
        StackSetName="auto",
        DeploymentTargets={"OrganizationalUnitIds": [prod]},
        Regions=["us-east-1", "eu-west-1"],
    )["OperationId"]
    wait_for(
        lambda: cfn.describe_stack_set_operation(StackSetName="auto", OperationId=op)[
            "StackSetOperation"
        ]["Status"]
        == "SUCCEEDED",
        "the empty CREATE",
    )
    return {
        "org": org,
        "cfn": cfn,
        "root": root,
        "prod": prod,
        "team": team,
        "other": other,
    }


def instances(cfn: Any) -> set[tuple[str, str]]:
    rows = cfn.list_stack_instances(StackSetName="auto")["Summaries"]
    return {(r["Account"], r["Region"]) for r in rows}


def test_joining_a_nested_targeted_ou_deploys_in_the_stack_sets_regions(
    emulator: Any,
) -> None:
    """AutoDeployment: accounts added to a target OU (here a child OU of it) get instances "in the
    specified Regions", even though the OU was empty when the instances were created."""
    env = setup(emulator, retain=False)
    org, cfn = env["org"], env["cfn"]
    acct = org.create_account(AccountName="n", Email="n@example.com")["CreateAccountStatus"][
        "AccountId"
    ]
    assert instances(cfn) == set()  # at the root, outside the targeted OU
    org.move_account(AccountId=acct, SourceParentId=env["root"], DestinationParentId=env["team"])
    want = {(acct, "us-east-1"), (acct, "eu-west-1")}
    wait_for(lambda: instances(cfn) == want, "the automatic deployment")
    wait_for(
        lambda: all(
            r["StackInstanceStatus"]["DetailedStatus"] == "SUCCEEDED"
            for r in cfn.list_stack_instances(StackSetName="auto")["Summaries"]
        ),
        "the instances to succeed",
    )
    ops = cfn.list_stack_set_operations(StackSetName="auto")["Summaries"]
    assert any(o["Action"] == "CREATE" and o["Status"] in ("SUCCEEDED", "RUNNING") for o in ops)


def test_leaving_the_targeted_ous_deletes_the_instances(emulator: Any) -> None:
    """AutoDeployment: "If an account is removed from a target organization or OU, StackSets
    deletes stack instances from the account in the specified Regions"."""
    env = setup(emulator, retain=False)
    org, cfn = env["org"], env["cfn"]
    acct = org.create_account(AccountName="n", Email="n@example.com")["CreateAccountStatus"][
        "AccountId"
    ]
    org.move_account(AccountId=acct, SourceParentId=env["root"], DestinationParentId=env["prod"])
    wait_for(lambda: len(instances(cfn)) == 2, "the automatic deployment")
    wait_for(
        lambda: not [
            o
            for o in cfn.list_stack_set_operations(StackSetName="auto")["Summaries"]
            if o["Status"] in ("RUNNING", "QUEUED")
        ],
        "the deployment to end",
    )
    org.move_account(AccountId=acct, SourceParentId=env["prod"], DestinationParentId=env["other"])
    wait_for(lambda: instances(cfn) == set(), "the automatic deletion")
    stacks = emulator.client("cloudformation", account=acct).list_stacks()["StackSummaries"]
    assert all(s["StackStatus"] == "DELETE_COMPLETE" for s in stacks)


def test_retain_stacks_on_account_removal_keeps_the_stacks(emulator: Any) -> None:
    """AutoDeployment: "If set to true, stack resources are retained when an account is removed
    from a target organization or OU" — the instance goes, the member stack stays."""
    env = setup(emulator, retain=True)
    org, cfn = env["org"], env["cfn"]
    acct = org.create_account(AccountName="n", Email="n@example.com")["CreateAccountStatus"][
        "AccountId"
    ]
    org.move_account(AccountId=acct, SourceParentId=env["root"], DestinationParentId=env["prod"])
    wait_for(lambda: len(instances(cfn)) == 2, "the automatic deployment")
    wait_for(
        lambda: not [
            o
            for o in cfn.list_stack_set_operations(StackSetName="auto")["Summaries"]
            if o["Status"] in ("RUNNING", "QUEUED")
        ],
        "the deployment to end",
    )
    org.move_account(AccountId=acct, SourceParentId=env["prod"], DestinationParentId=env["other"])
    wait_for(lambda: instances(cfn) == set(), "the automatic removal")
    member = emulator.client("cloudformation", account=acct)
    live = [
        s for s in member.list_stacks()["StackSummaries"] if s["StackStatus"] != "DELETE_COMPLETE"
    ]
    assert len(live) == 1


def test_validate_retain_without_auto_deployment() -> None:
    """AutoDeployment: RetainStacksOnAccountRemoval "Specify only if Enabled is set to True";
    terraform-provider-aws #19015: refused even when it is false."""
    for bad in (
        {"Enabled": False, "RetainStacksOnAccountRemoval": True},
        {"Enabled": "false", "RetainStacksOnAccountRemoval": "false"},
        {"RetainStacksOnAccountRemoval": False},
    ):
        with pytest.raises(AwsError) as err:
            autodeploy.validate(bad, "SERVICE_MANAGED")
        assert err.value.code == "ValidationError"
    autodeploy.validate({"Enabled": True, "RetainStacksOnAccountRemoval": False}, "SERVICE_MANAGED")
    autodeploy.validate({"Enabled": False}, "SERVICE_MANAGED")
    autodeploy.validate(None, "SELF_MANAGED")
    with pytest.raises(AwsError, match="SERVICE_MANAGED"):
        autodeploy.validate({"Enabled": True}, "SELF_MANAGED")


def test_create_stack_set_refuses_retain_without_auto_deployment(emulator: Any) -> None:
    """terraform-provider-aws #24879: CreateStackSet with AutoDeployment disabled and
    RetainStacksOnAccountRemoval set is a ValidationError."""
    from botocore.exceptions import ClientError

    org = emulator.client("organizations")
    org.create_organization(FeatureSet="ALL")
    org.enable_aws_service_access(ServicePrincipal=STACKSETS)
    with pytest.raises(ClientError) as err:
        emulator.client("cloudformation").create_stack_set(
            StackSetName="bad",
            TemplateBody=TEMPLATE,
            PermissionModel="SERVICE_MANAGED",
            AutoDeployment={"Enabled": False, "RetainStacksOnAccountRemoval": True},
        )
    assert err.value.response["Error"]["Code"] == "ValidationError"


def test_pure_changes() -> None:
    """AutoDeployment / automatic deployments (User Guide): join, leave, move between targeted
    OUs, and changes outside the targeted OUs."""
    t = {"ou-a"}
    assert autodeploy.changes(set(), {"ou-a", "r-1"}, t, set()) == ("CREATE", "ou-a")
    assert autodeploy.changes({"ou-a", "r-1"}, {"r-1"}, t, {"ou-a"}) == ("DELETE", None)
    assert autodeploy.changes({"ou-a"}, {"ou-b"}, {"ou-a", "ou-b"}, {"ou-a"}) == (
        "MOVE",
        "ou-b",
    )
    assert autodeploy.changes({"r-1"}, {"ou-c", "r-1"}, t, set()) == (None, None)
    assert autodeploy.changes({"ou-a"}, {"ou-a"}, t, {"ou-a"}) == (None, None)
