"""The operations engine through boto3: asynchronous operations, their time model, one operation
at a time, ManagedExecution, StopStackSetOperation, instance statuses, updates that reach the
member stacks, deletes, drift detection as an operation.

Each test names the AWS document it follows (AWS CloudFormation API Reference pages are at
https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_<Name>.html).
"""

from __future__ import annotations

import time
import urllib.error

import pytest
from botocore.exceptions import ClientError

from .helpers import TEMPLATE, accounts, error_code, instances, wait

A, B, C = accounts(3)


@pytest.fixture
def cf(emulator):
    return emulator.client("cloudformation")


@pytest.fixture
def self_managed(emulator, cf):
    """A self-managed stack set whose target accounts have the StackSets roles."""
    emulator.grant_self_managed(A, B, C)
    cf.create_stack_set(StackSetName="ss", TemplateBody=TEMPLATE)
    return "ss"


def _span(op):
    return (op["EndTimestamp"] - op["CreationTimestamp"]).total_seconds()


def test_create_returns_at_once_and_runs_over_time(emulator, cf, self_managed):
    """CreateStackInstances returns an OperationId at once; the operation is RUNNING and its
    instances OUTDATED with DetailedStatus PENDING/RUNNING until they are deployed, then
    SUCCEEDED and CURRENT with a StackId that stays the same from call to call.
    Documents: CreateStackInstances; StackSetOperation (Status); StackInstanceSummary;
    StackInstanceComprehensiveStatus (API reference)."""
    emulator.config(instance_seconds=30, time_scale=0.005)  # 150 ms per instance
    op_id = cf.create_stack_instances(StackSetName="ss", Accounts=[A, B], Regions=["us-east-1"])[
        "OperationId"
    ]
    op = cf.describe_stack_set_operation(StackSetName="ss", OperationId=op_id)["StackSetOperation"]
    assert op["Status"] == "RUNNING"
    assert op["Action"] == "CREATE"
    assert "EndTimestamp" not in op
    seen = instances(cf, "ss")
    assert {s["Status"] for s in seen.values()} == {"OUTDATED"}
    assert {s["StackInstanceStatus"]["DetailedStatus"] for s in seen.values()} <= {
        "PENDING",
        "RUNNING",
    }
    assert all("StackId" not in s for s in seen.values())

    op = wait(cf, "ss", op_id)
    assert op["Status"] == "SUCCEEDED"
    first = instances(cf, "ss")
    assert {(s["Status"], s["StackInstanceStatus"]["DetailedStatus"]) for s in first.values()} == {
        ("CURRENT", "SUCCEEDED")
    }
    assert {k: s["StackId"] for k, s in first.items()} == {
        k: s["StackId"] for k, s in instances(cf, "ss").items()
    }
    member = emulator.client("cloudformation", account=A).describe_stacks(
        StackName=first[(A, "us-east-1")]["StackId"]
    )["Stacks"][0]
    assert member["StackName"].startswith("StackSet-ss-")
    assert member["StackStatus"] == "CREATE_COMPLETE"


def test_without_preferences_one_account_at_a_time_regions_in_turn(emulator, cf, self_managed):
    """Without OperationPreferences AWS works on one account at a time and on one Region after
    another: 3 accounts × 2 Regions take six instance times. Document: StackSetOperationPreferences
    (MaxConcurrentCount "By default, 1"; RegionConcurrencyType SEQUENTIAL)."""
    emulator.config(instance_seconds=30, time_scale=0.001)  # 30 ms per instance
    op_id = cf.create_stack_instances(
        StackSetName="ss", Accounts=[A, B, C], Regions=["us-east-1", "eu-west-1"]
    )["OperationId"]
    op = wait(cf, "ss", op_id)
    assert _span(op) == pytest.approx(0.18, abs=0.01)


