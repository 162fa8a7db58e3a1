"""boto3 clients pointed at the local stack, with LocalStack's dummy credentials."""

from __future__ import annotations

import json

import boto3
from botocore.config import Config
from botocore.exceptions import ResponseStreamingError

from harness.config import Settings
from harness.util.errors import HarnessError
from harness.util.waiting import wait_for

_CONFIG = Config(
    retries={"max_attempts": 3, "mode": "standard"},
    s3={"addressing_style": "path"},
    connect_timeout=5,
    read_timeout=60,
)


# LocalStack's header on the calls its services make to each other: the service principal
# a call is made as, and the resource it is made for (localstack.aws.connect's DTO).
SERVICE_HEADER = "x-localstack-data"


def client(
    service: str,
    settings: Settings,
    endpoint: str | None = None,
    credentials: dict[str, str] | None = None,
):
    """A client with the shared test keys, or with a role session's `credentials` (as
    STS AssumeRole returns them), whose calls the local stack's IAM then checks."""
    keys = (
        {
            "aws_access_key_id": credentials["AccessKeyId"],
            "aws_secret_access_key": credentials["SecretAccessKey"],
            "aws_session_token": credentials["SessionToken"],
        }
        if credentials
        else {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
    )
    return boto3.client(
        service,
        endpoint_url=endpoint or settings.endpoint,
        region_name=settings.region,
        config=_CONFIG,
        **keys,
    )


def restart_function(lambda_client, name: str, description: str, timeout: float = 60) -> None:
    """Give function `name` this description, and wait until the update is done: its
    running processes are retired, and its next invocations start new ones.

    On LocalStack as on AWS, a configuration change retires the function's running
    environments. That is how a test makes a function read again what it reads once per
    process (a secret, its role's credentials) without deploying it again."""
    lambda_client.update_function_configuration(FunctionName=name, Description=description)
    wait_for(
        lambda: (
            lambda_client.get_function_configuration(FunctionName=name).get("LastUpdateStatus")
            == "Successful"
        ),
        timeout,
        f"{name} updated",
    )


def as_service(boto_client, principal: str, source_arn: str):
    """`boto_client` making its calls as the service `principal` for `source_arn`, the way
    LocalStack's own services call each other. For the one service the harness plays
    itself (Scheduler, which LocalStack stores but never runs): its AssumeRole of a
    schedule's role is then checked against the trust policy as AWS checks it, with
    aws:SourceArn and aws:SourceAccount. Other emulators ignore the header."""
    dto = json.dumps({"service_principal": principal, "source_arn": source_arn})

    def mark(request, **_) -> None:
        request.headers[SERVICE_HEADER] = dto

    boto_client.meta.events.register("before-sign", mark)
    return boto_client


_READ_ATTEMPTS = 3


def read_object(s3, bucket: str, key: str) -> tuple[bytes, str] | None:
    """The object's body and content type, or None when there is no such key.

    LocalStack's S3 can end a body early when the object is overwritten while it is
    read (a retried Lambda rewriting its record); S3 never does. The whole GET is
    repeated then, so a reader sees one complete version (differences.yaml, localstack).
    """
    for _ in range(_READ_ATTEMPTS - 1):
        try:
            return _get_object(s3, bucket, key)
        except ResponseStreamingError:
            continue  # a body cut short by an overwrite: read the whole object again
    return _get_object(s3, bucket, key)  # the last attempt's error is the caller's


def _get_object(s3, bucket: str, key: str) -> tuple[bytes, str] | None:
    try:
        response = s3.get_object(Bucket=bucket, Key=key)
        body = response["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None
    return body, response.get("ContentType") or "application/octet-stream"


def read_json(s3, bucket: str, key: str) -> dict | None:
    """The JSON object stored at the key, or None when there is no such key."""
    stored = read_object(s3, bucket, key)
    return None if stored is None else json.loads(stored[0])


def delete_versions(s3, bucket: str, prefixes: tuple[str, ...] | list[str] = ("",)) -> int:
    """Delete every version and delete marker under the prefixes (the whole bucket by
    default); returns how many entries went.

    A plain delete in a versioned bucket leaves the object behind a marker. Locally that
    also slows every later listing: LocalStack's ListObjectsV2 walks and sorts every key
    that still has a version or a marker (9,900 entries after seven bench runs whose
    resets deleted only the current keys).
    """
    doomed = [
        {"Key": entry["Key"], "VersionId": entry["VersionId"]}
        for prefix in prefixes
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix)
        for entry in page.get("Versions", []) + page.get("DeleteMarkers", [])
    ]
    for start in range(0, len(doomed), 1000):  # S3's limit per DeleteObjects
        response = s3.delete_objects(
            Bucket=bucket, Delete={"Objects": doomed[start : start + 1000], "Quiet": True}
        )
        if response.get("Errors"):
            raise HarnessError(f"could not delete from s3://{bucket}: {response['Errors'][:3]}")
    return len(doomed)
