"""Resize one uploaded original into every configured size and announce the result.

Plain functions with the boto3 clients passed in (tested with fakes, no AWS);
app.py adapts the S3 event to `process_event`.

Outcomes per object, and where each ends up:
- resized: the renditions are in the served bucket and one message describing
  them is on the work queue (the catalog loader turns it into rows);
- rejected (bad name, not a JPEG by content, unreadable, too large, too many
  pixels, decompression bombs included): a rejection record
  `rejected/<path under origin/>.json` in the upload bucket says why, names the
  rule and the offending part, and nothing is retried (a retry cannot fix the file);
- anything else (S3 or SQS unavailable, ...) raises: Lambda retries the
  asynchronous invocation and, after the last attempt, its on-failure
  destination queue keeps the event with the error.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_plus

import imaging
import naming
from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

logger = Logger(service="resize", child=True)

DEFAULT_SIZES = {"large": 1280, "medium": 800, "small": 400, "thumb": 160}
NOT_FOUND_CODES = frozenset({"404", "NoSuchKey", "NotFound"})
MESSAGE_VERSION = 1


def parse_sizes(raw: str) -> dict[str, int]:
    """`large=1280,medium=800` -> {"large": 1280, "medium": 800}; strict, fails loudly."""
    sizes: dict[str, int] = {}
    for item in raw.split(","):
        name, sep, edge = item.strip().partition("=")
        if not sep:
            raise ValueError(f"IMAGE_SIZES item {item!r} is not name=longest_edge")
        naming.check_size_name(name)
        if not edge.isdigit() or not 16 <= int(edge) <= 8192:
            raise ValueError(f"IMAGE_SIZES edge {edge!r} of {name!r} is not 16-8192 pixels")
        if name in sizes:
            raise ValueError(f"IMAGE_SIZES names {name!r} twice")
        sizes[name] = int(edge)
    if not sizes:
        raise ValueError("IMAGE_SIZES names no size")
    return sizes


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name) or str(default)
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise ValueError(f"{name} must be a whole number from {low} to {high}, got {raw!r}")
    return int(raw)


@dataclass(frozen=True)
class Config:
    """Settings from the environment (docs/architecture.md, resize)."""

    served_bucket: str
    queue_url: str
    sizes: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_SIZES))
    origin_prefix: str = naming.ORIGIN_PREFIX
    rejected_prefix: str = "rejected/"
    jpeg_quality: int = 85
    max_source_bytes: int = 50 * 1024 * 1024
    max_source_pixels: int = imaging.DEFAULT_MAX_PIXELS
    cache_control: str = "public, max-age=86400"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Config:
        env = os.environ if env is None else env
        missing = [name for name in ("SERVED_BUCKET", "QUEUE_URL") if not env.get(name)]
        if missing:
            raise ValueError(f"missing environment variable(s): {', '.join(missing)}")
        return cls(
            served_bucket=env["SERVED_BUCKET"],
            queue_url=env["QUEUE_URL"],
            sizes=parse_sizes(env["IMAGE_SIZES"]) if env.get("IMAGE_SIZES") else DEFAULT_SIZES,
            origin_prefix=env.get("ORIGIN_PREFIX", cls.origin_prefix),
            rejected_prefix=env.get("REJECTED_PREFIX", cls.rejected_prefix),
            jpeg_quality=_int(env, "JPEG_QUALITY", cls.jpeg_quality, 1, 95),
            max_source_bytes=_int(env, "MAX_SOURCE_BYTES", cls.max_source_bytes, 1, 2**31),
            max_source_pixels=_int(env, "MAX_SOURCE_PIXELS", cls.max_source_pixels, 1, 2**31),
            cache_control=env.get("CACHE_CONTROL", cls.cache_control),
        )


@dataclass(frozen=True)
class SourceObject:
    bucket: str
    key: str
    etag: str | None
    size: int | None
    event_name: str


@dataclass(frozen=True)
class Outcome:
    key: str
    status: str  # resized | rejected | skipped
    detail: str = ""


CONTENT_RULE = "JPEG content"


class Rejected(Exception):
    """`rule`: the rule the file breaks; `part`: {"name", "value"} of the offending part."""

    def __init__(
        self, reason: str, code: str, rule: str = "", part: dict[str, str] | None = None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code
        self.rule = rule
        self.part = part


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def source_objects(event: Mapping[str, Any]) -> list[SourceObject]:
    """The objects of an S3 event notification (keys URL-decoded)."""
    records = event.get("Records")
    if not isinstance(records, list):
        raise ValueError("the event has no Records list: not an S3 event notification")
    objects = []
    for record in records:
        try:
            s3 = record["s3"]
            objects.append(
                SourceObject(
                    bucket=s3["bucket"]["name"],
                    key=unquote_plus(s3["object"]["key"]),
                    etag=(s3["object"].get("eTag") or None),
                    size=s3["object"].get("size"),
                    event_name=record.get("eventName", ""),
                )
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"an S3 event record lacks {exc}: {record!r:.300}") from exc
    return objects


def rejection_key(key: str, config: Config) -> str:
    """`origin/actor/x.png` -> `rejected/actor/x.png.json`."""
    return f"{config.rejected_prefix}{key.removeprefix(config.origin_prefix)}.json"


def write_rejection(s3: Any, obj: SourceObject, rejected: Rejected, config: Config) -> str:
    record_key = rejection_key(obj.key, config)
    document: dict[str, Any] = {
        "source": {"bucket": obj.bucket, "key": obj.key, "etag": obj.etag, "size": obj.size},
        "reason": rejected.reason,
        "code": rejected.code,
        "rule": rejected.rule
        or f"{config.origin_prefix}{{vertical}}/{{cd_idx}}_{{sequence}}.jpg, {CONTENT_RULE}",
        "rejected_at": utc_now(),
    }
    if rejected.part:
        document["part"] = rejected.part
    s3.put_object(
        Bucket=obj.bucket,
        Key=record_key,
        Body=json.dumps(document, ensure_ascii=False, indent=2).encode(),
        ContentType="application/json",
    )
    return record_key


def _read_source(s3: Any, obj: SourceObject, config: Config) -> bytes | None:
    if obj.size is not None and obj.size > config.max_source_bytes:
        raise Rejected(
            f"the file is {obj.size} bytes, more than the limit of {config.max_source_bytes}",
            "TooLarge",
            f"at most {config.max_source_bytes} bytes",
        )
    try:
        response = s3.get_object(Bucket=obj.bucket, Key=obj.key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in NOT_FOUND_CODES:
            return None
        raise
    if int(response.get("ContentLength") or 0) > config.max_source_bytes:
        raise Rejected(
            f"the file is {response['ContentLength']} bytes, more than the limit of "
            f"{config.max_source_bytes}",
            "TooLarge",
            f"at most {config.max_source_bytes} bytes",
        )
    return response["Body"].read()


def resize_object(
    obj: SourceObject,
    *,
    s3: Any,
    sqs: Any,
    config: Config,
    now: Callable[[], str] = utc_now,
) -> Outcome:
    """Resize one object; rejects are recorded, other failures raise."""
    if obj.key.endswith("/"):
        logger.info("Folder marker, nothing to resize", extra={"key": obj.key})
        return Outcome(obj.key, "skipped", "folder marker")
    try:
        name = naming.parse_origin_key(obj.key, config.origin_prefix)
        data = _read_source(s3, obj, config)
        if data is None:
            logger.warning("The object was deleted before it was resized", extra={"key": obj.key})
            return Outcome(obj.key, "skipped", "deleted before it was resized")
        renditions, info = imaging.render(
            data, config.sizes, config.jpeg_quality, config.max_source_pixels
        )
    except naming.NameRejected as exc:
        part = {"name": exc.part, "value": exc.value}
        return _reject(s3, obj, Rejected(exc.reason, "BadName", exc.rule, part), config)
    except imaging.ImageRejected as exc:
        rule = (
            f"at most {config.max_source_pixels} pixels (width x height, from the JPEG header)"
            if exc.code == "TooManyPixels"
            else CONTENT_RULE
        )
        return _reject(s3, obj, Rejected(exc.reason, exc.code, rule), config)
    except Rejected as exc:
        return _reject(s3, obj, exc, config)

    images = []
    for rendition in renditions:
        key = name.served_key(rendition.size)
        s3.put_object(
            Bucket=config.served_bucket,
            Key=key,
            Body=rendition.data,
            ContentType="image/jpeg",
            CacheControl=config.cache_control,
            Metadata={"source-key": obj.key, "source-etag": obj.etag or ""},
        )
        images.append(
            {
                "size": rendition.size,
                "bucket": config.served_bucket,
                "key": key,
                "width": rendition.width,
                "height": rendition.height,
                "bytes": len(rendition.data),
            }
        )
    message = {
        "version": MESSAGE_VERSION,
        "vertical": name.vertical,
        "cd_idx": name.cd_idx,
        "sequence": name.sequence,
        "source": {
            "bucket": obj.bucket,
            "key": obj.key,
            "etag": obj.etag,
            "size": len(data),
            "width": info.width,
            "height": info.height,
            "mode": info.mode,
            "orientation": info.orientation,
        },
        "images": images,
        "resized_at": now(),
    }
    sqs.send_message(QueueUrl=config.queue_url, MessageBody=json.dumps(message))
    # A fixed re-upload clears the earlier rejection, so `rejected/` lists open problems only.
    s3.delete_object(Bucket=obj.bucket, Key=rejection_key(obj.key, config))
    logger.info(
        "Resized",
        extra={"key": obj.key, "sizes": [i["size"] for i in images], "mode": info.mode},
    )
    return Outcome(obj.key, "resized", ",".join(i["key"] for i in images))


def _reject(s3: Any, obj: SourceObject, rejected: Rejected, config: Config) -> Outcome:
    record_key = write_rejection(s3, obj, rejected, config)
    logger.warning(
        "Rejected",
        extra={
            "key": obj.key,
            "reason": rejected.reason,
            "code": rejected.code,
            "rejection_record": f"s3://{obj.bucket}/{record_key}",
        },
    )
    return Outcome(obj.key, "rejected", f"{rejected.code}: {rejected.reason}")


def process_event(event: Mapping[str, Any], *, s3: Any, sqs: Any, config: Config) -> list[Outcome]:
    """Resize every object of the event; raise at the end if any failed transiently.

    Every object is tried first, so one S3 hiccup does not hold back the others;
    the retry of the whole event redoes the failed ones and, harmlessly, the others.
    """
    outcomes: list[Outcome] = []
    errors: list[str] = []
    for obj in source_objects(event):
        if not obj.event_name.startswith("ObjectCreated:"):
            outcomes.append(Outcome(obj.key, "skipped", f"event {obj.event_name}"))
            continue
        try:
            outcomes.append(resize_object(obj, s3=s3, sqs=sqs, config=config))
        except Exception as exc:
            logger.exception(
                "Resize failed; the invocation will be retried", extra={"key": obj.key}
            )
            errors.append(f"{obj.key}: {type(exc).__name__}: {exc}")
    if errors:
        raise RuntimeError("; ".join(errors))
    return outcomes
