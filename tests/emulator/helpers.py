"""Small helpers shared by the engine's tests (E1)."""

from __future__ import annotations

import time
from typing import Any

# A template moto deploys anywhere, with one parameter to see updates reach the member stacks.
TEMPLATE = """AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Team:
    Type: String
    Default: blue
Resources:
  Marker:
    Type: AWS::CloudFormation::WaitConditionHandle
Outputs:
  Team:
    Value: !Ref Team
"""

ENDED = {"SUCCEEDED", "FAILED", "STOPPED"}


def accounts(n: int, start: int = 100000000000) -> list[str]:
    """`n` made-up twelve-digit account ids."""
    return [str(start + i) for i in range(n)]


def wait(cf: Any, stack_set: str, operation_id: str, timeout: float = 30.0) -> dict[str, Any]:
    """Polls DescribeStackSetOperation until the operation ends; returns it."""
    deadline = time.monotonic() + timeout
    while True:
        op = cf.describe_stack_set_operation(StackSetName=stack_set, OperationId=operation_id)[
            "StackSetOperation"
        ]
        if op["Status"] in ENDED:
            return op
        if time.monotonic() > deadline:
            raise AssertionError(f"operation {operation_id} still {op['Status']}")
        time.sleep(0.01)


def instances(cf: Any, stack_set: str) -> dict[tuple[str, str], dict[str, Any]]:
    """Every instance summary, by (account, region), across pages."""
    out = {}
    for page in cf.get_paginator("list_stack_instances").paginate(StackSetName=stack_set):
        for s in page["Summaries"]:
            out[(s["Account"], s["Region"])] = s
    return out


def error_code(excinfo: Any) -> str:
    return excinfo.value.response["Error"]["Code"]
