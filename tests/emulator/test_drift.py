"""Drift of member stacks against moto's backends (drift.py).

Documents: "Performing drift detection on CloudFormation StackSets" and "Detect unmanaged
configuration changes to stacks and resources with drift detection", AWS CloudFormation User Guide;
"StackResourceDrift" and "PropertyDifference", AWS CloudFormation API Reference,
https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_PropertyDifference.html.

The member stack is created with boto3 as the member account (AssumeRole credentials) in this
process's moto, changed through the ordinary APIs as that account, and `drift.detect` reads it back.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.emulator import drift

ROOT = Path(__file__).resolve().parents[2]
STANDALONE = (ROOT / "templates" / "s3-policy-monitor.yaml").read_text()
SPOKE = (ROOT / "templates" / "s3-policy-monitor-spoke.yaml").read_text()
REGION = "eu-west-1"


@pytest.fixture
def member(monkeypatch: pytest.MonkeyPatch) -> Iterator[SimpleNamespace]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    drift.install()
    with mock_aws():
        org = boto3.client("organizations", region_name="us-east-1")
        org.create_organization(FeatureSet="ALL")
        account = org.create_account(AccountName="m", Email="m@example.com")["CreateAccountStatus"][
            "AccountId"
        ]
        c = boto3.client("sts", region_name=REGION).assume_role(
            RoleArn=f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole",
            RoleSessionName="drift-test",
        )["Credentials"]
        creds = {
            "aws_access_key_id": c["AccessKeyId"],
            "aws_secret_access_key": c["SecretAccessKey"],
            "aws_session_token": c["SessionToken"],
        }

        def client(service: str) -> Any:
            return boto3.client(service, region_name=REGION, **creds)

        yield SimpleNamespace(account=account, client=client)


def deploy(member: SimpleNamespace, body: str, params: dict[str, str]) -> str:
    cfn = member.client("cloudformation")
    return cfn.create_stack(
        StackName="StackSet-monitor-1",
        TemplateBody=body,
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()],
        Capabilities=["CAPABILITY_NAMED_IAM"],
    )["StackId"]


def by_id(rows: list[dict]) -> dict[str, dict]:
    return {r["LogicalResourceId"]: r for r in rows}


def test_fresh_stack_is_in_sync_with_every_resource_checked(
    member: SimpleNamespace,
) -> None:
    """StackResourceDrift: each resource IN_SYNC after deployment, topic policy and subscription
    included (the emulator teaches moto's CloudFormation to create them)."""
    stack_id = deploy(member, STANDALONE, {"NotificationEmail": "sec@example.com"})
    status, rows = drift.detect(member.account, REGION, stack_id, STANDALONE, {})
    got = by_id(rows)
    assert status == "IN_SYNC", [r for r in rows if r["StackResourceDriftStatus"] != "IN_SYNC"]
    assert set(got) == {
        "AlertKey",
        "AlertTopic",
        "AlertTopicPolicy",
        "EmailSubscription",
        "PolicyChangeRule",
    }  # HttpsSubscription's condition is false: not part of the stack
    assert {r["StackResourceDriftStatus"] for r in rows} == {"IN_SYNC"}
    assert got["PolicyChangeRule"]["PhysicalResourceId"] == "s3-policy-monitor"


def test_put_rule_with_another_pattern_drifts_the_rule(member: SimpleNamespace) -> None:
    """Drift detection (User Guide): changing a deployed rule through the ordinary API, as the
    member account, makes it MODIFIED with PropertyDifferences ([PropertyDifference] NOT_EQUAL,
    REMOVE, paths as JSON pointers)."""
    stack_id = deploy(member, STANDALONE, {"NotificationEmail": "sec@example.com"})
    events = member.client("events")
    pattern = {
        "source": ["aws.s3"],
        "detail-type": ["AWS API Call via CloudTrail"],
        "detail": {
            "eventSource": ["s3.amazonaws.com"],
            "eventName": ["PutBucketPolicy"],
        },
    }
    events.put_rule(Name="s3-policy-monitor", EventPattern=json.dumps(pattern), State="DISABLED")
    status, rows = drift.detect(member.account, REGION, stack_id, STANDALONE, {})
    rule = by_id(rows)["PolicyChangeRule"]
    assert status == "DRIFTED"
    assert rule["StackResourceDriftStatus"] == "MODIFIED"
    diffs = {d["PropertyPath"]: d for d in rule["PropertyDifferences"]}
    assert diffs["/State"] == {
        "PropertyPath": "/State",
        "ExpectedValue": "ENABLED",
        "ActualValue": "DISABLED",
        "DifferenceType": "NOT_EQUAL",
    }
    assert diffs["/EventPattern/detail/eventName/1"]["DifferenceType"] == "REMOVE"
    assert diffs["/EventPattern/detail/eventName/1"]["ExpectedValue"] == "DeleteBucketPolicy"
    others = [r for r in rows if r["LogicalResourceId"] != "PolicyChangeRule"]
    assert {r["StackResourceDriftStatus"] for r in others} == {"IN_SYNC"}


def test_topic_attributes_policy_subscription_and_key(member: SimpleNamespace) -> None:
    """StackResourceDrift: topic attributes, topic policy, a deleted subscription (DELETED) and
    the key's rotation are all compared with the template."""
    stack_id = deploy(member, STANDALONE, {"NotificationEmail": "sec@example.com"})
    sns = member.client("sns")
    topic = sns.list_topics()["Topics"][0]["TopicArn"]
    sns.set_topic_attributes(TopicArn=topic, AttributeName="DisplayName", AttributeValue="x")
    sns.set_topic_attributes(
        TopicArn=topic,
        AttributeName="Policy",
        AttributeValue=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )
    for sub in sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]:
        sns.unsubscribe(SubscriptionArn=sub["SubscriptionArn"])
    kms = member.client("kms")
    key_id = by_id(drift.detect(member.account, REGION, stack_id, STANDALONE, {})[1])["AlertKey"][
        "PhysicalResourceId"
    ]
    kms.disable_key_rotation(KeyId=key_id)
    status, rows = drift.detect(member.account, REGION, stack_id, STANDALONE, {})
    got = by_id(rows)
    assert status == "DRIFTED"
    assert got["AlertTopic"]["StackResourceDriftStatus"] == "MODIFIED"
    assert [d["PropertyPath"] for d in got["AlertTopic"]["PropertyDifferences"]] == ["/DisplayName"]
    assert got["AlertTopicPolicy"]["StackResourceDriftStatus"] == "MODIFIED"
    assert got["EmailSubscription"]["StackResourceDriftStatus"] == "DELETED"
    assert got["AlertKey"]["StackResourceDriftStatus"] == "MODIFIED"
    assert got["AlertKey"]["PropertyDifferences"][0]["PropertyPath"] == "/EnableKeyRotation"


