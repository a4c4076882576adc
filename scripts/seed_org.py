#!/usr/bin/env python3
"""Seed an AWS Organization (and optionally SELF_MANAGED stack sets) into a moto server.

Usage:
    seed_org.py --endpoint http://127.0.0.1:PORT (--example | --spec FILE|-) [--reset]
    seed_org.py --dump-example          # print the built-in example spec and exit

Everything goes through the real boto3 API, exactly as a client of AWS would do it. The caller is
moto's default account 123456789012, which becomes the management account. Prints ONE JSON object on
stdout; progress and errors go to stderr; exits non-zero on any failure.

Spec (JSON; every key optional):

    {
      "seed": 7,                              # POST /moto-api/seed?a=7 first: same ids on every run
      "ous": ["/Security", "/Workloads/Prod"],   # OU paths; missing parents are created (mkdir -p)
      "accounts": [
        {"name": "prod-app-1", "ou": "/Workloads/Prod"},   # "ou" omitted or "/" = under the root
        {"name": "dev-old", "ou": "/Workloads/Dev", "suspended": true,
         "email": "dev-old@example.com"},                   # email defaults to <name>@example.com
        {"name": "no-role", "execution_role": false,        # no StackSets execution role (default:
         "enabled_regions": ["ap-east-1"]}                  #   one); opt-in Regions to enable
      ],
      "administration_role": true,            # AWSCloudFormationStackSetAdministrationRole in the
                                              #   management account (default true)
      "execution_role_name": "AWSCloudFormationStackSetExecutionRole",   # the role each account
                                              #   gets, trusting the management account (default)
      "execution_roles": true,                # false: no account gets one (saves time when only
                                              #   service-managed stack sets are used)
      "management_execution_role": true,      # the management account gets one too (default)
      "trusted_access": ["member.org.stacksets.cloudformation.amazonaws.com"],   # or true for
                                              #   that one: EnableAWSServiceAccess (default none)
      "delegated_administrators": [           # RegisterDelegatedAdministrator (default none)
        {"account": "prod-app-1",             # account name or 12-digit id
         "service_principal": "member.org.stacksets.cloudformation.amazonaws.com"}],  # default
      "generate": [                           # bulk accounts; str.format fields {i} (OU, 1-based)
        {"ou": "/Workloads/Team{i:02d}",      #   and {j} (account within the OU, 1-based)
         "count": 10,                         # number of OUs (default 1; {i} optional if 1)
         "accounts_per_ou": 20,
         "name": "team{i:02d}-app{j:02d}",    # default: <last OU segment, lowercased>-{j:03d}
         "suspended": [3],                    # optional: j values whose accounts get suspended
         "without_execution_role": [4]}       # optional: j values whose accounts get no role
      ],
      "stack_sets": [                         # pre-created SELF_MANAGED stack sets
        {"name": "s3-policy-monitor",
         "template": "templates/x.yaml",      # relative to the spec file (cwd for -/--example)
         # or "template_body": "<text>" or a JSON object
         "parameters": {"K": "V"},
         "region": "us-east-1",               # stack set home region (default us-east-1)
         "description": "...",
         "tags": {"owner": "security"},       # stack set tags (default none)
         "capabilities": [],                  # default ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"]
         "administration_role_arn": "arn:aws:iam::123456789012:role/Admin",   # default: AWS's
         "execution_role_name": "Exec",                                       # default: AWS's
         "instances": [
           {"account": "prod-app-1",          # account name or 12-digit id (e.g. 123456789012)
            "accounts": ["dev-app-1"],        # more of the same (account/accounts/ous combine)
            "ous": ["/Workloads/Prod"],       # every account in that OU or below it
            "regions": ["us-east-1", "eu-west-1"],
            "parameter_overrides": {"K": "V2"}}
         ]}
      ]
    }

Output:

    {"organization_id": "o-...", "root_id": "r-...", "management_account": "123456789012",
     "seed": 7 | null,
     "ous": {"/Workloads": "ou-...", ...},
     "accounts": {"<name>": {"id": "...", "email": "...", "ou_path": "/Workloads/Prod",
                             "parent_id": "ou-...", "status": "ACTIVE" | "SUSPENDED",
                             "execution_role": true | false, "enabled_regions": [...]}},
     "stack_sets": {"<name>": {"id": "<name>:<uuid>", "region": "us-east-1",
                               "instances": [["<account id>", "<region>"], ...]}},
     "trusted_access": ["<service principal>", ...],
     "delegated_administrators": [["<account id>", "<service principal>"], ...]}

Determinism: moto draws every id (and every request id) from one seeded generator, so ids repeat
only when the whole sequence of requests repeats. With a seed, accounts are created one by one and
nothing else may talk to the same moto server while seeding runs. Without a seed, accounts are
created by a small thread pool.

StackSets roles: self-managed stack sets need AWSCloudFormationStackSetAdministrationRole in the
management account and an execution role in every target account that trusts it ("Grant
self-managed permissions", AWS CloudFormation User Guide,
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stacksets-prereqs-self-managed.html).
The faithful emulator (tests/emulator) fails instances whose roles are missing, so every account
gets the execution role unless its entry says "execution_role": false. Roles are created after all
accounts and OUs, so the ids of a seeded run do not move.

Opt-in Regions (af-south-1, ap-east-1, ...) are disabled in every account until enabled ("Enable or
disable AWS Regions in your account", AWS Account Management Reference Guide); "enabled_regions"
enables them through the Account API, which only the emulator provides (plain moto has none).
Pre-created stack set operations are waited for: on the emulator they take time.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

# Only the explicit endpoint and dummy credentials below may decide where boto3 talks to.
for _var in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
    os.environ.pop(_var, None)

try:
    import boto3
    from botocore.config import Config
except ImportError:  # started with a python3 that lacks boto3: use the project's venv
    _venv = Path(__file__).resolve().parent.parent / ".venv"
    _venv_python = _venv / "bin" / "python"
    if _venv_python.exists() and Path(sys.prefix).resolve() != _venv.resolve():
        os.execv(str(_venv_python), [str(_venv_python), __file__, *sys.argv[1:]])
    sys.exit("seed_org: boto3 is missing; run scripts/ensure-venv and use .venv/bin/python")

MANAGEMENT_ACCOUNT = "123456789012"
# What pre-created stack sets acknowledge unless the spec says otherwise. (moto 5.2.5 accepts
# Capabilities but never returns them from DescribeStackSet.)
DEFAULT_CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"]
EXAMPLE_SEED = 20240
EXAMPLE_SPEC: dict[str, Any] = {
    "seed": EXAMPLE_SEED,
    "ous": [
        "/Security",
        "/Infrastructure",
        "/Workloads",
        "/Workloads/Prod",
        "/Workloads/Dev",
        "/Workloads/Sandbox",
    ],
    "accounts": [
        {"name": "security-tooling", "ou": "/Security"},
        {"name": "log-archive", "ou": "/Security"},
        {"name": "network", "ou": "/Infrastructure"},
        {"name": "shared-services", "ou": "/Infrastructure"},
        {"name": "prod-payments", "ou": "/Workloads/Prod"},
        {"name": "prod-orders", "ou": "/Workloads/Prod"},
        {"name": "prod-catalog", "ou": "/Workloads/Prod"},
        {"name": "prod-identity", "ou": "/Workloads/Prod"},
        {"name": "prod-data", "ou": "/Workloads/Prod"},
        {"name": "prod-platform", "ou": "/Workloads/Prod"},
        {"name": "dev-payments", "ou": "/Workloads/Dev"},
        {"name": "dev-orders", "ou": "/Workloads/Dev"},
        {"name": "dev-catalog", "ou": "/Workloads/Dev"},
        {"name": "dev-identity", "ou": "/Workloads/Dev"},
        {"name": "dev-data", "ou": "/Workloads/Dev"},
        {"name": "dev-legacy", "ou": "/Workloads/Dev", "suspended": True},
        {"name": "sandbox-alice", "ou": "/Workloads/Sandbox"},
        {"name": "sandbox-bob", "ou": "/Workloads/Sandbox"},
        {"name": "sandbox-carol", "ou": "/Workloads/Sandbox"},
        {"name": "acquired-startup", "ou": "/"},
    ],
}


class SpecError(Exception):
    pass


def log(msg: str) -> None:
    print(f"seed_org: {msg}", file=sys.stderr, flush=True)


def norm_path(path: str) -> str:
    parts = [p for p in str(path).strip().split("/") if p]
    return "/" + "/".join(parts)


def moto_api(endpoint: str, path: str) -> None:
    req = urllib.request.Request(endpoint.rstrip("/") + path, data=b"", method="POST")
    with urllib.request.urlopen(req, timeout=30) as resp:
        if resp.status != 200:
            raise RuntimeError(f"POST {path}: HTTP {resp.status}")


def clients(endpoint: str) -> tuple[Any, Any]:
    session = boto3.session.Session(
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    # One attempt: a retried request would consume moto's seeded generator and shift every id.
    cfg = Config(retries={"total_max_attempts": 1, "mode": "standard"}, max_pool_connections=16)
    return session, session.client("organizations", endpoint_url=endpoint, config=cfg)


# ----------------------------------------------------------------------------- spec handling


def expand_accounts(spec: dict[str, Any]) -> list[dict[str, Any]]:
    accounts: list[dict[str, Any]] = []
    for acc in spec.get("accounts", []):
        if not isinstance(acc, dict) or not acc.get("name"):
            raise SpecError(f"account entry needs a name: {acc!r}")
        accounts.append(
            {
                "name": str(acc["name"]),
                "ou": norm_path(acc.get("ou", "/")),
                "email": acc.get("email") or f"{acc['name']}@example.com",
                "suspended": bool(acc.get("suspended", False)),
                "execution_role": bool(acc.get("execution_role", True)),
                "enabled_regions": _regions_list(acc.get("enabled_regions", []), acc["name"]),
            }
        )
    gens = spec.get("generate", [])
    if isinstance(gens, dict):
        gens = [gens]
    for gen in gens:
        if "ou" not in gen or "accounts_per_ou" not in gen:
            raise SpecError(f"generate entry needs ou and accounts_per_ou: {gen!r}")
        count = int(gen.get("count", 1))
        if count > 1 and "{i" not in gen["ou"]:
            raise SpecError(f"generate ou {gen['ou']!r} needs an {{i}} field when count > 1")
        suspended = {int(j) for j in gen.get("suspended", [])}
        roleless = {int(j) for j in gen.get("without_execution_role", [])}
        for i in range(1, count + 1):
            ou = norm_path(gen["ou"].format(i=i))
            leaf = ou.rsplit("/", 1)[-1].lower() or "root"
            name_tpl = gen.get("name") or (leaf + "-{j:03d}")
            for j in range(1, int(gen["accounts_per_ou"]) + 1):
                name = name_tpl.format(i=i, j=j)
                accounts.append(
                    {
                        "name": name,
                        "ou": ou,
                        "email": f"{name}@example.com",
                        "suspended": j in suspended,
                        "execution_role": j not in roleless,
                        "enabled_regions": [],
                    }
                )
    seen: set[str] = set()
    for acc in accounts:
        if acc["name"] in seen:
            raise SpecError(f"duplicate account name {acc['name']!r}")
        seen.add(acc["name"])
    return accounts


def _regions_list(value: Any, name: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(r, str) for r in value):
        raise SpecError(f"account {name}: enabled_regions must be a list of Region names")
    return list(value)


def ou_paths(spec: dict[str, Any], accounts: list[dict[str, Any]]) -> list[str]:
    """All OU paths in creation order: declared first, then those only accounts mention;
    every parent before its children."""
    wanted = [norm_path(p) for p in spec.get("ous", [])] + [a["ou"] for a in accounts]
    ordered: list[str] = []
    for path in wanted:
        parts = path.strip("/").split("/") if path != "/" else []
        for n in range(1, len(parts) + 1):
            p = "/" + "/".join(parts[:n])
            if p not in ordered:
                ordered.append(p)
    return ordered


# ----------------------------------------------------------------------------- seeding


def create_ous(org: Any, root_id: str, paths: list[str]) -> dict[str, str]:
    ids: dict[str, str] = {"/": root_id}
    for path in paths:
        parent, _, name = path.rpartition("/")
        parent = parent or "/"
        ou = org.create_organizational_unit(ParentId=ids[parent], Name=name)
        ids[path] = ou["OrganizationalUnit"]["Id"]
        log(f"OU {path} = {ids[path]}")
    return ids


def create_account(org: Any, acc: dict[str, Any], ou_ids: dict[str, str], root_id: str) -> str:
    status = org.create_account(AccountName=acc["name"], Email=acc["email"])["CreateAccountStatus"]
    deadline = time.monotonic() + 60
    while status["State"] == "IN_PROGRESS":
        if time.monotonic() > deadline:
            raise RuntimeError(f"account {acc['name']}: creation still IN_PROGRESS after 60 s")
        time.sleep(0.2)
        status = org.describe_create_account_status(CreateAccountRequestId=status["Id"])[
            "CreateAccountStatus"
        ]
    if status["State"] != "SUCCEEDED":
        raise RuntimeError(f"account {acc['name']}: creation {status['State']}: {status}")
    account_id = status["AccountId"]
    if acc["ou"] != "/":
        org.move_account(
            AccountId=account_id, SourceParentId=root_id, DestinationParentId=ou_ids[acc["ou"]]
        )
    if acc["suspended"]:
        org.close_account(AccountId=account_id)
        got = org.describe_account(AccountId=account_id)["Account"]["Status"]
        if got != "SUSPENDED":
            raise RuntimeError(f"account {acc['name']}: status {got} after close_account")
    return account_id


def resolve_targets(
    inst: dict[str, Any], accounts_out: dict[str, dict[str, Any]], ou_ids: dict[str, str]
) -> list[str]:
    by_id = {a["id"] for a in accounts_out.values()} | {MANAGEMENT_ACCOUNT}
    refs = ([inst["account"]] if "account" in inst else []) + list(inst.get("accounts", []))
    result: list[str] = []
    for ref in refs:
        ref = str(ref)
        if ref in accounts_out:
            acct = accounts_out[ref]["id"]
        elif ref.isdigit() and len(ref) == 12:
            if ref not in by_id:
                log(f"note: instance target {ref} is not an account of this organization")
            acct = ref
        else:
            raise SpecError(f"stack set instance: unknown account {ref!r}")
        if acct not in result:
            result.append(acct)
    for ou in inst.get("ous", []):
        ou = norm_path(ou)
        if ou not in ou_ids:
            raise SpecError(f"stack set instance: unknown OU {ou!r}")
        prefix = ou.rstrip("/") + "/"
        for a in accounts_out.values():
            if (a["ou_path"] == ou or a["ou_path"].startswith(prefix)) and a["id"] not in result:
                result.append(a["id"])
    return result


def validate_stack_sets(
    stack_sets: list[dict[str, Any]], accounts: list[dict[str, Any]], paths: list[str], base: Path
) -> None:
    """Catch spec mistakes before anything is created."""
    names = {a["name"] for a in accounts}
    for ss in stack_sets:
        name = ss.get("name")
        if not name:
            raise SpecError(f"stack set needs a name: {ss!r}")
        if "template_body" not in ss:
            if "template" not in ss:
                raise SpecError(f"stack set {name}: needs template or template_body")
            if not (base / ss["template"]).is_file():
                raise SpecError(f"stack set {name}: template {base / ss['template']} not found")
        if not isinstance(ss.get("tags", {}), dict):
            raise SpecError(f"stack set {name}: tags must be an object of key: value")
        if not isinstance(ss.get("capabilities", []), list):
            raise SpecError(f"stack set {name}: capabilities must be a list")
        for inst in ss.get("instances", []):
            refs = ([inst["account"]] if "account" in inst else []) + list(inst.get("accounts", []))
            for ref in map(str, refs):
                if ref not in names and not (ref.isdigit() and len(ref) == 12):
                    raise SpecError(f"stack set {name}: unknown account {ref!r}")
            for ou in inst.get("ous", []):
                if norm_path(ou) not in paths:
                    raise SpecError(f"stack set {name}: unknown OU {ou!r}")
            if not inst.get("regions") or not (refs or inst.get("ous")):
                raise SpecError(f"stack set {name}: instance entry needs regions and targets")


def params(d: dict[str, Any]) -> list[dict[str, str]]:
    return [{"ParameterKey": str(k), "ParameterValue": str(v)} for k, v in d.items()]


def wait_operation(cfn: Any, name: str, op: str) -> str:
    """The final status of a stack set operation (the emulator runs operations over time)."""
    deadline = time.monotonic() + 300
    while True:
        status = cfn.describe_stack_set_operation(StackSetName=name, OperationId=op)[
            "StackSetOperation"
        ]["Status"]
        if status not in ("RUNNING", "QUEUED", "STOPPING"):
            return status
        if time.monotonic() > deadline:
            raise RuntimeError(f"stack set {name}: operation {op} still {status} after 300 s")
        time.sleep(0.05)


ADMINISTRATION_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "cloudformation.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


def execution_trust() -> dict[str, Any]:
    """The execution role's trust policy: the management (administrator) account may assume it."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{MANAGEMENT_ACCOUNT}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }


