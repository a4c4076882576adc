"""Per-instance outcomes decided before a stack is touched (outcomes.py).

Documents: "StackInstanceComprehensiveStatus", AWS CloudFormation API Reference,
https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_StackInstanceComprehensiveStatus.html
(SKIPPED_SUSPENDED_ACCOUNT); "Prepare to perform StackSet operations in AWS Regions that are
disabled by default" and "Grant self-managed permissions", AWS CloudFormation User Guide; AWS
re:Post Knowledge Center "What are some of the IAM best practices for using stack set to deploy AWS
CloudFormation resources?" (the status reason for missing roles).

The organization and IAM roles are made with boto3 against moto in this process.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.emulator import org, outcomes, regions

MANAGEMENT = "123456789012"
ROOT = Path(__file__).resolve().parents[2]
ADMIN_ROLE_ARN = f"arn:aws:iam::{MANAGEMENT}:role/AWSCloudFormationStackSetAdministrationRole"


def creds(account: str) -> dict[str, str]:
    sts = boto3.client("sts", region_name="us-east-1")
    c = sts.assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole",
        RoleSessionName="test",
    )["Credentials"]
    return {
        "aws_access_key_id": c["AccessKeyId"],
        "aws_secret_access_key": c["SecretAccessKey"],
        "aws_session_token": c["SessionToken"],
    }


def trust(principal: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": principal},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[SimpleNamespace]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    org.install()
    with mock_aws():
        regions._reset()
        client = boto3.client("organizations", region_name="us-east-1")
        client.create_organization(FeatureSet="ALL")
        member = client.create_account(AccountName="m", Email="m@example.com")[
            "CreateAccountStatus"
        ]["AccountId"]
        iam = boto3.client("iam", region_name="us-east-1")
        iam.create_role(
            RoleName="AWSCloudFormationStackSetAdministrationRole",
            AssumeRolePolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "cloudformation.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            ),
        )
        member_iam = boto3.client("iam", region_name="us-east-1", **creds(member))
        yield SimpleNamespace(org=client, member=member, member_iam=member_iam, iam=iam)
        regions._reset()


def self_managed(**kw: str) -> SimpleNamespace:
    return SimpleNamespace(
        name="ss",
        permission_model="SELF_MANAGED",
        administration_role_arn=kw.get("admin", ADMIN_ROLE_ARN),
        execution_role_name=kw.get("execution", "AWSCloudFormationStackSetExecutionRole"),
    )


def test_missing_execution_role_fails_with_aws_reason(env: SimpleNamespace) -> None:
    """Grant self-managed permissions (User Guide) and re:Post's status reason: "Account ...
    should have 'AWSCloudFormationStackSetExecutionRole' role with trust relationship to Role
    'AWSCloudFormationStackSetAdministrationRole'."; the stack set's ExecutionRoleName counts."""
    got = outcomes.instance_outcome(MANAGEMENT, self_managed(), env.member, "us-east-1")
    assert got == (
        "FAILED",
        f"Account {env.member} should have 'AWSCloudFormationStackSetExecutionRole' role with "
        "trust relationship to Role 'AWSCloudFormationStackSetAdministrationRole'.",
    )
    env.member_iam.create_role(
        RoleName="AWSCloudFormationStackSetExecutionRole",
        AssumeRolePolicyDocument=trust(f"arn:aws:iam::{MANAGEMENT}:root"),
    )
    assert outcomes.instance_outcome(MANAGEMENT, self_managed(), env.member, "us-east-1") is None
    custom = outcomes.instance_outcome(
        MANAGEMENT, self_managed(execution="Exec"), env.member, "us-east-1"
    )
    assert custom is not None and "'Exec' role" in custom[1]


def test_execution_role_that_does_not_trust_the_admin_account(
    env: SimpleNamespace,
) -> None:
    """Grant self-managed permissions: the execution role must trust the administrator account;
    re:Post: the same reason when "the trust relationship ... isn't established correctly"."""
    env.member_iam.create_role(
        RoleName="AWSCloudFormationStackSetExecutionRole",
        AssumeRolePolicyDocument=trust("arn:aws:iam::999999999999:root"),
    )
    got = outcomes.instance_outcome(MANAGEMENT, self_managed(), env.member, "us-east-1")
    assert got is not None and got[0] == "FAILED"


def test_missing_administration_role(env: SimpleNamespace) -> None:
    """re:Post: the error also "occurs when the IAM role ... AWSCloudFormationStackSetAdministrationRole
    is missing"; a custom AdministrationRoleARN is named by path and name."""
    env.member_iam.create_role(
        RoleName="AWSCloudFormationStackSetExecutionRole",
        AssumeRolePolicyDocument=trust(f"arn:aws:iam::{MANAGEMENT}:root"),
    )
    arn = f"arn:aws:iam::{MANAGEMENT}:role/service-role/CustomAdmin"
    got = outcomes.instance_outcome(MANAGEMENT, self_managed(admin=arn), env.member, "us-east-1")
    assert got is not None
    assert got[1].endswith("with trust relationship to Role 'service-role/CustomAdmin'.")


