"""The event pattern and the input transformer, exercised on the emulator with CloudTrail records.

The emulator's EventBridge cannot deliver to SNS, so the pattern and the transformer run on a test
bus whose rule carries the template's pattern and an SQS target. The real InputTemplate is readable
text (quoted lines, for e-mail); the emulator json.loads every filled template, so on the emulator
the template's InputPathsMap is exercised through a JSON-shaped InputTemplate built from it, and the
text template itself is checked with a model of EventBridge's documented substitution.
"""

from __future__ import annotations

import json
from typing import Any

import cloudtrail_events as ct
import pytest
from cfn import (
    ALL_TEMPLATES,
    HUB,
    SPOKE,
    STANDALONE,
    event_pattern,
    input_transformer,
    json_path,
    load,
    render_text_template,
)
from stacks import HOME_REGION, SECURITY_ACCOUNT, WORKLOAD_ACCOUNT, deploy, drain, rule_name

# Variables whose value is a JSON object: unquoted in a JSON template (EventBridge documents this;
# the emulator inserts them with json.dumps), every other variable is a quoted string.
OBJECT_VARIABLES = {"requestParameters", "policy"}

# Variables whose path exists only in some of the four calls: on the emulator a missing path leaves
# the placeholder in place and json.loads fails, so they are exercised with the calls that carry
# them. (EventBridge drops a missing variable; the real text template keeps them inside quoted
# lines, so the alert is still delivered -- see test_the_readable_alert_*.)
OPTIONAL_VARIABLES = {
    "policy": [ct.put_bucket_policy()],
    "errorCode": [ct.put_bucket_policy(error_code="AccessDenied")],
}


def json_shaped_template(paths: dict[str, str], names: set[str]) -> str:
    fields = [
        f'"{name}": <{name}>' if name in OBJECT_VARIABLES else f'"{name}": "<{name}>"'
        for name in paths
        if name in names
    ]
    # Nested under "alert": the emulator rewrites a top-level "time" key of SQS-bound messages.
    return '{"alert": {' + ", ".join(fields) + "}}"


def required_variables(transformer: dict[str, Any]) -> set[str]:
    return set(transformer["InputPathsMap"]) - set(OPTIONAL_VARIABLES)


def test_the_optional_variables_are_variables_of_the_template():
    paths = input_transformer(load(STANDALONE))["InputPathsMap"]
    assert set(OPTIONAL_VARIABLES) <= set(paths)
    assert set(paths) >= OBJECT_VARIABLES


def make_test_bus(moto, name: str, pattern: dict, transformer: dict | None = None, account=None):
    """A bus `name` with one rule (`pattern`) whose target is an SQS queue; returns its URL."""
    events = moto.client("events", account=account)
    sqs = moto.client("sqs", account=account)
    events.create_event_bus(Name=name)
    queue_url = sqs.create_queue(QueueName=name)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    events.put_rule(Name=name, EventBusName=name, EventPattern=json.dumps(pattern), State="ENABLED")
    target: dict[str, Any] = {"Id": "queue", "Arn": queue_arn}
    if transformer is not None:
        target["InputTransformer"] = transformer
    assert (
        events.put_targets(Rule=name, EventBusName=name, Targets=[target])["FailedEntryCount"] == 0
    )
    return queue_url


def put(moto, entries: list[dict[str, Any]], account=None, region="us-east-1") -> None:
    events = moto.client("events", region, account)
    for start in range(0, len(entries), 10):  # PutEvents takes at most 10 entries
        response = events.put_events(Entries=entries[start : start + 10])
        assert response["FailedEntryCount"] == 0, response["Entries"]


