"""End-to-end `stackfleet apply` wall time on the emulator's time model (issue 14.1), driven by
bench/rollout: (a) a fresh rollout of 2 stack sets x 1,000 accounts x 4 regions, (b) repairing a
random 5 % of those instances after deleting them out of band, (c) adding a fifth region, (d) a
drift detection of both stack sets. Each in emulated seconds (wall / time scale), against the
lower bound that AWS's documented limits allow, the lower bound of the fleet's own rollout,
Terraform's one operation per instance, and the plan's estimate.

    python bench/rollout.py BIN WORKDIR   (AWS_ENDPOINT_URL etc. set by bench/rollout)

Limits used (cited in BENCHMARKS.md, "Rollout time"):
- MaxConcurrentPercentage up to 100 (accounts at once per Region), RegionConcurrencyType PARALLEL
  (StackSetOperationPreferences, CloudFormation API Reference);
- stack instances across all stack sets that one administrator account runs operations on in one
  Region at the same time: 3,500 in the archived CloudFormation User Guide quota table, 10,000
  today; the smaller is used here (it does not bind: 2 x 1,000 per Region);
- one operation at a time per stack set, or concurrent non-conflicting ones with ManagedExecution;
  different stack sets run in parallel.
"""

from __future__ import annotations

import json
import math
import os
import random
import re
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import boto3

STACK_SETS = ("rollout-monitor", "rollout-workloads")
REGION_QUOTA = 3500  # instances per Region per administrator account at once (older, lower figure)
REPAIR_FRACTION = 0.05
SEED = 14

BIN, WORK = sys.argv[1], sys.argv[2]
ENDPOINT = os.environ["AWS_ENDPOINT_URL"]
SCALE = float(os.environ["STACKFLEET_EMULATOR_TIME_SCALE"])
INSTANCE_SECONDS = float(os.environ["STACKFLEET_EMULATOR_INSTANCE_SECONDS"])
FLEET = os.path.join(WORK, "fleet.toml")
cf = boto3.client("cloudformation", region_name="us-east-1")


def emulator(config: dict[str, float]) -> None:
    req = urllib.request.Request(
        f"{ENDPOINT}/_emulator/config",
        data=json.dumps(config).encode(),
        headers={"Content-Type": "application/json"},
    )
    urllib.request.urlopen(req).read()


def run(*args: str) -> tuple[float, str]:
    """Runs stackfleet in WORK; returns wall seconds and stdout."""
    start = time.monotonic()
    out = subprocess.run([BIN, *args], cwd=WORK, capture_output=True, text=True, check=False)
    wall = time.monotonic() - start
    if out.returncode not in (0, 2):
        sys.exit(f"stackfleet {' '.join(args)} failed ({out.returncode}):\n{out.stderr[-3000:]}")
    return wall, out.stdout


def plan() -> tuple[float, dict[str, Any]]:
    wall, out = run("plan", "--output", "json")
    return wall, json.loads(out)


def operations(name: str, since: float) -> list[dict[str, Any]]:
    """The stack set's operations created at or after `since` (Unix seconds)."""
    ops = cf.list_stack_set_operations(StackSetName=name, MaxResults=100).get("Summaries", [])
    return [o for o in ops if o["CreationTimestamp"].timestamp() >= since - 1]


def instances(name: str) -> list[tuple[str, str]]:
    out, token = [], None
    while True:
        kw = {"StackSetName": name, "MaxResults": 100}
        if token:
            kw["NextToken"] = token
        page = cf.list_stack_instances(**kw)
        out += [(s["Account"], s["Region"]) for s in page["Summaries"]]
        token = page.get("NextToken")
        if not token:
            return out


def wait_operation(name: str, op_id: str) -> None:
    while True:
        op = cf.describe_stack_set_operation(StackSetName=name, OperationId=op_id)
        if op["StackSetOperation"]["Status"] not in ("QUEUED", "RUNNING", "STOPPING"):
            return
        time.sleep(0.2)


