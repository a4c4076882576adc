"""Static checks of the templates: what must stay identical, what StackSets and EventBridge accept.

No emulator here; these read the template files (and the hub-and-spoke example fleet).
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest
from cfn import (
    ALL_TEMPLATES,
    HUB,
    REPO,
    SPOKE,
    STANDALONE,
    event_pattern,
    event_rule,
    input_transformer,
    load,
    placeholders,
    the_resource,
)

EXAMPLE_FLEET = REPO / "examples" / "hub-and-spoke" / "fleet.toml"

# The specification of the pattern, stated once: the tests that exercise the pattern read
# it from the templates; this test pins the templates to the specification.
SPECIFIED_PATTERN = {
    "source": ["aws.s3"],
    "detail-type": ["AWS API Call via CloudTrail"],
    "detail": {
        "eventSource": ["s3.amazonaws.com"],
        "eventName": ["PutBucketPolicy", "DeleteBucketPolicy", "PutBucketAcl", "PutObjectAcl"],
    },
}

# Global resource types: their names must differ per region when the stack runs in many regions.
GLOBAL_NAME_PROPERTIES = {
    "AWS::IAM::Role": "RoleName",
    "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
}

# Longest region code today (ap-southeast-5, us-gov-west-1, ap-northeast-3 ...) plus margin.
LONGEST_REGION = "ap-southeast-15"


def all_templates():
    return pytest.mark.parametrize("path", ALL_TEMPLATES, ids=lambda p: p.name)


def test_the_event_pattern_is_the_specified_one_in_all_three_templates():
    for path in ALL_TEMPLATES:
        assert event_pattern(load(path)) == SPECIFIED_PATTERN, path.name


def test_standalone_and_hub_format_the_alert_identically_and_the_spoke_forwards_unchanged():
    assert input_transformer(load(STANDALONE)) == input_transformer(load(HUB))
    (target,) = event_rule(load(SPOKE))["Targets"]
    assert set(target) == {"Id", "Arn", "RoleArn"}, "the spoke must forward the original event"


def test_the_input_transformer_is_one_eventbridge_accepts():
    transformer = input_transformer(load(STANDALONE))
    paths, text = transformer["InputPathsMap"], transformer["InputTemplate"]
    assert 0 < len(paths) <= 100
    for key, path in paths.items():
        assert re.fullmatch(r"[A-Za-z0-9]+", key) and not key.startswith("AWS"), key
        assert re.fullmatch(r"\$(\.[A-Za-z0-9_-]+)+", path), f"{key}: dot notation only, got {path}"
    assert len(text) <= 8192
    # Every placeholder is defined, every variable is used (predefined aws.events.* excepted).
    assert {p for p in placeholders(text) if not p.startswith("aws.events.")} == set(paths)
    # A text (non-JSON) template: "For strings, quotes are required" -- every line is a quoted
    # string without inner quotes, so the values EventBridge inserts unescaped cannot unbalance it.
    assert not text.lstrip().startswith("{")
    for line in text.splitlines():
        assert re.fullmatch(r'"[^"\\]*"', line), f"line must be one quoted string: {line!r}"


def test_the_alert_carries_the_fields_the_security_team_needs():
    paths = input_transformer(load(STANDALONE))["InputPathsMap"]
    needed = {
        "$.detail.eventName",
        "$.detail.requestParameters.bucketName",
        "$.detail.recipientAccountId",
        "$.detail.awsRegion",
        "$.detail.eventTime",
        "$.detail.userIdentity.arn",
        "$.detail.sourceIPAddress",
        "$.detail.requestParameters.bucketPolicy",
    }
    assert needed <= set(paths.values())


@all_templates()
def test_no_transform_or_macro(path: Path):
    template = load(path)
    assert "Transform" not in template
    text = json.dumps(template)
    assert "Fn::Transform" not in text and "AWS::Include" not in text
    assert not any(
        r["Type"].startswith("AWS::Serverless::") for r in template["Resources"].values()
    )


@all_templates()
def test_global_resource_names_carry_the_region(path: Path):
    template = load(path)
    for logical_id, resource in template["Resources"].items():
        prop = GLOBAL_NAME_PROPERTIES.get(resource["Type"])
        if prop and prop in resource.get("Properties", {}):
            name = resource["Properties"][prop]
            assert isinstance(name, dict) and "${AWS::Region}" in name["Fn::Sub"], logical_id
            longest = (
                name["Fn::Sub"]
                .replace("${AWS::Region}", LONGEST_REGION)
                .replace("${NamePrefix}", "x" * 32)
            )
            assert len(longest) <= 64, f"{logical_id}: {longest} is longer than an IAM name may be"


@all_templates()
def test_topics_are_encrypted_with_a_rotating_customer_managed_key(path: Path):
    template = load(path)
    for logical_id, topic in template["Resources"].items():
        if topic["Type"] != "AWS::SNS::Topic":
            continue
        key_ref = topic["Properties"]["KmsMasterKeyId"]
        key_id = key_ref["Fn::GetAtt"][0] if "Fn::GetAtt" in key_ref else key_ref["Ref"]
        key = template["Resources"][key_id]
        assert key["Type"] == "AWS::KMS::Key" and key["Properties"]["EnableKeyRotation"] is True
        statements = key["Properties"]["KeyPolicy"]["Statement"]
        principals = [s["Principal"] for s in statements]
        assert {
            "AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}
        } in principals
        (events,) = [s for s in statements if s["Principal"] == {"Service": "events.amazonaws.com"}]
        assert sorted(events["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"], logical_id
        assert all(s["Principal"] != "*" for s in statements)


def test_the_spoke_role_may_only_put_events_on_the_central_bus():
    _, role = the_resource(load(SPOKE), "AWS::IAM::Role")
    props = role["Properties"]
    (trust,) = props["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "events.amazonaws.com"}
    assert trust["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert "ManagedPolicyArns" not in props
    (policy,) = props["Policies"]
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement == {
        "Sid": statement["Sid"],
        "Effect": "Allow",
        "Action": "events:PutEvents",
        "Resource": {"Ref": "CentralEventBusArn"},
    }


def test_the_hub_bus_admits_only_the_organization():
    _, policy = the_resource(load(HUB), "AWS::Events::EventBusPolicy")
    statement = policy["Properties"]["Statement"]
    assert statement["Action"] == "events:PutEvents" and statement["Effect"] == "Allow"
    assert statement["Condition"] == {
        "StringEquals": {"aws:PrincipalOrgID": {"Ref": "OrganizationId"}}
    }


EXPECTED_OUTPUTS = {
    STANDALONE: {"TopicArn", "RuleArn", "KeyArn"},
    HUB: {"EventBusArn", "EventBusName", "TopicArn", "RuleArn", "KeyArn"},
    SPOKE: {"RuleArn", "ForwarderRoleArn"},
}


@all_templates()
def test_outputs(path: Path):
    outputs = load(path)["Outputs"]
    assert set(outputs) == EXPECTED_OUTPUTS[path]
    assert all("Export" not in o for o in outputs.values()), "exports would collide between stacks"


# --- parameter validation: CloudFormation applies AllowedPattern to the whole value ------------

PARAMETER_SAMPLES = {
    "NotificationEmail": (
        ["secops@example.com", "sec.ops+s3@mail.example.co.uk", "A_B-c%d@sub-1.example.io"],
        [
            "",
            "secops",
            "secops@",
            "@example.com",
            "a@b",
            "a b@example.com",
            "a@example.com,b@example.com",
            "secops@example.com\n",
        ],
    ),
    "HttpsEndpoint": (
        [
            "",
            "https://hooks.example.com/services/T000/B000/XXXX",
            "https://jira.example.com/rest?x=1",
        ],
        [
            "http://hooks.example.com/x",
            "https://",
            "https://exa mple.com",
            "ftp://x",
            "hooks.example.com",
        ],
    ),
    "CentralEventBusArn": (
        [
            "arn:aws:events:us-east-1:222233334444:event-bus/s3-policy-monitor-hub",
            "arn:aws-us-gov:events:us-gov-west-1:222233334444:event-bus/security.bus_1",
        ],
        [
            "",
            "arn:aws:events:us-east-1:2222333344:event-bus/x",
            "arn:aws:sns:us-east-1:222233334444:s3-policy-monitor-hub",
            "arn:aws:events:us-east-1:222233334444:rule/s3-policy-monitor-hub",
            "s3-policy-monitor-hub",
        ],
    ),
    "OrganizationId": (
        ["o-a1b2c3d4e5", "o-abcdefghij0123456789"],
        ["", "o-123", "O-A1B2C3D4E5", "r-a1b2", "ou-a1b2-c3d4e5f6", "o-a1b2c3d4e5 "],
    ),
    "NamePrefix": (
        ["s3-policy-monitor", "secops_2", "x" * 32],
        ["", "-leading-dash", "has space", "x" * 33, "dots.are.not.ok"],
    ),
}


@all_templates()
def test_parameters_are_validated(path: Path):
    parameters = load(path)["Parameters"]
    for name, spec in parameters.items():
        assert name in PARAMETER_SAMPLES, f"{name}: add samples of valid and invalid values"
        pattern = re.compile(spec["AllowedPattern"])
        good, bad = PARAMETER_SAMPLES[name]
        for value in good:
            assert pattern.fullmatch(value), f"{name} should accept {value!r}"
            assert len(value) <= spec.get("MaxLength", 4096)
        for value in bad:
            ok = pattern.fullmatch(value) and len(value) <= spec.get("MaxLength", 4096)
            assert not ok, f"{name} should reject {value!r}"
        if "Default" in spec:
            assert pattern.fullmatch(spec["Default"]), f"{name}: default must satisfy its pattern"


# --- the hub-and-spoke example fleet -------------------------------------------------------------


def test_the_example_fleet_sets_exactly_what_each_template_needs():
    fleet = tomllib.loads(EXAMPLE_FLEET.read_text())
    sets = {s["name"]: s for s in fleet["stack_sets"]}
    assert set(sets) == {"s3-policy-monitor-hub", "s3-policy-monitor-spoke"}
    for stack_set in sets.values():
        # The example is meant to be copied to the repository root, next to templates/.
        template_path = (REPO / stack_set["template"]).resolve()
        assert template_path.is_file(), stack_set["template"]
        declared = load(template_path)["Parameters"]
        given = stack_set.get("parameters", {})
        assert set(given) <= set(declared), f"{stack_set['name']}: undeclared parameters"
        required = {n for n, spec in declared.items() if "Default" not in spec}
        assert required <= set(given), f"{stack_set['name']}: missing {required - set(given)}"
        for name, value in given.items():
            assert re.fullmatch(declared[name]["AllowedPattern"], value), (name, value)
        has_named_iam = any(
            GLOBAL_NAME_PROPERTIES.get(r["Type"]) in r.get("Properties", {})
            for r in load(template_path)["Resources"].values()
        )
        assert ("CAPABILITY_NAMED_IAM" in stack_set.get("capabilities", [])) == has_named_iam


def test_the_example_spokes_forward_to_the_example_hub():
    fleet = tomllib.loads(EXAMPLE_FLEET.read_text())
    sets = {s["name"]: s for s in fleet["stack_sets"]}
    hub, spoke = sets["s3-policy-monitor-hub"], sets["s3-policy-monitor-spoke"]
    hub_template = load(HUB)
    prefix = (
        hub.get("parameters", {}).get("NamePrefix")
        or hub_template["Parameters"]["NamePrefix"]["Default"]
    )
    bus_name = hub_template["Resources"]["CentralEventBus"]["Properties"]["Name"]["Fn::Sub"]
    (hub_region,) = hub["regions"]
    (hub_account,) = hub["targets"]["accounts"]
    expected = f"arn:aws:events:{hub_region}:{hub_account}:event-bus/" + bus_name.replace(
        "${NamePrefix}", prefix
    )
    assert spoke["parameters"]["CentralEventBusArn"] == expected
    assert hub_region == fleet["organization"]["home_region"]
    assert hub_region in fleet["defaults"]["regions"]
