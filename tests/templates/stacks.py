"""Deploying the templates on the emulator, and reading deployed stacks back."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cfn import HUB, SPOKE, STANDALONE, Context, getatt_values_from_outputs, load

SECURITY_ACCOUNT = "222233334444"
WORKLOAD_ACCOUNT = "111122223333"  # the account of the sample CloudTrail records
HOME_REGION = "us-east-1"
ORG_ID = "o-a1b2c3d4e5"

# Parameter values for each template (the spoke's bus is the hub's, as the example fleet has it).
PARAMETERS: dict[Path, dict[str, str]] = {
    STANDALONE: {"NotificationEmail": "secops@example.com"},
    HUB: {"NotificationEmail": "secops@example.com", "OrganizationId": ORG_ID},
    SPOKE: {
        "CentralEventBusArn": (
            f"arn:aws:events:{HOME_REGION}:{SECURITY_ACCOUNT}:event-bus/s3-policy-monitor-hub"
        )
    },
}


def cfn_parameters(values: dict[str, str]) -> list[dict[str, str]]:
    return [{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()]


@dataclass
class Stack:
    template_path: Path
    name: str
    account: str
    region: str
    parameters: dict[str, str]
    status: str
    outputs: dict[str, str] = field(default_factory=dict)
    physical_ids: dict[str, str] = field(default_factory=dict)

    @property
    def template(self) -> dict[str, Any]:
        return load(self.template_path)

    def context(self) -> Context:
        """What `cfn.resolve` needs to render this stack's policies with their real ARNs."""
        return Context(
            self.parameters,
            region=self.region,
            account=self.account,
            stack_name=self.name,
            physical_ids=self.physical_ids,
            attributes=getatt_values_from_outputs(self.template, self.outputs),
        )


def deploy(
    moto,
    template_path: Path,
    *,
    account: str,
    region: str,
    parameters: dict[str, str] | None = None,
    name: str = "s3-policy-monitor",
) -> Stack:
    """create_stack with the template file as is, acting as `account` in `region`."""
    values = dict(PARAMETERS[template_path] if parameters is None else parameters)
    cf = moto.client("cloudformation", region, account)
    cf.create_stack(
        StackName=name,
        TemplateBody=template_path.read_text(),
        Parameters=cfn_parameters(values),
        Capabilities=["CAPABILITY_NAMED_IAM"],
    )
    described = cf.describe_stacks(StackName=name)["Stacks"][0]
    resources = cf.list_stack_resources(StackName=name)["StackResourceSummaries"]
    return Stack(
        template_path=template_path,
        name=name,
        account=account,
        region=region,
        parameters=values,
        status=described["StackStatus"],
        outputs={o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])},
        physical_ids={
            r["LogicalResourceId"]: r["PhysicalResourceId"]
            for r in resources
            if r.get("LogicalResourceId")
        },
    )


def rule_name(rule_arn: str) -> tuple[str, str]:
    """(bus, rule name) of a rule ARN: rule/<name> on the default bus, else rule/<bus>/<name>."""
    parts = rule_arn.split(":", 5)[5].split("/")
    return ("default", parts[1]) if len(parts) == 2 else (parts[1], parts[2])


def drain(sqs, queue_url: str) -> list[dict[str, Any]]:
    """Every message body (JSON) on the queue; the emulator delivers synchronously."""
    bodies = []
    while True:
        got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        messages = got.get("Messages", [])
        if not messages:
            return bodies
        for m in messages:
            bodies.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