def by_event_id(details: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {d["eventID"]: d for d in details}


@pytest.mark.parametrize("path", ALL_TEMPLATES, ids=lambda p: p.name)
def test_the_pattern_lets_through_exactly_the_four_calls(moto, path):
    queue = make_test_bus(moto, "pattern-test", event_pattern(load(path)))
    sent = ct.must_alert() + ct.must_not_alert()
    put(moto, [ct.put_events_entry(e, "pattern-test") for e in sent])

    received = drain(moto.client("sqs"), queue)

    assert sorted(r["detail"]["eventName"] for r in received) == sorted(
        ["PutBucketPolicy", "DeleteBucketPolicy", "PutBucketAcl", "PutObjectAcl"]
    )
    assert all(r["source"] == "aws.s3" for r in received)
    # The events arrive unchanged (the spoke forwards them like this).
    assert by_event_id([r["detail"] for r in received]) == by_event_id(
        [e["detail"] for e in ct.must_alert()]
    )


def test_the_alert_fields_resolve_for_each_of_the_four_calls(moto):
    transformer = input_transformer(load(STANDALONE))
    names = required_variables(transformer)
    queue = make_test_bus(
        moto,
        "transformer-test",
        event_pattern(load(STANDALONE)),
        {
            "InputPathsMap": {k: v for k, v in transformer["InputPathsMap"].items() if k in names},
            "InputTemplate": json_shaped_template(transformer["InputPathsMap"], names),
        },
    )
    put(
        moto,
        [ct.put_events_entry(e, "transformer-test") for e in ct.must_alert() + ct.must_not_alert()],
    )

    alerts = {a["alert"]["eventName"]: a["alert"] for a in drain(moto.client("sqs"), queue)}

    assert set(alerts) == {"PutBucketPolicy", "DeleteBucketPolicy", "PutBucketAcl", "PutObjectAcl"}
    for sent in ct.must_alert():
        alert = alerts[sent["detail"]["eventName"]]
        assert alert["bucket"] == "acme-payroll-exports"
        assert alert["account"] == "111122223333"
        assert alert["region"] == "eu-west-1"
        assert alert["eventTime"] == sent["time"]
        assert alert["callerArn"] == ct.CALLER_ARN
        assert alert["sourceIp"] == "203.0.113.24"
        assert alert["eventId"] == sent["detail"]["eventID"]
        assert alert["requestParameters"] == sent["detail"]["requestParameters"]
        # Nothing the template maps is left unresolved.
        assert set(alert) == names
    assert alerts["PutBucketAcl"]["requestParameters"]["AccessControlPolicy"]["AccessControlList"][
        "Grant"
    ][1]["Grantee"]["URI"].endswith("/AllUsers")
    assert alerts["PutObjectAcl"]["requestParameters"]["x-amz-acl"] == ["public-read"]
    assert alerts["PutObjectAcl"]["requestParameters"]["key"] == "exports/2025-03/payroll.csv"


@pytest.mark.parametrize("variable", sorted(OPTIONAL_VARIABLES))
def test_optional_alert_fields_resolve_when_the_call_carries_them(moto, variable):
    transformer = input_transformer(load(STANDALONE))
    names = required_variables(transformer) | {variable}
    bus = f"transformer-{variable.lower()}"
    queue = make_test_bus(
        moto,
        bus,
        event_pattern(load(STANDALONE)),
        {
            "InputPathsMap": {k: v for k, v in transformer["InputPathsMap"].items() if k in names},
            "InputTemplate": json_shaped_template(transformer["InputPathsMap"], names),
        },
    )
    samples = OPTIONAL_VARIABLES[variable]
    put(moto, [ct.put_events_entry(e, bus) for e in samples])

    alerts = [a["alert"] for a in drain(moto.client("sqs"), queue)]

    assert len(alerts) == len(samples)
    for alert, sent in zip(alerts, samples, strict=True):
        found, expected = json_path(sent, transformer["InputPathsMap"][variable])
        assert found and alert[variable] == expected
    if variable == "policy":
        assert alerts[0]["policy"]["Statement"][0]["Principal"] == "*"
    if variable == "errorCode":
        assert alerts[0]["errorCode"] == "AccessDenied"


# --- the real (text) template, with EventBridge's documented substitution ------------------------


def alert_text(event: dict[str, Any]) -> str:
    return render_text_template(input_transformer(load(STANDALONE)), event)


def field(text: str, label: str) -> str:
    (line,) = [line for line in text.splitlines() if line.startswith(f'"{label}:')]
    return line[len(label) + 2 : -1].strip()


def test_the_readable_alert_of_a_new_bucket_policy():
    event = ct.put_bucket_policy()
    text = alert_text(event)
    assert (
        text.splitlines()[0]
        == '"S3 bucket policy / ACL change: PutBucketPolicy on bucket acme-payroll-exports"'
    )
    assert field(text, "Bucket") == "acme-payroll-exports"
    assert field(text, "Account") == "111122223333"
    assert field(text, "Region") == "eu-west-1"
    assert field(text, "Time (UTC)") == "2025-03-14T09:26:53Z"
    assert field(text, "Caller") == ct.CALLER_ARN
    assert field(text, "Source IP") == "203.0.113.24"
    assert field(text, "Error code") == ""
    assert json.loads(field(text, "New policy")) == ct.NEW_POLICY
    assert field(text, "CloudTrail event ID") == event["detail"]["eventID"]
    assert "<" not in text.replace("<eventName>", "")  # no placeholder left


@pytest.mark.parametrize(
    "event",
    [ct.delete_bucket_policy(), ct.put_bucket_acl(), ct.put_object_acl()],
    ids=lambda e: e["detail"]["eventName"],
)
def test_the_readable_alert_without_a_policy_is_still_complete(event):
    text = alert_text(event)
    name = event["detail"]["eventName"]
    assert (
        text.splitlines()[0]
        == f'"S3 bucket policy / ACL change: {name} on bucket acme-payroll-exports"'
    )
    assert field(text, "New policy") == ""
    assert field(text, "Caller") == ct.CALLER_ARN
    assert json.loads(field(text, "Request")) == event["detail"]["requestParameters"]
    assert len(text.splitlines()) == len(
        input_transformer(load(STANDALONE))["InputTemplate"].splitlines()
    )


# --- hub and spoke, end to end on the emulator ---------------------------------------------------


def test_spokes_forward_to_the_hub_bus_and_the_hub_rule_formats_the_alert(moto):
    hub = deploy(moto, HUB, account=SECURITY_ACCOUNT, region=HOME_REGION)
    spoke = deploy(
        moto,
        SPOKE,
        account=WORKLOAD_ACCOUNT,
        region=ct.REGION,
        parameters={"CentralEventBusArn": hub.outputs["EventBusArn"]},
    )
    assert (hub.status, spoke.status) == ("CREATE_COMPLETE", "CREATE_COMPLETE")

    # The spoke's rule targets the hub's bus through the forwarder role.
    spoke_events = moto.client("events", ct.REGION, WORKLOAD_ACCOUNT)
    bus, name = rule_name(spoke.outputs["RuleArn"])
    (target,) = spoke_events.list_targets_by_rule(Rule=name, EventBusName=bus)["Targets"]
    assert (target["Arn"], target["RoleArn"]) == (
        hub.outputs["EventBusArn"],
        spoke.outputs["ForwarderRoleArn"],
    )

    # The hub's rule targets the topic with the template's transformer; the emulator cannot deliver
    # to SNS, so that target is swapped for an SQS queue with the transformer's JSON-shaped twin.
    hub_events = moto.client("events", HOME_REGION, SECURITY_ACCOUNT)
    hub_bus, hub_rule = rule_name(hub.outputs["RuleArn"])
    assert hub_bus == hub.outputs["EventBusName"]
    (hub_target,) = hub_events.list_targets_by_rule(Rule=hub_rule, EventBusName=hub_bus)["Targets"]
    assert hub_target["Arn"] == hub.outputs["TopicArn"]
    assert hub_target["InputTransformer"] == input_transformer(load(HUB))
    hub_events.remove_targets(Rule=hub_rule, EventBusName=hub_bus, Ids=[hub_target["Id"]])
    sqs = moto.client("sqs", HOME_REGION, SECURITY_ACCOUNT)
    queue_url = sqs.create_queue(QueueName="hub-alerts")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    transformer = input_transformer(load(HUB))
    names = required_variables(transformer)
    hub_events.put_targets(
        Rule=hub_rule,
        EventBusName=hub_bus,
        Targets=[
            {
                "Id": "queue",
                "Arn": queue_arn,
                "InputTransformer": {
                    "InputPathsMap": {
                        k: v for k, v in transformer["InputPathsMap"].items() if k in names
                    },
                    "InputTemplate": json_shaped_template(transformer["InputPathsMap"], names),
                },
            }
        ],
    )

    # CloudTrail's events land on the workload account's default bus in its region.
    put(
        moto,
        [ct.put_events_entry(e) for e in ct.must_alert() + ct.must_not_alert()],
        account=WORKLOAD_ACCOUNT,
        region=ct.REGION,
    )

    alerts = [a["alert"] for a in drain(sqs, queue_url)]
    assert sorted(a["eventName"] for a in alerts) == sorted(
        ["PutBucketPolicy", "DeleteBucketPolicy", "PutBucketAcl", "PutObjectAcl"]
    )
    # Account and region are those of the spoke, read from the CloudTrail record.
    assert {(a["account"], a["region"], a["bucket"]) for a in alerts} == {
        (WORKLOAD_ACCOUNT, ct.REGION, ct.BUCKET)
    }
