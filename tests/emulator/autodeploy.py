"""Automatic deployments: accounts that join a targeted OU get the stack set's instances, accounts
that leave lose them (or keep the stacks, with RetainStacksOnAccountRemoval).

Documents followed:

- [AD] "AutoDeployment", AWS CloudFormation API Reference,
  https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_AutoDeployment.html —
  "If set to true, StackSets automatically deploys additional stack instances to AWS Organizations
  accounts that are added to a target organization or organizational unit (OU) in the specified
  Regions. If an account is removed from a target organization or OU, StackSets deletes stack
  instances from the account in the specified Regions." RetainStacksOnAccountRemoval: "Specify
  only if Enabled is set to True."
- [MAD] "Enable or disable automatic deployments for StackSets in AWS Organizations",
  CloudFormation User Guide,
  https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stacksets-orgs-manage-auto-deployment.html
  — the deployment follows OU membership; account-level filters do not apply to it (FIELD-NOTES
  §7); nested OUs of a targeted OU count as inside it.
- terraform-provider-aws #19015 and #24879: CreateStackSet / UpdateStackSet with AutoDeployment
  disabled and RetainStacksOnAccountRemoval present is a ValidationError (Terraform sent
  RetainStacksOnAccountRemoval=false and AWS still refused it).

Vague: what AWS does when an account is *closed*. A closed account stays in the organization,
SUSPENDED, for up to 90 days before it is removed, so its OU membership does not change: the
emulator starts no automatic deployment on CloseAccount (later operations skip the account as
SKIPPED_SUSPENDED_ACCOUNT, outcomes.py), and deletes instances only on RemoveAccountFromOrganization
or a move out of the targeted OUs. The exact message of the RetainStacksOnAccountRemoval error is
not published; the wording below is the emulator's.
"""

from __future__ import annotations

from typing import Any

from tests.emulator import targets
from tests.emulator.errors import AwsError


def _flag(value: Any) -> bool | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def validate(auto_deployment: dict | None, permission_model: str | None = None) -> None:
    """CreateStackSet / UpdateStackSet: AutoDeployment as AWS accepts it.

    RetainStacksOnAccountRemoval, whatever its value, only with Enabled=true ([AD], terraform
    #19015/#24879); AutoDeployment only for service-managed stack sets ([AD] is "[Service-managed
    permissions]")."""
    if not auto_deployment:
        return
    if permission_model is not None and permission_model != "SERVICE_MANAGED":
        raise AwsError(
            "ValidationError",
            "AutoDeployment is only supported for SERVICE_MANAGED stack sets",
        )
    enabled = _flag(auto_deployment.get("Enabled"))
    retain = auto_deployment.get("RetainStacksOnAccountRemoval")
    if not enabled and retain is not None:
        raise AwsError(
            "ValidationError",
            "RetainStacksOnAccountRemoval can be specified only when AutoDeployment is enabled",
        )


# ----------------------------------------------------------------------------- pure decision


def changes(
    before: set[str], after: set[str], targeted: set[str], recorded: set[str]
) -> tuple[str | None, str | None]:
    """What a membership change means for one stack set and one account.

    `before`/`after` are the OUs (and root) containing the account before and after the change
    (empty when it is not in the organization), `targeted` the stack set's OUs, `recorded` the OUs
    its instances are recorded under. Returns (action, OU): ("CREATE", ou) when the account comes
    into a targeted OU it was not deployed through, ("DELETE", None) when it leaves every targeted
    OU while it has instances, ("MOVE", ou) when it stays targeted through another OU, else
    (None, None) ([AD], [MAD])."""
    now_in = sorted(after & targeted)
    if now_in:
        if recorded & set(now_in):
            return (None, None)
        if recorded:
            return ("MOVE", now_in[0])
        return ("CREATE", now_in[0])
    if recorded or (before & targeted):
        return ("DELETE", None)
    return (None, None)


# ----------------------------------------------------------------------------- moto hooks


