"""Which (account, Region) cells a stack instance operation touches, as AWS decides it.

The decisions are pure functions over an `OrgTree` (plain data: OU parents, account parents and
states, the management account); `org_tree()` is the one small adapter that reads it from moto's
Organizations backend, and `resolve()` is what the StackSets patches call.

Documents followed (each rule below names the one it comes from):

- [DT] "DeploymentTargets", AWS CloudFormation API Reference,
  https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DeploymentTargets.html
  — INTERSECTION / DIFFERENCE / UNION / NONE; "UNION is not supported for CreateStackInstances";
  "CloudFormation doesn't deploy stack instances to the organization management account, even if
  the organization management account is in your organization or in an OU in your organization";
  "When performing create operations, if you specify both OrganizationalUnitIds and Accounts, you
  must also specify the AccountFilterType property"; "For update operations, you can specify
  either Accounts or OrganizationalUnitIds. For create and delete operations, specify
  OrganizationalUnitIds."
- [ALT] "Account-level targets for service-managed StackSets", AWS CloudFormation User Guide,
  https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/account-level-targets.html
  — the CLI examples: INTERSECTION and DIFFERENCE on create, UNION on update.
- [CSI] "CreateStackInstances" / [DSI] "DeleteStackInstances", API Reference,
  https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStackInstances.html
  https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DeleteStackInstances.html
  — "The maximum number of organizational unit (OUs) supported by a CreateStackInstances
  [DeleteStackInstances] operation is 50"; "You can specify Accounts or DeploymentTargets, but
  not both"; "target a parent OU that contains all desired child OUs" (nested OUs are included).
- [TF] terraform-provider-aws #27877 and #33785 (UpdateStackInstances):
  "ValidationError: Organizational unit ou-xxxxxxxxx not found in StackSet".
- [RA] "Troubleshoot cross-account analyses in Reachability Analyzer", Amazon VPC Reachability
  Analyzer guide, https://docs.aws.amazon.com/vpc/latest/reachability/multi-account-troubleshooting.html
  — "Organizational unit not found in StackSet" appears *while disabling trusted access*, the step
  that deletes that feature's stack instances by OU.
- [CLI8248] aws/aws-cli #8248: DeleteStackInstances of a service-managed stack set with
  `Accounts` only fails with "StackSets with SERVICE_MANAGED permission model can only have
  OrganizationalUnit as target".

DeleteStackInstances with an OU the stack set does not target: no AWS page says it directly. The
only evidence is [RA], where the same message comes from a flow that deletes instances by OU;
it is second-hand (we do not see the call), so we are moderately sure. The emulator therefore
applies the UPDATE rule to DELETE as well (ValidationError, same wording), which is also the
strictest reading. Where an instance was deployed through an OU, UPDATE and DELETE select it by
the OU recorded for it at creation (or at auto-deployment), not by the account's current parent.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from tests.emulator.errors import AwsError

ACTIONS = ("CREATE", "UPDATE", "DELETE")
FILTER_TYPES = ("NONE", "INTERSECTION", "DIFFERENCE", "UNION")
MAX_OUS = 50
ACCOUNT_RE = re.compile(r"^[0-9]{12}$")
OU_RE = re.compile(r"^(ou-[a-z0-9]{4,32}-[a-z0-9]{8,32}|r-[a-z0-9]{4,32})$")
SUSPENDED_STATES = ("SUSPENDED", "PENDING_CLOSURE", "CLOSED")

SERVICE_MANAGED_ONLY_OUS = (
    "StackSets with SERVICE_MANAGED permission model can only have OrganizationalUnit as target"
)
SELF_MANAGED_ONLY_ACCOUNTS = (
    "StackSets with SELF_MANAGED permission model can only have accounts as target"
)


class TargetOperationFailure(AwsError):
    """A target problem AWS reports on the *operation*, not on the call: CreateStackInstances with an
    OU that does not exist is accepted and the operation ends FAILED with the status reason
    "Target organizational unit could not be found" (elastic/cloudbeat #2681 shows this reason on
    an AWS operation). The engine may catch it to record a FAILED operation with
    `operation_status_reason`; left uncaught it surfaces as a ValidationError."""

    def __init__(self, reason: str) -> None:
        super().__init__("ValidationError", reason)
        self.operation_status_reason = reason


@dataclass
class OrgTree:
    """The organization as plain data.

    `parents` maps every OU id (and the root id, to None) to its parent id; `accounts` maps every
    account id to its parent id; `states` maps account id to its status (ACTIVE, SUSPENDED, ...)."""

    root: str
    management: str
    parents: dict[str, str | None] = field(default_factory=dict)
    accounts: dict[str, str] = field(default_factory=dict)
    states: dict[str, str] = field(default_factory=dict)

    def has_ou(self, ou: str) -> bool:
        return ou in self.parents

    def ancestors(self, node: str) -> list[str]:
        """The OUs (and root) above an OU or an account, nearest first."""
        out: list[str] = []
        parent = self.accounts.get(node) if node in self.accounts else self.parents.get(node)
        while parent is not None:
            out.append(parent)
            parent = self.parents.get(parent)
        return out

    def accounts_under(self, ou: str) -> list[str]:
        """Every account in `ou` or any OU below it (nested OUs included, [CSI]), in a stable
        order; the management account is left out ([DT])."""
        return [
            acct
            for acct in sorted(self.accounts)
            if acct != self.management and (ou in self.ancestors(acct))
        ]


# ----------------------------------------------------------------------------- pure decisions


def _validation(message: str) -> AwsError:
    return AwsError("ValidationError", message)


def _dedup(items: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for item in items:
        seen.setdefault(item, None)
    return list(seen)


def check_filter_type(value: str | None) -> None:
    if value is not None and value not in FILTER_TYPES:
        raise _validation(
            "1 validation error detected: Value '"
            + str(value)
            + "' at 'deploymentTargets.accountFilterType' failed to satisfy constraint: Member "
            "must satisfy enum value set: [NONE, INTERSECTION, DIFFERENCE, UNION]"
        )


def check_accounts(accounts: Iterable[str], where: str) -> None:
    for acct in accounts:
        if not ACCOUNT_RE.match(str(acct)):
            raise _validation(
                f"1 validation error detected: Value '[{acct}]' at '{where}' failed to satisfy "
                "constraint: Member must satisfy constraint: [Member must have length less than or "
                "equal to 12, Member must have length greater than or equal to 12, Member must "
                "satisfy regular expression pattern: ^[0-9]{12}$]"
            )


def self_managed_cells(
    accounts: list[str] | None, deployment_targets: dict | None, regions: list[str]
) -> list[tuple[str, str]]:
    """Self-managed: the rectangle `accounts` × `regions` ([CSI]: "You can specify Accounts or
    DeploymentTargets, but not both"; OUs are service-managed only)."""
    dt = deployment_targets or {}
    if dt.get("OrganizationalUnitIds"):
        raise _validation(SELF_MANAGED_ONLY_ACCOUNTS)
    if accounts and dt.get("Accounts"):
        raise _validation("You can specify Accounts or DeploymentTargets, but not both.")
    chosen = _dedup(accounts or dt.get("Accounts") or [])
    check_accounts(chosen, "accounts")
    return [(acct, region) for region in _dedup(regions) for acct in chosen]


def service_managed_accounts(
    tree: OrgTree,
    deployment_targets: dict | None,
    action: str,
    *,
    accounts_param: list[str] | None = None,
    targeted_ous: set[str] | None = None,
    recorded: dict[str, set[str]] | None = None,
) -> list[str]:
    """The accounts a service-managed operation touches.

    CREATE expands the OUs in the current tree (nested OUs included). UPDATE and DELETE first
    require every OU to be one the stack set targets ([TF], [RA]) and then select the accounts
    whose instance was recorded under one of those OUs (`recorded`: account -> OUs); the account
    filter ([DT], [ALT]) is applied last. The management account is never returned ([DT])."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    if accounts_param:
        # [CLI8248]: Accounts (outside DeploymentTargets) is the self-managed form.
        raise _validation(SERVICE_MANAGED_ONLY_OUS)
    dt = deployment_targets or {}
    if dt.get("AccountsUrl"):
        raise _validation("AccountsUrl is not supported by the stackfleet emulator")
    ous = _dedup(dt.get("OrganizationalUnitIds") or [])
    listed = _dedup(dt.get("Accounts") or [])
    filter_type = dt.get("AccountFilterType")
    check_filter_type(filter_type)
    check_accounts(listed, "deploymentTargets.accounts")

    if len(ous) > MAX_OUS:
        raise _validation(
            f"The maximum number of organizational units (OUs) supported by a stack set operation "
            f"is {MAX_OUS}; this request has {len(ous)}"
        )
    for ou in ous:
        if not OU_RE.match(ou):
            raise _validation(
                f"1 validation error detected: Value '[{ou}]' at "
                "'deploymentTargets.organizationalUnitIds' failed to satisfy constraint: Member "
                "must satisfy constraint: [Member must satisfy regular expression pattern: "
                "^(ou-[a-z0-9]{4,32}-[a-z0-9]{8,32}|r-[a-z0-9]{4,32})$]"
            )

    if action in ("CREATE", "DELETE") and not ous:
        # [DT]: "For create and delete operations, specify OrganizationalUnitIds."
        raise _validation(SERVICE_MANAGED_ONLY_OUS)
    if action == "CREATE":
        if filter_type == "UNION":
            raise _validation("AccountFilterType UNION is not supported for CreateStackInstances")
        if ous and listed and filter_type is None:
            raise _validation(
                "When performing create operations, if you specify both OrganizationalUnitIds and "
                "Accounts, you must also specify the AccountFilterType property"
            )
    if filter_type == "NONE" and listed:
        # [DT]: NONE acts on all accounts of the OUs. Accounts next to it mean nothing; AWS does
        # not say whether it ignores them, so the emulator takes the strict reading and refuses.
        raise _validation("Accounts cannot be specified when AccountFilterType is NONE")
    if filter_type in ("INTERSECTION", "DIFFERENCE") and not listed:
        raise _validation(f"AccountFilterType {filter_type} requires Accounts")
    if filter_type in ("INTERSECTION", "DIFFERENCE") and not ous:
        raise _validation(f"AccountFilterType {filter_type} requires OrganizationalUnitIds")

    if action == "CREATE":
        for ou in ous:
            if not tree.has_ou(ou):
                raise TargetOperationFailure("Target organizational unit could not be found")
        in_ous = _dedup(acct for ou in ous for acct in tree.accounts_under(ou))
    else:
        targeted = targeted_ous or set()
        for ou in ous:
            if ou not in targeted:
                raise _validation(f"Organizational unit {ou} not found in StackSet")
        rec = recorded or {}
        wanted = set(ous)
        in_ous = [acct for acct in sorted(rec) if rec[acct] & wanted]

    if not ous:
        chosen = listed  # UPDATE with Accounts only
    elif filter_type == "INTERSECTION":
        chosen = [acct for acct in in_ous if acct in set(listed)]
    elif filter_type == "DIFFERENCE":
        chosen = [acct for acct in in_ous if acct not in set(listed)]
    elif filter_type == "UNION" or (filter_type is None and listed):
        chosen = _dedup([*in_ous, *listed])
    else:  # NONE, or OUs alone
        chosen = in_ous
    return [acct for acct in chosen if acct != tree.management]


def ous_of_accounts(tree: OrgTree, ous: Iterable[str]) -> dict[str, set[str]]:
    """account -> the given OUs that contain it now (the OU an instance is recorded under)."""
    out: dict[str, set[str]] = {}
    for ou in ous:
        if not tree.has_ou(ou):
            continue
        for acct in tree.accounts_under(ou):
            out.setdefault(acct, set()).add(ou)
    return out


# ----------------------------------------------------------------------------- moto adapter


def org_backend(account: str) -> Any:
    """The Organizations backend of the organization `account` belongs to (its management
    account's backend), or None."""
    from moto.organizations.models import organizations_backends

    backend = organizations_backends[account]["aws"]
    if backend.org is not None:
        return backend
    owner = organizations_backends.master_accounts.get(account)
    if owner is not None:
        master = organizations_backends[owner[0]][owner[1]]
        if master.org is not None:
            return master
    return None


def org_tree(account: str) -> OrgTree | None:
    """The organization of `account` read from moto, or None when it is in none."""
    backend = org_backend(account)
    if backend is None:
        return None
    org = backend.org
    tree = OrgTree(root=org.root_id, management=org.master_account_id)
    for ou in backend.ou:
        tree.parents[ou.id] = None if ou.id == org.root_id else ou.parent_id
    for acct in backend.accounts:
        tree.accounts[acct.id] = acct.parent_id
        tree.states[acct.id] = acct.status
    return tree


def _stack_set_region(stack_set: Any) -> str:
    arn = getattr(stack_set, "arn", "") or ""
    parts = arn.split(":")
    return parts[3] if len(parts) > 3 else "us-east-1"


# Targets remembered per stack set, keyed by (admin account, home Region, stack set name): the OUs
# it targets and, per account, the OUs its instances were recorded under. Cleared when moto is
# reset (see `install`).
_TARGETED: dict[tuple[str, str, str], set[str]] = {}
_RECORDED: dict[tuple[str, str, str], dict[str, set[str]]] = {}
# The Regions of the CREATE operations that targeted OUs: auto-deployment deploys new accounts "in
# the specified Regions" (AutoDeployment, API Reference), even when the OU was empty at creation.
# `resolve` notes the Regions of a CREATE; `record` keeps them once the CREATE is accepted.
_REGIONS: dict[tuple[str, str, str], list[str]] = {}
_PENDING_REGIONS: dict[tuple[str, str, str], list[str]] = {}


def _key(admin_account: str, region: str, stack_set_name: str) -> tuple[str, str, str]:
    return (admin_account, region, stack_set_name)


def record(admin_account: str, region: str, stack_set_name: str, ou_ids: Iterable[str]) -> None:
    """Remembers that an accepted CREATE targeted `ou_ids`, and records each account now in one of
    them under that OU (what DeleteStackInstances/UpdateStackInstances later select by)."""
    key = _key(admin_account, region, stack_set_name)
    ous = list(ou_ids)
    _TARGETED.setdefault(key, set()).update(ous)
    known = _REGIONS.setdefault(key, [])
    known.extend(r for r in _PENDING_REGIONS.pop(key, []) if r not in known)
    tree = org_tree(admin_account)
    if tree is None:
        return
    rec = _RECORDED.setdefault(key, {})
    for acct, found in ous_of_accounts(tree, ous).items():
        rec.setdefault(acct, set()).update(found)


def record_account(
    admin_account: str, region: str, stack_set_name: str, account: str, ou: str
) -> None:
    """Records one account under a targeted OU (auto-deployment)."""
    key = _key(admin_account, region, stack_set_name)
    _RECORDED.setdefault(key, {}).setdefault(account, set()).add(ou)


def forget_account(admin_account: str, region: str, stack_set_name: str, account: str) -> None:
    """Forgets an account whose instances were removed (auto-deployment)."""
    _RECORDED.get(_key(admin_account, region, stack_set_name), {}).pop(account, None)


def deployment_regions(admin_account: str, region: str, stack_set_name: str) -> list[str]:
    """The Regions the stack set's OU targets were created in (for auto-deployment)."""
    return list(_REGIONS.get(_key(admin_account, region, stack_set_name), []))


def targeted_ous(admin_account: str, region: str, stack_set_name: str) -> list[str]:
    """The OUs the stack set targets (sorted)."""
    return sorted(_TARGETED.get(_key(admin_account, region, stack_set_name), set()))


def recorded_accounts(admin_account: str, region: str, stack_set_name: str) -> dict[str, set[str]]:
    """account -> OUs its instances are recorded under."""
    return {
        acct: set(ous)
        for acct, ous in _RECORDED.get(_key(admin_account, region, stack_set_name), {}).items()
    }


def instance_ou(admin_account: str, region: str, stack_set_name: str, account: str) -> str | None:
    """The OrganizationalUnitId to show for an instance (ListStackInstances), or None."""
    ous = _RECORDED.get(_key(admin_account, region, stack_set_name), {}).get(account)
    return min(ous) if ous else None


def untarget(
    admin_account: str,
    region: str,
    stack_set_name: str,
    ou_ids: Iterable[str],
    remaining_accounts: Iterable[str],
) -> list[str]:
    """After a DeleteStackInstances by OU has finished: the OUs of `ou_ids` under which none of
    `remaining_accounts` (the accounts that still have an instance) is recorded stop being targets
    (DescribeStackSet no longer lists them, an UPDATE naming them is "not found in StackSet", and
    automatic deployment stops following them). Returns the OUs dropped."""
    key = _key(admin_account, region, stack_set_name)
    rec = _RECORDED.get(key, {})
    left = set(remaining_accounts)
    for acct in list(rec):
        if acct not in left:
            rec[acct] -= set(ou_ids)
            if not rec[acct]:
                del rec[acct]
    still = {ou for acct in left for ou in rec.get(acct, set())}
    dropped = sorted(
        ou for ou in set(ou_ids) if ou in _TARGETED.get(key, set()) and ou not in still
    )
    _TARGETED.get(key, set()).difference_update(dropped)
    return dropped


def forget_stack_set(admin_account: str, region: str, stack_set_name: str) -> None:
    """Drops what is remembered about a deleted stack set."""
    key = _key(admin_account, region, stack_set_name)
    _TARGETED.pop(key, None)
    _RECORDED.pop(key, None)
    _REGIONS.pop(key, None)


def resolve(
    admin_account: str,
    stack_set: Any,
    *,
    accounts: list[str] | None,
    deployment_targets: dict | None,
    regions: list[str],
    action: str,
) -> list[tuple[str, str]]:
    """The (account, Region) cells an instance operation touches, in Region-major order.

    Raises `AwsError("ValidationError", ...)` as AWS does, and `TargetOperationFailure` for an OU
    that does not exist on CREATE. For UPDATE/DELETE the cells may include pairs without an
    instance; the caller keeps those that exist (AWS deletes nothing there and succeeds)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    model = getattr(stack_set, "permission_model", None) or "SELF_MANAGED"
    if model != "SERVICE_MANAGED":
        return self_managed_cells(accounts, deployment_targets, regions)
    tree = org_tree(admin_account)
    if tree is None:
        raise _validation(
            "You must be the management account or delegated admin account of an organization "
            "before operating a SERVICE_MANAGED stack set"
        )
    key = _key(admin_account, _stack_set_region(stack_set), stack_set.name)
    if action == "CREATE":
        _PENDING_REGIONS[key] = _dedup(regions)
    chosen = service_managed_accounts(
        tree,
        deployment_targets,
        action,
        accounts_param=accounts,
        targeted_ous=_TARGETED.get(key, set()),
        recorded=_RECORDED.get(key, {}),
    )
    return [(acct, region) for region in _dedup(regions) for acct in chosen]


def _reset() -> None:
    _TARGETED.clear()
    _RECORDED.clear()
    _REGIONS.clear()
    _PENDING_REGIONS.clear()


# Functions to run after moto's state is wiped (POST /moto-api/reset): the organization side keeps a
# little state outside moto's backends, and it must go with them.
_RESET_HOOKS: list[Callable[[], None]] = [_reset]


def on_reset(hook: Callable[[], None]) -> None:
    """Runs `hook` after every reset of moto's backends."""
    if hook not in _RESET_HOOKS:
        _RESET_HOOKS.append(hook)


def install() -> None:
    """Wraps moto's `BackendDict.reset` once so that the reset hooks run after it."""
    from moto.core.base_backend import BackendDict

    original = BackendDict.reset.__func__  # type: ignore[attr-defined]
    if getattr(original, "_stackfleet_reset_hooks", False):
        return

    def reset(cls: Any) -> None:
        original(cls)
        for hook in list(_RESET_HOOKS):
            hook()

    reset._stackfleet_reset_hooks = True  # type: ignore[attr-defined]
    BackendDict.reset = classmethod(reset)  # type: ignore[method-assign, assignment]
