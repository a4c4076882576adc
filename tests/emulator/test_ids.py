"""Operation ids and stack set names through boto3: AWS echoes the caller's OperationId, refuses
a reused one, makes CreateStackSet idempotent by ClientRequestToken and refuses a taken name.

API reference pages: https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_<Name>.html
"""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from .helpers import TEMPLATE, accounts, error_code, wait

A, B = accounts(2)


@pytest.fixture
def cf(emulator):
    emulator.grant_self_managed(A, B)
    client = emulator.client("cloudformation")
    client.create_stack_set(StackSetName="ss", TemplateBody=TEMPLATE)
    return client


def test_operation_id_is_echoed(cf):
    """The OperationId the caller gives is the operation's id. Document: CreateStackInstances
    (OperationId: "The unique identifier for this stack set operation"; the response's
    OperationId)."""
    out = cf.create_stack_instances(
        StackSetName="ss", Accounts=[A], Regions=["us-east-1"], OperationId="rollout-1"
    )
    assert out["OperationId"] == "rollout-1"
    assert wait(cf, "ss", "rollout-1")["OperationId"] == "rollout-1"


def test_reused_operation_id_is_refused(cf):
    """A second call with an OperationId that exists fails with
    OperationIdAlreadyExistsException, whatever the action, while the operation runs and after it
    ended. Documents: CreateStackInstances, UpdateStackSet, DeleteStackInstances (Errors:
    OperationIdAlreadyExistsException "The specified operation ID already exists")."""
    cf.create_stack_instances(
        StackSetName="ss", Accounts=[A], Regions=["us-east-1"], OperationId="op-1"
    )
    with pytest.raises(ClientError) as err:
        cf.create_stack_instances(
            StackSetName="ss", Accounts=[A], Regions=["us-east-1"], OperationId="op-1"
        )
    assert error_code(err) == "OperationIdAlreadyExistsException"
    wait(cf, "ss", "op-1")
    for call in (
        lambda: cf.update_stack_set(StackSetName="ss", TemplateBody=TEMPLATE, OperationId="op-1"),
        lambda: cf.delete_stack_instances(
            StackSetName="ss",
            Accounts=[A],
            Regions=["us-east-1"],
            RetainStacks=False,
            OperationId="op-1",
        ),
    ):
        with pytest.raises(ClientError) as err:
            call()
        assert error_code(err) == "OperationIdAlreadyExistsException"


def test_operation_id_pattern(cf):
    """OperationId must match [a-zA-Z0-9][-a-zA-Z0-9]*. Document: CreateStackInstances
    (OperationId Pattern)."""
    with pytest.raises(ClientError) as err:
        cf.create_stack_instances(
            StackSetName="ss",
            Accounts=[A],
            Regions=["us-east-1"],
            OperationId="-bad_id",
        )
    assert error_code(err) == "ValidationError"


def test_create_stack_set_is_idempotent_by_client_request_token(cf):
    """A retried CreateStackSet with the same ClientRequestToken returns the same stack set; a
    different token for a name in use is NameAlreadyExistsException. Document: CreateStackSet
    (ClientRequestToken: "Specify this token if you plan to retry requests so that CloudFormation
    knows that you're not attempting to create another stack set with the same name";
    StackSetName: "must be unique in the Region"; Errors: NameAlreadyExistsException)."""
    first = cf.create_stack_set(StackSetName="tok", TemplateBody=TEMPLATE, ClientRequestToken="t1")
    again = cf.create_stack_set(StackSetName="tok", TemplateBody=TEMPLATE, ClientRequestToken="t1")
    assert again["StackSetId"] == first["StackSetId"]
    with pytest.raises(ClientError) as err:
        cf.create_stack_set(StackSetName="tok", TemplateBody=TEMPLATE, ClientRequestToken="t2")
    assert error_code(err) == "NameAlreadyExistsException"
    # boto3 fills ClientRequestToken with a fresh UUID when none is given.
    with pytest.raises(ClientError) as err:
        cf.create_stack_set(StackSetName="ss", TemplateBody=TEMPLATE)
    assert error_code(err) == "NameAlreadyExistsException"
    names = [s["StackSetName"] for s in cf.list_stack_sets(Status="ACTIVE")["Summaries"]]
    assert sorted(names) == ["ss", "tok"]


def test_name_is_free_again_after_delete(cf):
    """A deleted stack set's name can be used again. Document: CreateStackSet (StackSetName unique
    among the Region's stack sets) and DeleteStackSet."""
    old = cf.describe_stack_set(StackSetName="ss")["StackSet"]["StackSetId"]
    cf.delete_stack_set(StackSetName="ss")
    new = cf.create_stack_set(StackSetName="ss", TemplateBody=TEMPLATE)["StackSetId"]
    assert new != old
