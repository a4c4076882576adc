#!/usr/bin/env python3
"""The user's alternative to `stackfleet plan`: a straightforward boto3 script.

It does what a team would write by hand: walk the organization page by page (root, OUs, accounts
of each parent), describe each stack set of fleet.toml and list its instances page by page, then
compute the instances to create and delete. It reads the same fleet.toml (targets by OU path or
id, accounts, exclusions, regions; suspended accounts skipped), so that its counts can be checked
against stackfleet's plan. No batching, no validation of templates, no concurrency.

Usage: boto3_plan.py FLEET_TOML   (AWS_ENDPOINT_URL and credentials from the environment)
Prints one JSON object: instances to create and delete per stack set, and calls by operation.
"""

from __future__ import annotations

import collections
import json
import sys
import tomllib

import boto3

calls: collections.Counter[str] = collections.Counter()


def count(model, **_):  # botocore's before-call event
    calls[model.name] += 1


def main() -> int:
    with open(sys.argv[1], "rb") as f:
        fleet = tomllib.load(f)
    session = boto3.session.Session(region_name=fleet["organization"]["home_region"])
    org = session.client("organizations")
    cfn = session.client("cloudformation")
    for client in (org, cfn):
        client.meta.events.register("before-call", count)

    # The organization, page by page: every OU with its path, every account with its parent.
    root = org.list_roots()["Roots"][0]["Id"]
    paths = {root: "/"}
    children: dict[str, list[str]] = collections.defaultdict(list)
    accounts: dict[str, dict] = {}
    queue = [root]
    while queue:
        parent = queue.pop()
        for page in org.get_paginator("list_organizational_units_for_parent").paginate(
            ParentId=parent
        ):
            for ou in page["OrganizationalUnits"]:
                base = paths[parent].rstrip("/")
                paths[ou["Id"]] = f"{base}/{ou['Name']}"
                children[parent].append(ou["Id"])
                queue.append(ou["Id"])
        for page in org.get_paginator("list_accounts_for_parent").paginate(ParentId=parent):
            for account in page["Accounts"]:
                accounts[account["Id"]] = {"parent": parent, "status": account["Status"]}
    by_path = {path: ou for ou, path in paths.items()}

    def under(ou_ref: str) -> set[str]:
        top = by_path.get(ou_ref, ou_ref)
        ous, stack = set(), [top]
        while stack:
            ou = stack.pop()
            ous.add(ou)
            stack.extend(children[ou])
        return {a for a, info in accounts.items() if info["parent"] in ous}

    defaults = fleet.get("defaults", {})
    result = {}
    for spec in fleet["stack_sets"]:
        targets = spec.get("targets", {})
        wanted: set[str] = set(targets.get("accounts", []))
        for ou in targets.get("organizational_units", []):
            wanted |= under(ou)
        for ou in targets.get("exclude_organizational_units", []):
            wanted -= under(ou)
        wanted -= set(targets.get("exclude_accounts", []))
        wanted = {a for a in wanted if accounts[a]["status"] == "ACTIVE"}
        regions = spec.get("regions", defaults.get("regions", []))
        desired = {(a, r) for a in wanted for r in regions}

        existing: set[tuple[str, str]] = set()
        try:
            cfn.describe_stack_set(StackSetName=spec["name"])
            for page in cfn.get_paginator("list_stack_instances").paginate(
                StackSetName=spec["name"]
            ):
                for s in page["Summaries"]:
                    existing.add((s["Account"], s["Region"]))
        except cfn.exceptions.StackSetNotFoundException:
            pass
        result[spec["name"]] = {
            "create": len(desired - existing),
            "delete": len(existing - desired),
        }
    json.dump({"stack_sets": result, "calls": dict(sorted(calls.items()))}, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
