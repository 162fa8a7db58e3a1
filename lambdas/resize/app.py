"""Lambda entry point of the resize function (handler string `app.handler`).

Invoked asynchronously by the upload bucket's notification for `origin/`. The
work is done in resizing.py (orchestration) and imaging.py (pixels); the name
rule lives in naming.py. requirements.txt bundles Pillow and Powertools; boto3
comes with the runtime.
"""

from __future__ import annotations

from typing import Any

import boto3
import resizing
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config

logger = Logger(service="resize")

_clients: dict[str, Any] = {}
# A failed call fails the invocation; Lambda's asynchronous retries are the backoff.
_CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 3}, connect_timeout=3, read_timeout=20
)


def client(name: str) -> Any:
    """boto3 client created on first use (importing needs no credentials)."""
    if name not in _clients:
        _clients[name] = boto3.client(name, config=_CLIENT_CONFIG)
    return _clients[name]


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Returns `{"resized": [...], "rejected": [...], "skipped": [...]}` (object keys)."""
    config = resizing.Config.from_env()
    outcomes = resizing.process_event(event, s3=client("s3"), sqs=client("sqs"), config=config)
    summary: dict[str, list[str]] = {"resized": [], "rejected": [], "skipped": []}
    for outcome in outcomes:
        summary[outcome.status].append(outcome.key)
    return summary