@pytest.mark.parametrize(
    ("extra", "span"),
    [
        # STRICT_FAILURE_TOLERANCE (the default) starts at min(MaxConcurrentCount,
        # FailureToleranceCount + 1): with no tolerance, one account at a time.
        ({}, 0.09),
        ({"FailureToleranceCount": 2}, 0.03),
        ({"ConcurrencyMode": "SOFT_FAILURE_TOLERANCE"}, 0.03),
    ],
)
def test_max_concurrent_and_parallel_regions(emulator, cf, self_managed, extra, span):
    """MaxConcurrentCount 3 with RegionConcurrencyType PARALLEL: Regions at once, and three accounts
    at once only when the concurrency mode allows it. Document: StackSetOperationPreferences
    (MaxConcurrentCount, RegionConcurrencyType, ConcurrencyMode: STRICT_FAILURE_TOLERANCE "The
    initial actual concurrency is set to the lower of either the value of the MaxConcurrentCount,
    or the value of FailureToleranceCount +1"; SOFT_FAILURE_TOLERANCE runs at MaxConcurrentCount
    "regardless of the number of failures")."""
    emulator.config(instance_seconds=30, time_scale=0.001)
    op_id = cf.create_stack_instances(
        StackSetName="ss",
        Accounts=[A, B, C],
        Regions=["us-east-1", "eu-west-1"],
        OperationPreferences={
            "MaxConcurrentCount": 3,
            "RegionConcurrencyType": "PARALLEL",
            **extra,
        },
    )["OperationId"]
    op = wait(cf, "ss", op_id)
    assert op["Status"] == "SUCCEEDED"
    assert _span(op) == pytest.approx(span, abs=0.01)
    assert op["OperationPreferences"]["MaxConcurrentCount"] == 3


def test_count_and_percentage_together_is_refused(cf, self_managed):
    """ "You must specify either MaxConcurrentCount or MaxConcurrentPercentage, but not both."
    Document: StackSetOperationPreferences."""
    with pytest.raises(ClientError) as err:
        cf.create_stack_instances(
            StackSetName="ss",
            Accounts=[A],
            Regions=["us-east-1"],
            OperationPreferences={
                "MaxConcurrentCount": 1,
                "MaxConcurrentPercentage": 50,
            },
        )
    assert error_code(err) == "ValidationError"


def test_failure_beyond_tolerance_fails_and_cancels_the_rest(emulator, cf):
    """An account without the execution role fails; with no failure tolerance the operation ends
    FAILED, the instances not yet started are CANCELLED, later Regions never start, and the failed
    instance is OUTDATED/FAILED with AWS's reason. Documents: StackSetOperation (FAILED "cancels
    the operation in any remaining Regions"); StackInstanceComprehensiveStatus (CANCELLED);
    StackSetOperationResultSummary; StackSetOperationPreferences (FailureToleranceCount)."""
    emulator.grant_self_managed(B, C)  # A has no execution role
    cf.create_stack_set(StackSetName="ss", TemplateBody=TEMPLATE)
    op_id = cf.create_stack_instances(
        StackSetName="ss", Accounts=[A, B, C], Regions=["us-east-1", "eu-west-1"]
    )["OperationId"]
    op = wait(cf, "ss", op_id)
    assert op["Status"] == "FAILED"
    assert op["StatusDetails"]["FailedStackInstancesCount"] == 1
    results = {
        (r["Account"], r["Region"]): r
        for r in cf.list_stack_set_operation_results(StackSetName="ss", OperationId=op_id)[
            "Summaries"
        ]
    }
    assert results[(A, "us-east-1")]["Status"] == "FAILED"
    assert "AWSCloudFormationStackSetExecutionRole" in results[(A, "us-east-1")]["StatusReason"]
    assert {results[(x, r)]["Status"] for x in (B, C) for r in ("us-east-1",)} == {"CANCELLED"}
    assert {results[(x, "eu-west-1")]["Status"] for x in (A, B, C)} == {"CANCELLED"}
    seen = instances(cf, "ss")
    assert seen[(A, "us-east-1")]["StackInstanceStatus"]["DetailedStatus"] == "FAILED"
    assert seen[(A, "us-east-1")]["Status"] == "OUTDATED"
    assert "StatusReason" in seen[(A, "us-east-1")]
    assert seen[(B, "eu-west-1")]["StackInstanceStatus"]["DetailedStatus"] == "CANCELLED"


