"""The operations engine: StackSets operations that take time, one at a time per stack set.

An operation is accepted at once (its `OperationId` is returned) and then runs on the emulator's
clock (`control.CONFIG`): every stack instance takes `instance_seconds` of emulated time. The whole
run is planned when the operation starts, by `simulate`, a pure function of the instances, the
operation preferences and each instance's outcome (from the organization side's
`outcomes.instance_outcome`). Nothing runs in the background: before every request,
`advance()` applies what has finished by then (creating, updating or deleting the member stacks,
recording drift) and starts queued operations, so every read sees a consistent state and the
same inputs always give the same result.

AWS documents followed (cited again where each rule is applied):
- StackSetOperationPreferences, AWS CloudFormation API Reference,
  https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_StackSetOperationPreferences.html
- StackSet operation options, AWS CloudFormation User Guide,
  https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stacksets-concepts.html#stackset-ops-options
- StackSetOperation (operation statuses), API Reference,
  https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_StackSetOperation.html
- StackInstanceSummary and StackInstanceComprehensiveStatus (instance statuses), API Reference,
  https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_StackInstanceSummary.html
  https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_StackInstanceComprehensiveStatus.html
- ManagedExecution, API Reference,
  https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_ManagedExecution.html
"""

from __future__ import annotations

import heapq
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from moto.cloudformation.models import cloudformation_backends

from . import control, drift, outcomes, targets
from .errors import AwsError

# Detailed statuses of one instance in one operation.
PENDING = "PENDING"
RUNNING = "RUNNING"
SUCCEEDED = "SUCCEEDED"
FAILED = "FAILED"
CANCELLED = "CANCELLED"
SKIPPED = "SKIPPED_SUSPENDED_ACCOUNT"
INOPERABLE = "INOPERABLE"

# Outcomes that count against the failure tolerance.
_FAILURES = {FAILED, INOPERABLE}

STRICT = "STRICT_FAILURE_TOLERANCE"
SOFT = "SOFT_FAILURE_TOLERANCE"


def iso(ts: float | None) -> datetime | None:
    """A timestamp as moto's serializer wants it."""
    return None if ts is None else datetime.fromtimestamp(ts, tz=UTC)