def member_client(session: Any, sts: Any, endpoint: str, account_id: str, service: str) -> Any:
    """A client acting as `account_id` (moto's AssumeRole credentials act as that account). One
    shared session and STS client keep this cheap for thousands of accounts."""
    creds = sts.assume_role(
        RoleArn=f"arn:aws:iam::{account_id}:role/OrganizationAccountAccessRole",
        RoleSessionName="seed-org",
    )["Credentials"]
    return session.client(
        service,
        endpoint_url=endpoint,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
    )


def prepare_account(
    session: Any, sts: Any, endpoint: str, acc: dict[str, Any], account_id: str, role_name: str
) -> None:
    """The StackSets execution role (trusting the management account) and the opt-in Regions."""
    if acc["execution_role"]:
        member_client(session, sts, endpoint, account_id, "iam").create_role(
            RoleName=role_name, AssumeRolePolicyDocument=json.dumps(execution_trust())
        )
    if acc["enabled_regions"]:
        account_api = member_client(session, sts, endpoint, account_id, "account")
        for region in acc["enabled_regions"]:
            account_api.enable_region(RegionName=region)


def prepare_roles(
    session: Any,
    endpoint: str,
    spec: dict[str, Any],
    accounts: list[dict[str, Any]],
    ids: dict[str, str],
    sequential: bool,
) -> None:
    """StackSets roles for self-managed stack sets, after every account exists (see the top)."""
    cfg = Config(retries={"total_max_attempts": 1, "mode": "standard"})
    if spec.get("administration_role", True):
        session.client("iam", endpoint_url=endpoint, config=cfg).create_role(
            RoleName="AWSCloudFormationStackSetAdministrationRole",
            AssumeRolePolicyDocument=json.dumps(ADMINISTRATION_TRUST),
        )
    role_name = str(spec.get("execution_role_name") or "AWSCloudFormationStackSetExecutionRole")
    sts = session.client("sts", endpoint_url=endpoint, config=cfg)
    if not spec.get("execution_roles", True):
        accounts = [{**acc, "execution_role": False} for acc in accounts]
    elif spec.get("management_execution_role", True):
        # A self-managed stack set may target its own administrator account: that account needs
        # the execution role too ("Grant self-managed permissions", CloudFormation User Guide).
        session.client("iam", endpoint_url=endpoint, config=cfg).create_role(
            RoleName=role_name, AssumeRolePolicyDocument=json.dumps(execution_trust())
        )
    if sequential:
        for acc in accounts:
            prepare_account(session, sts, endpoint, acc, ids[acc["name"]], role_name)
    else:
        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            futures = [
                pool.submit(
                    prepare_account, session, sts, endpoint, acc, ids[acc["name"]], role_name
                )
                for acc in accounts
            ]
            for fut in concurrent.futures.as_completed(futures):
                fut.result()
    n = sum(1 for a in accounts if a["execution_role"])
    log(f"StackSets roles: administration role and {n} execution role(s)")


