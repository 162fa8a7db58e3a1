"""Label images with Rekognition and keep results and failure records in S3.

Plain functions with the boto3 clients passed in, so the logic is tested with
fake clients and no AWS. app.py only adapts the SQS batch to `process_message`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError
from s3_notification import (
    ObjectRef,
    RecordFailure,
    location_hint,
    parse_message,
    parse_s3_record,
)

logger = Logger(service="labeler", child=True)

# Error codes for which a later retry can succeed; everything else needs a fix
# (of the image, the event or the configuration) before a redrive helps.
TRANSIENT_ERROR_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "ProvisionedThroughputExceededException",
        "LimitExceededException",
        "TooManyRequestsException",
        "InternalServerError",
        "InternalError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "SlowDown",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)
NOT_FOUND_CODES = frozenset({"404", "NoSuchKey", "NotFound"})
# Ours, next to DetectLabels' own response fields in the result document.
OWN_RESULT_FIELDS = ("source", "labeled_at")


@dataclass(frozen=True)
class Config:
    """Settings from the environment (see docs/architecture.md, labeler)."""

    ingest_prefix: str = "ingest/"
    results_prefix: str = "results/"
    failures_prefix: str = "failures/"
    min_confidence: float = 70.0
    max_labels: int = 25
    # Bucket for failure records of messages whose bucket cannot be read from the
    # event (e.g. body not JSON). Unset: such failures are only logged.
    failures_bucket: str | None = None
    # Stop starting new objects when less than this is left of the invocation: one
    # Rekognition call (2 attempts, 5 s read timeout) must still fit.
    safety_margin_ms: int = 3000

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Config:
        """Read and validate settings; a bad value fails the whole invocation, loudly."""
        env = os.environ if env is None else env
        return cls(
            ingest_prefix=env.get("INGEST_PREFIX", cls.ingest_prefix),
            results_prefix=env.get("RESULTS_PREFIX", cls.results_prefix),
            failures_prefix=env.get("FAILURES_PREFIX", cls.failures_prefix),
            min_confidence=_number(env, "MIN_CONFIDENCE", float, cls.min_confidence),
            max_labels=_number(env, "MAX_LABELS", int, cls.max_labels),
            failures_bucket=env.get("FAILURES_BUCKET") or None,
            safety_margin_ms=_number(env, "SAFETY_MARGIN_MS", int, cls.safety_margin_ms),
        )


def _number(env: Mapping[str, str], name: str, kind: type, default: Any) -> Any:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return kind(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number ({kind.__name__}), got {raw!r}") from None


def utc_now() -> str:
    """ISO-8601 UTC timestamp with a Z suffix, to the millisecond: a result says when it
    was written closely enough to time the pipeline by (`harness bench` reads it), where
    S3's LastModified has whole seconds."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def path_under_ingest(key: str, config: Config) -> str:
    """Key relative to the ingest prefix, kept whole so equal names in two folders differ."""
    if not key.startswith(config.ingest_prefix):
        raise RecordFailure(
            f"object key {key!r} is outside the ingest prefix {config.ingest_prefix!r}; "
            "check the S3 notification and SNS filter policy",
            error_code="KeyOutsideIngestPrefix",
        )
    return key[len(config.ingest_prefix) :]


def result_key(key: str, config: Config) -> str:
    """`ingest/a/b c.jpg` -> `results/a/b c.jpg.json`."""
    return f"{config.results_prefix}{path_under_ingest(key, config)}.json"


def failure_key(key: str | None, message_id: str, config: Config) -> str:
    """Failure record next to where the result would be, or per message if no key is usable."""
    if key is not None and key.startswith(config.ingest_prefix):
        return f"{config.failures_prefix}{key[len(config.ingest_prefix) :]}.json"
    return f"{config.failures_prefix}_messages/{message_id}.json"


def describe_failure(exc: BaseException) -> RecordFailure:
    """Turn any exception into reason, error code and transient flag for the failure record."""
    if isinstance(exc, RecordFailure):
        return exc
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "ClientError"))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        transient = code in TRANSIENT_ERROR_CODES or status >= 500
        return RecordFailure(str(exc), error_code=code, transient=transient)
    if isinstance(exc, BotoCoreError):
        # Connection errors, timeouts, missing credentials: the call never got an answer.
        return RecordFailure(str(exc), error_code=type(exc).__name__, transient=True)
    return RecordFailure(f"{type(exc).__name__}: {exc}", error_code=type(exc).__name__)