def test_spoke_role_and_rule_target(member: SimpleNamespace) -> None:
    """The spoke template's IAM role and rule target: an inline policy edited by hand is MODIFIED;
    a deleted rule is DELETED."""
    bus = f"arn:aws:events:{REGION}:111111111111:event-bus/s3-policy-monitor-hub"
    stack_id = deploy(member, SPOKE, {"CentralEventBusArn": bus})
    status, rows = drift.detect(member.account, REGION, stack_id, SPOKE, {})
    assert status == "IN_SYNC", rows
    iam = member.client("iam")
    role = by_id(rows)["ForwarderRole"]["PhysicalResourceId"]
    iam.put_role_policy(
        RoleName=role,
        PolicyName="put-events-on-central-bus-only",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
            }
        ),
    )
    events = member.client("events")
    events.remove_targets(Rule="s3-policy-monitor-forward", Ids=["CentralEventBus"])
    events.delete_rule(Name="s3-policy-monitor-forward")
    status, rows = drift.detect(member.account, REGION, stack_id, SPOKE, {})
    got = by_id(rows)
    assert status == "DRIFTED"
    assert got["ForwarderRole"]["StackResourceDriftStatus"] == "MODIFIED"
    assert got["ForwardRule"]["StackResourceDriftStatus"] == "DELETED"


def test_pure_differences() -> None:
    """PropertyDifference: ADD, REMOVE and NOT_EQUAL on nested values; JSON strings compared as
    JSON; booleans and numbers as their string forms."""
    got = drift.differences(
        {"a": [1, 2], "b": {"c": True}},
        json.dumps({"a": [1], "b": {"c": "true", "d": "x"}}),
    )
    assert got == [
        {
            "PropertyPath": "/a/1",
            "DifferenceType": "REMOVE",
            "ExpectedValue": "2",
            "ActualValue": "",
        },
        {
            "PropertyPath": "/b/d",
            "DifferenceType": "ADD",
            "ExpectedValue": "",
            "ActualValue": "x",
        },
    ]
    assert drift.compare("AWS::Foo::Bar", {"X": 1}, {"X": 2}) == []


