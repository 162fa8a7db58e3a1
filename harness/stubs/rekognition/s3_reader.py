"""How the Rekognition stub reads ``Image.S3Object`` images.

Real Rekognition reads the object from S3 itself; locally that S3 is LocalStack, so the
default reader is a boto3 S3 client pointed at it (path-style addressing, since bucket
subdomains of 127.0.0.1 do not resolve). The reader is injectable - any callable
``(bucket, key, version) -> bytes`` that raises on a missing object - so unit tests and
scenarios can serve images from a dict without LocalStack. A reader may raise
``RekognitionError`` itself (the boto3 reader: an object over the 15 MB limit, from its
length, without reading it); any other failure is ``InvalidS3ObjectException``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from typing import Any

from harness.stubs.rekognition.exceptions import RekognitionError
from harness.stubs.rekognition.images import MAX_S3_SIZE

S3Reader = Callable[[str, str, str | None], bytes]


def boto3_s3_reader(endpoint_url: str | None = None, region: str | None = None) -> S3Reader:
    """A reader using boto3 S3. ``endpoint_url`` None uses the environment/AWS defaults.

    The client is created on first use (the stubs must start even when boto3 cannot
    find credentials) and shared afterwards: boto3 clients are thread-safe, creating
    them concurrently is not.
    """
    lock = threading.Lock()
    client: Any = None

    def get_client() -> Any:
        nonlocal client
        with lock:
            if client is None:
                client = _make_client(endpoint_url, region)
            return client

    def read(bucket: str, key: str, version: str | None) -> bytes:
        params = {"Bucket": bucket, "Key": key}
        if version:
            params["VersionId"] = version
        response = get_client().get_object(**params)
        body = response["Body"]
        try:
            # An object over Rekognition's S3 limit is refused from its length, unread.
            if int(response.get("ContentLength") or 0) > MAX_S3_SIZE:
                raise RekognitionError("ImageTooLargeException")
            return bytes(body.read())
        finally:
            body.close()

    return read


def _make_client(endpoint_url: str | None, region: str | None) -> Any:
    import boto3
    from botocore.config import Config

    kwargs: dict[str, Any] = {
        "region_name": region
        or os.environ.get("AWS_REGION")
        or os.environ.get("AWS_DEFAULT_REGION")
        or "us-east-1",
        "config": Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}),
    }
    if endpoint_url:
        # A local endpoint (LocalStack) accepts any credentials; taking them from the
        # environment or "test" avoids boto3's provider chain, which would probe the
        # instance metadata service when nothing is configured.
        kwargs.update(
            endpoint_url=endpoint_url,
            aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "test"),
            aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "test"),
            aws_session_token=os.environ.get("AWS_SESSION_TOKEN"),
        )
    return boto3.session.Session().client("s3", **kwargs)


def dict_s3_reader(objects: Mapping[tuple[str, str], bytes]) -> S3Reader:
    """A reader over ``{(bucket, key): bytes}``; missing entries raise ``KeyError``.

    The mapping is read at call time, so tests may add objects after starting the stub.
    """

    def read(bucket: str, key: str, version: str | None) -> bytes:
        return objects[(bucket, key)]

    return read