def test_failure_within_tolerance_succeeds(emulator, cf):
    """With FailureToleranceCount 1 one failed account per Region is tolerated: the operation
    SUCCEEDED and the other accounts are deployed. Document: StackSetOperationPreferences
    (FailureToleranceCount); StackSetOperation (SUCCEEDED "without exceeding the failure
    tolerance")."""
    emulator.grant_self_managed(B, C)
    cf.create_stack_set(StackSetName="ss", TemplateBody=TEMPLATE)
    op_id = cf.create_stack_instances(
        StackSetName="ss",
        Accounts=[A, B, C],
        Regions=["us-east-1"],
        OperationPreferences={"FailureToleranceCount": 1, "MaxConcurrentCount": 3},
    )["OperationId"]
    op = wait(cf, "ss", op_id)
    assert op["Status"] == "SUCCEEDED"
    assert op["StatusDetails"]["FailedStackInstancesCount"] == 1
    seen = instances(cf, "ss")
    assert seen[(B, "us-east-1")]["Status"] == "CURRENT"
    assert seen[(A, "us-east-1")]["StackInstanceStatus"]["DetailedStatus"] == "FAILED"


def test_one_operation_at_a_time(emulator, cf, self_managed):
    """While an operation runs, another on the same stack set fails with
    OperationInProgressException; other stack sets are not blocked; once it ended the next one is
    accepted. Documents: CreateStackInstances and UpdateStackSet (Errors:
    OperationInProgressException); ManagedExecution ("When false (default), StackSets performs one
    operation at a time")."""
    emulator.config(instance_seconds=30, time_scale=0.01)  # 300 ms per instance
    cf.create_stack_set(StackSetName="other", TemplateBody=TEMPLATE)
    op_id = cf.create_stack_instances(StackSetName="ss", Accounts=[A], Regions=["us-east-1"])[
        "OperationId"
    ]
    for call in (
        lambda: cf.update_stack_set(StackSetName="ss", TemplateBody=TEMPLATE),
        lambda: cf.create_stack_instances(StackSetName="ss", Accounts=[B], Regions=["us-east-1"]),
        lambda: cf.delete_stack_instances(
            StackSetName="ss", Accounts=[A], Regions=["us-east-1"], RetainStacks=False
        ),
        lambda: cf.detect_stack_set_drift(StackSetName="ss"),
        lambda: cf.delete_stack_set(StackSetName="ss"),
    ):
        with pytest.raises(ClientError) as err:
            call()
        assert error_code(err) == "OperationInProgressException"
    cf.create_stack_instances(StackSetName="other", Accounts=[B], Regions=["us-east-1"])
    wait(cf, "ss", op_id)
    cf.update_stack_set(StackSetName="ss", TemplateBody=TEMPLATE)


def test_managed_execution_runs_non_conflicting_and_queues_conflicting(emulator, cf):
    """With ManagedExecution.Active, non-conflicting operations run concurrently; conflicting ones
    are QUEUED and start, in request order, once the conflict is over. Document: ManagedExecution
    ("StackSets performs non-conflicting operations concurrently and queues conflicting
    operations")."""
    emulator.grant_self_managed(A, B)
    emulator.config(instance_seconds=30, time_scale=0.005)  # 150 ms per instance
    cf.create_stack_set(StackSetName="ss", TemplateBody=TEMPLATE, ManagedExecution={"Active": True})
    assert cf.describe_stack_set(StackSetName="ss")["StackSet"]["ManagedExecution"] == {
        "Active": True
    }
    first = cf.create_stack_instances(StackSetName="ss", Accounts=[A], Regions=["us-east-1"])
    second = cf.create_stack_instances(StackSetName="ss", Accounts=[B], Regions=["us-east-1"])
    third = cf.update_stack_instances(
        StackSetName="ss",
        Accounts=[A],
        Regions=["us-east-1"],
        ParameterOverrides=[{"ParameterKey": "Team", "ParameterValue": "red"}],
    )

    def status(op):
        return cf.describe_stack_set_operation(StackSetName="ss", OperationId=op["OperationId"])[
            "StackSetOperation"
        ]["Status"]

    assert [status(first), status(second), status(third)] == [
        "RUNNING",
        "RUNNING",
        "QUEUED",
    ]
    assert wait(cf, "ss", third["OperationId"])["Status"] == "SUCCEEDED"
    assert [status(first), status(second)] == ["SUCCEEDED", "SUCCEEDED"]
    listed = {
        o["OperationId"]: o["Status"]
        for o in cf.list_stack_set_operations(StackSetName="ss")["Summaries"]
    }
    assert set(listed.values()) == {"SUCCEEDED"}
    assert len(listed) == 3


