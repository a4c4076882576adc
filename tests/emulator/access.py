"""CallAs: whose stack sets a StackSets call acts on, and the errors AWS gives otherwise.

Documents followed:

- [CALLAS] the CallAs parameter of every StackSets action, e.g. "CreateStackSet", AWS
  CloudFormation API Reference,
  https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStackSet.html —
  "By default, SELF is specified. Use SELF for StackSets with self-managed permissions"; from a
  delegated administrator account specify DELEGATED_ADMIN, and "Your AWS account must be
  registered as a delegated administrator in the management account"; "StackSets with
  service-managed permissions are created in the management account, including StackSets that are
  created by delegated administrators"; "Valid only if the permissions model is SERVICE_MANAGED".
- [SSDA] "Register a delegated administrator member account", CloudFormation User Guide,
  https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stacksets-orgs-delegated-admin.html
  — trusted access must be activated before delegated administrators can deploy.
- [ROADMAP987] aws-cloudformation/cloudformation-coverage-roadmap #987: in the delegated
  administrator account "CloudFormation only allows viewing/managing StackSets provisioned using
  service-managed permission".
- Error wordings seen from AWS: "You must be the management account or delegated admin account of
  an organization before operating a SERVICE_MANAGED stack set" (terraform-provider-aws #32536,
  aws-samples/aws-security-reference-architecture-examples #164); "Account used is not a delegated
  administrator" (cdklabs/cdk-stacksets #265, terraform-provider-aws #37069); "You must enable
  organizations access to operate a service managed stack set" (pepperize/cdk-organizations #1718).

Vague: the error for CreateStackSet with CallAs=DELEGATED_ADMIN and PermissionModel=SELF_MANAGED is
not documented ([CALLAS] only says "valid only if SERVICE_MANAGED"); the emulator answers a
ValidationError of its own wording. Read calls as DELEGATED_ADMIN also need trusted access (strict
reading of [SSDA]).
"""

from __future__ import annotations

from typing import Any

from tests.emulator import org
from tests.emulator.errors import AwsError

CALL_AS = ("SELF", "DELEGATED_ADMIN")
NOT_MANAGEMENT_OR_DELEGATED = (
    "You must be the management account or delegated admin account of an organization before "
    "operating a SERVICE_MANAGED stack set"
)
NOT_DELEGATED = "Account used is not a delegated administrator"
NO_TRUSTED_ACCESS = "You must enable organizations access to operate a service managed stack set"


def _validation(message: str) -> AwsError:
    return AwsError("ValidationError", message)


def check(
    caller_account: str,
    call_as: str | None,
    stack_set_permission_model: str | None,
    operation: str,
) -> str:
    """Checks a StackSets call and returns the account whose stack sets it acts on.

    `stack_set_permission_model` is the requested model for CreateStackSet and the stack set's own
    model for calls on one stack set (None for list calls or when the stack set is unknown).
    DELEGATED_ADMIN acts on the management account's stack sets ([CALLAS]); SELF on the caller's."""
    call_as = call_as or "SELF"
    if call_as not in CALL_AS:
        raise _validation(
            f"1 validation error detected: Value '{call_as}' at 'callAs' failed to satisfy "
            "constraint: Member must satisfy enum value set: [SELF, DELEGATED_ADMIN]"
        )
    if call_as == "DELEGATED_ADMIN":
        management = org.management_account(caller_account)
        if management is None or not org.is_delegated_admin(
            caller_account, org.STACKSETS_PRINCIPAL
        ):
            # The management account itself is not a delegated administrator either.
            raise _validation(NOT_DELEGATED)
        if stack_set_permission_model == "SELF_MANAGED":
            raise _validation(
                f"{operation}: CallAs DELEGATED_ADMIN is valid only for stack sets with the "
                "SERVICE_MANAGED permission model"
            )
        if not org.trusted_access_enabled(caller_account):
            raise _validation(NO_TRUSTED_ACCESS)
        return management
    if stack_set_permission_model == "SERVICE_MANAGED":
        if org.management_account(caller_account) != caller_account:
            raise _validation(NOT_MANAGEMENT_OR_DELEGATED)
        if not org.trusted_access_enabled(caller_account):
            raise _validation(NO_TRUSTED_ACCESS)
    return caller_account


def visible(caller_account: str, call_as: str | None, stack_set: Any) -> bool:
    """Whether a stack set of the account `check` returned is visible to the call: as
    DELEGATED_ADMIN only the service-managed ones ([ROADMAP987]); as SELF all of the caller's own."""
    if (call_as or "SELF") == "DELEGATED_ADMIN":
        return getattr(stack_set, "permission_model", None) == "SERVICE_MANAGED"
    return True
