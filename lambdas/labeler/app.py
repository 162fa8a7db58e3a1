"""Lambda entry point of the labeler (handler string `app.handler`).

Triggered by the main SQS queue with `ReportBatchItemFailures`: Powertools'
AsyncBatchProcessor reports only the failed messages, so one bad image never makes
SQS redeliver the good ones (and the function never deletes messages itself).
The work is done in labeling.py; this module holds the Lambda glue only.
requirements.txt bundles Powertools; boto3 comes with the runtime.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import labeling
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import (
    AsyncBatchProcessor,
    EventType,
    async_process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config

logger = Logger(service="labeler")
# raise_on_entire_batch_failure=False: a batch where every message failed is
# reported like any other (all ids listed), not as a function error.
# The messages of a batch are labeled concurrently (each in a thread: the work is waiting
# on S3 and Rekognition), so a batch takes about as long as its slowest message.
processor = AsyncBatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
# A thread for each message of a batch (up to 64; the pool makes them as needed and keeps
# them for the next invocation), so all of them start at once. asyncio's default executor
# has min(32, cpus + 4) threads: 6 on a 2-vCPU function, and the last messages of a batch
# of ten then started late, passed the time check just above the safety margin and were
# cut off by the timeout after DetectLabels but before the result was written, so the
# redelivery paid for them again (seen locally under load).
_executor = ThreadPoolExecutor(max_workers=64, thread_name_prefix="label")
_clients_lock = threading.Lock()

_clients: dict[str, Any] = {}
# Failed calls are retried by SQS redelivery (the visibility timeout is the backoff),
# not by long in-process retry loops that would eat the invocation's time.
_CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 2}, connect_timeout=2, read_timeout=5
)


def client(name: str) -> Any:
    """boto3 client created on first use and reused by later invocations.

    Lazy so that importing this module needs no region or credentials (unit
    tests put fakes in `_clients`). The Rekognition endpoint can be pointed at
    a stub with boto3's own AWS_ENDPOINT_URL_REKOGNITION.
    """
    with _clients_lock:  # creating clients from boto3's default session is not thread-safe
        if name not in _clients:
            _clients[name] = boto3.client(name, config=_CLIENT_CONFIG)
    return _clients[name]


def record_handler(
    record: SQSRecord, config: labeling.Config, lambda_context: LambdaContext | None = None
) -> None:
    """Process one SQS message; raising marks it as a batch item failure."""

    def out_of_time() -> bool:
        if lambda_context is None:
            return False
        return lambda_context.get_remaining_time_in_millis() < config.safety_margin_ms

    attributes = record.raw_event.get("attributes") or {}
    logger.thread_safe_append_keys(message_id=record.message_id)
    try:
        labeling.process_message(
            record.body,
            message_id=record.message_id,
            receive_count=int(attributes.get("ApproximateReceiveCount", 0)),
            s3=client("s3"),
            rekognition=client("rekognition"),
            config=config,
            out_of_time=out_of_time,
        )
    finally:
        logger.thread_safe_remove_keys(["message_id"])


async def async_record_handler(
    record: SQSRecord, config: labeling.Config, lambda_context: LambdaContext | None = None
) -> None:
    # As asyncio.to_thread, on our executor: the context (the logger's keys) goes along.
    work = functools.partial(record_handler, record, config, lambda_context)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(_executor, contextvars.copy_context().run, work)


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Returns `{"batchItemFailures": [{"itemIdentifier": <messageId>}, ...]}`."""
    config = labeling.Config.from_env()
    return async_process_partial_response(
        event=event,
        record_handler=functools.partial(async_record_handler, config=config),
        processor=processor,
        context=context,
    )