def _strip_etag(etag: str | None) -> str | None:
    """S3 event ETags come bare, HeadObject ETags in double quotes; compare them bare."""
    return etag.strip('"') if etag else None


def _put_json(s3: Any, bucket: str, key: str, document: dict[str, Any]) -> None:
    s3.put_object(
        Bucket=bucket,
        Key=key,
        Body=json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8"),
        ContentType="application/json",
    )


def _read_json(s3: Any, bucket: str, key: str) -> dict[str, Any] | None:
    """The JSON document at key, or None if absent or unreadable (then it is overwritten)."""
    try:
        response = s3.get_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in NOT_FOUND_CODES:
            return None
        raise
    try:
        document = json.loads(response["Body"].read())
    except ValueError:
        logger.warning("Existing result is not JSON; it will be replaced", extra={"key": key})
        return None
    return document if isinstance(document, dict) else None


def _labeled_etag(existing: dict[str, Any] | None) -> str | None:
    """ETag of the bytes an existing result describes; None if it must be (re)written.

    A result in the earlier shape (`labels`, no `Labels`) counts as absent, so a
    redelivery rewrites it in the current one.
    """
    if existing is None or not isinstance(existing.get("source"), dict):
        return None
    if "Labels" not in existing:
        return None
    return _strip_etag(existing["source"].get("etag"))


def result_document(
    source: dict[str, Any], response: dict[str, Any], labeled_at: str
) -> dict[str, Any]:
    """DetectLabels' response as it came (`Labels`, `LabelModelVersion`, ...), plus ours.

    Seed A stored the response itself, and readers written for it look for `Labels`
    and `LabelModelVersion` at the top; only boto3's `ResponseMetadata` (a request
    id and HTTP headers, not a result) is left out.
    """
    fields = {
        name: value
        for name, value in response.items()
        if name != "ResponseMetadata" and name not in OWN_RESULT_FIELDS
    }
    fields.setdefault("Labels", [])
    return {"source": source, **fields, "labeled_at": labeled_at}


