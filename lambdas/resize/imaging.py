"""Decode one JPEG once, make every size from it, encode them: fast and correct.

Why it is built this way:
- JPEG draft mode lets libjpeg decode at 1/2, 1/4 or 1/8 scale straight from the
  DCT coefficients. A 12-megapixel upload whose largest rendition is 1280 px is
  decoded at 2000x1500 instead of 4000x3000: a quarter of the pixels. The draft
  never goes below the largest rendition's size, and DCT-domain scaling is itself
  a good low-pass filter, so the Lanczos pass after it gives renditions as close
  to a full decode's as the naive way (`harness bench resize` measures PSNR).
- Each smaller size is resized from the previous, larger rendition (already
  filtered), not from the decoded original: less work, same result.
- EXIF orientation is applied before resizing, so phones' portrait shots come out
  upright; the EXIF block itself is not copied (it may hold GPS positions).
- Outputs are baseline-compatible progressive JPEGs with optimised Huffman
  tables: smaller for the same quality, and browsers show them early.
- CMYK (with its ICC profile when there is one), palette and alpha images become
  RGB (alpha composited over white); grayscale stays grayscale.
- The pixel limit is checked from the JPEG header (its SOF segments) before
  Pillow even opens the file: a few hundred bytes can declare 400 megapixels (a
  decompression bomb). Pillow's own guard (`Image.MAX_IMAGE_PIXELS`, which warns
  above the limit and raises DecompressionBombError above twice it) is set to the
  same limit, and its error is a rejection too, never a failure to retry.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass

from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

JPEG_SIGNATURE = b"\xff\xd8\xff"
WHITE = (255, 255, 255)
DEFAULT_MAX_PIXELS = 100_000_000
# Start-of-frame markers (baseline, extended, progressive, lossless, arithmetic);
# C4 (DHT), C8 (JPG) and CC (DAC) share the range but are not frames.
SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# Markers without a length field: TEM, RST0-7, SOI.
STANDALONE_MARKERS = frozenset({0x01, 0xD8, *range(0xD0, 0xD8)})
Image.MAX_IMAGE_PIXELS = DEFAULT_MAX_PIXELS


class ImageRejected(Exception):
    """The bytes cannot become renditions; retrying will not help."""

    def __init__(self, reason: str, code: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


@dataclass(frozen=True)
class Rendition:
    size: str
    data: bytes
    width: int
    height: int


@dataclass(frozen=True)
class SourceInfo:
    width: int
    height: int
    mode: str
    orientation: int

    @property
    def upright_size(self) -> tuple[int, int]:
        """Width and height as shown: EXIF orientations 5-8 swap them."""
        if self.orientation in (5, 6, 7, 8):
            return self.height, self.width
        return self.width, self.height


def fit(width: int, height: int, edge: int) -> tuple[int, int]:
    """The size with the longest side `edge` and the same aspect ratio; never larger."""
    longest = max(width, height)
    if longest <= edge:
        return width, height
    scale = edge / longest
    return max(1, round(width * scale)), max(1, round(height * scale))


def header_size(data: bytes) -> tuple[int, int] | None:
    """Width and height declared by the JPEG's frame header(s), without decoding.

    Walks the marker segments up to the first scan. With several frame headers the
    largest counts (Pillow keeps the last one it reads). None if no frame header is
    found before the data ends (Pillow then says what is wrong).
    """
    largest: tuple[int, int] | None = None
    position, end = 2, len(data)
    while position + 1 < end:
        if data[position] != 0xFF:  # junk between segments: skipped, as Pillow does
            position = data.find(b"\xff", position)
            if position < 0:
                break
        while position < end and data[position] == 0xFF:  # fill bytes
            position += 1
        if position >= end:
            break
        marker = data[position]
        position += 1
        if marker in STANDALONE_MARKERS:
            continue
        if marker in (0xD9, 0xDA):  # end of image, start of scan: no more headers
            break
        if position + 2 > end:
            break
        length = int.from_bytes(data[position : position + 2], "big")
        if marker in SOF_MARKERS and length >= 7 and position + 7 <= end:
            height = int.from_bytes(data[position + 3 : position + 5], "big")
            width = int.from_bytes(data[position + 5 : position + 7], "big")
            if largest is None or width * height > largest[0] * largest[1]:
                largest = (width, height)
        if length < 2:
            break
        position += length
    return largest


def _too_many_pixels(width: int, height: int, max_pixels: int) -> ImageRejected:
    return ImageRejected(
        f"the image is {width}x{height} ({width * height / 1e6:.0f} megapixels), "
        f"more than the limit of {max_pixels / 1e6:.0f}",
        "TooManyPixels",
    )


def open_jpeg(data: bytes, max_pixels: int) -> Image.Image:
    """Open (not decode) a JPEG, rejecting anything that is not one by its content.

    Images over `max_pixels` are rejected from the header, before Pillow opens them.
    """
    if not data:
        raise ImageRejected("the file is empty", "Empty")
    if not data.startswith(JPEG_SIGNATURE):
        raise ImageRejected(
            f"the content is not JPEG (it starts with {data[:8].hex(' ')}, not ff d8 ff)",
            "NotJpeg",
        )
    declared = header_size(data)
    if declared is not None and declared[0] * declared[1] > max_pixels:
        raise _too_many_pixels(*declared, max_pixels)
    # Pillow's guard at the same limit, so it never refuses what the limit allows.
    Image.MAX_IMAGE_PIXELS = max_pixels
    try:
        image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        raise ImageRejected(
            f"the image has more pixels than the limit of {max_pixels / 1e6:.0f} megapixels: {exc}",
            "TooManyPixels",
        ) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ImageRejected(f"the JPEG header cannot be read: {exc}", "Unreadable") from exc
    if image.format != "JPEG":
        raise ImageRejected(f"the content is {image.format}, not JPEG", "NotJpeg")
    width, height = image.size
    if width * height > max_pixels:
        raise _too_many_pixels(width, height, max_pixels)
    return image


def decode(image: Image.Image, largest_edge: int) -> tuple[Image.Image, SourceInfo]:
    """Decode at the smallest DCT scale that still covers the largest edge, upright."""
    width, height = image.size
    orientation = int(image.getexif().get(0x0112, 1) or 1)
    mode = image.mode
    image.draft(None, fit(width, height, largest_edge))
    try:
        image.load()
    except Image.DecompressionBombError as exc:
        raise ImageRejected(f"the image has too many pixels: {exc}", "TooManyPixels") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageRejected(f"the JPEG data cannot be decoded: {exc}", "Unreadable") from exc
    upright = ImageOps.exif_transpose(image) or image
    return to_output_mode(upright), SourceInfo(width, height, mode, orientation)


def to_output_mode(image: Image.Image) -> Image.Image:
    """RGB or L, the modes every browser shows correctly in a JPEG."""
    if image.mode in ("RGB", "L"):
        return image
    if image.mode == "CMYK":
        return _cmyk_to_rgb(image)
    if image.mode in ("P", "PA"):
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, WHITE)
        background.paste(rgba, mask=rgba.getchannel("A"))
        background.info = {k: v for k, v in image.info.items() if k == "icc_profile"}
        return background
    if image.mode.startswith("I"):
        return image.convert("I").point(lambda v: v / 256).convert("L")
    return image.convert("RGB")


def _cmyk_to_rgb(image: Image.Image) -> Image.Image:
    """Through the embedded ICC profile when there is one (print CMYK is not sRGB)."""
    icc = image.info.get("icc_profile")
    if icc:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            converted = ImageCms.profileToProfile(
                image, source, ImageCms.createProfile("sRGB"), outputMode="RGB"
            )
            if converted is not None:
                converted.info.pop("icc_profile", None)
                return converted
        except (ImageCms.PyCMSError, OSError):
            pass  # a broken profile: fall back to the plain conversion below
    rgb = image.convert("RGB")
    rgb.info.pop("icc_profile", None)
    return rgb


def encode(image: Image.Image, quality: int, icc_profile: bytes | None) -> bytes:
    buffer = io.BytesIO()
    options: dict = {"quality": quality, "optimize": True, "progressive": True}
    if icc_profile:
        options["icc_profile"] = icc_profile
    image.save(buffer, "JPEG", **options)
    return buffer.getvalue()


def render(
    data: bytes, sizes: Mapping[str, int], quality: int, max_pixels: int
) -> tuple[list[Rendition], SourceInfo]:
    """Every size of one JPEG, largest first, each resized from the one before."""
    if not sizes:
        raise ValueError("no sizes to render")
    image = open_jpeg(data, max_pixels)
    decoded, info = decode(image, max(sizes.values()))
    icc = decoded.info.get("icc_profile") if decoded.mode == "RGB" else None
    renditions = []
    source = decoded
    for name, edge in sorted(sizes.items(), key=lambda item: -item[1]):
        # From the full-size dimensions, so draft rounding never changes the result.
        box = fit(*info.upright_size, edge)
        if box != source.size:
            source = source.resize(box, Image.Resampling.LANCZOS, reducing_gap=3.0)
        renditions.append(
            Rendition(name, encode(source, quality, icc), source.width, source.height)
        )
    return renditions, info