def concurrency(rollout: dict[str, Any], accounts: int) -> int:
    """Accounts at once per Region as the operation starts (the rules of estimate.rs)."""
    if "max_concurrent_count" in rollout:
        top = rollout["max_concurrent_count"]
    elif "max_concurrent_percentage" in rollout:
        top = max(1, rollout["max_concurrent_percentage"] * accounts // 100)
    else:
        top = 1
    if "failure_tolerance_count" in rollout:
        tol = rollout["failure_tolerance_count"]
    else:
        tol = rollout.get("failure_tolerance_percentage", 0) * accounts // 100
    if rollout.get("concurrency_mode") == "soft-failure-tolerance":
        return max(1, top)
    return max(1, min(top, tol + 1))


def bounds(cells: dict[str, set[tuple[str, str]]], rollout: dict[str, Any]) -> dict[str, float]:
    """Lower bounds in emulated seconds for touching `cells` (per stack set):
    aws: every account of a Region at once (MaxConcurrentPercentage 100), Regions in parallel,
      stack sets in parallel, limited only by the per-Region quota across stack sets;
    rollout: the fleet's own preferences, all of a stack set's cells in one operation (or
      concurrent ones), stack sets in parallel;
    terraform: one operation per instance, one after another per stack set, stack sets in
      parallel, each operation one instance time (no call or polling overhead counted)."""
    per_region: dict[str, int] = {}
    for set_cells in cells.values():
        for _, region in set_cells:
            per_region[region] = per_region.get(region, 0) + 1
    aws_waves = max((math.ceil(n / REGION_QUOTA) for n in per_region.values()), default=0)
    rollout_waves = 0
    for set_cells in cells.values():
        by_region: dict[str, int] = {}
        for _, region in set_cells:
            by_region[region] = by_region.get(region, 0) + 1
        waves = [math.ceil(n / concurrency(rollout, n)) for n in by_region.values()]
        if rollout.get("region_concurrency") == "parallel":
            rollout_waves = max(rollout_waves, max(waves, default=0))
        else:
            rollout_waves = max(rollout_waves, sum(waves))
    terraform = max((len(c) for c in cells.values()), default=0)
    return {
        "aws": aws_waves * INSTANCE_SECONDS,
        "rollout": rollout_waves * INSTANCE_SECONDS,
        "terraform": terraform * INSTANCE_SECONDS,
    }


def rollout_of_fleet() -> dict[str, Any]:
    """The [defaults.rollout] table of the bench fleet (init's defaults when absent)."""
    text = Path(FLEET).read_text()
    table = re.search(r"\[defaults\.rollout\]\n((?:[a-z_]+ = .*\n)+)", text)
    if not table:
        return {
            "max_concurrent_percentage": 100,
            "failure_tolerance_percentage": 10,
            "region_concurrency": "parallel",
            "concurrency_mode": "soft-failure-tolerance",
        }
    out: dict[str, Any] = {}
    for line in table.group(1).splitlines():
        key, value = (p.strip() for p in line.split("=", 1))
        value = value.split("#")[0].strip()
        out[key] = value.strip('"') if value.startswith('"') else int(value)
    return out


def emulator_cpu() -> float:
    """CPU seconds the emulator process has used (user + system): its own work (building
    answers, and deploying or deleting a member stack in moto for every instance that ends)
    sits on the critical path of every request, under one lock, on the same 2 cores."""
    stat = Path(f"/proc/{os.environ['BENCH_EMULATOR_PID']}/stat").read_text()
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def step(label: str, cells: dict[str, set[tuple[str, str]]], command: list[str]) -> dict:
    rollout = rollout_of_fleet()
    estimate, plan_wall = None, None
    if command[0] == "apply":
        plan_wall, p = plan()
        estimate = p["summary"].get("estimated_seconds")
        # A per-instance time measured on the history is in the emulator's real seconds; the
        # default (60 s, no history) is in emulated ones, as INSTANCE_SECONDS is.
        sources = {
            s.get("instance_time", {}).get("source") for s in p["stack_sets"] if s["operations"]
        }
        if estimate is not None and "history" in sources:
            estimate = round(estimate / SCALE)
        ops = [len(s["operations"]) for s in p["stack_sets"]]
    else:
        ops = [1 for _ in STACK_SETS]
    since = time.time()
    cpu = emulator_cpu()
    wall, _ = run(*command)
    cpu = emulator_cpu() - cpu
    emulated = wall / SCALE
    own = []
    busy_real = 0.0
    for name in STACK_SETS:
        spans = sorted(
            (o["CreationTimestamp"].timestamp(), o["EndTimestamp"].timestamp())
            for o in operations(name, since)
            if o.get("EndTimestamp")
        )
        own += [(end - start) / SCALE for start, end in spans]
        # How long the stack set had an operation running (overlaps counted once).
        busy, reach = 0.0, float("-inf")
        for start, end in spans:
            busy += max(0.0, end - max(start, reach))
            reach = max(reach, end)
        busy_real = max(busy_real, busy)
    b = bounds(cells, rollout)
    # The step if the operations ran on the emulator's clock and stackfleet's and the emulator's
    # own real seconds counted once, as they would against AWS.
    once = busy_real / SCALE + wall - busy_real
    row = {
        "step": label,
        "instances": sum(len(c) for c in cells.values()),
        "operations": ops,
        "wall_s": round(wall, 1),
        "emulated_s": round(emulated),
        "longest_operation_s": round(max(own, default=0)),
        "plan_wall_s": None if plan_wall is None else round(plan_wall, 1),
        "emulator_cpu_s": round(cpu, 1),
        "aws_bound_s": b["aws"],
        "rollout_bound_s": b["rollout"],
        "terraform_s": b["terraform"],
        "vs_aws": round(emulated / b["aws"], 2) if b["aws"] else None,
        "vs_rollout": round(emulated / b["rollout"], 2) if b["rollout"] else None,
        "operations_s": round(busy_real / SCALE),
        "once_s": round(once),
        "estimate_s": estimate,
        "estimate_error": (
            f"{(estimate / emulated - 1) * 100:+.0f} %" if estimate is not None else None
        ),
        "estimate_error_once": (
            f"{(estimate / once - 1) * 100:+.0f} %" if estimate is not None else None
        ),
    }
    print(json.dumps(row), flush=True)
    return row


def delete_out_of_band(rng: random.Random, managed: bool) -> dict[str, set[tuple[str, str]]]:
    """Deletes a random 5 % of each stack set's instances with DeleteStackInstances (one
    operation per Region, every account at once), as someone else would; returns them."""
    chosen: dict[str, set[tuple[str, str]]] = {}
    for name in STACK_SETS:
        cells = sorted(instances(name))
        chosen[name] = set(rng.sample(cells, round(len(cells) * REPAIR_FRACTION)))

    def delete(name: str) -> None:
        by_region: dict[str, list[str]] = {}
        for account, region in sorted(chosen[name]):
            by_region.setdefault(region, []).append(account)
        # With ManagedExecution the Regions' deletions do not conflict and run together; without
        # it the second would fail with OperationInProgressException, so each waits its turn.
        started = []
        for region, accounts in by_region.items():
            op = cf.delete_stack_instances(
                StackSetName=name,
                Accounts=accounts,
                Regions=[region],
                RetainStacks=False,
                OperationPreferences={
                    "MaxConcurrentPercentage": 100,
                    "FailureTolerancePercentage": 100,
                    "ConcurrencyMode": "SOFT_FAILURE_TOLERANCE",
                },
            )
            started.append(op["OperationId"])
            if not managed:
                wait_operation(name, op["OperationId"])
        for op_id in started:
            wait_operation(name, op_id)

    threads = [threading.Thread(target=delete, args=(n,)) for n in STACK_SETS]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return chosen


def main() -> None:
    rng = random.Random(SEED)
    accounts = [a for a in json.loads(os.environ["BENCH_ACCOUNTS"])]
    regions4 = ["us-east-1", "eu-west-1", "ap-southeast-2", "us-west-2"]
    full = {n: {(a, r) for a in accounts for r in regions4} for n in STACK_SETS}
    managed = "managed_execution = false" not in Path(FLEET).read_text()
    print(
        f"time scale {SCALE}, {INSTANCE_SECONDS:g} s per instance; rollout {rollout_of_fleet()};"
        f" managed execution {'on' if managed else 'off'}",
        flush=True,
    )
    step("(a) fresh rollout", full, ["apply", "--auto-approve", "--output", "json"])
    deleted = delete_out_of_band(rng, managed)
    step("(b) repair 5 %", deleted, ["apply", "--auto-approve", "--output", "json"])
    if os.environ.get("BENCH_STEPS") == "ab":
        return
    text = Path(FLEET).read_text()
    Path(FLEET).write_text(text.replace('"us-west-2"]', '"us-west-2", "us-east-2"]', 1))
    fifth = {n: {(a, "us-east-2") for a in accounts} for n in STACK_SETS}
    step("(c) fifth region", fifth, ["apply", "--auto-approve", "--output", "json"])
    regions5 = [*regions4, "us-east-2"]
    all5 = {n: {(a, r) for a in accounts for r in regions5} for n in STACK_SETS}
    step("(d) drift detection", all5, ["drift", "--output", "json"])


if __name__ == "__main__":
    main()
