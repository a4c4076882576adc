"""Drift detection for real: a member stack's resources as they are now in moto's backends, compared
with what its template (and parameters) say they should be.

Documents followed:

- [SSD] "Performing drift detection on CloudFormation StackSets", AWS CloudFormation User Guide,
  https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stacksets-drift.html — an
  instance is DRIFTED when one or more of its resources differ from the template.
- [SRD] "StackResourceDrift" and [PD] "PropertyDifference", AWS CloudFormation API Reference,
  https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_StackResourceDrift.html
  https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_PropertyDifference.html —
  StackResourceDriftStatus IN_SYNC | MODIFIED | DELETED | NOT_CHECKED; PropertyDifferences of
  PropertyPath (a JSON pointer such as /EventPattern/source/0), ExpectedValue, ActualValue and
  DifferenceType ADD | REMOVE | NOT_EQUAL.
- [DRIFT] "Detect unmanaged configuration changes to stacks and resources with drift detection",
  CloudFormation User Guide,
  https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-stack-drift.html —
  "CloudFormation detects drift on those AWS resources that support drift detection. Resources
  that don't support drift detection are assigned a drift status of NOT_CHECKED"; only properties
  set in the template are compared.

The emulator compares the resource types of templates/ — AWS::Events::Rule, AWS::SNS::Topic,
AWS::SNS::TopicPolicy, AWS::SNS::Subscription, AWS::KMS::Key, AWS::KMS::Alias, AWS::IAM::Role,
AWS::Events::EventBus — and reports every other type NOT_CHECKED. moto's CloudFormation does not
create AWS::SNS::TopicPolicy or AWS::SNS::Subscription (FIELD-NOTES §6); `install()` teaches it
both, so member stacks hold them and their drift can be seen. Properties AWS cannot read back
(PendingWindowInDays of a key) are not compared.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

IN_SYNC = "IN_SYNC"
MODIFIED = "MODIFIED"
DELETED = "DELETED"
NOT_CHECKED = "NOT_CHECKED"

# Properties compared per type (those the emulator can read back from moto).
COMPARED = {
    "AWS::Events::Rule": (
        "Name",
        "Description",
        "State",
        "EventPattern",
        "ScheduleExpression",
        "RoleArn",
        "EventBusName",
        "Targets",
    ),
    "AWS::Events::EventBus": ("Name",),
    "AWS::SNS::Topic": ("TopicName", "DisplayName", "KmsMasterKeyId"),
    "AWS::SNS::TopicPolicy": ("PolicyDocument", "Topics"),
    "AWS::SNS::Subscription": ("TopicArn", "Protocol", "Endpoint"),
    "AWS::KMS::Key": ("Description", "EnableKeyRotation", "KeyPolicy", "Enabled"),
    "AWS::KMS::Alias": ("AliasName", "TargetKeyId"),
    "AWS::IAM::Role": (
        "RoleName",
        "Description",
        "MaxSessionDuration",
        "AssumeRolePolicyDocument",
        "Policies",
    ),
}


# ----------------------------------------------------------------------------- pure comparison


def _json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            return value
        return parsed if isinstance(parsed, dict | list) else value
    return value


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _normal(value: Any) -> Any:
    """Scalars compared as AWS compares them: booleans and numbers as their string forms."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


def differences(expected: Any, actual: Any, path: str = "") -> list[dict[str, str]]:
    """PropertyDifferences ([PD]) between an expected and an actual value: objects key by key,
    lists element by element, scalars by value."""
    expected, actual = _json(expected), _json(actual)
    if isinstance(expected, dict) and isinstance(actual, dict):
        out: list[dict[str, str]] = []
        for key in expected:
            sub = f"{path}/{key}"
            if key not in actual:
                out.append(_diff(sub, expected[key], None, "REMOVE"))
            else:
                out.extend(differences(expected[key], actual[key], sub))
        for key in actual:
            if key not in expected:
                out.append(_diff(f"{path}/{key}", None, actual[key], "ADD"))
        return out
    if isinstance(expected, list) and isinstance(actual, list):
        out = []
        for i in range(max(len(expected), len(actual))):
            sub = f"{path}/{i}"
            if i >= len(actual):
                out.append(_diff(sub, expected[i], None, "REMOVE"))
            elif i >= len(expected):
                out.append(_diff(sub, None, actual[i], "ADD"))
            else:
                out.extend(differences(expected[i], actual[i], sub))
        return out
    if _normal(expected) == _normal(actual):
        return []
    return [_diff(path or "/", expected, actual, "NOT_EQUAL")]


