"""Stand-ins for the organization side's functions (E2's `targets`, `access`, `outcomes`, `drift`),
used only while those modules do not exist yet. `peer(name)` returns E2's module when present,
else the stand-in here. Each stand-in is the plainest reading of the interface in
EMULATOR-DESIGN.md; E2's modules replace them, with the AWS rules.
"""

from __future__ import annotations

import importlib
from types import ModuleType, SimpleNamespace
from typing import Any

from moto.organizations.models import organizations_backends


def peer(name: str) -> Any:
    """E2's module `tests.emulator.<name>` if it exists, else the stand-in of this file."""
    try:
        return importlib.import_module(f"{__package__}.{name}")
    except ModuleNotFoundError as err:
        if err.name != f"{__package__}.{name}":
            raise
        return _STANDINS[name]


def _org(account: str) -> Any:
    backend = organizations_backends[account]["aws"]
    return backend if backend.org else None


def _resolve(
    admin_account: str,
    stack_set: Any,
    *,
    accounts: list[str] | None,
    deployment_targets: dict | None,
    regions: list[str],
    action: str,
) -> list[tuple[str, str]]:
    if stack_set.permission_model != "SERVICE_MANAGED":
        return [(a, r) for r in regions for a in (accounts or [])]
    backend = _org(admin_account)
    ous = list((deployment_targets or {}).get("OrganizationalUnitIds", []))
    if backend is None:
        return []
    wanted = set(ous)
    changed = True
    while changed:  # nested OUs
        changed = False
        for ou in backend.ou:
            if ou.parent_id in wanted and ou.id not in wanted:
                wanted.add(ou.id)
                changed = True
    members = [
        a.id
        for a in backend.accounts
        if a.parent_id in wanted and a.id != backend.org.master_account_id
    ]
    return [(a, r) for r in regions for a in members]


_RECORDED: dict[tuple[str, str, str], set[str]] = {}


def _record(admin_account: str, region: str, name: str, ou_ids: list[str]) -> None:
    _RECORDED.setdefault((admin_account, region, name), set()).update(ou_ids)


def _targeted_ous(admin_account: str, region: str, name: str) -> list[str]:
    return sorted(_RECORDED.get((admin_account, region, name), set()))


def _check(
    caller_account: str, call_as: str, permission_model: str | None, operation: str
) -> str:
    if call_as == "DELEGATED_ADMIN":
        for backend in (organizations_backends[caller_account]["aws"],):
            if backend.org:
                return backend.org.master_account_id
    return caller_account


def _visible(caller_account: str, call_as: str, stack_set: Any) -> bool:
    return (
        call_as != "DELEGATED_ADMIN" or stack_set.permission_model == "SERVICE_MANAGED"
    )


def _instance_outcome(
    admin_account: str, stack_set: Any, account: str, region: str
) -> tuple[str, str] | None:
    return None


def _detect(
    account: str,
    region: str,
    stack_id_or_name: str,
    template_body: str,
    parameters: dict,
) -> tuple[str, list[dict]]:
    return "IN_SYNC", []


_STANDINS: dict[str, ModuleType | SimpleNamespace] = {
    "targets": SimpleNamespace(
        resolve=_resolve, record=_record, targeted_ous=_targeted_ous
    ),
    "access": SimpleNamespace(check=_check, visible=_visible),
    "outcomes": SimpleNamespace(instance_outcome=_instance_outcome),
    "drift": SimpleNamespace(detect=_detect),
}
