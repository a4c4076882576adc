"""Paging as AWS pages: at most 100 items a page, MaxResults honoured, NextToken to go on.

Documents: ListStackInstances, ListStackSetOperations, ListStackSetOperationResults, ListStackSets
(MaxResults "Valid Range: Minimum value of 1. Maximum value of 100."; NextToken "If the request
doesn't return all the remaining results, NextToken is set to a token"), AWS CloudFormation API
Reference, https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_<Name>.html
"""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from .helpers import TEMPLATE, accounts, error_code, wait

REGIONS = ["us-east-1", "eu-west-1"]
MANY = accounts(60)  # 120 instances


@pytest.fixture(scope="module")
def cf(emulator_process):
    """One stack set of 250 instances for the whole module (the tests only add other stack
    sets), since seeding the accounts' roles is the slow part."""
    emulator = emulator_process
    emulator.reset()
    emulator.config(instance_seconds=0)
    emulator.grant_self_managed(*MANY)
    client = emulator.client("cloudformation")
    client.create_stack_set(StackSetName="ss", TemplateBody=TEMPLATE)
    op_id = client.create_stack_instances(
        StackSetName="ss",
        Accounts=MANY,
        Regions=REGIONS,
        OperationPreferences={
            "MaxConcurrentPercentage": 100,
            "FailureTolerancePercentage": 100,
        },
    )["OperationId"]
    assert wait(client, "ss", op_id)["Status"] == "SUCCEEDED"
    return client


def _pages(call, **kwargs):
    pages = []
    token = None
    while True:
        page = call(**kwargs, **({"NextToken": token} if token else {}))
        pages.append(page["Summaries"])
        token = page.get("NextToken")
        if not token:
            return pages


def test_list_stack_instances_pages_of_100(cf):
    """120 instances come as 100 + 20; every instance once. Document: ListStackInstances."""
    pages = _pages(cf.list_stack_instances, StackSetName="ss")
    assert [len(p) for p in pages] == [100, 20]
    cells = {(s["Account"], s["Region"]) for p in pages for s in p}
    assert cells == {(a, r) for a in MANY for r in REGIONS}


def test_max_results_is_honoured(cf):
    """MaxResults 40 gives pages of at most 40. Document: ListStackInstances (MaxResults)."""
    pages = _pages(cf.list_stack_instances, StackSetName="ss", MaxResults=40)
    assert [len(p) for p in pages] == [40, 40, 40]


def test_filters_apply_before_paging(cf):
    """StackInstanceRegion narrows the list, and paging applies to what is left. Document:
    ListStackInstances (StackInstanceRegion, Filters)."""
    pages = _pages(
        cf.list_stack_instances,
        StackSetName="ss",
        StackInstanceRegion="eu-west-1",
        MaxResults=25,
    )
    assert [len(p) for p in pages] == [25, 25, 10]
    assert {s["Region"] for p in pages for s in p} == {"eu-west-1"}
    failed = cf.list_stack_instances(
        StackSetName="ss", Filters=[{"Name": "DETAILED_STATUS", "Values": "FAILED"}]
    )
    assert failed["Summaries"] == []


def test_max_results_above_100_is_refused(cf):
    """MaxResults beyond the valid range 1-100 is a ValidationError. Document: ListStackInstances
    (MaxResults Valid Range)."""
    with pytest.raises(ClientError) as err:
        cf.list_stack_instances(StackSetName="ss", MaxResults=101)
    assert error_code(err) == "ValidationError"


def test_foreign_token_is_refused(cf):
    """A NextToken from another listing is not accepted. Document: ListStackInstances (NextToken
    is "set to a token" by this call; the strictest reading refuses tokens of other calls)."""
    token = cf.list_stack_instances(StackSetName="ss")["NextToken"]
    with pytest.raises(ClientError) as err:
        cf.list_stack_set_operations(StackSetName="ss", NextToken=token)
    assert error_code(err) == "ValidationError"


def test_operation_results_page(cf):
    """ListStackSetOperationResults lists one result per instance, 100 a page. Document:
    ListStackSetOperationResults."""
    op_id = cf.list_stack_set_operations(StackSetName="ss")["Summaries"][0]["OperationId"]
    pages = _pages(cf.list_stack_set_operation_results, StackSetName="ss", OperationId=op_id)
    assert [len(p) for p in pages] == [100, 20]
    assert {r["Status"] for p in pages for r in p} == {"SUCCEEDED"}


def test_operations_page(cf):
    """ListStackSetOperations pages too: 101 operations are 100 + 1, newest first. Document:
    ListStackSetOperations."""
    cf.create_stack_set(StackSetName="empty", TemplateBody=TEMPLATE)
    ids = []
    for i in range(101):
        ids.append(
            cf.update_stack_set(StackSetName="empty", TemplateBody=TEMPLATE, OperationId=f"u{i}")[
                "OperationId"
            ]
        )
        wait(cf, "empty", ids[-1])
    pages = _pages(cf.list_stack_set_operations, StackSetName="empty")
    assert [len(p) for p in pages] == [100, 1]
    assert [o["OperationId"] for p in pages for o in p] == list(reversed(ids))


def test_stack_sets_page(cf):
    """ListStackSets honours MaxResults. Document: ListStackSets."""
    for i in range(5):
        cf.create_stack_set(StackSetName=f"more{i}", TemplateBody=TEMPLATE)
    total = len(_pages(cf.list_stack_sets)[0])
    assert total >= 6
    pages = _pages(cf.list_stack_sets, MaxResults=2)
    assert [len(p) for p in pages] == [2] * (total // 2) + ([1] if total % 2 else [])
