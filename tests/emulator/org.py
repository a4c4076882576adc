"""Organizations as AWS answers it to each account: trusted access, delegated administrators for
StackSets, and who may read the organization.

The caller is the account whose credentials sign the request (moto's AssumeRole credentials act as
the role's account). Documents followed:

- [BYACCT] "Reference: API operations by account", AWS Organizations API Reference,
  https://docs.aws.amazon.com/organizations/latest/APIReference/action-reference.html — which
  operations only the management account may call, which the management account or a delegated
  administrator may call, and which any account of the organization may call (DescribeOrganization).
- [RDA] "RegisterDelegatedAdministrator", AWS Organizations API Reference,
  https://docs.aws.amazon.com/organizations/latest/APIReference/API_RegisterDelegatedAdministrator.html
  — "It grants read-only access to AWS Organizations service data"; "You can only call this
  operation from the management account."
- [SSDA] "Register a delegated administrator member account", AWS CloudFormation User Guide,
  https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stacksets-orgs-delegated-admin.html
  — service principal member.org.stacksets.cloudformation.amazonaws.com; "Your organization can
  have up to five registered delegated administrators at one time"; "Trusted access with AWS
  Organizations must be activated before delegated administrators can deploy".
- [TA] "Activate trusted access for StackSets with AWS Organizations", AWS CloudFormation User Guide,
  https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stacksets-orgs-activate-trusted-access.html
- Errors: a member account that is not a delegated administrator gets `AccessDeniedException`
  "You don't have permissions to access this resource." from ListAccounts / ListRoots
  (aws-samples/aws-iam-access-key-auto-rotation #10, awslabs/aws-innovation-sandbox #6); an
  account outside any organization gets `AWSOrganizationsNotInUseException` "Your account is not a
  member of an organization." (cloud-custodian #8106).

Vague in AWS's documents: whether RegisterDelegatedAdministrator for StackSets needs trusted access
first. [RDA] lists no such condition and [SSDA] only requires it before delegated administrators
*deploy*, so registration is accepted and StackSets calls as DELEGATED_ADMIN fail until trusted
access is on (see access.py). The error for a sixth StackSets delegated administrator is not
documented; the emulator answers ConstraintViolationException with the Organizations reason text
for DELEGATED_ADMINISTRATOR_EXCEEDED.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.emulator.errors import AwsError

STACKSETS_PRINCIPAL = "member.org.stacksets.cloudformation.amazonaws.com"
ACCOUNT_PRINCIPAL = "account.amazonaws.com"
MAX_STACKSETS_DELEGATED_ADMINS = 5

# [BYACCT]: operations the management account or a delegated administrator may call.
READ_ACTIONS = frozenset(
    {
        "describe_account",
        "describe_create_account_status",
        "describe_handshake",
        "describe_organizational_unit",
        "describe_policy",
        "list_accounts",
        "list_accounts_for_parent",
        "list_aws_service_access_for_organization",
        "list_children",
        "list_create_account_status",
        "list_delegated_administrators",
        "list_delegated_services_for_account",
        "list_handshakes_for_organization",
        "list_organizational_units_for_parent",
        "list_parents",
        "list_policies",
        "list_policies_for_target",
        "list_roots",
        "list_tags_for_resource",
        "list_targets_for_policy",
    }
)
# [BYACCT]: operations any account of the organization may call.
ANY_MEMBER_ACTIONS = frozenset(
    {
        "describe_organization",
        "describe_effective_policy",
        "leave_organization",
        "accept_handshake",
        "decline_handshake",
        "list_handshakes_for_account",
    }
)

ACCESS_DENIED = "You don't have permissions to access this resource."
NOT_IN_USE = "Your account is not a member of an organization."


def _backends() -> Any:
    from moto.organizations.models import organizations_backends

    return organizations_backends


def management_backend(account: str) -> Any:
    """The Organizations backend of the management account of `account`'s organization, or None
    when `account` is in no organization."""
    backends = _backends()
    own = backends[account]["aws"]
    if own.org is not None:
        return own
    owner = backends.master_accounts.get(account)
    if owner is None:
        return None
    master = backends[owner[0]][owner[1]]
    return master if master.org is not None else None


def management_account(account: str) -> str | None:
    """The management account of `account`'s organization (itself when it is one)."""
    backend = management_backend(account)
    return backend.org.master_account_id if backend is not None else None


def is_member(account: str) -> bool:
    """Whether `account` belongs to an organization, as its management account or a member."""
    backend = management_backend(account)
    return backend is not None and any(a.id == account for a in backend.accounts)


def trusted_access_enabled(account: str, principal: str = STACKSETS_PRINCIPAL) -> bool:
    """Whether `principal` has trusted access in `account`'s organization ([TA])."""
    backend = management_backend(account)
    return backend is not None and any(s["ServicePrincipal"] == principal for s in backend.services)


def delegated_services(account: str) -> set[str]:
    """The service principals `account` is a registered delegated administrator for."""
    backend = management_backend(account)
    if backend is None:
        return set()
    for admin in backend.admins:
        if admin.account.id == account:
            return set(admin.services)
    return set()


