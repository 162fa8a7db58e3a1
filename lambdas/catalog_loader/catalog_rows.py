"""Work-queue messages (written by the resize function) -> rows of celeb_image_url.

Every field is checked, and the served key must be exactly the one the naming
rule gives, so a malformed or foreign message is refused with a reason instead
of writing a wrong URL into the catalog. The patterns repeat those of
lambdas/resize/naming.py (the two functions ship in separate zips); a unit test
checks that they agree.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

MESSAGE_VERSION = 1
# Verticals take underscores (the seed's own `ssgdfm_eye`); see lambdas/resize/naming.py.
VERTICAL_RE = re.compile(r"\A[a-z0-9](?:[a-z0-9_-]{0,38}[a-z0-9])?\Z")
SIZE_NAME_RE = re.compile(r"\A[a-z0-9]{1,20}\Z")
# S3 bucket names (3-63 characters); the served bucket must fit the catalog column.
BUCKET_RE = re.compile(r"\A[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\Z")
HOST_RE = re.compile(
    r"\A[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*(:[0-9]{1,5})?\Z"
)
MAX_CD_IDX = 10**18 - 1
MAX_SEQUENCE = 10**9 - 1


class MalformedMessage(ValueError):
    """The message cannot become rows; retrying will not help (it goes to the DLQ)."""


@dataclass(frozen=True)
class Row:
    vertical: str
    cd_idx: int
    image_size: str
    sequence: int
    url: str
    s3_bucket: str  # where the rendition lives: s3://{s3_bucket}/{s3_key}
    s3_key: str
    width: int
    height: int
    bytes: int
    source_etag: str | None
    resized_at: datetime  # naive UTC, as stored


def served_key(vertical: str, size: str, cd_idx: int, sequence: int) -> str:
    return f"{vertical}/{size}/{cd_idx}_{size}_{sequence}.jpg"


def cdn_url(cdn_host: str, key: str) -> str:
    """`https://{cdn_host}/{vertical}/{size}/{cd_idx}_{size}_{sequence}.jpg`."""
    return f"https://{cdn_host}/{key}"


def check_cdn_host(host: str) -> str:
    if not HOST_RE.match(host):
        raise ValueError(f"CDN_HOST {host!r} is not a host name (e.g. image.example.com)")
    return host


def _positive(document: dict[str, Any], name: str, highest: int) -> int:
    value = document.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= highest:
        raise MalformedMessage(f"{name} must be a whole number from 1 to {highest}, got {value!r}")
    return value


def _timestamp(raw: Any) -> datetime:
    if not isinstance(raw, str):
        raise MalformedMessage(f"resized_at must be an ISO-8601 time, got {raw!r}")
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as exc:
        raise MalformedMessage(f"resized_at {raw!r} is not an ISO-8601 time") from exc
    if parsed.tzinfo is None:
        raise MalformedMessage(f"resized_at {raw!r} has no time zone")
    return parsed.astimezone(UTC).replace(tzinfo=None)


def rows_from_message(body: str, cdn_host: str) -> list[Row]:
    """One row per rendition of the image the message describes."""
    try:
        document = json.loads(body)
    except (TypeError, ValueError) as exc:
        raise MalformedMessage(f"the body is not JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise MalformedMessage("the body is not a JSON object")
    if document.get("version") != MESSAGE_VERSION:
        raise MalformedMessage(
            f"message version {document.get('version')!r} is not {MESSAGE_VERSION}"
        )
    vertical = document.get("vertical")
    if not isinstance(vertical, str) or not VERTICAL_RE.match(vertical):
        raise MalformedMessage(f"vertical {vertical!r} does not follow the naming rule")
    cd_idx = _positive(document, "cd_idx", MAX_CD_IDX)
    sequence = _positive(document, "sequence", MAX_SEQUENCE)
    resized_at = _timestamp(document.get("resized_at"))
    source = document.get("source") if isinstance(document.get("source"), dict) else {}
    etag = source.get("etag")
    images = document.get("images")
    if not isinstance(images, list) or not images:
        raise MalformedMessage("images must be a non-empty list")
    rows: list[Row] = []
    for image in images:
        if not isinstance(image, dict):
            raise MalformedMessage(f"an image entry is not an object: {image!r:.100}")
        size = image.get("size")
        if not isinstance(size, str) or not SIZE_NAME_RE.match(size):
            raise MalformedMessage(f"size name {size!r} is not 1-20 lowercase letters or digits")
        expected = served_key(vertical, size, cd_idx, sequence)
        if image.get("key") != expected:
            raise MalformedMessage(f"served key {image.get('key')!r} is not {expected!r}")
        bucket = image.get("bucket")
        if not isinstance(bucket, str) or not BUCKET_RE.match(bucket):
            raise MalformedMessage(f"bucket {bucket!r} of {expected} is not an S3 bucket name")
        dimensions = [image.get(name) for name in ("width", "height", "bytes")]
        if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in dimensions):
            raise MalformedMessage(f"width, height and bytes of {expected} must be positive")
        rows.append(
            Row(
                vertical=vertical,
                cd_idx=cd_idx,
                image_size=size,
                sequence=sequence,
                url=cdn_url(cdn_host, expected),
                s3_bucket=bucket,
                s3_key=expected,
                width=dimensions[0],
                height=dimensions[1],
                bytes=dimensions[2],
                source_etag=etag if isinstance(etag, str) else None,
                resized_at=resized_at,
            )
        )
    if len({row.image_size for row in rows}) != len(rows):
        raise MalformedMessage("the message names a size twice")
    return rows
