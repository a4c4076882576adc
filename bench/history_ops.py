#!/usr/bin/env python3
"""Gives a stack set a long operation history: a drift detection, then N UpdateStackSet operations
of one instance each, same template and parameters, at the emulator's time scale 0 (each ends at
once), so that the newest detection lies behind all of them.

Usage: history_ops.py ENDPOINT STACK_SET N
"""

from __future__ import annotations

import json
import sys
import time
import urllib.request

import boto3

endpoint, name, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
request = urllib.request.Request(
    f"{endpoint}/_emulator/config",
    data=json.dumps({"time_scale": 0}).encode(),
    headers={"Content-Type": "application/json"},
    method="POST",
)
urllib.request.urlopen(request).read()
cf = boto3.client("cloudformation", endpoint_url=endpoint, region_name="us-east-1")
stack_set = cf.describe_stack_set(StackSetName=name)["StackSet"]
instance = cf.list_stack_instances(StackSetName=name, MaxResults=1)["Summaries"][0]
params = [
    {"ParameterKey": p["ParameterKey"], "UsePreviousValue": True} for p in stack_set["Parameters"]
]
started = time.time()
while True:
    try:
        cf.detect_stack_set_drift(StackSetName=name, OperationId="history-drift")
        break
    except cf.exceptions.OperationInProgressException:
        time.sleep(0.001)
for i in range(count):
    while True:
        try:
            cf.update_stack_set(
                StackSetName=name,
                UsePreviousTemplate=True,
                Parameters=params,
                Capabilities=stack_set.get("Capabilities", []),
                Accounts=[instance["Account"]],
                Regions=[instance["Region"]],
                OperationId=f"history-{i}",
            )
            break
        except cf.exceptions.OperationInProgressException:
            time.sleep(0.001)
print(f"{count} operations in {time.time() - started:.1f} s", file=sys.stderr)