# --- Preferences ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Preferences:
    """StackSetOperationPreferences, with AWS's defaults: one account at a time, Regions one after
    another, no failure tolerance, STRICT_FAILURE_TOLERANCE.

    StackSetOperationPreferences, AWS CloudFormation API Reference,
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_StackSetOperationPreferences.html
    """

    region_concurrency_type: str = "SEQUENTIAL"
    region_order: tuple[str, ...] = ()
    failure_tolerance_count: int | None = None
    failure_tolerance_percentage: int | None = None
    max_concurrent_count: int | None = None
    max_concurrent_percentage: int | None = None
    concurrency_mode: str = STRICT

    @classmethod
    def parse(cls, raw: dict[str, Any] | None) -> Preferences:
        """Validates as the API reference says: count or percentage, not both (each
        "Conditional: You must specify either ... but not both")."""
        raw = raw or {}
        for kind in ("FailureTolerance", "MaxConcurrent"):
            if raw.get(f"{kind}Count") is not None and raw.get(f"{kind}Percentage") is not None:
                raise AwsError(
                    "ValidationError",
                    f"You must specify either {kind}Count or {kind}Percentage, but not both.",
                )
        for key in (
            "FailureToleranceCount",
            "FailureTolerancePercentage",
            "MaxConcurrentCount",
            "MaxConcurrentPercentage",
        ):
            value = raw.get(key)
            if value is not None and (int(value) < 0 or ("Percentage" in key and int(value) > 100)):
                raise AwsError("ValidationError", f"Invalid value {value} for {key}")
        if raw.get("MaxConcurrentCount") is not None and int(raw["MaxConcurrentCount"]) < 1:
            raise AwsError("ValidationError", "MaxConcurrentCount must be at least 1")
        region_type = raw.get("RegionConcurrencyType") or "SEQUENTIAL"
        mode = raw.get("ConcurrencyMode") or STRICT
        if region_type not in ("SEQUENTIAL", "PARALLEL"):
            raise AwsError("ValidationError", f"Invalid RegionConcurrencyType {region_type}")
        if mode not in (STRICT, SOFT):
            raise AwsError("ValidationError", f"Invalid ConcurrencyMode {mode}")

        def num(key: str) -> int | None:
            return None if raw.get(key) is None else int(raw[key])

        return cls(
            region_concurrency_type=region_type,
            region_order=tuple(raw.get("RegionOrder") or ()),
            failure_tolerance_count=num("FailureToleranceCount"),
            failure_tolerance_percentage=num("FailureTolerancePercentage"),
            max_concurrent_count=num("MaxConcurrentCount"),
            max_concurrent_percentage=num("MaxConcurrentPercentage"),
            concurrency_mode=mode,
        )

    def as_dict(self) -> dict[str, Any]:
        """The preferences as DescribeStackSetOperation echoes them."""
        out: dict[str, Any] = {"RegionConcurrencyType": self.region_concurrency_type}
        if self.region_order:
            out["RegionOrder"] = list(self.region_order)
        for key, value in (
            ("FailureToleranceCount", self.failure_tolerance_count),
            ("FailureTolerancePercentage", self.failure_tolerance_percentage),
            ("MaxConcurrentCount", self.max_concurrent_count),
            ("MaxConcurrentPercentage", self.max_concurrent_percentage),
        ):
            if value is not None:
                out[key] = value
        out["ConcurrencyMode"] = self.concurrency_mode
        return out

    def tolerance(self, accounts: int) -> int:
        """Failures allowed per Region. The percentage "rounds down to the next whole number"
        (FailureTolerancePercentage, API reference); the default is 0."""
        if self.failure_tolerance_count is not None:
            return self.failure_tolerance_count
        if self.failure_tolerance_percentage is not None:
            return self.failure_tolerance_percentage * accounts // 100
        return 0

    def concurrency(self, accounts: int) -> int:
        """Accounts at once per Region. The percentage rounds down, "except in cases where
        rounding down would result is zero. In this case, CloudFormation sets the number as one
        instead" (MaxConcurrentPercentage, API reference); the default is 1."""
        if self.max_concurrent_count is not None:
            return self.max_concurrent_count
        if self.max_concurrent_percentage is not None:
            return max(1, self.max_concurrent_percentage * accounts // 100)
        return 1

    def region_sequence(self, regions: list[str]) -> list[str]:
        """Regions in `RegionOrder` first, in that order, then the others in request order."""
        ordered = [r for r in self.region_order if r in regions]
        return ordered + [r for r in regions if r not in ordered]


# --- The pure schedule -----------------------------------------------------------------------


@dataclass
class Run:
    """What happens to one (account, region) in an operation: it starts at `start` (None: never
    started) and reaches `status` at `end`."""

    account: str
    region: str
    start: float | None
    end: float
    status: str
    reason: str | None = None


@dataclass
class Schedule:
    """A whole operation: every run, when it ends, and whether the failure tolerance was
    exceeded (`failed_region`)."""

    runs: list[Run]
    end: float
    failed_region: str | None = None
    failed_at: float | None = None


Outcome = tuple[str, str | None]


def _run_region(
    region: str,
    accounts: list[str],
    prefs: Preferences,
    outcome: Callable[[str, str], Outcome],
    t0: float,
    cutoff: float,
    duration: float,
) -> tuple[list[Run], float, float | None]:
    """One Region: accounts started in request order while fewer than the allowed number run.

    STRICT_FAILURE_TOLERANCE starts at min(MaxConcurrent, FailureTolerance + 1) and lowers the
    concurrency by one per failure; SOFT_FAILURE_TOLERANCE keeps MaxConcurrent (ConcurrencyMode,
    StackSetOperationPreferences, API reference). Once failures exceed the tolerance, nothing new
    starts and the rest is CANCELLED ("CloudFormation stops the operation in that Region",
    FailureToleranceCount, API reference); nothing starts at or after `cutoff` either (a stop, or
    a failure in another Region).
    """
    n = len(accounts)
    limit_max = prefs.concurrency(n)
    tolerance = prefs.tolerance(n)
    pending = deque(accounts)
    running: list[tuple[float, int, str, str, str | None, float]] = []
    runs: list[Run] = []
    failures = 0
    failed_at: float | None = None
    t = t0
    seq = 0
    while True:
        if prefs.concurrency_mode == SOFT:
            limit = limit_max
        else:
            limit = max(1, min(limit_max, tolerance + 1) - failures)
        while pending and len(running) < limit and failed_at is None and t < cutoff:
            account = pending.popleft()
            status, reason = outcome(account, region)
            # A suspended account is skipped, not worked on.
            took = 0.0 if status == SKIPPED else duration
            heapq.heappush(running, (t + took, seq, account, status, reason, t))
            seq += 1
        if not running:
            break
        end, _, account, status, reason, started = heapq.heappop(running)
        t = end
        runs.append(Run(account, region, started, end, status, reason))
        if status in _FAILURES:
            failures += 1
            if failures > tolerance and failed_at is None:
                failed_at = t
    stopped_at = failed_at if failed_at is not None else max(t0, min(cutoff, t))
    for account in pending:
        runs.append(Run(account, region, None, stopped_at, CANCELLED, None))
    return runs, t, failed_at


def simulate(
    cells: list[tuple[str, str]],
    prefs: Preferences,
    outcome: Callable[[str, str], Outcome],
    start: float,
    duration: float,
    stop_at: float | None = None,
) -> Schedule:
    """Plans a whole operation over `cells` ((account, region) pairs, in request order).

    Regions run one after another (SEQUENTIAL, the default) or all at once (PARALLEL),
    `RegionOrder` first. When a Region exceeds its failure tolerance, "the status of the operation
    in the Region is set to FAILED. This in turn sets the status of the operation as a whole to
    FAILED, and CloudFormation cancels the operation in any remaining Regions" (StackSetOperation
    Status, API reference): later Regions never start, and with PARALLEL nothing new starts in the
    other Regions after that moment (the strictest reading; AWS does not say what PARALLEL
    Regions do then). `stop_at` is a StopStackSetOperation: nothing starts from then on.
    """
    by_region: dict[str, list[str]] = {}
    for account, region in cells:
        accounts = by_region.setdefault(region, [])
        if account not in accounts:
            accounts.append(account)
    regions = prefs.region_sequence(list(by_region))
    cutoff = float("inf") if stop_at is None else stop_at
    runs: list[Run] = []
    failed_region: str | None = None
    failed_at: float | None = None

    if prefs.region_concurrency_type == "PARALLEL":

        def all_regions(cut: float) -> list[tuple[str, list[Run], float, float | None]]:
            return [
                (r, *_run_region(r, by_region[r], prefs, outcome, start, cut, duration))
                for r in regions
            ]

        results = all_regions(cutoff)
        failures = [(f, r) for r, _, _, f in results if f is not None]
        if failures:
            failed_at, failed_region = min(failures)
            results = all_regions(min(cutoff, failed_at))
        for _, region_runs, _, _ in results:
            runs.extend(region_runs)
    else:
        t = start
        for region in regions:
            cut = cutoff if failed_at is None else min(cutoff, failed_at)
            region_runs, t_end, region_failed = _run_region(
                region, by_region[region], prefs, outcome, t, cut, duration
            )
            runs.extend(region_runs)
            t = max(t, t_end)
            if region_failed is not None and failed_at is None:
                failed_at, failed_region = region_failed, region
    end = max([start] + [r.end for r in runs])
    return Schedule(runs=runs, end=end, failed_region=failed_region, failed_at=failed_at)


# --- Engine state ------------------------------------------------------------------------------


@dataclass
class Instance:
    """One stack instance as ListStackInstances shows it (between operations)."""

    account: str
    region: str
    status: str = "OUTDATED"
    detailed: str = PENDING
    reason: str | None = None
    stack_id: str | None = None
    ou_id: str | None = None
    overrides: list[dict[str, Any]] = field(default_factory=list)
    drift_status: str = "NOT_CHECKED"
    drift_checked: float | None = None
    last_operation_id: str | None = None
    # Resource drifts found by each drift operation, by OperationId.
    drift_results: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # The operation working on this instance now, if any.
    busy: Operation | None = None


@dataclass
class Operation:
    """One StackSets operation and its plan."""

    id: str
    action: str  # CREATE | UPDATE | DELETE | DETECT_DRIFT
    state: StackSetState
    cells: list[tuple[str, str]]
    prefs: Preferences
    created: float
    retain_stacks: bool = False
    deployment_targets: dict[str, Any] | None = None
    # What an UPDATE/CREATE deploys: the stack set's template and parameters when it was asked.
    template: str = ""
    parameters: dict[str, str] = field(default_factory=dict)
    administration_role_arn: str | None = None
    execution_role_name: str | None = None
    auto: bool = False
    # Set when the operation fails as a whole before touching any instance.
    failure_reason: str | None = None
    schedule: Schedule | None = None
    started: float | None = None
    stop_at: float | None = None
    ended: float | None = None
    applied: int = 0
    duration: float = 0.0
    outcomes: dict[tuple[str, str], Outcome] = field(default_factory=dict)
    by_cell: dict[tuple[str, str], Run] = field(default_factory=dict)
    deploy_failures: dict[tuple[str, str], str] = field(default_factory=dict)

    def status(self, now: float) -> str:
        """QUEUED | RUNNING | STOPPING | SUCCEEDED | FAILED | STOPPED at `now`
        (StackSetOperation Status, API reference)."""
        if self.schedule is None:
            return "QUEUED"
        if self.ended is None or now < self.schedule.end:
            return "STOPPING" if self.stop_at is not None else "RUNNING"
        return self.final_status()

    def final_status(self) -> str:
        assert self.schedule is not None
        failed_at = self.schedule.failed_at
        if self.stop_at is not None and (failed_at is None or self.stop_at <= failed_at):
            return "STOPPED"
        if (
            failed_at is not None
            or self.failure_reason is not None
            or self._deploy_failures_exceed_tolerance()
        ):
            return "FAILED"
        return "SUCCEEDED"

    def _deploy_failures_exceed_tolerance(self) -> bool:
        # Member stacks that moto could not deploy fail after the plan was made.
        if not self.deploy_failures:
            return False
        per_region: dict[str, int] = {}
        counts: dict[str, int] = {}
        for _account, region in self.cells:
            counts[region] = counts.get(region, 0) + 1
        for run in self.runs():
            if run.status in _FAILURES:
                per_region[run.region] = per_region.get(run.region, 0) + 1
        return any(per_region[r] > self.prefs.tolerance(counts[r]) for r in per_region)

    def runs(self) -> list[Run]:
        return [] if self.schedule is None else self.schedule.runs

    def phase(self, cell: tuple[str, str], now: float) -> tuple[str, str | None]:
        """The detailed status of one cell at `now`."""
        run = self.by_cell.get(cell)
        if run is None:
            return PENDING, None
        if now >= run.end:
            return run.status, run.reason
        if run.start is not None and now >= run.start:
            return RUNNING, None
        return PENDING, None

    def failed_count(self, now: float) -> int:
        return sum(1 for r in self.runs() if now >= r.end and r.status in _FAILURES)

    def end_timestamp(self, now: float) -> float | None:
        if self.schedule is None or self.ended is None or now < self.schedule.end:
            return None
        return self.schedule.end


@dataclass
class StackSetState:
    """What the emulator keeps beside moto's StackSet object (attached to it as `_emu`)."""

    owner: str
    region: str
    stack_set: Any
    managed_execution: bool = False
    auto_deployment: dict[str, Any] | None = None
    client_request_token: str | None = None
    instances: dict[tuple[str, str], Instance] = field(default_factory=dict)
    operations: list[Operation] = field(default_factory=list)
    drift: dict[str, Any] = field(default_factory=dict)

    def active(self) -> list[Operation]:
        """Queued or running operations, oldest first."""
        return [op for op in self.operations if op.ended is None]

    def operation(self, operation_id: str) -> Operation:
        for op in self.operations:
            if op.id == operation_id:
                return op
        raise AwsError("OperationNotFoundException", f"Operation {operation_id} not found")


# Operations not yet ended, across all stack sets, in request order.
_ACTIVE: list[Operation] = []


def state_of(stack_set: Any, owner: str, region: str) -> StackSetState:
    """The emulator's state of a moto StackSet (created on first use)."""
    state = getattr(stack_set, "_emu", None)
    if state is None:
        state = StackSetState(owner=owner, region=region, stack_set=stack_set)
        stack_set._emu = state
    return state


def reset() -> None:
    """Forgets every operation (moto's state was reset)."""
    _ACTIVE.clear()


def now() -> float:
    return time.time()


# --- Accepting operations ----------------------------------------------------------------------


def _conflicts(a: Operation, b: Operation) -> bool:
    """Whether two operations of one stack set conflict under ManagedExecution.

    AWS does not define "conflicting" on the ManagedExecution page; the strictest reading is
    taken: operations touching a common stack instance conflict, and an UpdateStackSet or a drift
    detection (which read or change the stack set itself) conflicts with everything.
    """
    if a.action in ("UPDATE", "DETECT_DRIFT") and not a.cells:
        return True
    if b.action in ("UPDATE", "DETECT_DRIFT") and not b.cells:
        return True
    if "DETECT_DRIFT" in (a.action, b.action) or (a.action == b.action == "UPDATE"):
        return True
    return bool(set(a.cells) & set(b.cells))


def check_operation_id(state: StackSetState, operation_id: str | None) -> str:
    """The caller's OperationId (AWS echoes it), or a new one. A reused id fails:
    OperationIdAlreadyExistsException, "The specified operation ID already exists."
    (CreateStackInstances, Errors, API reference,
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStackInstances.html).
    Ids are unique per stack set (the strictest reading AWS leaves open would be per account;
    the API only ever looks operations up within a stack set)."""
    if operation_id is None:
        return str(uuid.uuid4())
    for op in state.operations:
        if op.id == operation_id:
            raise AwsError(
                "OperationIdAlreadyExistsException",
                f"The operation id {operation_id} already exists for stack set "
                f"{state.stack_set.name}",
            )
    return operation_id


def check_not_busy(state: StackSetState) -> None:
    """Without ManagedExecution, "StackSets performs one operation at a time in request order":
    a second one fails with OperationInProgressException, "Another operation is currently in
    progress for this stack set. Only one operation can be performed for a stack set at a given
    time." (ManagedExecution and CreateStackInstances Errors, API reference)."""
    if state.active() and not state.managed_execution:
        running = state.active()[0]
        raise AwsError(
            "OperationInProgressException",
            f"Another Operation on StackSet {state.stack_set.id} is in progress: {running.id}",
        )


def submit(
    state: StackSetState,
    *,
    operation_id: str | None,
    action: str,
    cells: list[tuple[str, str]],
    prefs: Preferences,
    retain_stacks: bool = False,
    deployment_targets: dict[str, Any] | None = None,
    auto: bool = False,
    before_start: Callable[[], None] | None = None,
    failure_reason: str | None = None,
) -> Operation:
    """Accepts an operation: checks the id and that the stack set is free (unless
    ManagedExecution), records it, and starts it now unless it must queue.

    With ManagedExecution.Active, "StackSets performs non-conflicting operations concurrently and
    queues conflicting operations. After conflicting operations finish, StackSets starts queued
    operations in request order. If there are already running or queued operations, StackSets
    queues all incoming operations even if they are non-conflicting." (ManagedExecution, API
    reference). Read strictly: a new operation runs at once only if nothing is queued and it
    conflicts with nothing running.
    """
    op_id = check_operation_id(state, operation_id)
    if not auto:
        check_not_busy(state)
    if before_start is not None:
        before_start()
    stack_set = state.stack_set
    op = Operation(
        id=op_id,
        action=action,
        state=state,
        cells=list(dict.fromkeys(cells)),
        prefs=prefs,
        created=now(),
        retain_stacks=retain_stacks,
        deployment_targets=deployment_targets,
        template=stack_set.template,
        parameters=dict(stack_set.parameters or {}),
        administration_role_arn=stack_set.administration_role_arn,
        execution_role_name=stack_set.execution_role_name,
        auto=auto,
        failure_reason=failure_reason,
    )
    _enqueue(op)
    return op


def _blocks(op: Operation, other: Operation) -> bool:
    """Whether `other`, queued or running, keeps `op` from starting. Without ManagedExecution
    every operation does; automatic deployments are kept in sequence too."""
    if not op.state.managed_execution or op.auto or other.auto:
        return True
    return _conflicts(op, other)


def _enqueue(op: Operation) -> None:
    state = op.state
    active = state.active()
    state.operations.append(op)
    _ACTIVE.append(op)
    if op.action == "CREATE":
        for cell in op.cells:
            state.instances.setdefault(cell, Instance(*cell))
    for cell in op.cells:
        instance = state.instances.get(cell)
        if instance is not None and op.action != "DETECT_DRIFT":
            instance.busy = op
    queued = any(o.schedule is None for o in active)
    if not queued and not any(_blocks(op, o) for o in active):
        _start(op, op.created)


def _start(op: Operation, at: float) -> None:
    """Plans the operation from `at`, asking the organization side for each instance's outcome."""
    state = op.state

    def outcome(account: str, region: str) -> Outcome:
        key = (account, region)
        if key not in op.outcomes and op.action == "DELETE" and op.retain_stacks:
            # RetainStacks "disconnects the stack instance from the stack set and doesn't delete
            # the stack instance in the target account": nothing reaches the account, which is
            # why it is AWS's remedy for INOPERABLE instances and for closed or suspended
            # accounts (AWS re:Post Knowledge Center, "How do I delete a stack instance from a
            # CloudFormation stack set in a closed or suspended AWS account?",
            # https://repost.aws/knowledge-center/cloudformation-removal-stacksets).
            op.outcomes[key] = (SUCCEEDED, None)
        if key not in op.outcomes:
            found = outcomes.instance_outcome(state.owner, state.stack_set, account, region)
            if op.action == "DETECT_DRIFT" and (found is None or found[0] != SKIPPED):
                # Drift detection reads stacks: only a suspended account changes it ("skip
                # suspended AWS accounts" for DRIFT too, What's New, 2023-06-07).
                found = None
            op.outcomes[key] = found or (SUCCEEDED, None)
        return op.outcomes[key]

    op.started = at
    op.duration = control.CONFIG.instance_real_seconds()
    op.schedule = simulate(op.cells, op.prefs, outcome, at, op.duration, op.stop_at)
    op.schedule.runs.sort(key=lambda r: r.end)
    op.by_cell = {(r.account, r.region): r for r in op.schedule.runs}
    for cell in op.cells:
        instance = state.instances.get(cell)
        if instance is not None and op.action != "DETECT_DRIFT":
            instance.busy = op


def stop(op: Operation) -> None:
    """StopStackSetOperation: "StackSets will cancel all the unstarted stack instance deployments
    and wait for those are in-progress to complete" (StopStackSetOperation, API reference); the
    unstarted ones are CANCELLED ("This is either because a user has stopped the stack set
    operation, or because the failure tolerance ... has been exceeded",
    StackInstanceComprehensiveStatus, API reference).
    The operation is STOPPING until its running instances end, then STOPPED. Only a queued or
    running operation can be stopped: anything else is InvalidOperationException (the strictest
    reading of StopStackSetOperation's errors,
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_StopStackSetOperation.html).
    """
    t = now()
    if op.ended is not None or op.stop_at is not None:
        raise AwsError(
            "InvalidOperationException",
            f"Operation {op.id} is {op.status(t)} and cannot be stopped",
        )
    op.stop_at = t
    if op.schedule is None:
        # Never started: everything cancelled at once.
        op.schedule = Schedule(
            runs=[Run(a, r, None, t, CANCELLED, None) for a, r in op.cells], end=t
        )
        op.started = t
        op.by_cell = {(r.account, r.region): r for r in op.schedule.runs}
        return
    assert op.started is not None
    outcomes = dict(op.outcomes)
    replanned = simulate(
        op.cells,
        op.prefs,
        lambda a, r: outcomes.get((a, r), (SUCCEEDED, None)),
        op.started,
        op.duration,
        stop_at=t,
    )
    # Runs already applied stay as they were applied (a deploy failure may have changed them).
    done = op.schedule.runs[: op.applied]
    applied = {(r.account, r.region) for r in done}
    rest = sorted(
        (r for r in replanned.runs if (r.account, r.region) not in applied),
        key=lambda r: r.end,
    )
    op.schedule = Schedule(
        runs=done + rest,
        end=max([replanned.end] + [r.end for r in done]),
        failed_region=replanned.failed_region,
        failed_at=replanned.failed_at,
    )
    op.by_cell = {(r.account, r.region): r for r in op.schedule.runs}


# --- Moving time forward -----------------------------------------------------------------------


def advance(at: float | None = None) -> None:
    """Applies every run that has ended by `at` (now), in the order they ended, ends finished
    operations and starts queued ones whose conflicts are gone."""
    t = now() if at is None else at
    progressed = True
    while progressed:
        progressed = False
        for op in list(_ACTIVE):
            if op.schedule is None:
                continue
            runs = op.schedule.runs
            while op.applied < len(runs) and runs[op.applied].end <= t:
                _apply(op, runs[op.applied])
                op.applied += 1
            if op.applied == len(runs) and op.schedule.end <= t and op.ended is None:
                _finish(op)
                _ACTIVE.remove(op)
                progressed = True
        if progressed:
            _start_queued(t)


def _start_queued(t: float) -> None:
    by_state: dict[int, list[Operation]] = {}
    for op in _ACTIVE:
        by_state.setdefault(id(op.state), []).append(op)
    for ops in by_state.values():
        running = [o for o in ops if o.schedule is not None]
        for op in ops:
            if op.schedule is not None:
                continue
            if any(_blocks(op, o) for o in running):
                break  # request order: nothing overtakes a queued operation
            ended = [o.ended for o in op.state.operations if o.ended is not None]
            _start(op, max([op.created] + ended))
            running.append(op)


def _finish(op: Operation) -> None:
    assert op.schedule is not None
    op.ended = op.schedule.end
    for cell in op.cells:
        instance = op.state.instances.get(cell)
        if instance is not None and instance.busy is op:
            instance.busy = None
    if op.action == "DETECT_DRIFT":
        _finish_drift(op)
    ous = (op.deployment_targets or {}).get("OrganizationalUnitIds") or []
    if op.action == "DELETE" and ous:
        # OUs left without instances stop being targets (the organization side decides which).
        state = op.state
        remaining = {account for account, _ in state.instances}
        targets.untarget(state.owner, state.region, state.stack_set.name, ous, remaining)


def _member_parameters(op: Operation, instance: Instance) -> dict[str, str]:
    params = dict(op.parameters)
    for override in instance.overrides:
        if "ParameterValue" in override:
            params[override["ParameterKey"]] = override["ParameterValue"]
    return params


def _apply(op: Operation, run: Run) -> None:
    """The effect of one finished run on the instance and its member stack."""
    state = op.state
    cell = (run.account, run.region)
    instance = state.instances.get(cell)
    if op.action == "DETECT_DRIFT":
        if instance is not None:
            _apply_drift(op, run, instance)
        return
    if instance is None:
        return
    instance.last_operation_id = op.id
    status, reason = run.status, run.reason
    if status == SUCCEEDED and op.action in ("CREATE", "UPDATE"):
        try:
            _deploy(op, instance)
        except Exception as err:  # moto could not deploy the template: the instance fails
            status, reason = FAILED, f"ResourceLogicalId:{type(err).__name__}, {err}"
            op.deploy_failures[cell] = reason
            run.status, run.reason = status, reason
    if op.action == "DELETE":
        if status == SUCCEEDED:
            if not op.retain_stacks and instance.stack_id is not None:
                cloudformation_backends[run.account][run.region].delete_stack(instance.stack_id)
            del state.instances[cell]
            return
        if status in _FAILURES:
            instance.status, instance.detailed, instance.reason = (
                INOPERABLE,
                INOPERABLE,
                reason,
            )
        elif status == SKIPPED:
            instance.status, instance.detailed, instance.reason = (
                "OUTDATED",
                SKIPPED,
                reason,
            )
        else:  # cancelled: the stack is untouched
            instance.detailed, instance.reason = CANCELLED, reason
        return
    if status == SUCCEEDED:
        instance.status, instance.detailed, instance.reason = "CURRENT", SUCCEEDED, None
    elif status == INOPERABLE:
        instance.status, instance.detailed, instance.reason = (
            INOPERABLE,
            INOPERABLE,
            reason,
        )
    else:
        # FAILED, CANCELLED, SKIPPED_SUSPENDED_ACCOUNT: "OUTDATED: The stack isn't currently up
        # to date with the stack set" (StackInstanceSummary Status, API reference).
        instance.status, instance.detailed = "OUTDATED", status
        instance.reason = reason or _default_reason(status)


def _default_reason(status: str) -> str | None:
    if status == CANCELLED:
        return "Cancelled since failure tolerance has exceeded or the operation was stopped"
    return None


def _deploy(op: Operation, instance: Instance) -> None:
    """Creates or updates the member stack in the target account and Region."""
    backend = cloudformation_backends[instance.account][instance.region]
    params = _member_parameters(op, instance)
    if instance.stack_id is not None and instance.stack_id in backend.stacks:
        backend.update_stack(
            name=instance.stack_id,
            template=op.template,
            role_arn=None,
            parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()],
            tags=None,
        )
        return
    # AWS names member stacks StackSet-<stack set name>-<uuid>.
    name = f"StackSet-{op.state.stack_set.name}-{uuid.uuid4()}"
    stack = backend.create_stack(name=name, template=op.template, parameters=params)
    instance.stack_id = stack.stack_id


