"""The legs the emulator's CloudFormation skips, exercised with direct API calls.

Its CloudFormation does not create AWS::SNS::TopicPolicy, AWS::SNS::Subscription or
AWS::Events::EventBusPolicy. Here each of those is rendered from the template (with the ARNs of the
deployed stack) and applied with the API call CloudFormation would make; the KMS key policy is
applied to a key created directly, because keys made by the emulator's CloudFormation cannot be
described back.
"""

from __future__ import annotations

import json

import cloudtrail_events as ct
import pytest
from cfn import (
    HUB,
    STANDALONE,
    evaluate_condition,
    input_transformer,
    render_text_template,
    resolve,
    resources_of_type,
    the_resource,
)
from stacks import HOME_REGION, PARAMETERS, SECURITY_ACCOUNT, WORKLOAD_ACCOUNT, deploy

WEBHOOK = "https://hooks.example.com/services/s3-policy-monitor"
TOPIC_TEMPLATES = pytest.mark.parametrize("path", [STANDALONE, HUB], ids=lambda p: p.name)


@TOPIC_TEMPLATES
def test_only_this_rule_may_publish_and_only_over_tls(moto, path):
    stack = deploy(moto, path, account=WORKLOAD_ACCOUNT, region=HOME_REGION)
    _, topic_policy = the_resource(stack.template, "AWS::SNS::TopicPolicy")
    rendered = resolve(topic_policy["Properties"], stack.context())
    topic_arn, rule_arn = stack.outputs["TopicArn"], stack.outputs["RuleArn"]
    assert rendered["Topics"] == [topic_arn]
    document = rendered["PolicyDocument"]

    allows = [s for s in document["Statement"] if s["Effect"] == "Allow"]
    denies = [s for s in document["Statement"] if s["Effect"] == "Deny"]
    assert allows == [
        {
            "Sid": allows[0]["Sid"],
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sns:Publish",
            "Resource": topic_arn,
            "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
        }
    ]
    assert denies == [
        {
            "Sid": denies[0]["Sid"],
            "Effect": "Deny",
            "Principal": "*",
            "Action": "sns:Publish",
            "Resource": topic_arn,
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    ]

    sns = moto.client("sns", HOME_REGION, WORKLOAD_ACCOUNT)
    sns.set_topic_attributes(
        TopicArn=topic_arn, AttributeName="Policy", AttributeValue=json.dumps(document)
    )
    applied = sns.get_topic_attributes(TopicArn=topic_arn)["Attributes"]
    assert json.loads(applied["Policy"]) == document
    assert applied["KmsMasterKeyId"] == stack.outputs["KeyArn"]


@TOPIC_TEMPLATES
@pytest.mark.parametrize("https_endpoint", ["", WEBHOOK], ids=["email-only", "email-and-webhook"])
def test_the_subscriptions_follow_the_parameters(moto, path, https_endpoint):
    parameters = {**PARAMETERS[path], "HttpsEndpoint": https_endpoint}
    stack = deploy(moto, path, account=WORKLOAD_ACCOUNT, region=HOME_REGION, parameters=parameters)
    ctx = stack.context()
    sns = moto.client("sns", HOME_REGION, WORKLOAD_ACCOUNT)

    for resource in resources_of_type(stack.template, "AWS::SNS::Subscription").values():
        if "Condition" in resource and not evaluate_condition(
            stack.template, resource["Condition"], ctx
        ):
            continue
        props = resolve(resource["Properties"], ctx)
        sns.subscribe(
            TopicArn=props["TopicArn"], Protocol=props["Protocol"], Endpoint=props["Endpoint"]
        )

    subscriptions = sns.list_subscriptions_by_topic(TopicArn=stack.outputs["TopicArn"])[
        "Subscriptions"
    ]
    expected = {("email", "secops@example.com")} | (
        {("https", WEBHOOK)} if https_endpoint else set()
    )
    assert {(s["Protocol"], s["Endpoint"]) for s in subscriptions} == expected


@TOPIC_TEMPLATES
def test_the_topic_accepts_the_alert_message(moto, path):
    stack = deploy(moto, path, account=WORKLOAD_ACCOUNT, region=HOME_REGION)
    sns = moto.client("sns", HOME_REGION, WORKLOAD_ACCOUNT)
    sns.subscribe(
        TopicArn=stack.outputs["TopicArn"], Protocol="email", Endpoint="secops@example.com"
    )
    for event in ct.must_alert():
        message = render_text_template(input_transformer(stack.template), event)
        assert len(message.encode()) < 256 * 1024  # SNS message size limit
        assert sns.publish(TopicArn=stack.outputs["TopicArn"], Message=message)["MessageId"]


@TOPIC_TEMPLATES
def test_the_key_policy_is_accepted_and_rotation_is_on(moto, path):
    stack = deploy(moto, path, account=WORKLOAD_ACCOUNT, region=HOME_REGION)
    _, key = the_resource(stack.template, "AWS::KMS::Key")
    props = resolve(key["Properties"], stack.context())
    document = props["KeyPolicy"]
    root = f"arn:aws:iam::{WORKLOAD_ACCOUNT}:root"
    assert {"AWS": root} in [s["Principal"] for s in document["Statement"]]

    kms = moto.client("kms", HOME_REGION, WORKLOAD_ACCOUNT)
    key_id = kms.create_key(Policy=json.dumps(document), Description=props["Description"])[
        "KeyMetadata"
    ]["KeyId"]
    if props["EnableKeyRotation"]:
        kms.enable_key_rotation(KeyId=key_id)
    assert json.loads(kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"]) == document
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is True


def test_the_hub_bus_policy_admits_the_organization(moto):
    hub = deploy(moto, HUB, account=SECURITY_ACCOUNT, region=HOME_REGION)
    _, bus_policy = the_resource(hub.template, "AWS::Events::EventBusPolicy")
    props = resolve(bus_policy["Properties"], hub.context())
    assert props["EventBusName"] == hub.outputs["EventBusName"]
    statement = {"Sid": props["StatementId"], **props["Statement"]}
    assert statement["Resource"] == hub.outputs["EventBusArn"]
    assert statement["Condition"] == {
        "StringEquals": {"aws:PrincipalOrgID": PARAMETERS[HUB]["OrganizationId"]}
    }

    # What CloudFormation does for a Statement: PutPermission with the statement as the policy.
    events = moto.client("events", HOME_REGION, SECURITY_ACCOUNT)
    events.put_permission(
        EventBusName=props["EventBusName"],
        Policy=json.dumps({"Version": "2012-10-17", "Statement": [statement]}),
    )
    applied = json.loads(events.describe_event_bus(Name=props["EventBusName"])["Policy"])
    assert applied["Statement"] == [statement]
