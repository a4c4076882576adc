"""The Account Management API's Region opt-in, per account: ListRegions, GetRegionOptStatus,
EnableRegion and DisableRegion, with `AccountId` (moto 5.2.5 has none of them).

Documents followed:

- [MAR] "Enable or disable AWS Regions in your account", AWS Account Management Reference Guide,
  https://docs.aws.amazon.com/accounts/latest/reference/manage-acct-regions.html — "Regions
  launched before March 20, 2019 are enabled by default ... Default Regions cannot be enabled or
  disabled"; opt-in Regions are disabled by default; enabling takes minutes (ENABLING) and the
  Region cannot be used until it is done.
- [LR] "ListRegions", [GROS] "GetRegionOptStatus", [ER] "EnableRegion", [DR] "DisableRegion",
  AWS Account Management API Reference,
  https://docs.aws.amazon.com/accounts/latest/reference/API_ListRegions.html (and siblings) —
  statuses ENABLED | ENABLING | DISABLING | DISABLED | ENABLED_BY_DEFAULT; MaxResults 1–50;
  RegionOptStatusContains; `AccountId` only from the management account or the Account
  Management delegated administrator, for a member of the same organization with trusted access
  for account.amazonaws.com; "The management account can't specify its own AccountId";
  ConflictException when enabling a Region that is DISABLING (and the reverse).

Vague in AWS's documents: the exact error codes and messages for a forbidden `AccountId`, for the
management account naming itself and for enabling a default Region. The emulator answers
AccessDeniedException for the first and ValidationException for the other two, with messages of
its own wording.

Time: ENABLING / DISABLING last `OPT_IN_SECONDS` emulated seconds ("a few minutes", [MAR]), scaled by
the emulator's time scale (control.py), then become ENABLED / DISABLED.
"""

from __future__ import annotations

import json
import time
from typing import Any

from tests.emulator import org
from tests.emulator.errors import AwsError

# [MAR]: Regions launched before March 20, 2019.
DEFAULT_REGIONS = (
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "ca-central-1",
    "eu-central-1",
    "eu-north-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
)
# [MAR]: Regions launched later, disabled until the account opts in.
OPT_IN_REGIONS = (
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-south-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-6",
    "ap-southeast-7",
    "ca-west-1",
    "eu-central-2",
    "eu-south-1",
    "eu-south-2",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "mx-central-1",
)
ALL_REGIONS = tuple(sorted(DEFAULT_REGIONS + OPT_IN_REGIONS))
STATUSES = ("ENABLED", "ENABLING", "DISABLING", "DISABLED", "ENABLED_BY_DEFAULT")
OPT_IN_SECONDS = 300.0
MAX_RESULTS = 50

# (account, region) -> (status, real time at which a transition settles or None)
_STATE: dict[tuple[str, str], tuple[str, float | None]] = {}


def _reset() -> None:
    _STATE.clear()


def _settle_seconds() -> float:
    try:
        from tests.emulator.control import CONFIG

        return OPT_IN_SECONDS * CONFIG.time_scale
    except ImportError:  # pragma: no cover - control.py is always there in the emulator
        return 0.0


def _validation(message: str) -> AwsError:
    return AwsError("ValidationException", message)


def check_region(region: str) -> None:
    if region not in ALL_REGIONS:
        raise _validation(f"The Region {region} is not a valid Region name.")


def status(account: str, region: str) -> str:
    """The opt-in status of `region` for `account` ([MAR], [GROS])."""
    if region in DEFAULT_REGIONS:
        return "ENABLED_BY_DEFAULT"
    current, settles = _STATE.get((account, region), ("DISABLED", None))
    if settles is not None and time.monotonic() >= settles:
        current = {"ENABLING": "ENABLED", "DISABLING": "DISABLED"}.get(current, current)
        _STATE[(account, region)] = (current, None)
    return current


def is_enabled(account: str, region: str) -> bool:
    """Whether `account` can use `region` now (ENABLING does not count yet, [MAR])."""
    if region not in ALL_REGIONS:
        # A Region the emulator does not know (e.g. a test's made-up one): usable, as moto treats it.
        return True
    return status(account, region) in ("ENABLED", "ENABLED_BY_DEFAULT")


def set_status(account: str, region: str, value: str) -> None:
    """Sets a status directly (seeding and tests); ENABLED / DISABLED only, never a default Region."""
    check_region(region)
    if region in DEFAULT_REGIONS:
        raise _validation(f"The Region {region} is enabled by default and cannot be changed.")
    if value not in ("ENABLED", "DISABLED"):
        raise ValueError(value)
    _STATE[(account, region)] = (value, None)


def enable(account: str, region: str) -> None:
    """EnableRegion ([ER]): DISABLED -> ENABLING -> ENABLED."""
    check_region(region)
    if region in DEFAULT_REGIONS:
        raise _validation(f"The Region {region} is enabled by default and cannot be enabled.")
    current = status(account, region)
    if current == "DISABLING":
        raise AwsError(
            "ConflictException",
            f"The Region {region} is being disabled; wait until it is DISABLED before enabling it.",
            409,
        )
    if current in ("ENABLED", "ENABLING"):
        return
    _STATE[(account, region)] = ("ENABLING", time.monotonic() + _settle_seconds())