# --- Drift -------------------------------------------------------------------------------------


def _apply_drift(op: Operation, run: Run, instance: Instance) -> None:
    """One instance's drift detection: the organization side's `drift.detect` compares the member
    stack with the template; the instance records DriftStatus and LastDriftCheckTimestamp
    (StackInstanceSummary, API reference)."""
    instance.last_operation_id = op.id
    if run.status != SUCCEEDED or instance.stack_id is None:
        return
    status, resources = drift.detect(
        instance.account,
        instance.region,
        instance.stack_id,
        op.template,
        _member_parameters(op, instance),
    )
    instance.drift_status = status
    instance.drift_checked = run.end
    drifts = [{**r, "StackId": instance.stack_id} for r in resources]
    for entry in drifts:
        entry.setdefault("Timestamp", iso(run.end))
    instance.drift_results[op.id] = drifts


def _finish_drift(op: Operation) -> None:
    """StackSetDriftDetectionDetails after a drift operation (API reference,
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_StackSetDriftDetectionDetails.html):
    DRIFTED when one or more instances drifted, IN_SYNC when none did; detection COMPLETED,
    FAILED, PARTIAL_SUCCESS (some failed) or STOPPED."""
    state = op.state
    checked = [state.instances[c] for c in op.cells if c in state.instances]
    drifted = sum(1 for i in checked if i.drift_status == "DRIFTED")
    in_sync = sum(1 for i in checked if i.drift_status == "IN_SYNC")
    failed = sum(1 for r in op.runs() if r.status != SUCCEEDED)
    status = op.final_status()
    if status == "STOPPED":
        detection = "STOPPED"
    elif failed and failed == len(op.cells):
        detection = "FAILED"
    elif failed:
        detection = "PARTIAL_SUCCESS"
    else:
        detection = "COMPLETED"
    state.drift = {
        "DriftStatus": "DRIFTED" if drifted else ("IN_SYNC" if in_sync else "NOT_CHECKED"),
        "DriftDetectionStatus": detection,
        "LastDriftCheckTimestamp": iso(op.schedule.end if op.schedule else now()),
        "TotalStackInstancesCount": len(op.cells),
        "DriftedStackInstancesCount": drifted,
        "InSyncStackInstancesCount": in_sync,
        "InProgressStackInstancesCount": 0,
        "FailedStackInstancesCount": failed,
    }


