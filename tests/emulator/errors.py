"""AWS errors raised by the emulator's patches.

`AwsError` subclasses moto's `ServiceException`, so moto's serializer renders it in the protocol of
the service being called: the Query protocol's XML error for CloudFormation
(`<ErrorResponse><Error><Type>Sender</Type><Code>...</Code><Message>...</Message></Error>...`),
the JSON error (`__type`) for Organizations and the Account API. `to_xml` renders the Query form
for responses the emulator writes itself.

AWS error shape of the Query protocol: "Common Errors" and the Errors section of each action,
AWS CloudFormation API Reference,
https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/CommonErrors.html
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from moto.core.exceptions import ServiceException


class AwsError(ServiceException):
    """An error as AWS returns it: `code` (e.g. `OperationInProgressException`), a message, and
    the HTTP status (400 for the caller's mistakes, as AWS's `Sender` errors).

    The status moto finally sends comes from the botocore model of the error when the model knows
    it (it does for every modeled StackSets exception) and is 400 otherwise; `status` is kept for
    `to_xml` and for callers that write their own responses."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(code, message)
        self.status = status

    @property
    def sender_fault(self) -> bool:
        """AWS says `Sender` for 4xx errors and `Receiver` for 5xx."""
        return self.status < 500

    def to_xml(self, request_id: str = "00000000-0000-0000-0000-000000000000") -> str:
        """The Query protocol's error document, as CloudFormation returns it."""
        kind = "Sender" if self.sender_fault else "Receiver"
        return (
            '<ErrorResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/">'
            f"<Error><Type>{kind}</Type><Code>{escape(self.code)}</Code>"
            f"<Message>{escape(self.message)}</Message></Error>"
            f"<RequestId>{escape(request_id)}</RequestId></ErrorResponse>"
        )

    def __repr__(self) -> str:
        return f"AwsError({self.code!r}, {self.message!r}, {self.status})"
