"""Each template deploys on the emulator's CloudFormation: as a plain stack, and as stack-set member
stacks in several accounts and regions (what `stackfleet apply` makes StackSets do).

Emulator limits: its CloudFormation skips AWS::SNS::Subscription, AWS::SNS::TopicPolicy and
AWS::Events::EventBusPolicy (see test_sns_legs.py for those), and KMS keys it creates cannot be
described back, so the key is checked through the topic that uses it.
"""

from __future__ import annotations

import json
import re

import pytest
from cfn import ALL_TEMPLATES, HUB, SPOKE, STANDALONE, event_pattern, input_transformer, load
from stacks import PARAMETERS, SECURITY_ACCOUNT, WORKLOAD_ACCOUNT, cfn_parameters, deploy, rule_name

ARN = {
    "TopicArn": r"arn:aws:sns:{region}:{account}:s3-policy-monitor(-hub)?-alerts",
    "RuleArn": (
        r"arn:aws:events:{region}:{account}:rule/"
        r"(s3-policy-monitor-hub/)?s3-policy-monitor(-forward|-hub)?"
    ),
    "KeyArn": r"arn:aws:kms:{region}:{account}:key/[0-9a-f-]{{36}}",
    "EventBusArn": r"arn:aws:events:{region}:{account}:event-bus/s3-policy-monitor-hub",
    "EventBusName": r"s3-policy-monitor-hub",
    "ForwarderRoleArn": r"arn:aws:iam::{account}:role/s3-policy-monitor-forwarder-{region}",
}


@pytest.mark.parametrize("path", ALL_TEMPLATES, ids=lambda p: p.name)
def test_the_template_deploys_with_its_outputs(moto, path):
    region = "eu-west-1"
    stack = deploy(moto, path, account=WORKLOAD_ACCOUNT, region=region)

    assert stack.status == "CREATE_COMPLETE"
    assert set(stack.outputs) == set(load(path)["Outputs"])
    for key, value in stack.outputs.items():
        assert re.fullmatch(ARN[key].format(region=region, account=WORKLOAD_ACCOUNT), value), (
            key,
            value,
        )

    # The rule that was created carries the template's pattern.
    events = moto.client("events", region, WORKLOAD_ACCOUNT)
    bus, name = rule_name(stack.outputs["RuleArn"])
    rule = events.describe_rule(Name=name, EventBusName=bus)
    assert json.loads(rule["EventPattern"]) == event_pattern(load(path))
    assert rule["State"] == "ENABLED"
    (target,) = events.list_targets_by_rule(Rule=name, EventBusName=bus)["Targets"]

    if path is SPOKE:
        assert target["Arn"] == PARAMETERS[SPOKE]["CentralEventBusArn"]
        assert target["RoleArn"] == stack.outputs["ForwarderRoleArn"]
        role = moto.client("iam", region, WORKLOAD_ACCOUNT).get_role(
            RoleName=stack.outputs["ForwarderRoleArn"].rsplit("/", 1)[1]
        )["Role"]
        (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
        assert trust["Condition"]["StringEquals"] == {"aws:SourceAccount": WORKLOAD_ACCOUNT}
        assert trust["Condition"]["ArnEquals"] == {"aws:SourceArn": stack.outputs["RuleArn"]}
    else:
        assert target["Arn"] == stack.outputs["TopicArn"]
        assert target["InputTransformer"] == input_transformer(load(path))
        topic = moto.client("sns", region, WORKLOAD_ACCOUNT).get_topic_attributes(
            TopicArn=stack.outputs["TopicArn"]
        )
        assert topic["Attributes"]["KmsMasterKeyId"] == stack.outputs["KeyArn"]
    if path is HUB:
        bus_description = events.describe_event_bus(Name=stack.outputs["EventBusName"])
        assert bus_description["Arn"] == stack.outputs["EventBusArn"]
        assert bus == stack.outputs["EventBusName"]


@pytest.mark.parametrize("path", ALL_TEMPLATES, ids=lambda p: p.name)
def test_member_stacks_in_many_regions_of_the_same_accounts(moto, path):
    """Self-managed stack set with explicit accounts, the emulator's StackSets model: every instance
    is created. Named global resources (the spoke's IAM role) would collide here if their names
    did not carry the region."""
    cf = moto.client("cloudformation")
    name = path.stem
    cf.create_stack_set(
        StackSetName=name,
        TemplateBody=path.read_text(),
        Parameters=cfn_parameters(PARAMETERS[path]),
        Capabilities=["CAPABILITY_NAMED_IAM"],
        PermissionModel="SELF_MANAGED",
    )
    accounts, regions = (
        [WORKLOAD_ACCOUNT, SECURITY_ACCOUNT],
        ["us-east-1", "eu-west-1", "ap-southeast-2"],
    )
    operation = cf.create_stack_instances(StackSetName=name, Accounts=accounts, Regions=regions)
    status = cf.describe_stack_set_operation(
        StackSetName=name, OperationId=operation["OperationId"]
    )
    assert status["StackSetOperation"]["Status"] == "SUCCEEDED"

    instances = cf.list_stack_instances(StackSetName=name)["Summaries"]
    assert {(i["Account"], i["Region"]) for i in instances} == {
        (a, r) for a in accounts for r in regions
    }
    assert {i["Status"] for i in instances} == {"CURRENT"}
    for account in accounts:
        for region in regions:
            member_cf = moto.client("cloudformation", region, account)
            (stack,) = [
                s for s in member_cf.describe_stacks()["Stacks"] if s["StackName"].endswith(name)
            ]
            assert stack["StackStatus"] == "CREATE_COMPLETE"
            assert {o["OutputKey"] for o in stack["Outputs"]} == set(load(path)["Outputs"])
    if path is SPOKE:
        for account in accounts:
            roles = moto.client("iam", account=account).list_roles()["Roles"]
            assert sorted(r["RoleName"] for r in roles) == sorted(
                f"s3-policy-monitor-forwarder-{r}" for r in regions
            )


def test_the_standalone_stack_and_a_spoke_can_share_an_account_and_region(moto):
    """Migrating from standalone to hub-and-spoke runs both for a while: no name may collide."""
    standalone = deploy(
        moto, STANDALONE, account=WORKLOAD_ACCOUNT, region="eu-west-1", name="standalone"
    )
    spoke = deploy(moto, SPOKE, account=WORKLOAD_ACCOUNT, region="eu-west-1", name="spoke")
    assert (standalone.status, spoke.status) == ("CREATE_COMPLETE", "CREATE_COMPLETE")
    assert standalone.outputs["RuleArn"] != spoke.outputs["RuleArn"]
