"""Realistic `AWS API Call via CloudTrail` events, as EventBridge delivers them for S3 calls.

The shapes follow real CloudTrail records (eventVersion 1.09+): userIdentity, sourceIPAddress,
awsRegion, eventTime, requestParameters (bucketName, Host, bucketPolicy / AccessControlPolicy /
x-amz-acl ...), additionalEventData, resources, recipientAccountId, eventCategory, tlsDetails.
PutObjectAcl is a data event (managementEvent false, eventCategory Data).
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import uuid
from typing import Any

ACCOUNT = "111122223333"
REGION = "eu-west-1"
BUCKET = "acme-payroll-exports"
CALLER_ARN = (
    f"arn:aws:sts::{ACCOUNT}:assumed-role/"
    "AWSReservedSSO_AdministratorAccess_0123456789abcdef/alice@example.com"
)
SOURCE_IP = "203.0.113.24"
OWNER_CANONICAL_ID = "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"

NEW_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "PublicRead",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{BUCKET}/*",
        }
    ],
}


def _user_identity() -> dict[str, Any]:
    return {
        "type": "AssumedRole",
        "principalId": "AROAEXAMPLEID123456789:alice@example.com",
        "arn": CALLER_ARN,
        "accountId": ACCOUNT,
        "accessKeyId": "ASIAEXAMPLEKEY1234567",
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": "AROAEXAMPLEID123456789",
                "arn": f"arn:aws:iam::{ACCOUNT}:role/aws-reserved/sso.amazonaws.com/eu-west-1/"
                "AWSReservedSSO_AdministratorAccess_0123456789abcdef",
                "accountId": ACCOUNT,
                "userName": "AWSReservedSSO_AdministratorAccess_0123456789abcdef",
            },
            "attributes": {"creationDate": "2025-03-14T09:12:01Z", "mfaAuthenticated": "false"},
        },
    }


def cloudtrail_event(
    event_name: str,
    request_parameters: dict[str, Any],
    *,
    event_time: str = "2025-03-14T09:26:53Z",
    read_only: bool = False,
    data_event: bool = False,
    object_key: str | None = None,
    error_code: str | None = None,
    source: str = "aws.s3",
    event_source: str = "s3.amazonaws.com",
) -> dict[str, Any]:
    """The event EventBridge puts on the default bus for one S3 API call recorded by CloudTrail."""
    resources: list[dict[str, Any]] = []
    if object_key is not None:
        resources.append({"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{BUCKET}/{object_key}"})
    resources.append(
        {"accountId": ACCOUNT, "type": "AWS::S3::Bucket", "ARN": f"arn:aws:s3:::{BUCKET}"}
    )
    detail: dict[str, Any] = {
        "eventVersion": "1.10",
        "userIdentity": _user_identity(),
        "eventTime": event_time,
        "eventSource": event_source,
        "eventName": event_name,
        "awsRegion": REGION,
        "sourceIPAddress": SOURCE_IP,
        "userAgent": "[aws-cli/2.22.4 md/awscrt#0.22.0 ua/2.0 os/linux#6.8.0 md/arch#x86_64 "
        "lang/python#3.12.6 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe "
        "md/distrib#ubuntu.24 md/prompt#off md/command#s3api.put-bucket-policy]",
        "requestParameters": request_parameters,
        "responseElements": None,
        "additionalEventData": {
            "SignatureVersion": "SigV4",
            "CipherSuite": "TLS_AES_128_GCM_SHA256",
            "bytesTransferredIn": 0,
            "AuthenticationMethod": "AuthHeader",
            "x-amz-id-2": "Qm9ndXNJZDJGb3JUZXN0c09ubHk9PQ==",
            "bytesTransferredOut": 0,
        },
        "requestID": "K3X1T9W2ZV7QYB6D",
        "eventID": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{event_name}/{event_time}")),
        "readOnly": read_only,
        "resources": resources,
        "eventType": "AwsApiCall",
        "managementEvent": not data_event,
        "recipientAccountId": ACCOUNT,
        "eventCategory": "Data" if data_event else "Management",
        "tlsDetails": {
            "tlsVersion": "TLSv1.3",
            "cipherSuite": "TLS_AES_128_GCM_SHA256",
            "clientProvidedHostHeader": f"{BUCKET}.s3.{REGION}.amazonaws.com",
        },
    }
    if error_code is not None:
        detail["errorCode"] = error_code
        detail["errorMessage"] = "Access Denied"
    return {
        "version": "0",
        "id": str(uuid.uuid5(uuid.NAMESPACE_OID, f"{source}/{event_name}/{event_time}")),
        "detail-type": "AWS API Call via CloudTrail",
        "source": source,
        "account": ACCOUNT,
        "time": event_time,
        "region": REGION,
        "resources": [],
        "detail": detail,
    }


def _host() -> str:
    return f"{BUCKET}.s3.{REGION}.amazonaws.com"


def put_bucket_policy(**kw: Any) -> dict[str, Any]:
    return cloudtrail_event(
        "PutBucketPolicy",
        {
            "bucketPolicy": copy.deepcopy(NEW_POLICY),
            "bucketName": BUCKET,
            "Host": _host(),
            "policy": "",
        },
        **kw,
    )


def delete_bucket_policy() -> dict[str, Any]:
    return cloudtrail_event(
        "DeleteBucketPolicy",
        {"bucketName": BUCKET, "Host": _host(), "policy": ""},
        event_time="2025-03-14T09:31:07Z",
    )


def put_bucket_acl() -> dict[str, Any]:
    return cloudtrail_event(
        "PutBucketAcl",
        {
            "bucketName": BUCKET,
            "Host": _host(),
            "acl": "",
            "AccessControlPolicy": {
                "AccessControlList": {
                    "Grant": [
                        {
                            "Grantee": {
                                "xsi:type": "CanonicalUser",
                                "xmlns:xsi": "http://www.w3.org/2001/XMLSchema-instance",
                                "ID": OWNER_CANONICAL_ID,
                            },
                            "Permission": "FULL_CONTROL",
                        },
                        {
                            "Grantee": {
                                "xsi:type": "Group",
                                "xmlns:xsi": "http://www.w3.org/2001/XMLSchema-instance",
                                "URI": "http://acs.amazonaws.com/groups/global/AllUsers",
                            },
                            "Permission": "READ",
                        },
                    ]
                },
                "xmlns": "http://s3.amazonaws.com/doc/2006-03-01/",
                "Owner": {"ID": OWNER_CANONICAL_ID},
            },
        },
        event_time="2025-03-14T09:33:40Z",
    )


def put_object_acl() -> dict[str, Any]:
    return cloudtrail_event(
        "PutObjectAcl",
        {
            "bucketName": BUCKET,
            "Host": _host(),
            "acl": "",
            "key": "exports/2025-03/payroll.csv",
            "x-amz-acl": ["public-read"],
        },
        event_time="2025-03-14T09:35:12Z",
        data_event=True,
        object_key="exports/2025-03/payroll.csv",
    )


def get_bucket_policy() -> dict[str, Any]:
    """Read-only look-alike: must not alert."""
    return cloudtrail_event(
        "GetBucketPolicy",
        {"bucketName": BUCKET, "Host": _host(), "policy": ""},
        event_time="2025-03-14T09:27:30Z",
        read_only=True,
    )


def put_bucket_tagging() -> dict[str, Any]:
    """A write to the bucket that is not a policy/ACL change: must not alert."""
    return cloudtrail_event(
        "PutBucketTagging",
        {
            "bucketName": BUCKET,
            "Host": _host(),
            "tagging": "",
            "Tagging": {
                "xmlns": "http://s3.amazonaws.com/doc/2006-03-01/",
                "TagSet": {"Tag": [{"Key": "cost-center", "Value": "finance"}]},
            },
        },
        event_time="2025-03-14T09:28:02Z",
    )


def s3_outposts_put_bucket_policy() -> dict[str, Any]:
    """Same API name from another source (S3 on Outposts): must not alert."""
    return cloudtrail_event(
        "PutBucketPolicy",
        {
            "bucketPolicy": copy.deepcopy(NEW_POLICY),
            "bucketName": BUCKET,
            "Host": _host(),
            "policy": "",
        },
        event_time="2025-03-14T09:29:15Z",
        source="aws.s3-outposts",
        event_source="s3-outposts.amazonaws.com",
    )


def custom_source_put_bucket_policy() -> dict[str, Any]:
    """An application event imitating a CloudTrail record (source is not aws.s3): no alert."""
    return cloudtrail_event(
        "PutBucketPolicy",
        {
            "bucketPolicy": copy.deepcopy(NEW_POLICY),
            "bucketName": BUCKET,
            "Host": _host(),
            "policy": "",
        },
        event_time="2025-03-14T09:30:00Z",
        source="com.example.audit-replay",
    )


def must_alert() -> list[dict[str, Any]]:
    return [put_bucket_policy(), delete_bucket_policy(), put_bucket_acl(), put_object_acl()]


def must_not_alert() -> list[dict[str, Any]]:
    return [
        get_bucket_policy(),
        put_bucket_tagging(),
        s3_outposts_put_bucket_policy(),
        custom_source_put_bucket_policy(),
    ]


def put_events_entry(event: dict[str, Any], bus: str | None = None) -> dict[str, Any]:
    """The PutEvents entry that makes EventBridge (or the emulator) deliver `event`."""
    entry: dict[str, Any] = {
        "Source": event["source"],
        "DetailType": event["detail-type"],
        "Detail": json.dumps(event["detail"]),
        "Resources": event["resources"],
        "Time": dt.datetime.fromisoformat(event["time"].replace("Z", "+00:00")),
    }
    if bus is not None:
        entry["EventBusName"] = bus
    return entry