def _diff(path: str, expected: Any, actual: Any, kind: str) -> dict[str, str]:
    row = {"PropertyPath": path, "DifferenceType": kind}
    row["ExpectedValue"] = "" if expected is None else _text(_normal(expected))
    row["ActualValue"] = "" if actual is None else _text(_normal(actual))
    return row


def compare(resource_type: str, expected: dict[str, Any], actual: dict[str, Any]) -> list[dict]:
    """The differences of the compared properties that the template sets ([DRIFT])."""
    out: list[dict[str, str]] = []
    for prop in COMPARED.get(resource_type, ()):
        if prop not in expected:
            continue
        if prop not in actual:
            out.append(_diff(f"/{prop}", expected[prop], None, "REMOVE"))
            continue
        out.extend(differences(expected[prop], actual[prop], f"/{prop}"))
    return out


# ----------------------------------------------------------------------------- reading moto


def _events(account: str, region: str) -> Any:
    from moto.events.models import events_backends

    return events_backends[account][region]


def _sns(account: str, region: str) -> Any:
    from moto.sns.models import sns_backends

    return sns_backends[account][region]


def _kms(account: str, region: str) -> Any:
    from moto.kms.models import kms_backends

    return kms_backends[account][region]


def _target(target: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in target.items() if v not in (None, "", {}, [])}
    transformer = out.get("InputTransformer")
    if isinstance(transformer, dict):
        out["InputTransformer"] = {k: v for k, v in transformer.items() if v not in (None, "")}
    return out


def read_actual(
    resource_type: str, physical_id: str, account: str, region: str, expected: dict
) -> dict[str, Any] | None:
    """The resource's properties as moto holds them now, or None when it is gone."""
    if resource_type == "AWS::Events::Rule":
        bus = expected.get("EventBusName") or "default"
        backend = _events(account, region)
        bus_name = bus.rsplit("/", 1)[-1] if bus.startswith("arn:") else bus
        event_bus = backend.event_buses.get(bus_name)
        rule = event_bus.rules.get(physical_id) if event_bus is not None else None
        if rule is None:
            return None
        actual: dict[str, Any] = {
            "Name": rule.name,
            "State": rule.state,
            "EventBusName": rule.event_bus_name,
            "Targets": [_target(t) for t in rule.targets],
        }
        if rule.description is not None:
            actual["Description"] = rule.description
        if rule.event_pattern is not None and rule.event_pattern.get_pattern():
            actual["EventPattern"] = rule.event_pattern.get_pattern()
        if rule.scheduled_expression:
            actual["ScheduleExpression"] = rule.scheduled_expression
        if rule.role_arn:
            actual["RoleArn"] = rule.role_arn
        return actual
    if resource_type == "AWS::Events::EventBus":
        bus = _events(account, region).event_buses.get(physical_id)
        return None if bus is None else {"Name": bus.name}
    if resource_type == "AWS::SNS::Topic":
        topic = _sns(account, region).topics.get(physical_id)
        if topic is None:
            return None
        return {
            "TopicName": topic.name,
            "DisplayName": topic.display_name,
            "KmsMasterKeyId": topic.kms_master_key_id,
        }
    if resource_type == "AWS::SNS::TopicPolicy":
        topics = expected.get("Topics") or []
        backend = _sns(account, region)
        found = [backend.topics.get(arn) for arn in topics]
        if not topics or any(t is None for t in found):
            return None
        return {
            "PolicyDocument": found[0]._policy_json,
            "Topics": [t.arn for t in found],
        }
    if resource_type == "AWS::SNS::Subscription":
        sub = _sns(account, region).subscriptions.get(physical_id)
        if sub is None:
            return None
        return {
            "TopicArn": sub.topic.arn,
            "Protocol": sub.protocol,
            "Endpoint": sub.endpoint,
        }
    if resource_type == "AWS::KMS::Key":
        key = _kms(account, region).keys.get(physical_id)
        if key is None or getattr(key, "key_state", "Enabled") == "PendingDeletion":
            return None
        return {
            "Description": key.description,
            "EnableKeyRotation": bool(key.key_rotation_status),
            "KeyPolicy": _json(key.policy),
            "Enabled": bool(key.enabled),
        }
    if resource_type == "AWS::KMS::Alias":
        backend = _kms(account, region)
        for key in backend.keys.values():
            if physical_id in key.aliases:
                return {"AliasName": physical_id, "TargetKeyId": key.id}
        return None
    if resource_type == "AWS::IAM::Role":
        from moto.iam.models import iam_backends

        backend = iam_backends[account]["global"]
        role = next((r for r in backend.roles.values() if r.name == physical_id), None)
        if role is None:
            return None
        policies = [
            {"PolicyName": name, "PolicyDocument": _json(doc)}
            for name, doc in sorted(role.policies.items())
        ]
        actual = {
            "RoleName": role.name,
            "AssumeRolePolicyDocument": _json(role.assume_role_policy_document),
            "MaxSessionDuration": role.max_session_duration,
            "Policies": policies,
        }
        if role.description:
            actual["Description"] = role.description
        return actual
    raise KeyError(resource_type)