def create_stack_sets(
    session: Any,
    endpoint: str,
    stack_sets: list[dict[str, Any]],
    base_dir: Path,
    accounts_out: dict[str, dict[str, Any]],
    ou_ids: dict[str, str],
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    cfg = Config(retries={"total_max_attempts": 1, "mode": "standard"})
    for ss in stack_sets:
        name = ss.get("name")
        if not name:
            raise SpecError(f"stack set needs a name: {ss!r}")
        if "template_body" in ss:
            body = ss["template_body"]
            if not isinstance(body, str):
                body = json.dumps(body)
        elif "template" in ss:
            body = (base_dir / ss["template"]).read_text()
        else:
            raise SpecError(f"stack set {name}: needs template or template_body")
        region = ss.get("region", "us-east-1")
        cfn = session.client(
            "cloudformation", endpoint_url=endpoint, region_name=region, config=cfg
        )
        kwargs: dict[str, Any] = {
            "StackSetName": name,
            "TemplateBody": body,
            "PermissionModel": "SELF_MANAGED",
            "Parameters": params(ss.get("parameters", {})),
            "Capabilities": list(ss.get("capabilities", DEFAULT_CAPABILITIES)),
            "Tags": [{"Key": str(k), "Value": str(v)} for k, v in ss.get("tags", {}).items()],
        }
        if ss.get("description"):
            kwargs["Description"] = ss["description"]
        if ss.get("administration_role_arn"):
            kwargs["AdministrationRoleARN"] = ss["administration_role_arn"]
        if ss.get("execution_role_name"):
            kwargs["ExecutionRoleName"] = ss["execution_role_name"]
        stack_set_id = cfn.create_stack_set(**kwargs)["StackSetId"]
        log(f"stack set {name} = {stack_set_id} ({region})")
        for inst in ss.get("instances", []):
            accts = resolve_targets(inst, accounts_out, ou_ids)
            regions = list(inst.get("regions", []))
            if not accts or not regions:
                raise SpecError(f"stack set {name}: instance entry without accounts or regions")
            ikw: dict[str, Any] = {"StackSetName": name, "Accounts": accts, "Regions": regions}
            if inst.get("parameter_overrides"):
                ikw["ParameterOverrides"] = params(inst["parameter_overrides"])
            op = cfn.create_stack_instances(**ikw)["OperationId"]
            status = wait_operation(cfn, name, op)
            if status != "SUCCEEDED":
                results = cfn.list_stack_set_operation_results(StackSetName=name, OperationId=op)
                reasons = sorted(
                    {
                        f"{r['Account']} {r['Region']}: {r.get('StatusReason')}"
                        for r in results["Summaries"]
                        if r["Status"] != "SUCCEEDED"
                    }
                )
                raise RuntimeError(f"stack set {name}: operation {op} is {status}: {reasons}")
            log(f"stack set {name}: {len(accts)} account(s) x {regions}")
        summaries = [
            row
            for page in cfn.get_paginator("list_stack_instances").paginate(StackSetName=name)
            for row in page["Summaries"]
        ]
        out[name] = {
            "id": stack_set_id,
            "region": region,
            "instances": sorted([s["Account"], s["Region"]] for s in summaries),
        }
    return out


STACKSETS_PRINCIPAL = "member.org.stacksets.cloudformation.amazonaws.com"


def trusted_principals(spec: dict[str, Any]) -> list[str]:
    value = spec.get("trusted_access", [])
    if value is True:
        return [STACKSETS_PRINCIPAL]
    if value is False or value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SpecError("trusted_access must be true or a list of service principals")
    return list(value)


def delegated_entries(
    spec: dict[str, Any], accounts: list[dict[str, Any]]
) -> list[tuple[str, str]]:
    names = {a["name"] for a in accounts}
    out: list[tuple[str, str]] = []
    for entry in spec.get("delegated_administrators", []):
        if not isinstance(entry, dict) or "account" not in entry:
            raise SpecError(f"delegated_administrators entry needs an account: {entry!r}")
        ref = str(entry["account"])
        if ref not in names and not (ref.isdigit() and len(ref) == 12):
            raise SpecError(f"delegated_administrators: unknown account {ref!r}")
        out.append((ref, str(entry.get("service_principal") or STACKSETS_PRINCIPAL)))
    return out


def organization_access(
    org: Any, principals: list[str], delegated: list[tuple[str, str]], ids: dict[str, str]
) -> list[list[str]]:
    """Trusted access and delegated administrators ("Activate trusted access for StackSets with
    AWS Organizations" and "Register a delegated administrator member account", AWS
    CloudFormation User Guide)."""
    for principal in principals:
        org.enable_aws_service_access(ServicePrincipal=principal)
        log(f"trusted access for {principal}")
    out: list[list[str]] = []
    for ref, principal in delegated:
        account_id = ids.get(ref, ref)
        org.register_delegated_administrator(AccountId=account_id, ServicePrincipal=principal)
        log(f"delegated administrator {ref} ({account_id}) for {principal}")
        out.append([account_id, principal])
    return out


def seed(endpoint: str, spec: dict[str, Any], base_dir: Path, reset: bool) -> dict[str, Any]:
    accounts = expand_accounts(spec)
    paths = ou_paths(spec, accounts)
    validate_stack_sets(spec.get("stack_sets", []), accounts, paths, base_dir)
    principals = trusted_principals(spec)
    delegated = delegated_entries(spec, accounts)
    if reset:
        moto_api(endpoint, "/moto-api/reset")
        log("moto state reset")
    seed_value = spec.get("seed")
    if seed_value is not None:
        moto_api(endpoint, f"/moto-api/seed?a={int(seed_value)}")
        log(f"moto random generator seeded with {int(seed_value)}")

    session, org = clients(endpoint)
    try:
        organization = org.create_organization(FeatureSet="ALL")["Organization"]
    except org.exceptions.AlreadyInOrganizationException:
        raise RuntimeError("moto already holds an organization; pass --reset to wipe it") from None
    if organization["MasterAccountId"] != MANAGEMENT_ACCOUNT:
        raise RuntimeError(f"unexpected management account {organization['MasterAccountId']}")
    root_id = org.list_roots()["Roots"][0]["Id"]
    log(f"organization {organization['Id']}, root {root_id}")

    ou_ids = create_ous(org, root_id, paths)

    t0 = time.monotonic()
    ids: dict[str, str] = {}
    if seed_value is not None or len(accounts) < 8:
        for acc in accounts:
            ids[acc["name"]] = create_account(org, acc, ou_ids, root_id)
    else:
        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            futs = {pool.submit(create_account, org, a, ou_ids, root_id): a for a in accounts}
            for fut in concurrent.futures.as_completed(futs):
                ids[futs[fut]["name"]] = fut.result()
    log(f"{len(accounts)} account(s) created in {time.monotonic() - t0:.1f} s")
    sequential = seed_value is not None or len(accounts) < 8
    prepare_roles(session, endpoint, spec, accounts, ids, sequential)
    registered = organization_access(org, principals, delegated, ids)

    accounts_out: dict[str, dict[str, Any]] = {}
    for acc in accounts:
        accounts_out[acc["name"]] = {
            "id": ids[acc["name"]],
            "email": acc["email"],
            "ou_path": acc["ou"],
            "parent_id": ou_ids[acc["ou"]],
            "status": "SUSPENDED" if acc["suspended"] else "ACTIVE",
            "execution_role": acc["execution_role"] and bool(spec.get("execution_roles", True)),
            "enabled_regions": acc["enabled_regions"],
        }

    stack_sets = create_stack_sets(
        session, endpoint, spec.get("stack_sets", []), base_dir, accounts_out, ou_ids
    )

    return {
        "organization_id": organization["Id"],
        "root_id": root_id,
        "management_account": MANAGEMENT_ACCOUNT,
        "seed": seed_value,
        "ous": {p: i for p, i in ou_ids.items() if p != "/"},
        "accounts": accounts_out,
        "stack_sets": stack_sets,
        "trusted_access": principals,
        "delegated_administrators": registered,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--endpoint", help="moto server URL, e.g. http://127.0.0.1:5000")
    src = ap.add_mutually_exclusive_group()
    src.add_argument("--example", action="store_true", help="seed the demo organization")
    src.add_argument("--spec", metavar="FILE", help="JSON spec file, or - for stdin")
    src.add_argument("--dump-example", action="store_true", help="print the example spec")
    ap.add_argument("--reset", action="store_true", help="POST /moto-api/reset first")
    args = ap.parse_args()

    if args.dump_example:
        json.dump(EXAMPLE_SPEC, sys.stdout, indent=2)
        print()
        return 0
    if not args.endpoint or not (args.example or args.spec):
        ap.error("--endpoint and one of --example / --spec are required")

    try:
        if args.example:
            spec, base_dir = EXAMPLE_SPEC, Path.cwd()
        elif args.spec == "-":
            spec, base_dir = json.load(sys.stdin), Path.cwd()
        else:
            spec_path = Path(args.spec)
            spec, base_dir = json.loads(spec_path.read_text()), spec_path.resolve().parent
        if not isinstance(spec, dict):
            raise SpecError("the spec must be a JSON object")
        result = seed(args.endpoint, spec, base_dir, args.reset)
    except SpecError as e:
        log(f"error in spec: {e}")
        return 2
    except Exception as e:  # noqa: BLE001 - one clear line for any failure
        log(f"error: {type(e).__name__}: {e}")
        return 1
    json.dump(result, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