def disable(account: str, region: str) -> None:
    """DisableRegion ([DR]): ENABLED -> DISABLING -> DISABLED."""
    check_region(region)
    if region in DEFAULT_REGIONS:
        raise _validation(f"The Region {region} is enabled by default and cannot be disabled.")
    current = status(account, region)
    if current == "ENABLING":
        raise AwsError(
            "ConflictException",
            f"The Region {region} is being enabled; wait until it is ENABLED before disabling it.",
            409,
        )
    if current in ("DISABLED", "DISABLING"):
        return
    _STATE[(account, region)] = ("DISABLING", time.monotonic() + _settle_seconds())


def target_account(caller: str, account_id: str | None, action: str) -> str:
    """The account an Account API call acts on ([LR] AccountId rules)."""
    if not account_id:
        return caller
    management = org.management_account(caller)
    if account_id == caller and management == caller:
        raise _validation(
            "The management account can't specify its own AccountId; call the operation without "
            "AccountId."
        )
    allowed = management is not None and (
        management == caller or org.is_delegated_admin(caller, org.ACCOUNT_PRINCIPAL)
    )
    if not allowed:
        raise AwsError(
            "AccessDeniedException",
            f"User: arn:aws:iam::{caller}:root is not authorized to perform: account:{action} on "
            f"account {account_id}: the caller is neither the management account nor the "
            "Account Management delegated administrator",
            403,
        )
    if not org.trusted_access_enabled(caller, org.ACCOUNT_PRINCIPAL):
        raise AwsError(
            "AccessDeniedException",
            f"Trusted access for {org.ACCOUNT_PRINCIPAL} is not enabled in this organization",
            403,
        )
    if management_of_target(account_id) != management:
        raise AwsError(
            "AccessDeniedException",
            f"Account {account_id} is not a member of the caller's organization",
            403,
        )
    return account_id


def management_of_target(account: str) -> str | None:
    return org.management_account(account) if org.is_member(account) else None


# ----------------------------------------------------------------------------- Account API


def _params(response: Any) -> dict[str, Any]:
    try:
        return json.loads(response.body or "{}")
    except ValueError:
        return {}


def list_regions(self: Any) -> Any:
    from moto.core.responses import ActionResult

    params = _params(self)
    account = target_account(self.current_account, params.get("AccountId"), "ListRegions")
    wanted = params.get("RegionOptStatusContains") or []
    for value in wanted:
        if value not in STATUSES:
            raise _validation(
                f"1 validation error detected: Value '{value}' at 'regionOptStatusContains' failed "
                "to satisfy constraint: Member must satisfy enum value set: "
                "[ENABLED, ENABLING, DISABLING, DISABLED, ENABLED_BY_DEFAULT]"
            )
    max_results = params.get("MaxResults")
    if max_results is not None and not 1 <= int(max_results) <= MAX_RESULTS:
        raise _validation(
            f"1 validation error detected: Value '{max_results}' at 'maxResults' failed to satisfy "
            f"constraint: Member must have value between 1 and {MAX_RESULTS}"
        )
    rows = [
        {"RegionName": region, "RegionOptStatus": status(account, region)} for region in ALL_REGIONS
    ]
    if wanted:
        rows = [row for row in rows if row["RegionOptStatus"] in wanted]
    token = params.get("NextToken") or "0"
    if not str(token).isdigit() or int(token) > len(rows):
        raise _validation("The NextToken is invalid.")
    start = int(token)
    size = int(max_results or MAX_RESULTS)
    page = rows[start : start + size]
    result: dict[str, Any] = {"Regions": page}
    if start + size < len(rows):
        result["NextToken"] = str(start + size)
    return ActionResult(result)


def get_region_opt_status(self: Any) -> Any:
    from moto.core.responses import ActionResult

    params = _params(self)
    account = target_account(self.current_account, params.get("AccountId"), "GetRegionOptStatus")
    region = params.get("RegionName") or ""
    check_region(region)
    return ActionResult({"RegionName": region, "RegionOptStatus": status(account, region)})


def enable_region(self: Any) -> Any:
    from moto.core.responses import EmptyResult

    params = _params(self)
    account = target_account(self.current_account, params.get("AccountId"), "EnableRegion")
    enable(account, params.get("RegionName") or "")
    return EmptyResult()


def disable_region(self: Any) -> Any:
    from moto.core.responses import EmptyResult

    params = _params(self)
    account = target_account(self.current_account, params.get("AccountId"), "DisableRegion")
    disable(account, params.get("RegionName") or "")
    return EmptyResult()


def install() -> None:
    """Adds the four operations to moto's Account API."""
    from moto.account import urls
    from moto.account.responses import AccountResponse

    from tests.emulator import targets

    targets.install()
    targets.on_reset(_reset)
    AccountResponse.list_regions = list_regions  # type: ignore[attr-defined]
    AccountResponse.get_region_opt_status = get_region_opt_status  # type: ignore[attr-defined]
    AccountResponse.enable_region = enable_region  # type: ignore[attr-defined]
    AccountResponse.disable_region = disable_region  # type: ignore[attr-defined]
    for path in ("listRegions", "getRegionOptStatus", "enableRegion", "disableRegion"):
        urls.url_paths.setdefault("{0}/" + path + "$", AccountResponse.dispatch)
