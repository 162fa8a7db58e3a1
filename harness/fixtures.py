"""Deterministic fixture images: the same spec and seed always give the same bytes.

Tests and scenarios describe the images they need (format, size, mode, scene,
damage) instead of committing binaries; the bytes are made on demand and cached in
`fixtures/images/generated/`. Scenes have known content, so Rekognition stub rules
can key on them (by key pattern or by the image's SHA-256).
"""

from __future__ import annotations

import hashlib
import io
import random
from dataclasses import asdict, dataclass
from pathlib import Path

from PIL import Image, ImageDraw

FORMATS = {"jpeg": "JPEG", "png": "PNG", "gif": "GIF", "webp": "WEBP", "bmp": "BMP"}
EXTENSIONS = {"jpeg": ".jpg", "png": ".png", "gif": ".gif", "webp": ".webp", "bmp": ".bmp"}
SCENES = ("shapes", "sky", "noise", "portrait")
DAMAGE = (None, "truncated", "garbage", "empty", "text")


@dataclass(frozen=True)
class ImageSpec:
    format: str = "jpeg"
    width: int = 640
    height: int = 480
    seed: int = 0
    scene: str = "shapes"
    mode: str = "RGB"  # RGB, RGBA (png/webp), CMYK (jpeg), L, P
    quality: int = 85
    progressive: bool = False
    exif_orientation: int | None = None  # 1-8, written as EXIF tag 0x0112
    damage: str | None = None  # truncated | garbage | empty | text

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ValueError(f"format {self.format!r} is not one of {', '.join(FORMATS)}")
        if self.scene not in SCENES:
            raise ValueError(f"scene {self.scene!r} is not one of {', '.join(SCENES)}")
        if self.damage not in DAMAGE:
            raise ValueError(f"damage {self.damage!r} is not one of {DAMAGE[1:]}")
        if self.width < 1 or self.height < 1:
            raise ValueError("width and height must be at least 1 pixel")

    @property
    def extension(self) -> str:
        return EXTENSIONS[self.format]

    def cache_name(self) -> str:
        digest = hashlib.sha256(repr(sorted(asdict(self).items())).encode()).hexdigest()[:16]
        return f"{self.scene}-{self.width}x{self.height}-{digest}{self.extension}"


def _draw_scene(spec: ImageSpec) -> Image.Image:
    rng = random.Random(spec.seed)
    w, h = spec.width, spec.height
    if spec.scene == "noise":
        # Incompressible content: used to exceed Rekognition's size limits.
        return Image.frombytes("RGB", (w, h), rng.randbytes(w * h * 3))
    image = Image.new("RGB", (w, h), (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    draw = ImageDraw.Draw(image)
    if spec.scene == "sky":
        for y in range(h):
            shade = int(255 * y / max(h - 1, 1))
            draw.line([(0, y), (w, y)], fill=(90 + shade // 3, 150 + shade // 4, 255))
    elif spec.scene == "portrait":
        draw.ellipse([w * 0.3, h * 0.15, w * 0.7, h * 0.65], fill=(224, 172, 105))
        draw.rectangle([w * 0.2, h * 0.65, w * 0.8, h], fill=(40, 60, 160))
    else:
        for _ in range(12):
            x0, y0 = rng.randrange(w), rng.randrange(h)
            x1, y1 = x0 + rng.randrange(1, max(2, w // 3)), y0 + rng.randrange(1, max(2, h // 3))
            colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
            if rng.random() < 0.5:
                draw.rectangle([x0, y0, x1, y1], fill=colour)
            else:
                draw.ellipse([x0, y0, x1, y1], fill=colour)
    return image


def render(spec: ImageSpec) -> bytes:
    """The image's bytes; damaged specs give files that fail to decode, on purpose."""
    if spec.damage == "empty":
        return b""
    if spec.damage == "text":
        return f"this is not an image (seed {spec.seed})\n".encode()
    image = _draw_scene(spec)
    if spec.mode != "RGB":
        image = image.convert(spec.mode)
    options: dict = {}
    if spec.format == "jpeg":
        options = {"quality": spec.quality, "progressive": spec.progressive}
    elif spec.format == "webp":
        options = {"quality": spec.quality}
    if spec.exif_orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = spec.exif_orientation
        options["exif"] = exif.tobytes()
    buffer = io.BytesIO()
    image.save(buffer, FORMATS[spec.format], **options)
    data = buffer.getvalue()
    if spec.damage == "truncated":
        return data[: max(16, len(data) // 3)]
    if spec.damage == "garbage":
        rng = random.Random(spec.seed)
        cut = min(len(data) // 4, 64)
        return data[:cut] + rng.randbytes(len(data) - cut)
    return data


def materialize(spec: ImageSpec, cache_dir: Path) -> Path:
    """Render once into `cache_dir` and return the file's path."""
    path = cache_dir / spec.cache_name()
    if not path.exists():
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_bytes(render(spec))
        tmp.replace(path)
    return path