def test_stop_cancels_what_has_not_started(emulator, cf, self_managed):
    """StopStackSetOperation: the operation is STOPPING while started instances finish, then
    STOPPED; instances not started are CANCELLED; an ended operation cannot be stopped.
    Documents: StopStackSetOperation; StackSetOperation (STOPPING, STOPPED);
    StackInstanceComprehensiveStatus (CANCELLED "because a user has stopped the stack set
    operation")."""
    emulator.config(instance_seconds=30, time_scale=0.005)
    op_id = cf.create_stack_instances(StackSetName="ss", Accounts=[A, B, C], Regions=["us-east-1"])[
        "OperationId"
    ]
    cf.stop_stack_set_operation(StackSetName="ss", OperationId=op_id)
    op = cf.describe_stack_set_operation(StackSetName="ss", OperationId=op_id)["StackSetOperation"]
    assert op["Status"] == "STOPPING"
    op = wait(cf, "ss", op_id)
    assert op["Status"] == "STOPPED"
    statuses = {
        r["Account"]: r["Status"]
        for r in cf.list_stack_set_operation_results(StackSetName="ss", OperationId=op_id)[
            "Summaries"
        ]
    }
    assert statuses == {A: "SUCCEEDED", B: "CANCELLED", C: "CANCELLED"}
    assert instances(cf, "ss")[(B, "us-east-1")]["StackInstanceStatus"] == {
        "DetailedStatus": "CANCELLED"
    }
    with pytest.raises(ClientError) as err:
        cf.stop_stack_set_operation(StackSetName="ss", OperationId=op_id)
    assert error_code(err) == "InvalidOperationException"
    with pytest.raises(ClientError) as err:
        cf.stop_stack_set_operation(StackSetName="ss", OperationId="no-such-operation")
    assert error_code(err) == "OperationNotFoundException"


def _member_team(emulator, cf, account, region="us-east-1"):
    stack_id = instances(cf, "ss")[(account, region)]["StackId"]
    stack = emulator.client("cloudformation", account=account, region=region).describe_stacks(
        StackName=stack_id
    )["Stacks"][0]
    return {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}["Team"]


def test_update_stack_set_updates_the_member_stacks(emulator, cf, self_managed):
    """UpdateStackSet is an UPDATE operation that updates the stacks of the instances, not only the
    stack set: the member stacks get the new parameter value, instances are OUTDATED while it
    runs and CURRENT after. Documents: UpdateStackSet ("Updates the stack set and associated stack
    instances in the specified accounts and Regions"); StackInstanceSummary (OUTDATED)."""
    op_id = cf.create_stack_instances(StackSetName="ss", Accounts=[A, B], Regions=["us-east-1"])[
        "OperationId"
    ]
    wait(cf, "ss", op_id)
    assert _member_team(emulator, cf, A) == "blue"
    emulator.config(instance_seconds=30, time_scale=0.005)
    op_id = cf.update_stack_set(
        StackSetName="ss",
        TemplateBody=TEMPLATE,
        Parameters=[{"ParameterKey": "Team", "ParameterValue": "green"}],
    )["OperationId"]
    assert {s["Status"] for s in instances(cf, "ss").values()} == {"OUTDATED"}
    assert wait(cf, "ss", op_id)["Action"] == "UPDATE"
    assert _member_team(emulator, cf, A) == "green"
    assert _member_team(emulator, cf, B) == "green"
    assert {s["Status"] for s in instances(cf, "ss").values()} == {"CURRENT"}
    described = cf.describe_stack_set(StackSetName="ss")["StackSet"]
    assert described["Parameters"] == [{"ParameterKey": "Team", "ParameterValue": "green"}]