def test_suspended_account_is_skipped_before_anything_else(
    env: SimpleNamespace,
) -> None:
    """StackInstanceComprehensiveStatus: SKIPPED_SUSPENDED_ACCOUNT "because the account was
    suspended at the time of the operation" (even without roles, for any permission model)."""
    env.org.close_account(AccountId=env.member)
    for stack_set in (
        self_managed(),
        SimpleNamespace(permission_model="SERVICE_MANAGED"),
    ):
        got = outcomes.instance_outcome(MANAGEMENT, stack_set, env.member, "us-east-1")
        assert got is not None and got[0] == "SKIPPED_SUSPENDED_ACCOUNT"


def test_region_not_enabled_fails(env: SimpleNamespace) -> None:
    """Prepare to perform StackSet operations in Regions disabled by default (User Guide): the
    target account must have the Region enabled, and so must the administrator account."""
    service = SimpleNamespace(permission_model="SERVICE_MANAGED")
    got = outcomes.instance_outcome(MANAGEMENT, service, env.member, "ap-east-1")
    assert got is not None and got[0] == "FAILED" and "ap-east-1" in got[1]
    assert env.member in got[1]
    regions.set_status(env.member, "ap-east-1", "ENABLED")
    got = outcomes.instance_outcome(MANAGEMENT, service, env.member, "ap-east-1")
    assert got is not None and MANAGEMENT in got[1]
    regions.set_status(MANAGEMENT, "ap-east-1", "ENABLED")
    assert outcomes.instance_outcome(MANAGEMENT, service, env.member, "ap-east-1") is None
    assert outcomes.instance_outcome(MANAGEMENT, service, env.member, "eu-west-1") is None


# ----------------------------------------------------------------------------- through the emulator


def test_seeded_account_without_execution_role_fails_through_the_engine(
    emulator: Any,
) -> None:
    """End to end with scripts/seed_org.py: the account seeded with "execution_role": false fails
    with re:Post's status reason; an opt-in Region the account has not enabled fails; the seeded
    account with the role and the Region enabled succeeds (StackInstanceComprehensiveStatus,
    "Prepare to perform StackSet operations in AWS Regions that are disabled by default")."""
    spec = {
        "accounts": [
            {"name": "good", "enabled_regions": ["ap-east-1"]},
            {"name": "no-role", "execution_role": False},
        ],
        "stack_sets": [
            {
                "name": "seeded",
                "template_body": {
                    "Resources": {"T": {"Type": "AWS::SNS::Topic", "Properties": {}}}
                },
                "instances": [{"account": "good", "regions": ["us-east-1"]}],
            }
        ],
    }
    emulator.config(time_scale=0.00001)
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
    good, bad = out["accounts"]["good"]["id"], out["accounts"]["no-role"]["id"]
    assert out["accounts"]["no-role"]["execution_role"] is False
    assert out["stack_sets"]["seeded"]["instances"] == [[good, "us-east-1"]]
    cfn = emulator.client("cloudformation")
    op = cfn.create_stack_instances(
        StackSetName="seeded",
        Accounts=[good, bad],
        Regions=["ap-east-1"],
        OperationPreferences={
            "FailureTolerancePercentage": 100,
            "MaxConcurrentPercentage": 100,
        },
    )["OperationId"]
    deadline = time.monotonic() + 15
    while cfn.describe_stack_set_operation(StackSetName="seeded", OperationId=op)[
        "StackSetOperation"
    ]["Status"] in ("RUNNING", "QUEUED"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    rows = cfn.list_stack_set_operation_results(StackSetName="seeded", OperationId=op)["Summaries"]
    by_account = {r["Account"]: r for r in rows}
    assert by_account[bad]["Status"] == "FAILED"
    # The management account has not enabled ap-east-1 either: both fail, the Region first.
    assert "ap-east-1" in by_account[good]["StatusReason"]
    emulator.client("account").enable_region(RegionName="ap-east-1")
    deadline = time.monotonic() + 10
    while (
        emulator.client("account").get_region_opt_status(RegionName="ap-east-1")["RegionOptStatus"]
        != "ENABLED"
    ):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    op = cfn.create_stack_instances(
        StackSetName="seeded",
        Accounts=[good, bad],
        Regions=["eu-west-1"],
        OperationPreferences={
            "FailureTolerancePercentage": 100,
            "MaxConcurrentPercentage": 100,
        },
    )["OperationId"]
    deadline = time.monotonic() + 15
    while cfn.describe_stack_set_operation(StackSetName="seeded", OperationId=op)[
        "StackSetOperation"
    ]["Status"] in ("RUNNING", "QUEUED"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    rows = cfn.list_stack_set_operation_results(StackSetName="seeded", OperationId=op)["Summaries"]
    by_account = {r["Account"]: r for r in rows}
    assert by_account[good]["Status"] == "SUCCEEDED"
    assert by_account[bad]["Status"] == "FAILED"
    assert by_account[bad]["StatusReason"] == (
        f"Account {bad} should have 'AWSCloudFormationStackSetExecutionRole' role with trust "
        "relationship to Role 'AWSCloudFormationStackSetAdministrationRole'."
    )
