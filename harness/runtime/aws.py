"""boto3 clients pointed at the local stack, with LocalStack's dummy credentials."""

from __future__ import annotations

import json

import boto3
from botocore.config import Config
from botocore.exceptions import ResponseStreamingError

from harness.config import Settings

_CONFIG = Config(
    retries={"max_attempts": 3, "mode": "standard"},
    s3={"addressing_style": "path"},
    connect_timeout=5,
    read_timeout=60,
)


def client(service: str, settings: Settings, endpoint: str | None = None):
    return boto3.client(
        service,
        endpoint_url=endpoint or settings.endpoint,
        region_name=settings.region,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=_CONFIG,
    )


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
