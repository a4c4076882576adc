"""The StackSets API on the operations engine: moto's CloudFormation response handlers for stack
sets, replaced (or added, for drift) so that they follow the AWS CloudFormation API Reference.

Every handler first asks the organization side's `access.check` who the caller acts for (CallAs),
then works on that account's stack set. Operations go through `engine.submit`.

API reference pages (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_<Action>.html):
CreateStackSet, UpdateStackSet, DeleteStackSet, DescribeStackSet, ListStackSets,
CreateStackInstances, UpdateStackInstances, DeleteStackInstances, DescribeStackInstance,
ListStackInstances, DescribeStackSetOperation, ListStackSetOperations,
ListStackSetOperationResults, StopStackSetOperation, DetectStackSetDrift,
ListStackInstanceResourceDrifts.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from typing import Any

from moto.cloudformation.models import cloudformation_backends
from moto.cloudformation.responses import CloudFormationResponse
from moto.core.responses import ActionResult, EmptyResult
from moto.organizations.models import organizations_backends

from . import access, autodeploy, engine
from . import targets as org_targets
from .engine import Instance, Operation, StackSetState, iso
from .errors import AwsError

API = "https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_{}.html"

# "MaxResults: The maximum number of results to be returned with a single call ... Valid Range:
# Minimum value of 1. Maximum value of 100." (ListStackInstances and the other list actions).
PAGE_MAX = 100

_NAME = re.compile(r"^[a-zA-Z][-a-zA-Z0-9]*$")
_OPERATION_ID = re.compile(r"^[a-zA-Z0-9][-a-zA-Z0-9]*$")
_OU = re.compile(r"^(ou-[a-z0-9]{4,32}-[a-z0-9]{8,32}|r-[a-z0-9]{4,32})$")


# --- Request helpers ---------------------------------------------------------------------------


def _call_as(resp: CloudFormationResponse) -> str:
    call_as = resp._get_param("CallAs") or "SELF"
    if call_as not in ("SELF", "DELEGATED_ADMIN"):
        raise AwsError(
            "ValidationError",
            f"1 validation error detected: Value '{call_as}' at 'callAs' failed to satisfy "
            "constraint: Member must satisfy enum value set: [SELF, DELEGATED_ADMIN]",
        )
    return call_as


def _owner(resp: CloudFormationResponse, action: str, permission_model: str | None = None) -> str:
    """The account whose stack sets this call works on (the organization side decides)."""
    return access.check(resp.current_account, _call_as(resp), permission_model, action)


def _not_found(name: str) -> AwsError:
    return AwsError("StackSetNotFoundException", f"StackSet {name} not found", 404)


def _state(resp: CloudFormationResponse, action: str) -> StackSetState:
    """The stack set named in the request, as the caller may see it."""
    name = resp._get_param("StackSetName")
    owner = _owner(resp, action)
    backend = cloudformation_backends[owner][resp.region]
    try:
        stack_set = backend.describe_stack_set(name)
    except Exception as err:
        raise _not_found(name) from err
    access.check(resp.current_account, _call_as(resp), stack_set.permission_model, action)
    if not access.visible(resp.current_account, _call_as(resp), stack_set):
        raise _not_found(name)
    return engine.state_of(stack_set, owner, resp.region)


def _operation_id(resp: CloudFormationResponse) -> str | None:
    """The caller's OperationId, checked against its documented pattern ("Pattern:
    [a-zA-Z0-9][-a-zA-Z0-9]*", length 1-128, CreateStackInstances, API reference). SDKs fill it
    with a UUID when the caller gives none (it is an idempotency token)."""
    op_id = resp._get_param("OperationId")
    if op_id is not None and (not _OPERATION_ID.match(op_id) or len(op_id) > 128):
        raise AwsError(
            "ValidationError",
            f"1 validation error detected: Value '{op_id}' at 'operationId' failed to satisfy "
            "constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9][-a-zA-Z0-9]*",
        )
    return op_id


def _template(resp: CloudFormationResponse) -> str | None:
    body = resp._get_param("TemplateBody")
    url = resp._get_param("TemplateURL")
    if url:
        body = resp._get_stack_from_s3_url(url)
    return body


def _targets(resp: CloudFormationResponse, state: StackSetState) -> dict[str, Any] | None:
    """Accounts xor DeploymentTargets, and the permission model's kind of target (CreateStackInstances
    Accounts: "You can specify Accounts or DeploymentTargets, but not both"; moto's messages for
    the wrong kind of target)."""
    accounts = resp._get_param("Accounts") or []
    targets = resp._get_params().get("DeploymentTargets")
    if accounts and targets:
        raise AwsError(
            "ValidationError",
            "You can specify either Accounts or DeploymentTargets, but not both",
        )
    model = state.stack_set.permission_model
    if model == "SERVICE_MANAGED":
        if accounts or not targets:
            raise AwsError(
                "ValidationError",
                "StackSets with SERVICE_MANAGED permission model can only have "
                "OrganizationalUnit as target",
            )
    elif targets and targets.get("OrganizationalUnitIds"):
        raise AwsError(
            "ValidationError",
            "StackSets with SELF_MANAGED permission model can only have accounts as target",
        )
    for ou_id in (targets or {}).get("OrganizationalUnitIds", []):
        if not _OU.match(ou_id):
            raise AwsError(
                "ValidationError",
                f"1 validation error detected: Value '[{ou_id}]' at "
                "'deploymentTargets.organizationalUnitIds' failed to satisfy constraint: Member "
                "must satisfy regular expression pattern: "
                "^(ou-[a-z0-9]{4,32}-[a-z0-9]{8,32}|r-[a-z0-9]{4,32})$",
            )
    return targets


def _regions(resp: CloudFormationResponse, required: bool = True) -> list[str]:
    regions = resp._get_param("Regions") or []
    if required and not regions:
        raise AwsError("ValidationError", "Regions should not be empty")
    return list(dict.fromkeys(regions))


def _cells(
    resp: CloudFormationResponse,
    state: StackSetState,
    action: str,
    targets: dict[str, Any] | None,
    regions: list[str],
) -> list[tuple[str, str]]:
    return _cells_or_failure(resp, state, action, targets, regions)[0]


def _cells_or_failure(
    resp: CloudFormationResponse,
    state: StackSetState,
    action: str,
    targets: dict[str, Any] | None,
    regions: list[str],
) -> tuple[list[tuple[str, str]], str | None]:
    """The cells, or none and the reason when the organization side says the operation is
    accepted but fails as a whole (an OU that does not exist on CREATE)."""
    try:
        cells = org_targets.resolve(
            state.owner,
            state.stack_set,
            accounts=resp._get_param("Accounts") or None,
            deployment_targets=targets,
            regions=regions,
            action=action,
        )
    except AwsError as err:
        reason = getattr(err, "operation_status_reason", None)
        if reason is None or action != "CREATE":
            raise
        return [], reason
    return cells, None


def _ou_of(owner: str, account: str, ous: list[str]) -> str | None:
    """The targeted OU an account belongs to, nested OUs included (OrganizationalUnitId of
    StackInstanceSummary: "the organization root ID or organizational unit (OU) IDs that you
    specified for DeploymentTargets")."""
    if not ous:
        return None
    backend = organizations_backends[owner]["aws"]
    parents = {ou.id: ou.parent_id for ou in backend.ou}
    parent = next((a.parent_id for a in backend.accounts if a.id == account), None)
    seen = set()
    while parent is not None and parent not in seen:
        if parent in ous:
            return parent
        seen.add(parent)
        parent = parents.get(parent)
    return None


def _overrides(old: list[dict[str, Any]], new: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """ParameterOverrides: absent leaves the overrides as they are; an entry with
    UsePreviousValue keeps its present value; an empty list removes them all (UpdateStackInstances,
    API reference)."""
    if new is None:
        return old
    previous = {o["ParameterKey"]: o for o in old}
    out = []
    for entry in new:
        if entry.get("UsePreviousValue"):
            if entry["ParameterKey"] in previous:
                out.append(previous[entry["ParameterKey"]])
        else:
            out.append(
                {
                    "ParameterKey": entry["ParameterKey"],
                    "ParameterValue": entry["ParameterValue"],
                }
            )
    return out


def _page(resp: CloudFormationResponse, items: list[Any], key: str) -> tuple[list[Any], str | None]:
    """At most MaxResults (1-100, default 100) items from NextToken on; the token names the list
    it belongs to so that a token of another list is refused."""
    max_results = resp._get_param("MaxResults")
    size = PAGE_MAX if max_results is None else int(max_results)
    if size < 1 or size > PAGE_MAX:
        raise AwsError(
            "ValidationError",
            f"1 validation error detected: Value '{size}' at 'maxResults' failed to satisfy "
            f"constraint: Member must have value between 1 and {PAGE_MAX}",
        )
    token = resp._get_param("NextToken")
    offset = 0
    if token:
        try:
            data = json.loads(base64.urlsafe_b64decode(token.encode()))
            offset = int(data["o"])
            if data["k"] != key or offset < 0:
                raise ValueError(token)
        except (ValueError, KeyError, TypeError) as err:
            raise AwsError("ValidationError", "Invalid NextToken") from err
    chunk = items[offset : offset + size]
    rest = offset + size < len(items)
    next_token = (
        base64.urlsafe_b64encode(json.dumps({"k": key, "o": offset + size}).encode()).decode()
        if rest
        else None
    )
    return chunk, next_token


def _paged(summaries: list[Any], token: str | None) -> ActionResult:
    result: dict[str, Any] = {"Summaries": summaries}
    if token:
        result["NextToken"] = token
    return ActionResult(result)


# --- Views -------------------------------------------------------------------------------------


def _instance_view(state: StackSetState, instance: Instance, t: float) -> dict[str, Any]:
    """A StackInstanceSummary / StackInstance. While an operation works on the instance it is
    OUTDATED with DetailedStatus PENDING or RUNNING ("PENDING: The operation in the specified
    account and Region has yet to start. RUNNING: ... is currently in progress",
    StackInstanceComprehensiveStatus, API reference)."""
    status, detailed, reason = instance.status, instance.detailed, instance.reason
    op = instance.busy
    if op is not None and op.action != "DETECT_DRIFT":
        phase, _ = op.phase((instance.account, instance.region), t)
        if phase in (engine.PENDING, engine.RUNNING):
            status = "INOPERABLE" if instance.status == "INOPERABLE" else "OUTDATED"
            detailed, reason = phase, None
    view: dict[str, Any] = {
        "StackSetId": state.stack_set.id,
        "Region": instance.region,
        "Account": instance.account,
        "Status": status,
        "StackInstanceStatus": {"DetailedStatus": detailed},
        "DriftStatus": instance.drift_status,
        "ParameterOverrides": instance.overrides,
    }
    if instance.stack_id:
        view["StackId"] = instance.stack_id
    if reason:
        view["StatusReason"] = reason
    if instance.ou_id:
        view["OrganizationalUnitId"] = instance.ou_id
    if instance.drift_checked is not None:
        view["LastDriftCheckTimestamp"] = iso(instance.drift_checked)
    if instance.last_operation_id:
        view["LastOperationId"] = instance.last_operation_id
    return view


def _operation_view(op: Operation, t: float, full: bool) -> dict[str, Any]:
    """StackSetOperation (full) or StackSetOperationSummary."""
    state = op.state
    view: dict[str, Any] = {
        "OperationId": op.id,
        "Action": op.action,
        "Status": op.status(t),
        "CreationTimestamp": iso(op.created),
        "StatusDetails": {"FailedStackInstancesCount": op.failed_count(t)},
        "OperationPreferences": op.prefs.as_dict(),
    }
    end = op.end_timestamp(t)
    if end is not None:
        view["EndTimestamp"] = iso(end)
        if op.failure_reason:
            view["StatusReason"] = op.failure_reason
    if full:
        view.update(
            {
                "StackSetId": state.stack_set.id,
                "RetainStacks": op.retain_stacks,
                "AdministrationRoleARN": op.administration_role_arn,
                "ExecutionRoleName": op.execution_role_name,
            }
        )
        if op.deployment_targets:
            view["DeploymentTargets"] = op.deployment_targets
        if op.action == "DETECT_DRIFT":
            details = engine.drift_details(state, t) if op.ended is None else state.drift
            if details:
                view["StackSetDriftDetectionDetails"] = details
    return view


def _stack_set_view(state: StackSetState, t: float) -> dict[str, Any]:
    stack_set = state.stack_set
    view: dict[str, Any] = {
        "StackSetName": stack_set.name,
        "StackSetId": stack_set.id,
        "Status": stack_set.status,
        "TemplateBody": stack_set.template,
        # moto's DescribeStackSet transformer turns these dicts into Key/Value lists.
        "Parameters": dict(stack_set.parameters or {}),
        "Tags": dict(stack_set.tags or {}),
        "StackSetARN": stack_set.arn,
        "AdministrationRoleARN": stack_set.administration_role_arn,
        "ExecutionRoleName": stack_set.execution_role_name,
        "PermissionModel": stack_set.permission_model,
        "ManagedExecution": {"Active": state.managed_execution},
        "Regions": sorted({r for _, r in state.instances}),
    }
    if stack_set.description is not None:
        view["Description"] = stack_set.description
    if state.auto_deployment is not None:
        view["AutoDeployment"] = state.auto_deployment
    if stack_set.permission_model == "SERVICE_MANAGED":
        view["OrganizationalUnitIds"] = org_targets.targeted_ous(
            state.owner, state.region, stack_set.name
        )
    details = engine.drift_details(state, t)
    if details:
        view["StackSetDriftDetectionDetails"] = details
    return view


# --- Stack sets --------------------------------------------------------------------------------


def _auto_deployment(raw: dict[str, Any] | None, permission_model: str) -> dict[str, Any] | None:
    """AutoDeployment as the organization side validates it (`autodeploy.validate`:
    service-managed stack sets only, RetainStacksOnAccountRemoval only with Enabled), kept in
    AWS's shape."""
    if raw is None:
        return None
    autodeploy.validate(raw, permission_model)
    enabled = bool(raw.get("Enabled"))
    out: dict[str, Any] = {"Enabled": enabled}
    if enabled:
        out["RetainStacksOnAccountRemoval"] = bool(raw.get("RetainStacksOnAccountRemoval"))
    return out


def create_stack_set(self: CloudFormationResponse) -> ActionResult:
    """CreateStackSet: "The name must be unique in the Region where you create your stack set"
    (NameAlreadyExistsException otherwise); a retried request with the same ClientRequestToken
    ("Specify this token if you plan to retry requests so that CloudFormation knows that you're
    not attempting to create another stack set with the same name") gets the same stack set.
    CreateStackSet, API reference."""
    name = self._get_param("StackSetName")
    if not name or not _NAME.match(name) or len(name) > 128:
        raise AwsError(
            "ValidationError",
            f"1 validation error detected: Value '{name}' at 'stackSetName' failed to satisfy "
            "constraint: Member must satisfy regular expression pattern: [a-zA-Z][-a-zA-Z0-9]*",
        )
    model = self._get_param("PermissionModel") or "SELF_MANAGED"
    owner = _owner(self, "CreateStackSet", model)
    backend = cloudformation_backends[owner][self.region]
    token = self._get_param("ClientRequestToken")
    for existing in backend.stacksets.values():
        if existing.name == name and existing.status == "ACTIVE":
            state = engine.state_of(existing, owner, self.region)
            if token and state.client_request_token == token:
                return ActionResult({"StackSetId": existing.id})
            raise AwsError("NameAlreadyExistsException", f"StackSet {name} already exists", 409)
    auto = _auto_deployment(self._get_params().get("AutoDeployment"), model)
    if model == "SERVICE_MANAGED" and auto is None:
        # "AutoDeployment: ... [Service-managed permissions]" is required for service-managed
        # stack sets by the console and CloudFormation's StackSet resource; the API accepts it
        # missing and treats it as disabled.
        auto = {"Enabled": False}
    managed = bool((self._get_params().get("ManagedExecution") or {}).get("Active"))
    template = _template(self)
    if not template:
        raise AwsError("ValidationError", "Either TemplateBody or TemplateURL must be specified")
    parameters = {
        p["ParameterKey"]: p["ParameterValue"] for p in self._get_param("Parameters", []) or []
    }
    tags = {t["Key"]: t["Value"] for t in self._get_param("Tags", []) or []}
    stack_set = backend.create_stack_set(
        name=name,
        template=template,
        parameters=parameters,
        tags=tags,
        permission_model=model,
        admin_role=self._get_param("AdministrationRoleARN"),
        exec_role=self._get_param("ExecutionRoleName"),
        description=self._get_param("Description"),
    )
    state = engine.state_of(stack_set, owner, self.region)
    state.managed_execution = managed
    state.auto_deployment = auto
    state.client_request_token = token
    return ActionResult({"StackSetId": stack_set.id})


def describe_stack_set(self: CloudFormationResponse) -> ActionResult:
    """DescribeStackSet, API reference."""
    state = _state(self, "DescribeStackSet")
    return ActionResult({"StackSet": _stack_set_view(state, engine.now())})


def list_stack_sets(self: CloudFormationResponse) -> ActionResult:
    """ListStackSets, API reference: the stack sets the caller may see (a delegated administrator
    only service-managed ones), filtered by Status, paged."""
    call_as = _call_as(self)
    owner = _owner(self, "ListStackSets")
    backend = cloudformation_backends[owner][self.region]
    wanted = self._get_param("Status")
    summaries = []
    t = engine.now()
    for stack_set in backend.stacksets.values():
        if wanted and stack_set.status != wanted:
            continue
        if not access.visible(self.current_account, call_as, stack_set):
            continue
        state = engine.state_of(stack_set, owner, self.region)
        summary: dict[str, Any] = {
            "StackSetName": stack_set.name,
            "StackSetId": stack_set.id,
            "Status": stack_set.status,
            "PermissionModel": stack_set.permission_model,
            "ManagedExecution": {"Active": state.managed_execution},
        }
        if stack_set.description is not None:
            summary["Description"] = stack_set.description
        if state.auto_deployment is not None:
            summary["AutoDeployment"] = state.auto_deployment
        details = engine.drift_details(state, t)
        if details:
            summary["DriftStatus"] = details.get("DriftStatus", "NOT_CHECKED")
            if details.get("LastDriftCheckTimestamp"):
                summary["LastDriftCheckTimestamp"] = details["LastDriftCheckTimestamp"]
        summaries.append(summary)
    page, token = _page(self, summaries, f"stacksets/{owner}/{self.region}/{wanted}")
    return _paged(page, token)


def update_stack_set(self: CloudFormationResponse) -> ActionResult:
    """UpdateStackSet: an UPDATE operation that really updates the member stacks (all instances,
    or those of the given Accounts/DeploymentTargets and Regions; instances it leaves out are no
    longer up to date: OUTDATED). Changing ManagedExecution while operations are running or
    queued is refused ("You can't modify your stack set's execution configuration while there
    are running or queued operations", ManagedExecution). UpdateStackSet, API reference."""
    state = _state(self, "UpdateStackSet")
    stack_set = state.stack_set
    prefs = engine.Preferences.parse(self._get_params().get("OperationPreferences"))
    op_id = _operation_id(self)
    template = _template(self)
    if not template and not self._get_param("UsePreviousTemplate"):
        raise AwsError(
            "ValidationError",
            "Either TemplateBody, TemplateURL or UsePreviousTemplate must be specified",
        )
    regions = _regions(self, required=False)
    targets = None
    scoped = bool(self._get_param("Accounts") or self._get_params().get("DeploymentTargets"))
    if scoped:
        targets = _targets(self, state)
        if not regions:
            raise AwsError("ValidationError", "Regions should not be empty")
        cells = _cells(self, state, "UPDATE", targets, regions)
        missing = [c for c in cells if c not in state.instances]
        if missing and stack_set.permission_model == "SELF_MANAGED":
            account, region = missing[0]
            raise AwsError(
                "StackInstanceNotFoundException",
                f"Stack instance for account {account} in region {region} not found",
                404,
            )
        cells = [c for c in cells if c in state.instances]
    elif regions:
        raise AwsError("ValidationError", "Regions require Accounts or DeploymentTargets")
    else:
        cells = list(state.instances)
    managed_raw = self._get_params().get("ManagedExecution")
    managed = state.managed_execution if managed_raw is None else bool(managed_raw.get("Active"))
    if managed != state.managed_execution and state.active():
        raise AwsError(
            "InvalidOperationException",
            "You can't modify the stack set's execution configuration while there are running "
            "or queued operations",
        )
    auto_raw = self._get_params().get("AutoDeployment")
    auto = (
        state.auto_deployment
        if auto_raw is None
        else _auto_deployment(auto_raw, stack_set.permission_model)
    )
    raw_params = self._get_param("Parameters")

    def apply_changes() -> None:
        if template:
            stack_set.template = template
        if raw_params is not None:
            stack_set.parameters = {
                p["ParameterKey"]: (
                    (stack_set.parameters or {}).get(p["ParameterKey"])
                    if p.get("UsePreviousValue")
                    else p["ParameterValue"]
                )
                for p in raw_params
            }
        description = self._get_param("Description")
        if description is not None:
            stack_set.description = description
        tags = self._get_param("Tags")
        if tags is not None:
            stack_set.tags = {t["Key"]: t["Value"] for t in tags}
        stack_set.administration_role_arn = (
            self._get_param("AdministrationRoleARN") or stack_set.administration_role_arn
        )
        stack_set.execution_role_name = (
            self._get_param("ExecutionRoleName") or stack_set.execution_role_name
        )
        state.managed_execution = managed
        state.auto_deployment = auto
        for cell, instance in state.instances.items():
            if cell not in cells and instance.status == "CURRENT":
                instance.status = "OUTDATED"

    op = engine.submit(
        state,
        operation_id=op_id,
        action="UPDATE",
        cells=cells,
        prefs=prefs,
        deployment_targets=targets,
        before_start=apply_changes,
    )
    return ActionResult({"OperationId": op.id})


def delete_stack_set(self: CloudFormationResponse) -> ActionResult:
    """DeleteStackSet: not an operation (no OperationId); fails with StackSetNotEmptyException
    while instances exist ("Delete all stack instances from the stack set before deleting the
    stack set") and with OperationInProgressException while an operation runs. DeleteStackSet,
    API reference."""
    name = self._get_param("StackSetName")
    try:
        state = _state(self, "DeleteStackSet")
    except AwsError as err:
        if err.code == "StackSetNotFoundException":
            return EmptyResult()  # DeleteStackSet documents no StackSetNotFoundException
        raise
    if state.active():
        raise AwsError(
            "OperationInProgressException",
            f"Another Operation on StackSet {state.stack_set.id} is in progress",
            409,
        )
    if state.instances:
        raise AwsError(
            "StackSetNotEmptyException",
            f"StackSet {name} cannot be deleted: it still has stack instances",
            409,
        )
    state.stack_set.delete()
    # A new stack set of the same name must not inherit the old one's targets.
    org_targets.forget_stack_set(state.owner, state.region, state.stack_set.name)
    return EmptyResult()


# --- Stack instances ---------------------------------------------------------------------------


def create_stack_instances(self: CloudFormationResponse) -> ActionResult:
    """CreateStackInstances: a CREATE operation over the target accounts × Regions, returned at
    once; the instances appear as OUTDATED/PENDING and become CURRENT as the operation deploys
    them. CreateStackInstances, API reference."""
    state = _state(self, "CreateStackInstances")
    op_id = _operation_id(self)
    targets = _targets(self, state)
    regions = _regions(self)
    if not self._get_param("Accounts") and not targets:
        raise AwsError("ValidationError", "Accounts or DeploymentTargets must be specified")
    prefs = engine.Preferences.parse(self._get_params().get("OperationPreferences"))
    cells, failure = _cells_or_failure(self, state, "CREATE", targets, regions)
    overrides = self._get_param("ParameterOverrides")
    op = engine.submit(
        state,
        operation_id=op_id,
        action="CREATE",
        cells=cells,
        prefs=prefs,
        deployment_targets=targets,
        failure_reason=failure,
    )
    ous = list((targets or {}).get("OrganizationalUnitIds", []))
    if state.stack_set.permission_model == "SERVICE_MANAGED" and failure is None:
        org_targets.record(state.owner, state.region, state.stack_set.name, ous)
    for cell in op.cells:
        instance = state.instances[cell]
        instance.overrides = _overrides(instance.overrides, overrides)
        if ous:
            instance.ou_id = instance_ou(state, cell[0], ous) or instance.ou_id
    return ActionResult({"OperationId": op.id})


def instance_ou(state: StackSetState, account: str, ous: list[str]) -> str | None:
    """The OrganizationalUnitId of an account's instance: the organization side's record when it
    keeps one, else the targeted OU the account is in."""
    found = org_targets.instance_ou(state.owner, state.region, state.stack_set.name, account)
    return found or _ou_of(state.owner, account, ous)


def update_stack_instances(self: CloudFormationResponse) -> ActionResult:
    """UpdateStackInstances: parameter overrides of existing instances, deployed by an UPDATE
    operation; an instance that does not exist is StackInstanceNotFoundException.
    UpdateStackInstances, API reference."""
    state = _state(self, "UpdateStackInstances")
    op_id = _operation_id(self)
    targets = _targets(self, state)
    regions = _regions(self)
    prefs = engine.Preferences.parse(self._get_params().get("OperationPreferences"))
    cells = _cells(self, state, "UPDATE", targets, regions)
    missing = [c for c in cells if c not in state.instances]
    if missing and state.stack_set.permission_model == "SELF_MANAGED":
        account, region = missing[0]
        raise AwsError(
            "StackInstanceNotFoundException",
            f"Stack instance for account {account} in region {region} not found",
            404,
        )
    cells = [c for c in cells if c in state.instances]
    overrides = self._get_param("ParameterOverrides")

    def apply_overrides() -> None:
        for cell in cells:
            instance = state.instances[cell]
            instance.overrides = _overrides(instance.overrides, overrides)

    op = engine.submit(
        state,
        operation_id=op_id,
        action="UPDATE",
        cells=cells,
        prefs=prefs,
        deployment_targets=targets,
        before_start=apply_overrides,
    )
    return ActionResult({"OperationId": op.id})


def delete_stack_instances(self: CloudFormationResponse) -> ActionResult:
    """DeleteStackInstances: a DELETE operation; RetainStacks keeps the member stacks. Cells
    without an instance are left out. DeleteStackInstances, API reference."""
    state = _state(self, "DeleteStackInstances")
    op_id = _operation_id(self)
    targets = _targets(self, state)
    regions = _regions(self)
    prefs = engine.Preferences.parse(self._get_params().get("OperationPreferences"))
    cells = [c for c in _cells(self, state, "DELETE", targets, regions) if c in state.instances]
    op = engine.submit(
        state,
        operation_id=op_id,
        action="DELETE",
        cells=cells,
        prefs=prefs,
        retain_stacks=bool(self._get_param("RetainStacks")),
        deployment_targets=targets,
    )
    return ActionResult({"OperationId": op.id})


def _instance_filters(resp: CloudFormationResponse) -> Callable[[dict[str, Any]], bool]:
    """ListStackInstances Filters (StackInstanceFilter: DETAILED_STATUS, LAST_OPERATION_ID,
    DRIFT_STATUS), StackInstanceAccount and StackInstanceRegion."""
    account = resp._get_param("StackInstanceAccount")
    region = resp._get_param("StackInstanceRegion")
    filters = resp._get_param("Filters") or []

    def keep(view: dict[str, Any]) -> bool:
        if account and view["Account"] != account:
            return False
        if region and view["Region"] != region:
            return False
        for f in filters:
            name, value = f.get("Name"), f.get("Values")
            got = {
                "DETAILED_STATUS": view["StackInstanceStatus"]["DetailedStatus"],
                "LAST_OPERATION_ID": view.get("LastOperationId"),
                "DRIFT_STATUS": view.get("DriftStatus"),
            }.get(name)
            if got != value:
                return False
        return True

    return keep


def list_stack_instances(self: CloudFormationResponse) -> ActionResult:
    """ListStackInstances: stable StackIds, live statuses, filters, at most 100 a page.
    ListStackInstances, API reference."""
    state = _state(self, "ListStackInstances")
    t = engine.now()
    keep = _instance_filters(self)
    views = [v for v in (_instance_view(state, i, t) for i in state.instances.values()) if keep(v)]
    for v in views:
        v.pop("ParameterOverrides", None)  # not part of StackInstanceSummary
    page, token = _page(self, views, f"instances/{state.stack_set.id}")
    return _paged(page, token)


def describe_stack_instance(self: CloudFormationResponse) -> ActionResult:
    """DescribeStackInstance; a missing instance is StackInstanceNotFoundException ("The specified
    stack instance doesn't exist", DescribeStackInstance, API reference)."""
    state = _state(self, "DescribeStackInstance")
    cell = (
        self._get_param("StackInstanceAccount"),
        self._get_param("StackInstanceRegion"),
    )
    instance = state.instances.get(cell)
    if instance is None:
        raise AwsError(
            "StackInstanceNotFoundException",
            f"Stack instance for account {cell[0]} in region {cell[1]} not found",
            404,
        )
    return ActionResult({"StackInstance": _instance_view(state, instance, engine.now())})


# --- Operations --------------------------------------------------------------------------------


def describe_stack_set_operation(self: CloudFormationResponse) -> ActionResult:
    """DescribeStackSetOperation, API reference: Status as the clock says, EndTimestamp once
    ended, StatusDetails.FailedStackInstancesCount."""
    state = _state(self, "DescribeStackSetOperation")
    op = state.operation(self._get_param("OperationId"))
    return ActionResult({"StackSetOperation": _operation_view(op, engine.now(), full=True)})


def list_stack_set_operations(self: CloudFormationResponse) -> ActionResult:
    """ListStackSetOperations, API reference: newest first (AWS does not document an order),
    at most 100 a page."""
    state = _state(self, "ListStackSetOperations")
    t = engine.now()
    views = [_operation_view(op, t, full=False) for op in reversed(state.operations)]
    page, token = _page(self, views, f"operations/{state.stack_set.id}")
    return _paged(page, token)


def _result_status(status: str) -> str:
    # StackSetOperationResultSummary Status knows CANCELLED | FAILED | PENDING | RUNNING |
    # SUCCEEDED: an INOPERABLE outcome is a failure; a skipped suspended account is not one.
    return {engine.INOPERABLE: "FAILED", engine.SKIPPED: "SUCCEEDED"}.get(status, status)


def list_stack_set_operation_results(self: CloudFormationResponse) -> ActionResult:
    """ListStackSetOperationResults, API reference: one result per account and Region, with
    AWS's status and reason, filterable by OPERATION_RESULT_STATUS, at most 100 a page."""
    state = _state(self, "ListStackSetOperationResults")
    op = state.operation(self._get_param("OperationId"))
    t = engine.now()
    wanted = [
        f.get("Values")
        for f in self._get_param("Filters") or []
        if f.get("Name") == "OPERATION_RESULT_STATUS"
    ]
    summaries = []
    for account, region in op.cells:
        phase, reason = op.phase((account, region), t)
        status = _result_status(phase)
        if wanted and status not in wanted:
            continue
        summary: dict[str, Any] = {
            "Account": account,
            "Region": region,
            "Status": status,
        }
        if phase == engine.SKIPPED:
            reason = reason or "Skipped: the account is suspended"
        if reason:
            summary["StatusReason"] = reason
        if phase not in (engine.PENDING, engine.CANCELLED):
            # Without an account gate function AWS reports the gate SKIPPED.
            summary["AccountGateResult"] = {
                "Status": "SKIPPED",
                "StatusReason": "Function not found: arn:aws:lambda:"
                f"{region}:{account}:function:AWSCloudFormationStackSetAccountGate",
            }
        instance = state.instances.get((account, region))
        if instance is not None and instance.ou_id:
            summary["OrganizationalUnitId"] = instance.ou_id
        summaries.append(summary)
    page, token = _page(self, summaries, f"results/{state.stack_set.id}/{op.id}")
    return _paged(page, token)


def stop_stack_set_operation(self: CloudFormationResponse) -> ActionResult:
    """StopStackSetOperation, API reference (see `engine.stop`)."""
    state = _state(self, "StopStackSetOperation")
    engine.stop(state.operation(self._get_param("OperationId")))
    return EmptyResult()


# --- Drift -------------------------------------------------------------------------------------


def detect_stack_set_drift(self: CloudFormationResponse) -> ActionResult:
    """DetectStackSetDrift: a DETECT_DRIFT operation over the instances that have a stack, which
    honours OperationPreferences and collides with other operations like any other ("Only one
    operation can be performed for a stack set at a given time"); each instance is compared by
    the organization side's `drift.detect`. DetectStackSetDrift, API reference; Detecting
    unmanaged configuration changes in stack sets, User Guide,
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stacksets-drift.html
    """
    state = _state(self, "DetectStackSetDrift")
    op_id = _operation_id(self)
    prefs = engine.Preferences.parse(self._get_params().get("OperationPreferences"))
    cells = [c for c, i in state.instances.items() if i.stack_id is not None]
    op = engine.submit(state, operation_id=op_id, action="DETECT_DRIFT", cells=cells, prefs=prefs)
    return ActionResult({"OperationId": op.id})


def list_stack_instance_resource_drifts(self: CloudFormationResponse) -> ActionResult:
    """ListStackInstanceResourceDrifts: the resource drifts of one instance found by the drift
    operation `OperationId`, filtered by StackInstanceResourceDriftStatuses, at most 100 a page.
    ListStackInstanceResourceDrifts, API reference."""
    state = _state(self, "ListStackInstanceResourceDrifts")
    op = state.operation(self._get_param("OperationId"))
    cell = (
        self._get_param("StackInstanceAccount"),
        self._get_param("StackInstanceRegion"),
    )
    instance = state.instances.get(cell)
    if instance is None:
        raise AwsError(
            "StackInstanceNotFoundException",
            f"Stack instance for account {cell[0]} in region {cell[1]} not found",
            404,
        )
    drifts = instance.drift_results.get(op.id, [])
    wanted = self._get_param("StackInstanceResourceDriftStatuses") or []
    if wanted:
        drifts = [d for d in drifts if d.get("StackResourceDriftStatus") in wanted]
    page, token = _page(self, drifts, f"drifts/{state.stack_set.id}/{op.id}/{cell}")
    return _paged(page, token)


_HANDLERS = {
    "create_stack_set": create_stack_set,
    "describe_stack_set": describe_stack_set,
    "list_stack_sets": list_stack_sets,
    "update_stack_set": update_stack_set,
    "delete_stack_set": delete_stack_set,
    "create_stack_instances": create_stack_instances,
    "update_stack_instances": update_stack_instances,
    "delete_stack_instances": delete_stack_instances,
    "list_stack_instances": list_stack_instances,
    "describe_stack_instance": describe_stack_instance,
    "describe_stack_set_operation": describe_stack_set_operation,
    "list_stack_set_operations": list_stack_set_operations,
    "list_stack_set_operation_results": list_stack_set_operation_results,
    "stop_stack_set_operation": stop_stack_set_operation,
    "detect_stack_set_drift": detect_stack_set_drift,
    "list_stack_instance_resource_drifts": list_stack_instance_resource_drifts,
}


def install() -> None:
    """Puts the handlers on moto's CloudFormationResponse and starts the engine."""
    for name, handler in _HANDLERS.items():
        setattr(CloudFormationResponse, name, handler)
    engine.install()
