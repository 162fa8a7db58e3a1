"""boto3 clients pointed at the local stack, with LocalStack's dummy credentials."""

from __future__ import annotations

import boto3
from botocore.config import Config

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