def test_update_stack_instances_deploys_overrides(emulator, cf, self_managed):
    """UpdateStackInstances sets parameter overrides of existing instances and deploys them; an
    instance that does not exist is StackInstanceNotFoundException. Document:
    UpdateStackInstances (ParameterOverrides; Errors)."""
    wait(
        cf,
        "ss",
        cf.create_stack_instances(StackSetName="ss", Accounts=[A, B], Regions=["us-east-1"])[
            "OperationId"
        ],
    )
    op_id = cf.update_stack_instances(
        StackSetName="ss",
        Accounts=[A],
        Regions=["us-east-1"],
        ParameterOverrides=[{"ParameterKey": "Team", "ParameterValue": "red"}],
    )["OperationId"]
    wait(cf, "ss", op_id)
    assert (_member_team(emulator, cf, A), _member_team(emulator, cf, B)) == (
        "red",
        "blue",
    )
    described = cf.describe_stack_instance(
        StackSetName="ss", StackInstanceAccount=A, StackInstanceRegion="us-east-1"
    )["StackInstance"]
    assert described["ParameterOverrides"] == [{"ParameterKey": "Team", "ParameterValue": "red"}]
    with pytest.raises(ClientError) as err:
        cf.update_stack_instances(StackSetName="ss", Accounts=[C], Regions=["us-east-1"])
    assert error_code(err) == "StackInstanceNotFoundException"