def drift_details(state: StackSetState, t: float) -> dict[str, Any] | None:
    """The stack set's drift detection details; IN_PROGRESS while a drift operation runs."""
    running = [o for o in state.active() if o.action == "DETECT_DRIFT"]
    if running:
        op = running[-1]
        done = [r for r in op.runs() if t >= r.end]
        base = dict(state.drift) or {"DriftStatus": "NOT_CHECKED"}
        base.update(
            {
                "DriftDetectionStatus": "IN_PROGRESS",
                "TotalStackInstancesCount": len(op.cells),
                "InProgressStackInstancesCount": len(op.cells) - len(done),
            }
        )
        return base
    return state.drift or None


# --- Auto-deployment (called by the organization side) ---------------------------------------


def submit_auto_deployment(
    admin_account: str,
    region: str,
    stack_set_name: str,
    action: str,
    cells: Iterable[tuple[str, str]],
) -> Operation | None:
    """An automatic deployment: an operation StackSets starts itself when an account joins or
    leaves a targeted OU. "StackSetOperationPreferences don't apply to AutoDeployment"
    (StackSetOperationPreferences, API reference), so it runs with the defaults; it is QUEUED
    behind running operations ("QUEUED: [Service-managed permissions] For automatic deployments
    that require a sequence of operations, the operation is queued", StackSetOperation Status).
    `action` is CREATE or DELETE; a DELETE honours RetainStacksOnAccountRemoval.
    """
    backend = cloudformation_backends[admin_account][region]
    stack_set = backend.describe_stack_set(stack_set_name)
    state = state_of(stack_set, admin_account, region)
    cells = list(cells)
    if action == "DELETE":
        cells = [c for c in cells if c in state.instances]
    if not cells:
        return None
    retain = bool((state.auto_deployment or {}).get("RetainStacksOnAccountRemoval"))
    op = Operation(
        id=str(uuid.uuid4()),
        action=action,
        state=state,
        cells=list(dict.fromkeys(cells)),
        prefs=Preferences(),
        created=now(),
        retain_stacks=retain if action == "DELETE" else False,
        template=stack_set.template,
        parameters=dict(stack_set.parameters or {}),
        administration_role_arn=stack_set.administration_role_arn,
        execution_role_name=stack_set.execution_role_name,
        auto=True,
    )
    _enqueue(op)
    return op


def install() -> None:
    """Moves operations forward before every request; forgets them on moto's reset."""
    if advance not in control.BEFORE_REQUEST:
        control.BEFORE_REQUEST.append(advance)
    if reset not in control.ON_RESET:
        control.ON_RESET.append(reset)
