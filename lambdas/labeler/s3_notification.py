"""Unwrap SQS body -> SNS envelope -> S3 event notification.

Every layer is checked explicitly so that a malformed message fails with a
reason an operator can act on, instead of a KeyError deep in the labeling code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus


class RecordFailure(Exception):
    """A failure of one message or object, with what operators need to triage it.

    `transient` says whether a retry can help (throttling, 5xx) or not (bad
    image, bad event); it is recorded in the failure record, SQS retries anyway.
    """

    def __init__(self, reason: str, error_code: str, transient: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.error_code = error_code
        self.transient = transient


class MalformedEventError(RecordFailure):
    """The message does not have the shape SNS/S3 send; retrying will not help."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, error_code="MalformedEvent", transient=False)


@dataclass(frozen=True)
class ObjectRef:
    """One object from an S3 event record, with the key already URL-decoded."""

    bucket: str
    key: str
    event_name: str
    etag: str | None = None
    size: int | None = None
    version_id: str | None = None


def parse_message(body: str) -> list[Any] | None:
    """Return the raw S3 records of an SQS body, or None for an `s3:TestEvent`.

    The body is the SNS envelope (raw message delivery off); its `Message` is
    the S3 notification as a JSON *string*, so it is decoded a second time.
    """
    try:
        envelope = json.loads(body)
    except (TypeError, ValueError) as exc:
        raise MalformedEventError(f"SQS body is not JSON: {exc}") from exc
    if not isinstance(envelope, dict):
        raise MalformedEventError("SQS body is not a JSON object (expected an SNS envelope)")
    if "Message" not in envelope:
        raise MalformedEventError(
            "SQS body is not an SNS notification: missing Message "
            "(is raw message delivery enabled on the subscription?)"
        )
    kind = envelope.get("Type", "Notification")
    if kind != "Notification":
        raise MalformedEventError(f"SNS envelope Type is {kind!r}, expected 'Notification'")
    message = envelope["Message"]
    if not isinstance(message, str):
        raise MalformedEventError("SNS Message is not a string")
    try:
        notification = json.loads(message)
    except ValueError as exc:
        raise MalformedEventError(f"SNS Message is not JSON: {exc}") from exc
    if not isinstance(notification, dict):
        raise MalformedEventError("SNS Message is not a JSON object")
    if notification.get("Event") == "s3:TestEvent":
        return None
    if "Records" not in notification:
        raise MalformedEventError("SNS Message is not an S3 event notification: missing Records")
    records = notification["Records"]
    if not isinstance(records, list) or not records:
        raise MalformedEventError("S3 event notification has no Records (empty or not a list)")
    return records


def parse_s3_record(raw: Any, index: int) -> ObjectRef:
    """Read bucket, decoded key, ETag, size and version of one S3 event record.

    S3 URL-encodes keys in notifications (space as '+', non-ASCII as %XX);
    without unquote_plus such keys name objects that do not exist.
    """
    where = f"S3 record {index}"
    if not isinstance(raw, dict):
        raise MalformedEventError(f"{where} is not a JSON object")
    s3 = raw.get("s3")
    if not isinstance(s3, dict):
        raise MalformedEventError(f"{where} has no s3 section")
    bucket_section = s3.get("bucket")
    object_section = s3.get("object")
    bucket = bucket_section.get("name") if isinstance(bucket_section, dict) else None
    obj = object_section if isinstance(object_section, dict) else {}
    key = obj.get("key")
    if not isinstance(bucket, str) or not bucket:
        raise MalformedEventError(f"{where} has no s3.bucket.name")
    if not isinstance(key, str) or not key:
        raise MalformedEventError(f"{where} has no s3.object.key")
    size = obj.get("size")
    return ObjectRef(
        bucket=bucket,
        key=unquote_plus(key),
        event_name=str(raw.get("eventName", "")),
        etag=obj.get("eTag") or None,
        size=size if isinstance(size, int) else None,
        version_id=obj.get("versionId") or None,
    )


def location_hint(raw: Any) -> tuple[str | None, str | None]:
    """Best-effort (bucket, decoded key) of a record that failed to parse."""
    try:
        s3 = raw["s3"]
        bucket = s3.get("bucket", {}).get("name")
        key = s3.get("object", {}).get("key")
    except (AttributeError, KeyError, TypeError):
        return None, None
    return (
        bucket if isinstance(bucket, str) else None,
        unquote_plus(key) if isinstance(key, str) else None,
    )