def _expected_of(resource_type: str, props: dict[str, Any], stack: Any) -> dict[str, Any]:
    out = dict(props)
    if resource_type == "AWS::KMS::Key":
        out.setdefault("Enabled", True)
    if resource_type == "AWS::Events::Rule":
        out.setdefault("State", "ENABLED")
        if "EventBusName" in out and str(out["EventBusName"]).startswith("arn:"):
            out["EventBusName"] = str(out["EventBusName"]).rsplit("/", 1)[-1]
        out["Targets"] = [_target(t) for t in out.get("Targets", [])]
    if resource_type == "AWS::IAM::Role" and "Policies" in out:
        out["Policies"] = sorted(out["Policies"], key=lambda p: p.get("PolicyName", ""))
    return out


def _stack(account: str, region: str, stack_id_or_name: str) -> Any:
    from moto.cloudformation.models import cloudformation_backends

    backend = cloudformation_backends[account][region]
    for stack in list(backend.stacks.values()):
        if stack_id_or_name in (stack.stack_id, stack.name):
            return stack
    return None


def _all_deleted(template_body: str, now: datetime) -> list[dict[str, Any]]:
    from moto.cloudformation.models import Stack

    try:
        template = Stack.parse_template(template_body) or {}
    except ValueError:
        template = {}
    return [
        {
            "LogicalResourceId": logical_id,
            "PhysicalResourceId": "",
            "ResourceType": resource.get("Type", ""),
            "StackResourceDriftStatus": DELETED,
            "PropertyDifferences": [],
            "Timestamp": now,
        }
        for logical_id, resource in (template.get("Resources") or {}).items()
    ]


def detect(
    account: str,
    region: str,
    stack_id_or_name: str,
    template_body: str,
    parameters: dict,
) -> tuple[str, list[dict]]:
    """("IN_SYNC" | "DRIFTED", resource drifts in the shape of ListStackInstanceResourceDrifts
    entries) for one member stack ([SSD], [SRD]). The expected values come from the template as
    the stack resolved it (its parameters, pseudo parameters and physical ids); `template_body`
    and `parameters` name what the stack set wants, used when the stack cannot be found."""
    from moto.cloudformation.parsing import clean_json

    stack = _stack(account, region, stack_id_or_name)
    now = datetime.now(UTC)
    if stack is None or getattr(stack, "status", "") == "DELETE_COMPLETE":
        # The member stack itself was deleted out of band: every resource of the template is gone.
        return ("DRIFTED", _all_deleted(template_body, now))
    template = stack.template_dict or {}
    resource_map = stack.resource_map
    conditions = getattr(resource_map, "lazy_condition_map", {}) or {}
    drifts: list[dict[str, Any]] = []
    for logical_id, resource in (template.get("Resources") or {}).items():
        resource_type = resource.get("Type", "")
        condition = resource.get("Condition")
        if condition is not None and not conditions.get(condition, True):
            continue
        created = resource_map._parsed_resources.get(logical_id)
        physical = getattr(created, "physical_resource_id", None) if created is not None else None
        row: dict[str, Any] = {
            "LogicalResourceId": logical_id,
            "PhysicalResourceId": physical or "",
            "ResourceType": resource_type,
            "Timestamp": now,
            "PropertyDifferences": [],
        }
        if resource_type not in COMPARED:
            row["StackResourceDriftStatus"] = NOT_CHECKED
            drifts.append(row)
            continue
        expected = _expected_of(
            resource_type,
            clean_json(resource.get("Properties") or {}, resource_map),
            stack,
        )
        actual = read_actual(resource_type, physical or "", account, region, expected)
        if actual is None:
            row["StackResourceDriftStatus"] = DELETED
        else:
            diffs = compare(resource_type, expected, actual)
            row["StackResourceDriftStatus"] = MODIFIED if diffs else IN_SYNC
            row["PropertyDifferences"] = diffs
            row["ExpectedProperties"] = json.dumps(
                {k: expected[k] for k in COMPARED[resource_type] if k in expected},
                default=str,
            )
            row["ActualProperties"] = json.dumps(actual, default=str)
        drifts.append(row)
    drifted = any(d["StackResourceDriftStatus"] in (MODIFIED, DELETED) for d in drifts)
    return ("DRIFTED" if drifted else "IN_SYNC", drifts)