def label_object(
    obj: ObjectRef,
    *,
    s3: Any,
    rekognition: Any,
    config: Config,
    now: Callable[[], str] = utc_now,
    out_of_time: Callable[[], bool] = lambda: False,
) -> bool:
    """Label one object and store the result; return False if it was already labeled.

    Duplicate deliveries (SNS and SQS are at-least-once, and a redrive replays
    messages) are detected by the ETag stored in the result, so Rekognition is
    not paid twice for the same bytes. For the same reason the time budget is checked
    again just before DetectLabels: an invocation cut off by its timeout between the
    call and the result's write would have the next delivery pay for the object again
    (seen under load: the reads before the call took the margin).
    """
    if not obj.event_name.startswith("ObjectCreated:"):
        raise RecordFailure(
            f"unsupported S3 event {obj.event_name!r} for {obj.key!r}; "
            "only ObjectCreated:* should be routed to the labeler",
            error_code="UnsupportedEvent",
        )
    target = result_key(obj.key, config)
    event_etag = _strip_etag(obj.etag)
    existing = _read_json(s3, obj.bucket, target)
    if event_etag and _labeled_etag(existing) == event_etag:
        return False

    try:
        head = s3.head_object(Bucket=obj.bucket, Key=obj.key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in NOT_FOUND_CODES:
            raise RecordFailure(
                f"source object s3://{obj.bucket}/{obj.key} no longer exists",
                error_code="NoSuchKey",
            ) from exc
        raise
    current_etag = _strip_etag(head.get("ETag"))
    if current_etag and _labeled_etag(existing) == current_etag:
        return False

    if out_of_time():
        raise _time_budget_exhausted()
    s3_object = {"Bucket": obj.bucket, "Name": obj.key}
    if obj.version_id:
        s3_object["Version"] = obj.version_id
    response = rekognition.detect_labels(
        Image={"S3Object": s3_object},
        MaxLabels=config.max_labels,
        MinConfidence=config.min_confidence,
    )
    source: dict[str, Any] = {
        "bucket": obj.bucket,
        "key": obj.key,
        "etag": event_etag or current_etag,
        "size": obj.size if obj.size is not None else head.get("ContentLength"),
    }
    if obj.version_id:
        source["version_id"] = obj.version_id
    _put_json(
        s3,
        obj.bucket,
        target,
        result_document(source, response, now()),
    )
    logger.info(
        "Labeled object",
        extra={
            "bucket": obj.bucket,
            "key": obj.key,
            "result_key": target,
            "label_count": len(response.get("Labels", [])),
        },
    )
    return True


def _time_budget_exhausted() -> RecordFailure:
    return RecordFailure(
        "the invocation ran out of time before this object was labeled "
        "(earlier work in the batch took too long); it will be retried",
        "TimeBudgetExhausted",
        transient=True,
    )


def record_failure(
    failure: RecordFailure,
    *,
    s3: Any,
    config: Config,
    message_id: str,
    receive_count: int,
    bucket: str | None,
    key: str | None,
    now: Callable[[], str] = utc_now,
) -> None:
    """Log the failure and write its failure record; never raises.

    The record is what operators read next to the DLQ message (`harness dlq
    show`); if it cannot be written the log line still has everything.
    """
    record_bucket = bucket or config.failures_bucket
    record_key = failure_key(key, message_id, config)
    document: dict[str, Any] = {
        "reason": failure.reason,
        "error_code": failure.error_code,
        "transient": failure.transient,
        "receive_count": receive_count,
        "message_id": message_id,
        "failed_at": now(),
    }
    if bucket or key:
        document["source"] = {"bucket": bucket, "key": key}
    logger.error(
        "Labeling failed",
        extra={
            **document,
            "bucket": bucket,
            "key": key,
            "failure_record": f"s3://{record_bucket}/{record_key}" if record_bucket else None,
        },
    )
    if record_bucket is None:
        logger.warning(
            "No bucket known for the failure record; it was not written",
            extra={"message_id": message_id},
        )
        return
    try:
        _put_json(s3, record_bucket, record_key, document)
    except Exception:
        logger.exception(
            "Could not write failure record",
            extra={"bucket": record_bucket, "failure_key": record_key},
        )


class MessageFailed(Exception):
    """Raised after every object of a message was tried and at least one failed."""


def process_message(
    body: str,
    *,
    message_id: str,
    receive_count: int,
    s3: Any,
    rekognition: Any,
    config: Config,
    now: Callable[[], str] = utc_now,
    out_of_time: Callable[[], bool] = lambda: False,
) -> int:
    """Label every object of one SQS message; return how many were newly labeled.

    `out_of_time` says when the invocation is close to its timeout: the objects not
    started by then fail with a recorded reason instead of being cut off by the
    timeout, which would send them to the DLQ with no reason at all.

    All objects are tried even if one fails, so one bad image does not hold
    back the others; the message then fails as a whole and SQS redelivers it,
    and the objects already labeled are skipped by the ETag check.
    """
    failure_args = {
        "s3": s3,
        "config": config,
        "message_id": message_id,
        "receive_count": receive_count,
        "now": now,
    }
    try:
        raw_records = parse_message(body)
    except RecordFailure as exc:
        record_failure(exc, bucket=None, key=None, **failure_args)
        raise
    if raw_records is None:
        logger.info("Ignoring s3:TestEvent", extra={"message_id": message_id})
        return 0

    labeled = 0
    errors: list[str] = []
    for index, raw in enumerate(raw_records):
        bucket, key = location_hint(raw)
        try:
            obj = parse_s3_record(raw, index)
            if obj.key.endswith("/"):
                logger.info("Ignoring folder placeholder object", extra={"key": obj.key})
                continue
            if out_of_time():
                raise _time_budget_exhausted()
            if label_object(
                obj, s3=s3, rekognition=rekognition, config=config, now=now, out_of_time=out_of_time
            ):
                labeled += 1
            else:
                logger.info("Already labeled; skipping", extra={"key": obj.key})
            s3.delete_object(Bucket=obj.bucket, Key=failure_key(obj.key, message_id, config))
        except Exception as exc:
            failure = describe_failure(exc)
            record_failure(failure, bucket=bucket, key=key, **failure_args)
            errors.append(f"{key or f'record {index}'}: {failure.reason}")
    if errors:
        raise MessageFailed(
            f"{len(errors)} of {len(raw_records)} object(s) failed: " + "; ".join(errors)
        )
    return labeled
