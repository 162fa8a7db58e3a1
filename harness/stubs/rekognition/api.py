"""Parsing and validating a DetectLabels request body (AWS JSON 1.1).

botocore validates only lower bounds on the client side, so upper bounds (MinConfidence
above 100, MaxLabels above 1000, more than one image source, ...) reach the service,
which answers ``InvalidParameterException``. A body that is not a JSON object is a
protocol error, ``SerializationException``, before the operation even runs.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from harness.stubs.rekognition.exceptions import RekognitionError
from harness.stubs.rekognition.labels import DEFAULT_MIN_CONFIDENCE, MAX_LABELS_LIMIT

FEATURES = ("GENERAL_LABELS", "IMAGE_PROPERTIES")
_FILTER_KEYS = (
    "LabelInclusionFilters",
    "LabelExclusionFilters",
    "LabelCategoryInclusionFilters",
    "LabelCategoryExclusionFilters",
)


@dataclass(frozen=True)
class DetectLabelsRequest:
    image_bytes: bytes | None
    bucket: str | None
    key: str | None
    version: str | None
    min_confidence: float
    max_labels: int
    features: tuple[str, ...]
    settings: dict[str, Any]


def load_body(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw or b"{}")
    except ValueError as exc:
        raise RekognitionError("SerializationException") from exc
    if not isinstance(body, dict):
        raise RekognitionError("SerializationException")
    return body


def s3_key_of(body: dict[str, Any]) -> str | None:
    """The S3 key a request names, if any, without validating anything (for faults)."""
    image = body.get("Image")
    s3 = image.get("S3Object") if isinstance(image, dict) else None
    key = s3.get("Name") if isinstance(s3, dict) else None
    return key if isinstance(key, str) else None


def invalid(message: str | None = None) -> RekognitionError:
    return RekognitionError("InvalidParameterException", message)


def parse_request(body: dict[str, Any]) -> DetectLabelsRequest:
    image = body.get("Image")
    if not isinstance(image, dict):
        raise invalid()
    has_bytes, has_s3 = image.get("Bytes") is not None, image.get("S3Object") is not None
    if has_bytes == has_s3:  # neither, or both
        raise invalid()
    image_bytes = bucket = key = version = None
    if has_bytes:
        image_bytes = _decode_bytes(image["Bytes"])
    else:
        bucket, key, version = _parse_s3_object(image["S3Object"])

    min_confidence = body.get("MinConfidence", DEFAULT_MIN_CONFIDENCE)
    if isinstance(min_confidence, bool) or not isinstance(min_confidence, int | float):
        raise RekognitionError("SerializationException")
    if not 0 <= min_confidence <= 100:
        raise invalid()
    max_labels = body.get("MaxLabels", MAX_LABELS_LIMIT)
    if isinstance(max_labels, bool) or not isinstance(max_labels, int):
        raise RekognitionError("SerializationException")
    if not 0 <= max_labels <= MAX_LABELS_LIMIT:
        raise invalid()

    features = body.get("Features") or list(FEATURES[:1])
    if not isinstance(features, list) or not all(f in FEATURES for f in features):
        raise invalid()
    settings = body.get("Settings") or {}
    _check_settings(settings)
    return DetectLabelsRequest(
        image_bytes=image_bytes,
        bucket=bucket,
        key=key,
        version=version,
        min_confidence=float(min_confidence),
        max_labels=max_labels,
        features=tuple(features),
        settings=settings,
    )


def _decode_bytes(value: Any) -> bytes:
    if not isinstance(value, str):
        raise RekognitionError("SerializationException")
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise RekognitionError("SerializationException") from exc
    if not data:
        raise invalid()
    return data


def _parse_s3_object(s3: Any) -> tuple[str, str, str | None]:
    if not isinstance(s3, dict):
        raise invalid()
    bucket, key, version = s3.get("Bucket"), s3.get("Name"), s3.get("Version")
    if not isinstance(bucket, str) or not 3 <= len(bucket) <= 255:
        raise invalid()
    if not isinstance(key, str) or not 1 <= len(key) <= 1024:
        raise invalid()
    if version is not None and (not isinstance(version, str) or not version):
        raise invalid()
    return bucket, key, version


def _check_settings(settings: Any) -> None:
    if not isinstance(settings, dict):
        raise invalid()
    general = settings.get("GeneralLabels") or {}
    if not isinstance(general, dict):
        raise invalid()
    for name in _FILTER_KEYS:
        values = general.get(name, [])
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise invalid()
