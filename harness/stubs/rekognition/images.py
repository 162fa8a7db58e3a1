"""Image checks that mirror what Rekognition enforces before it labels anything.

Rekognition accepts only JPEG and PNG, judged by content rather than by file name, and
rejects files it cannot decode. The limits come from "Guidelines and quotas in Amazon
Rekognition": 5 MB for image bytes passed in the request, 15 MB for S3 objects, at least
80 px in both dimensions, at most 10,000 px for DetectLabels. An image under the minimum
is answered with ``InvalidParameterException`` ("Request has invalid parameters"), which
is what the real service returns for it (see boto/botocore#1366), not a format error.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

from PIL import Image, ImageStat

from harness.stubs.rekognition.exceptions import RekognitionError

MAX_BYTES_SIZE = 5 * 1024 * 1024
MAX_S3_SIZE = 15 * 1024 * 1024
MIN_DIMENSION = 80
MAX_DIMENSION = 10_000

JPEG_MAGIC = b"\xff\xd8\xff"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class ImageInfo:
    """What the label generator needs to know about an accepted image."""

    format: str  # "JPEG" or "PNG"
    width: int
    height: int
    size: int
    sha256: str
    mean_rgb: tuple[float, float, float]
    stddev: float  # mean per-channel standard deviation: a crude contrast measure


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def check_size(data: bytes, from_s3: bool) -> None:
    limit = MAX_S3_SIZE if from_s3 else MAX_BYTES_SIZE
    if len(data) > limit:
        raise RekognitionError("ImageTooLargeException")


def sniff_format(data: bytes) -> str | None:
    if data.startswith(JPEG_MAGIC):
        return "JPEG"
    if data.startswith(PNG_MAGIC):
        return "PNG"
    return None


def inspect_image(data: bytes, from_s3: bool) -> ImageInfo:
    """Validate ``data`` like Rekognition and describe it; raises ``RekognitionError``."""
    check_size(data, from_s3)
    fmt = sniff_format(data)
    if fmt is None:
        raise RekognitionError("InvalidImageFormatException")
    try:
        with Image.open(io.BytesIO(data)) as img:
            width, height = img.size
            if img.format != fmt:
                raise RekognitionError("InvalidImageFormatException")
            _check_dimensions(width, height)
            if fmt == "PNG":
                img.verify()  # chunk CRCs and the IEND chunk: catches corrupt/cut PNGs
        with Image.open(io.BytesIO(data)) as img:
            img.load()  # a full decode is what catches truncated JPEGs
            small = _thumbnail(img)
    except RekognitionError:
        raise
    except Image.DecompressionBombError as exc:  # far beyond 10,000 px: Pillow refuses first
        raise RekognitionError("ImageTooLargeException") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise RekognitionError("InvalidImageFormatException") from exc
    stat = ImageStat.Stat(small)
    r, g, b = stat.mean
    return ImageInfo(
        format=fmt,
        width=width,
        height=height,
        size=len(data),
        sha256=sha256_hex(data),
        mean_rgb=(r, g, b),
        stddev=sum(stat.stddev) / 3,
    )


def _thumbnail(img: Image.Image) -> Image.Image:
    """A 32x32 RGB copy for colour statistics; odd modes (16-bit PNG) fall back to grey."""
    try:
        return img.convert("RGB").resize((32, 32))
    except (OSError, ValueError):
        return Image.new("RGB", (32, 32), (128, 128, 128))


def _check_dimensions(width: int, height: int) -> None:
    if width < MIN_DIMENSION or height < MIN_DIMENSION:
        raise RekognitionError("InvalidParameterException")
    if width > MAX_DIMENSION or height > MAX_DIMENSION:
        raise RekognitionError(
            "ImageTooLargeException",
            f"Input image dimensions {width} x {height} exceed maximum dimension size of "
            f"{MAX_DIMENSION} pixels",
        )
