"""What happens to one stack instance before its stack is even touched: a suspended account, a
Region the account has not enabled, or missing StackSets roles.

Documents followed:

- [SICS] "StackInstanceComprehensiveStatus", AWS CloudFormation API Reference,
  https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_StackInstanceComprehensiveStatus.html
  — "SKIPPED_SUSPENDED_ACCOUNT: The operation in the specified account and Region has been skipped
  because the account was suspended at the time of the operation"; FAILED; INOPERABLE.
- [WN2023] "AWS CloudFormation StackSets ... skip suspended AWS accounts", What's New, 2023-06-07,
  https://aws.amazon.com/about-aws/whats-new/2023/06/aws-cloudformation-stacksets-suspended-accounts-deployments/
  — suspended accounts are skipped for CREATE, UPDATE, DELETE, IMPORT and DRIFT operations instead
  of FAILED, and do not count toward failure tolerance.
- [OPTIN] "Prepare to perform StackSet operations in AWS Regions that are disabled by default",
  CloudFormation User Guide,
  https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stacksets-opt-in-regions.html —
  the target account must have the Region enabled (and the administrator / management account
  too, to work in it).
- [SELFM] "Grant self-managed permissions", CloudFormation User Guide,
  https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stacksets-prereqs-self-managed.html
  — AWSCloudFormationStackSetAdministrationRole in the administrator account, an execution role
  (AWSCloudFormationStackSetExecutionRole, or the stack set's ExecutionRoleName) in each target
  account that trusts the administrator account.
- [REPOST] "What are some of the IAM best practices for using stack set to deploy AWS
  CloudFormation resources?", AWS re:Post Knowledge Center,
  https://repost.aws/knowledge-center/cfn-iam-best-practices-stackset-resources — the status
  reason "Account 111111111111 should have 'AWSCloudFormationStackSetExecutionRole' role with trust
  relationship to Role 'AWSCloudFormationStackSetAdministrationRole'." occurs when either role is
  missing or the trust is not established (also terraform-provider-aws #15165 with custom names).

Vague: AWS publishes no status reason for a Region the account has not enabled, nor one for
SKIPPED_SUSPENDED_ACCOUNT; the emulator words them itself (below). Whether the admin role's
absence is reported with the same reason as the execution role's is only in [REPOST]; followed.
"""

from __future__ import annotations

import json
from typing import Any

from tests.emulator import org, regions

SUSPENDED = "SKIPPED_SUSPENDED_ACCOUNT"
FAILED = "FAILED"
DEFAULT_EXECUTION_ROLE = "AWSCloudFormationStackSetExecutionRole"
DEFAULT_ADMIN_ROLE = "AWSCloudFormationStackSetAdministrationRole"


def suspended_reason(account: str) -> str:
    return (
        f"Account {account} was suspended at the time of the operation; the operation skipped it."
    )


def region_reason(account: str, region: str) -> str:
    return (
        f"Region {region} is not enabled for account {account}. Enable the Region for the account "
        "(Account Management EnableRegion) before deploying stack instances to it."
    )


def role_reason(account: str, execution_role: str, admin_role: str) -> str:
    """[REPOST]'s wording; the administration role is named by its path and name."""
    return (
        f"Account {account} should have '{execution_role}' role with trust relationship to Role "
        f"'{admin_role}'."
    )


def admin_role_path_name(arn: str | None) -> str:
    """'service-role/Name' out of arn:aws:iam::123456789012:role/service-role/Name."""
    if not arn or ":role/" not in arn:
        return DEFAULT_ADMIN_ROLE
    return arn.split(":role/", 1)[1]


def _iam_role(account: str, name: str) -> Any:
    from moto.iam.models import iam_backends

    backend = iam_backends[account]["global"]
    for role in backend.roles.values():
        if role.name == name:
            return role
    return None


def _principals(statement: dict[str, Any]) -> list[str]:
    principal = statement.get("Principal")
    if principal == "*":
        return ["*"]
    if not isinstance(principal, dict):
        return []
    values = principal.get("AWS", [])
    return [values] if isinstance(values, str) else list(values)


def trusts(role: Any, admin_account: str, admin_role_arn: str | None) -> bool:
    """Whether a role's trust policy lets the administrator account (or its administration role)
    assume it ([SELFM]): an Allow of sts:AssumeRole for that account's root, the account id, the
    administration role's ARN, or "*"."""
    try:
        policy = json.loads(role.assume_role_policy_document)
    except (TypeError, ValueError):
        return False
    statements = policy.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    accepted = {
        "*",
        admin_account,
        f"arn:aws:iam::{admin_account}:root",
    }
    if admin_role_arn:
        accepted.add(admin_role_arn)
    for statement in statements:
        if statement.get("Effect") != "Allow":
            continue
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        if not any(a in ("sts:AssumeRole", "sts:*", "*") for a in actions):
            continue
        if accepted & set(_principals(statement)):
            return True
    return False


def instance_outcome(
    admin_account: str, stack_set: Any, account: str, region: str
) -> tuple[str, str] | None:
    """None when the instance deploys normally, else (detailed status, status reason).

    Order: a suspended or closed account is skipped ([SICS], [WN2023]) before anything else is
    tried; then the Region must be enabled for the target and the administrator account ([OPTIN]);
    then, for self-managed stack sets, both roles must exist and the execution role must trust the
    administrator ([SELFM], [REPOST])."""
    state = org.account_status(account)
    if state in ("SUSPENDED", "PENDING_CLOSURE", "CLOSED"):
        return (SUSPENDED, suspended_reason(account))
    if not regions.is_enabled(account, region):
        return (FAILED, region_reason(account, region))
    if not regions.is_enabled(admin_account, region):
        return (FAILED, region_reason(admin_account, region))
    if (getattr(stack_set, "permission_model", None) or "SELF_MANAGED") == "SELF_MANAGED":
        admin_arn = getattr(stack_set, "administration_role_arn", None)
        admin_name = admin_role_path_name(admin_arn)
        execution = getattr(stack_set, "execution_role_name", None) or DEFAULT_EXECUTION_ROLE
        reason = role_reason(account, execution, admin_name)
        if _iam_role(admin_account, admin_name.rsplit("/", 1)[-1]) is None:
            return (FAILED, reason)
        role = _iam_role(account, execution)
        if role is None or not trusts(role, admin_account, admin_arn):
            return (FAILED, reason)
    return None