def _containing(backend: Any, account: str) -> set[str]:
    """The OUs and root that contain `account` now (empty when it is not in the organization)."""
    parents = {ou.id: (None if ou.id == backend.org.root_id else ou.parent_id) for ou in backend.ou}
    node = next((a.parent_id for a in backend.accounts if a.id == account), None)
    out: set[str] = set()
    while node is not None:
        out.add(node)
        node = parents.get(node)
    return out


def _stack_sets(management: str) -> list[tuple[str, Any, Any]]:
    """(region, stack set, emulator state) of every service-managed stack set with automatic
    deployment enabled, in the management account."""
    from moto.cloudformation.models import cloudformation_backends

    out = []
    for region, backend in list(cloudformation_backends[management].items()):
        for stack_set in list(getattr(backend, "stacksets", {}).values()):
            if getattr(stack_set, "status", "ACTIVE") == "DELETED":
                continue
            if getattr(stack_set, "permission_model", None) != "SERVICE_MANAGED":
                continue
            state = getattr(stack_set, "_emu", None)
            auto = getattr(state, "auto_deployment", None) or {}
            if _flag(auto.get("Enabled")):
                out.append((region, stack_set, state))
    return out


def _regions(management: str, region: str, stack_set: Any, state: Any) -> list[str]:
    found = targets.deployment_regions(management, region, stack_set.name)
    for _, inst_region in getattr(state, "instances", {}) or {}:
        if inst_region not in found:
            found.append(inst_region)
    return found


def react(backend: Any, account: str, before: set[str]) -> None:
    """Starts the automatic deployments that a membership change of `account` calls for."""
    from tests.emulator import engine

    if backend.org is None or account == backend.org.master_account_id:
        return  # [DT]: never the management account
    management = backend.org.master_account_id
    after = _containing(backend, account)
    for region, stack_set, state in _stack_sets(management):
        name = stack_set.name
        targeted = set(targets.targeted_ous(management, region, name))
        recorded = targets.recorded_accounts(management, region, name).get(account, set())
        action, ou = changes(before, after, targeted, recorded)
        if action is None:
            continue
        if action == "MOVE":
            targets.forget_account(management, region, name, account)
            targets.record_account(management, region, name, account, ou)
            continue
        cells = [(account, r) for r in _regions(management, region, stack_set, state)]
        if action == "CREATE":
            targets.record_account(management, region, name, account, ou)
        else:
            targets.forget_account(management, region, name, account)
        engine.submit_auto_deployment(management, region, name, action, cells)


def install() -> None:
    """Hooks moto's Organizations backend: CreateAccount, MoveAccount and
    RemoveAccountFromOrganization (CloseAccount changes no OU membership, see above)."""
    from moto.organizations.models import OrganizationsBackend

    if getattr(OrganizationsBackend, "_stackfleet_autodeploy", False):
        return
    OrganizationsBackend._stackfleet_autodeploy = True  # type: ignore[attr-defined]
    targets.install()

    original_create = OrganizationsBackend.create_account
    original_move = OrganizationsBackend.move_account
    original_remove = OrganizationsBackend.remove_account_from_organization

    def create_account(self: Any, **kwargs: Any) -> Any:
        status = original_create(self, **kwargs)
        react(self, status["CreateAccountStatus"]["AccountId"], set())
        return status

    def move_account(self: Any, **kwargs: Any) -> None:
        account = kwargs["AccountId"]
        before = _containing(self, account) if self.org is not None else set()
        original_move(self, **kwargs)
        react(self, account, before)

    def remove_account_from_organization(self: Any, **kwargs: str) -> None:
        account = kwargs["AccountId"]
        before = _containing(self, account) if self.org is not None else set()
        original_remove(self, **kwargs)
        react(self, account, before)

    OrganizationsBackend.create_account = create_account  # type: ignore[method-assign]
    OrganizationsBackend.move_account = move_account  # type: ignore[method-assign]
    OrganizationsBackend.remove_account_from_organization = remove_account_from_organization  # type: ignore[method-assign]