def test_delete_instances_and_stack_set(emulator, cf, self_managed):
    """DeleteStackInstances deletes the member stacks (RetainStacks keeps them); DeleteStackSet
    fails with StackSetNotEmptyException while instances exist and succeeds after. Documents:
    DeleteStackInstances (RetainStacks); DeleteStackSet (StackSetNotEmptyException)."""
    wait(
        cf,
        "ss",
        cf.create_stack_instances(StackSetName="ss", Accounts=[A, B], Regions=["us-east-1"])[
            "OperationId"
        ],
    )
    stacks = {k[0]: s["StackId"] for k, s in instances(cf, "ss").items()}
    with pytest.raises(ClientError) as err:
        cf.delete_stack_set(StackSetName="ss")
    assert error_code(err) == "StackSetNotEmptyException"
    wait(
        cf,
        "ss",
        cf.delete_stack_instances(
            StackSetName="ss", Accounts=[A], Regions=["us-east-1"], RetainStacks=False
        )["OperationId"],
    )
    wait(
        cf,
        "ss",
        cf.delete_stack_instances(
            StackSetName="ss", Accounts=[B], Regions=["us-east-1"], RetainStacks=True
        )["OperationId"],
    )
    assert instances(cf, "ss") == {}
    deleted = emulator.client("cloudformation", account=A).describe_stacks(StackName=stacks[A])
    assert deleted["Stacks"][0]["StackStatus"] == "DELETE_COMPLETE"
    kept = emulator.client("cloudformation", account=B).describe_stacks(StackName=stacks[B])
    assert kept["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    cf.delete_stack_set(StackSetName="ss")
    with pytest.raises(ClientError) as err:
        cf.describe_stack_set(StackSetName="ss")
    assert error_code(err) == "StackSetNotFoundException"


def test_retain_stacks_releases_an_inoperable_instance(emulator, cf, self_managed):
    """A delete that cannot reach the account leaves the instance INOPERABLE; a delete with
    RetainStacks reaches nothing in the account and so releases it, leaving the stack
    ("StackInstanceComprehensiveStatus", API Reference; AWS re:Post Knowledge Center "How do I
    delete a stack instance from a CloudFormation stack set in a closed or suspended AWS
    account?")."""
    wait(
        cf,
        "ss",
        cf.create_stack_instances(StackSetName="ss", Accounts=[A], Regions=["us-east-1"])[
            "OperationId"
        ],
    )
    stack = instances(cf, "ss")[(A, "us-east-1")]["StackId"]
    emulator.client("iam", account=A).delete_role(RoleName="AWSCloudFormationStackSetExecutionRole")
    failed = wait(
        cf,
        "ss",
        cf.delete_stack_instances(
            StackSetName="ss", Accounts=[A], Regions=["us-east-1"], RetainStacks=False
        )["OperationId"],
    )
    assert failed["Status"] == "FAILED"
    summary = instances(cf, "ss")[(A, "us-east-1")]
    assert summary["Status"] == "INOPERABLE"
    assert summary["StackInstanceStatus"]["DetailedStatus"] == "INOPERABLE"
    released = wait(
        cf,
        "ss",
        cf.delete_stack_instances(
            StackSetName="ss", Accounts=[A], Regions=["us-east-1"], RetainStacks=True
        )["OperationId"],
    )
    assert released["Status"] == "SUCCEEDED"
    assert instances(cf, "ss") == {}
    kept = emulator.client("cloudformation", account=A).describe_stacks(StackName=stack)
    assert kept["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"


def test_account_status_from_the_control_endpoint(emulator):
    """`POST /_emulator/account-status` sets an account's Organizations status (AWS Support
    reopens a closed account within its post-closure period, "Close an AWS account", AWS Account
    Management Reference Guide); unknown statuses and accounts are refused."""
    o = emulator.client("organizations")
    o.create_organization(FeatureSet="ALL")
    member = o.create_account(AccountName="m", Email="m@example.com")["CreateAccountStatus"][
        "AccountId"
    ]
    o.close_account(AccountId=member)
    assert o.describe_account(AccountId=member)["Account"]["Status"] == "SUSPENDED"
    answer = emulator.post("/_emulator/account-status", {"account_id": member, "status": "ACTIVE"})
    assert answer == {"account_id": member, "status": "ACTIVE"}
    reopened = o.describe_account(AccountId=member)["Account"]
    assert (reopened["Status"], reopened.get("State", "ACTIVE")) == ("ACTIVE", "ACTIVE")
    for body in ({"account_id": member, "status": "GONE"}, {"account_id": "1", "status": "ACTIVE"}):
        with pytest.raises(urllib.error.HTTPError) as err:
            emulator.post("/_emulator/account-status", body)
        assert err.value.code == 400


def test_describe_missing_instance(cf, self_managed):
    """DescribeStackInstance of an instance that does not exist: StackInstanceNotFoundException.
    Document: DescribeStackInstance (Errors)."""
    with pytest.raises(ClientError) as err:
        cf.describe_stack_instance(
            StackSetName="ss", StackInstanceAccount=A, StackInstanceRegion="us-east-1"
        )
    assert error_code(err) == "StackInstanceNotFoundException"


def test_drift_detection_is_an_operation(emulator, cf, self_managed):
    """DetectStackSetDrift returns an OperationId; the DETECT_DRIFT operation checks each instance,
    which then has DriftStatus and LastDriftCheckTimestamp; the stack set gets drift detection
    details; ListStackInstanceResourceDrifts answers for that operation. Documents:
    DetectStackSetDrift; StackSetDriftDetectionDetails; StackInstanceSummary (DriftStatus,
    LastDriftCheckTimestamp); ListStackInstanceResourceDrifts."""
    wait(
        cf,
        "ss",
        cf.create_stack_instances(StackSetName="ss", Accounts=[A, B], Regions=["us-east-1"])[
            "OperationId"
        ],
    )
    assert {s["DriftStatus"] for s in instances(cf, "ss").values()} == {"NOT_CHECKED"}
    op_id = cf.detect_stack_set_drift(StackSetName="ss")["OperationId"]
    op = wait(cf, "ss", op_id)
    assert (op["Action"], op["Status"]) == ("DETECT_DRIFT", "SUCCEEDED")
    seen = instances(cf, "ss")
    assert {s["DriftStatus"] for s in seen.values()} == {"IN_SYNC"}
    assert all("LastDriftCheckTimestamp" in s for s in seen.values())
    details = cf.describe_stack_set(StackSetName="ss")["StackSet"]["StackSetDriftDetectionDetails"]
    assert details["DriftStatus"] == "IN_SYNC"
    assert details["DriftDetectionStatus"] == "COMPLETED"
    assert details["TotalStackInstancesCount"] == 2
    assert details["InSyncStackInstancesCount"] == 2
    drifts = cf.list_stack_instance_resource_drifts(
        StackSetName="ss",
        StackInstanceAccount=A,
        StackInstanceRegion="us-east-1",
        OperationId=op_id,
    )["Summaries"]
    # The marker template's WaitConditionHandle is a type drift detection does not check.
    assert {d["StackResourceDriftStatus"] for d in drifts} <= {"IN_SYNC", "NOT_CHECKED"}
    assert {d["StackId"] for d in drifts} <= {seen[(A, "us-east-1")]["StackId"]}


def test_time_scale_from_the_control_endpoint(emulator, cf, self_managed):
    """The emulator's own interface: POST /_emulator/config changes how long an instance takes
    (no AWS document: this is test control)."""
    emulator.config(instance_seconds=60, time_scale=0.001)
    op_id = cf.create_stack_instances(StackSetName="ss", Accounts=[A], Regions=["us-east-1"])[
        "OperationId"
    ]
    started = time.monotonic()
    op = wait(cf, "ss", op_id)
    assert time.monotonic() - started >= 0.05
    assert _span(op) == pytest.approx(0.06, abs=0.01)


# --- The time model as a pure function (no server) ------------------------------------------


def _plan(cells, prefs=None, failing=(), stop_at=None):
    from tests.emulator.engine import FAILED, SUCCEEDED, Preferences, simulate

    def outcome(account, region):
        return (FAILED, "no role") if (account, region) in failing else (SUCCEEDED, None)

    return simulate(cells, Preferences.parse(prefs), outcome, 0.0, 1.0, stop_at)


def _runs(schedule):
    return {(r.account, r.region): (r.start, r.end, r.status) for r in schedule.runs}


def test_region_order_comes_first():
    """RegionOrder: "The order of the Regions where you want to perform the stack operation";
    the Regions it leaves out follow. Document: StackSetOperationPreferences (RegionOrder)."""
    cells = [("a", "us-east-1"), ("a", "eu-west-1"), ("a", "ap-south-1")]
    runs = _runs(_plan(cells, {"RegionOrder": ["ap-south-1", "eu-west-1"]}))
    assert [r for _, r in sorted((v[0], k[1]) for k, v in runs.items())] == [
        "ap-south-1",
        "eu-west-1",
        "us-east-1",
    ]


def test_percentages_round_down_but_not_to_zero():
    """MaxConcurrentPercentage rounds down "except in cases where rounding down would result is
    zero. In this case, CloudFormation sets the number as one instead"; FailureTolerancePercentage
    rounds down. Document: StackSetOperationPreferences."""
    from tests.emulator.engine import Preferences

    prefs = Preferences.parse({"MaxConcurrentPercentage": 10, "FailureTolerancePercentage": 30})
    assert (prefs.concurrency(5), prefs.concurrency(25)) == (1, 2)
    assert (prefs.tolerance(3), prefs.tolerance(10)) == (0, 3)


def test_strict_mode_lowers_concurrency_after_a_failure():
    """STRICT_FAILURE_TOLERANCE starts at min(MaxConcurrentCount, FailureToleranceCount + 1) and
    "the actual concurrency is then reduced proportionally by the number of failures"; SOFT keeps
    MaxConcurrentCount. Document: StackSetOperationPreferences (ConcurrencyMode)."""
    cells = [(a, "r") for a in "abcdef"]
    prefs = {"MaxConcurrentCount": 3, "FailureToleranceCount": 2}
    strict = _plan(cells, prefs, failing={("a", "r")})
    soft = _plan(cells, {**prefs, "ConcurrencyMode": "SOFT_FAILURE_TOLERANCE"}, {("a", "r")})
    assert strict.failed_at is None and soft.failed_at is None
    # strict: 3 at once, then 2 at once after the failure: a,b,c | d,e | f
    assert strict.end == 3.0
    # soft: 3 at once throughout: a,b,c | d,e,f
    assert soft.end == 2.0


def test_parallel_regions_stop_starting_when_one_region_fails():
    """With PARALLEL Regions, a Region that exceeds its tolerance fails the operation and
    "CloudFormation cancels the operation in any remaining Regions": nothing new starts anywhere.
    Document: StackSetOperation (Status FAILED)."""
    cells = [(a, r) for r in ("r1", "r2") for a in "abc"]
    schedule = _plan(cells, {"RegionConcurrencyType": "PARALLEL"}, failing={("a", "r1")})
    runs = _runs(schedule)
    assert schedule.failed_region == "r1"
    assert runs[("a", "r2")][2] == "SUCCEEDED"  # started at the same moment
    assert {runs[(x, r)][2] for x in "bc" for r in ("r1", "r2")} == {"CANCELLED"}


def test_stop_lets_running_instances_finish():
    """StopStackSetOperation: instances already running finish, the rest is CANCELLED. Document:
    StopStackSetOperation; StackInstanceComprehensiveStatus (CANCELLED)."""
    runs = _runs(_plan([(a, "r") for a in "abc"], stop_at=1.5))
    assert [runs[(a, "r")][2] for a in "abc"] == ["SUCCEEDED", "SUCCEEDED", "CANCELLED"]
    assert runs[("b", "r")][1] == 2.0