# ----------------------------------------------------------------------------- through the emulator


def test_detect_stack_set_drift_after_put_rule_as_the_member(emulator: Any) -> None:
    """Performing drift detection on StackSets (User Guide): after the member account changes the
    deployed rule with PutRule, DetectStackSetDrift marks that instance DRIFTED and
    ListStackInstanceResourceDrifts shows the rule MODIFIED with its PropertyDifferences; the
    untouched instance stays IN_SYNC."""
    org = emulator.client("organizations")
    org.create_organization(FeatureSet="ALL")
    accounts = [
        org.create_account(AccountName=n, Email=f"{n}@example.com")["CreateAccountStatus"][
            "AccountId"
        ]
        for n in ("changed", "untouched")
    ]
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole"}],
    }
    admin = {
        **trust,
        "Statement": [
            {
                **trust["Statement"][0],
                "Principal": {"Service": "cloudformation.amazonaws.com"},
            }
        ],
    }
    emulator.client("iam").create_role(
        RoleName="AWSCloudFormationStackSetAdministrationRole",
        AssumeRolePolicyDocument=json.dumps(admin),
    )
    for acct in accounts:
        doc = {
            **trust,
            "Statement": [
                {
                    **trust["Statement"][0],
                    "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                }
            ],
        }
        emulator.client("iam", account=acct).create_role(
            RoleName="AWSCloudFormationStackSetExecutionRole",
            AssumeRolePolicyDocument=json.dumps(doc),
        )
    emulator.config(time_scale=0.00001)
    cfn = emulator.client("cloudformation")
    cfn.create_stack_set(
        StackSetName="monitor",
        TemplateBody=STANDALONE,
        Parameters=[{"ParameterKey": "NotificationEmail", "ParameterValue": "sec@example.com"}],
    )

    def run(op_id: str) -> None:
        deadline = time.monotonic() + 20
        while cfn.describe_stack_set_operation(StackSetName="monitor", OperationId=op_id)[
            "StackSetOperation"
        ]["Status"] in ("RUNNING", "QUEUED"):
            assert time.monotonic() < deadline
            time.sleep(0.02)

    run(
        cfn.create_stack_instances(StackSetName="monitor", Accounts=accounts, Regions=[REGION])[
            "OperationId"
        ]
    )
    events = emulator.client("events", account=accounts[0], region=REGION)
    events.put_rule(
        Name="s3-policy-monitor",
        EventPattern=json.dumps({"source": ["aws.ec2"]}),
        State="ENABLED",
    )
    op_id = cfn.detect_stack_set_drift(StackSetName="monitor")["OperationId"]
    run(op_id)
    rows = {r["Account"]: r for r in cfn.list_stack_instances(StackSetName="monitor")["Summaries"]}
    assert rows[accounts[0]]["DriftStatus"] == "DRIFTED"
    assert rows[accounts[1]]["DriftStatus"] == "IN_SYNC"
    drifts = cfn.list_stack_instance_resource_drifts(
        StackSetName="monitor",
        StackInstanceAccount=accounts[0],
        StackInstanceRegion=REGION,
        OperationId=op_id,
    )["Summaries"]
    rule = next(d for d in drifts if d["LogicalResourceId"] == "PolicyChangeRule")
    assert rule["StackResourceDriftStatus"] == "MODIFIED"
    paths = {d["PropertyPath"] for d in rule["PropertyDifferences"]}
    assert "/EventPattern/source/0" in paths and "/EventPattern/detail" in paths
    detail = cfn.describe_stack_set(StackSetName="monitor")["StackSet"][
        "StackSetDriftDetectionDetails"
    ]
    assert detail["DriftStatus"] == "DRIFTED" and detail["DriftedStackInstancesCount"] == 1


def test_member_stack_deleted_out_of_band(member: SimpleNamespace) -> None:
    """StackResourceDrift: a member stack deleted outside StackSets leaves every resource
    DELETED, and the instance DRIFTED."""
    stack_id = deploy(member, STANDALONE, {"NotificationEmail": "sec@example.com"})
    member.client("cloudformation").delete_stack(StackName=stack_id)
    status, rows = drift.detect(member.account, REGION, stack_id, STANDALONE, {})
    assert status == "DRIFTED"
    assert {r["StackResourceDriftStatus"] for r in rows} == {"DELETED"}
    assert "PolicyChangeRule" in {r["LogicalResourceId"] for r in rows}