# ----------------------------------------------------------------------------- CloudFormation models


def _models() -> tuple[type, type]:
    from moto.core.common_models import CloudFormationModel

    class TopicPolicy(CloudFormationModel):
        """AWS::SNS::TopicPolicy: sets the Policy of each topic of `Topics`."""

        def __init__(self, physical_id: str, topics: list[str], account: str, region: str):
            self.id = physical_id
            self.topics = topics
            self.account = account
            self.region = region

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::SNS::TopicPolicy"

        @staticmethod
        def cloudformation_name_type() -> str:
            return ""

        @property
        def physical_resource_id(self) -> str:
            return self.id

        @classmethod
        def create_from_cloudformation_json(  # type: ignore[misc]
            cls,
            resource_name: str,
            cloudformation_json: dict[str, Any],
            account_id: str,
            region_name: str,
            **kwargs: Any,
        ) -> Any:
            props = cloudformation_json.get("Properties", {})
            topics = list(props.get("Topics") or [])
            backend = _sns(account_id, region_name)
            for arn in topics:
                backend.set_topic_attribute(arn, "policy", json.dumps(props.get("PolicyDocument")))
            return cls(
                f"{resource_name}-{uuid.uuid4().hex[:12]}",
                topics,
                account_id,
                region_name,
            )

        @classmethod
        def delete_from_cloudformation_json(  # type: ignore[misc]
            cls,
            resource_name: str,
            cloudformation_json: Any,
            account_id: str,
            region_name: str,
        ) -> None:
            return None

        def delete(self, account_id: str, region_name: str) -> None:
            return None

    class TopicSubscription(CloudFormationModel):
        """AWS::SNS::Subscription: subscribes `Endpoint` to `TopicArn` with `Protocol`."""

        def __init__(self, arn: str):
            self.arn = arn

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::SNS::Subscription"

        @staticmethod
        def cloudformation_name_type() -> str:
            return ""

        @property
        def physical_resource_id(self) -> str:
            return self.arn

        @classmethod
        def create_from_cloudformation_json(  # type: ignore[misc]
            cls,
            resource_name: str,
            cloudformation_json: dict[str, Any],
            account_id: str,
            region_name: str,
            **kwargs: Any,
        ) -> Any:
            props = cloudformation_json.get("Properties", {})
            sub = _sns(account_id, region_name).subscribe(
                props["TopicArn"], props["Endpoint"], props["Protocol"]
            )
            return cls(sub.arn)

        @classmethod
        def delete_from_cloudformation_json(  # type: ignore[misc]
            cls,
            resource_name: str,
            cloudformation_json: Any,
            account_id: str,
            region_name: str,
        ) -> None:
            return None

        def delete(self, account_id: str, region_name: str) -> None:
            backend = _sns(account_id, region_name)
            if self.arn in backend.subscriptions:
                backend.unsubscribe(self.arn)

    return TopicPolicy, TopicSubscription


_INSTALLED: list[type] = []


def install() -> None:
    """Registers AWS::SNS::TopicPolicy and AWS::SNS::Subscription with moto's CloudFormation."""
    if _INSTALLED:
        return
    from moto.cloudformation import parsing

    _INSTALLED.extend(_models())
    for cached in ("get_model_list", "get_model_map", "get_name_type_map"):
        func = getattr(parsing, cached, None)
        if func is not None and hasattr(func, "cache_clear"):
            func.cache_clear()