def is_delegated_admin(account: str, principal: str | None = None) -> bool:
    """Whether `account` is a delegated administrator (for `principal`, or for any service)."""
    services = delegated_services(account)
    return bool(services) if principal is None else principal in services


def account_status(account: str) -> str | None:
    """ACTIVE / SUSPENDED / ... of an account of an organization, or None when it is in none."""
    backend = management_backend(account)
    if backend is None:
        return None
    for acct in backend.accounts:
        if acct.id == account:
            return acct.status
    return None


def set_account_status(account: str, status: str) -> None:
    """Sets the Organizations status of a member account (the control endpoint's
    `account-status`); ValueError when no organization has it or the status is not one AWS
    reports."""
    if status not in ("ACTIVE", "SUSPENDED", "PENDING_CLOSURE"):
        raise ValueError(f"unknown account status {status!r}")
    backend = management_backend(account)
    for acct in backend.accounts if backend is not None else []:
        if acct.id == account:
            # moto keeps the older `Status` and the newer `State` apart; both say the same here.
            acct.status = status
            acct.state = status
            return
    raise ValueError(f"account {account} is in no organization")


# ----------------------------------------------------------------------------- patches


def _guard(name: str, original: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """Runs an Organizations action as AWS does for the calling account ([BYACCT], [RDA])."""

    def wrapped(self: Any) -> Any:
        caller = self.current_account
        own = _backends()[caller][self.partition]
        if own.org is not None or name == "create_organization":
            return original(self)
        master = management_backend(caller)
        if master is None:
            raise AwsError("AWSOrganizationsNotInUseException", NOT_IN_USE)
        if name in ANY_MEMBER_ACTIONS:
            return original(self)
        if name in READ_ACTIONS and is_delegated_admin(caller):
            self._stackfleet_backend = master
            try:
                return original(self)
            finally:
                del self._stackfleet_backend
        raise AwsError("AccessDeniedException", ACCESS_DENIED)

    wrapped.__name__ = name
    wrapped._stackfleet_guard = True  # type: ignore[attr-defined]
    return wrapped


def install() -> None:
    """Patches moto's Organizations: StackSets and Account Management as delegatable services,
    the five-administrator limit for StackSets, and the caller rules of every action."""
    from moto.organizations import models
    from moto.organizations.responses import OrganizationsResponse

    from tests.emulator import drift, targets

    targets.install()
    # drift.py teaches moto's CloudFormation the SNS resources it skips; the package's installer
    # does not list drift, so the organization side installs it here.
    drift.install()

    # "ListAccounts", Organizations API Reference
    # (https://docs.aws.amazon.com/organizations/latest/APIReference/API_ListAccounts.html):
    # MaxResults ranges 1-20, so a page never holds more than 20 accounts; moto's default is 100.
    from moto.organizations.utils import PAGINATION_MODEL

    PAGINATION_MODEL["list_accounts"]["limit_default"] = 20

    supported = models.FakeDelegatedAdministrator.SUPPORTED_SERVICES
    for principal in (STACKSETS_PRINCIPAL, ACCOUNT_PRINCIPAL):
        if principal not in supported:
            supported.append(principal)

    backend_cls = models.OrganizationsBackend
    if not getattr(backend_cls.register_delegated_administrator, "_stackfleet", False):
        original_register = backend_cls.register_delegated_administrator

        def register_delegated_administrator(self: Any, **kwargs: str) -> None:
            principal = kwargs.get("ServicePrincipal")
            if principal == STACKSETS_PRINCIPAL:
                current = [
                    a
                    for a in self.admins
                    if principal in a.services and a.account.id != kwargs.get("AccountId")
                ]
                if len(current) >= MAX_STACKSETS_DELEGATED_ADMINS:
                    # [SSDA]: up to five delegated administrators at one time.
                    raise AwsError(
                        "ConstraintViolationException",
                        "You attempted to register more delegated administrators than allowed "
                        "for the service principal.",
                    )
            original_register(self, **kwargs)

        register_delegated_administrator._stackfleet = True  # type: ignore[attr-defined]
        backend_cls.register_delegated_administrator = register_delegated_administrator  # type: ignore[method-assign]

    if getattr(OrganizationsResponse, "_stackfleet_org", False):
        return
    OrganizationsResponse._stackfleet_org = True  # type: ignore[attr-defined]

    def organizations_backend(self: Any) -> Any:
        override = getattr(self, "_stackfleet_backend", None)
        if override is not None:
            return override
        return _backends()[self.current_account][self.partition]

    OrganizationsResponse.organizations_backend = property(organizations_backend)  # type: ignore[method-assign, assignment]
    for name, value in list(vars(OrganizationsResponse).items()):
        if name.startswith("_") or not callable(value) or name == "organizations_backend":
            continue
        if name in ("request_params",):
            continue
        setattr(OrganizationsResponse, name, _guard(name, value))
