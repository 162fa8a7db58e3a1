"""Deterministic fixture images: the same spec and seed always give the same bytes.

Tests and scenarios describe the images they need (format, size, mode, scene,
damage) instead of committing binaries; the bytes are made on demand and cached in
`fixtures/images/generated/` under a name derived from the spec. Scenes have known
content, so Rekognition stub rules can key on them (by key pattern or by the image's
SHA-256), and the stub's default answer names the scene (`sky` -> "Sky").

`fixtures/images/manifest.yaml` names the fixtures the project relies on (name ->
spec, plus the claims `tests/unit/test_fixtures.py` checks); scenarios use them with
`spec(name)`, `get(name)` and `data(name)`.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import io
import mimetypes
import os
import random
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import PIL
import yaml
from PIL import Image, ImageDraw

from harness.util.errors import HarnessError

FORMATS = {"jpeg": "JPEG", "png": "PNG", "gif": "GIF", "webp": "WEBP", "bmp": "BMP"}
EXTENSIONS = {"jpeg": ".jpg", "png": ".png", "gif": ".gif", "webp": ".webp", "bmp": ".bmp"}
CONTENT_TYPES = {
    "jpeg": "image/jpeg",
    "png": "image/png",
    "gif": "image/gif",
    "webp": "image/webp",
    "bmp": "image/bmp",
}
SCENES = ("shapes", "sky", "noise", "portrait", "sunset", "forest", "night", "snow")
DAMAGE = (None, "truncated", "garbage", "empty", "text")
# Bump when a change here alters the bytes of an existing spec: cached files are
# named by spec, generator version and Pillow version, so stale bytes are never reused.
GENERATOR_VERSION = 2
MANIFEST_VERSION = 1


class FixtureError(HarnessError):
    """The manifest or a fixture name is wrong; the message names the file and fixture."""


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
    # JPEG chroma subsampling: 0 = 4:4:4, 1 = 4:2:2, 2 = 4:2:0; None = Pillow's default.
    # 4:4:4 at quality 100 on the noise scene gives ~4 bytes per pixel: large files fast.
    subsampling: int | None = None

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ValueError(f"format {self.format!r} is not one of {', '.join(FORMATS)}")
        if self.scene not in SCENES:
            raise ValueError(f"scene {self.scene!r} is not one of {', '.join(SCENES)}")
        if self.damage not in DAMAGE:
            raise ValueError(f"damage {self.damage!r} is not one of {DAMAGE[1:]}")
        if self.width < 1 or self.height < 1:
            raise ValueError("width and height must be at least 1 pixel")
        if self.exif_orientation is not None and not 1 <= self.exif_orientation <= 8:
            raise ValueError("exif_orientation must be from 1 to 8")
        if self.subsampling not in (None, 0, 1, 2):
            raise ValueError("subsampling must be 0, 1 or 2")

    @property
    def extension(self) -> str:
        return EXTENSIONS[self.format]

    @property
    def content_type(self) -> str:
        """What an uploader would send; a text file stays text/plain whatever its name."""
        return "text/plain" if self.damage == "text" else CONTENT_TYPES[self.format]

    def cache_name(self) -> str:
        identity = (sorted(asdict(self).items()), GENERATOR_VERSION, PIL.__version__)
        digest = hashlib.sha256(repr(identity).encode()).hexdigest()[:16]
        return f"{self.scene}-{self.width}x{self.height}-{digest}{self.extension}"


def _gradient(draw: ImageDraw.ImageDraw, w: int, h: int, top: tuple, bottom: tuple) -> None:
    for y in range(h):
        t = y / max(h - 1, 1)
        colour = tuple(round(a + (b - a) * t) for a, b in zip(top, bottom, strict=True))
        draw.line([(0, y), (w, y)], fill=colour)


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
    elif spec.scene == "sunset":  # red-orange sky over a dark red sea: "Sunset"
        _gradient(draw, w, h, (250, 120, 60), (200, 40, 50))
        draw.ellipse([w * 0.4, h * 0.45, w * 0.6, h * 0.45 + w * 0.2], fill=(255, 170, 80))
        draw.rectangle([0, h * 0.75, w, h], fill=(150, 30, 40))
    elif spec.scene == "forest":  # green ground and trees: "Vegetation"
        _gradient(draw, w, h, (90, 160, 80), (40, 110, 40))
        for _ in range(10):
            x, base = rng.randrange(w), h * (0.6 + 0.4 * rng.random())
            size = max(4, w // 10)
            colour = (20 + rng.randrange(40), 90 + rng.randrange(60), 30 + rng.randrange(30))
            draw.polygon([(x, base - 2 * size), (x - size, base), (x + size, base)], fill=colour)
    elif spec.scene == "night":  # dark sky with a few stars: "Night"
        _gradient(draw, w, h, (5, 8, 30), (15, 20, 45))
        for _ in range(max(3, w * h // 4000)):
            x, y = rng.randrange(w), rng.randrange(h)
            draw.point((x, y), fill=(230, 230, 200))
    elif spec.scene == "snow":  # grey-white field and drifts, no colour: "Snow"
        _gradient(draw, w, h, (250, 250, 250), (232, 232, 232))
        for _ in range(6):
            x0, y0 = rng.randrange(w), h // 2 + rng.randrange(max(1, h // 2))
            shade = 215 + rng.randrange(25)
            draw.ellipse([x0, y0, x0 + w // 4, y0 + h // 10], fill=(shade, shade, shade))
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
        if spec.subsampling is not None:
            options["subsampling"] = spec.subsampling
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
    """Render once into `cache_dir` and return the file's path.

    Written to a unique temporary file and renamed, so concurrent workers never see
    (or leave behind) a half-written image.
    """
    path = cache_dir / spec.cache_name()
    if path.exists():
        return path
    cache_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=cache_dir, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(render(spec))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


# --- the manifest ----------------------------------------------------------------------

_SPEC_FIELDS = {f.name for f in dataclasses.fields(ImageSpec)}
_FIXTURE_KEYS = {"about", "spec", "expect"}
EXPECT_KEYS = {
    "decodes",  # bool: Pillow opens and fully loads it
    "format",  # Pillow's format name (JPEG, PNG, GIF, WEBP, BMP)
    "mode",  # Pillow mode after opening (RGB, RGBA, CMYK, P, ...)
    "size",  # [width, height] as stored
    "upright_size",  # [width, height] after applying the EXIF orientation
    "progressive",  # bool: progressive JPEG
    "exif_orientation",  # int: EXIF tag 0x0112
    "min_bytes",
    "max_bytes",
    "rekognition",  # the stub's outcome for the object in S3: "labels" or an error code
    "rekognition_bytes",  # the same for the bytes sent in the request (Image.Bytes)
    "scene_label",  # a label the stub's default answer gives with confidence >= 70
}


@dataclass(frozen=True)
class Fixture:
    """One named fixture of the manifest: how to make it and what it is."""

    name: str
    spec: ImageSpec
    about: str = ""
    expect: dict[str, Any] = field(default_factory=dict)


def fixtures_dir() -> Path:
    from harness import config

    return config.load().project_dir / "fixtures" / "images"


def manifest_path() -> Path:
    return fixtures_dir() / "manifest.yaml"


def generated_dir() -> Path:
    """Where images are cached (git-ignored); safe to delete at any time."""
    return fixtures_dir() / "generated"


def parse_manifest(document: Any, source: str) -> dict[str, Fixture]:
    """Validate a manifest document; errors name `source`, the fixture and the field."""
    if not isinstance(document, dict):
        raise FixtureError(f"{source}: must be a mapping with 'version' and 'fixtures'")
    if document.get("version") != MANIFEST_VERSION:
        raise FixtureError(
            f"{source}: version must be {MANIFEST_VERSION}, got {document.get('version')!r}"
        )
    unknown = set(document) - {"version", "fixtures"}
    if unknown:
        raise FixtureError(f"{source}: unknown top-level keys {sorted(unknown)}")
    entries = document.get("fixtures")
    if not isinstance(entries, dict) or not entries:
        raise FixtureError(f"{source}: 'fixtures' must be a non-empty mapping of name -> fixture")
    fixtures: dict[str, Fixture] = {}
    for name, entry in entries.items():
        where = f"{source}: fixture {name!r}"
        if not isinstance(entry, dict):
            raise FixtureError(f"{where}: must be a mapping with 'spec'")
        unknown = set(entry) - _FIXTURE_KEYS
        if unknown:
            raise FixtureError(f"{where}: unknown keys {sorted(unknown)}")
        raw_spec = entry.get("spec")
        if not isinstance(raw_spec, dict):
            raise FixtureError(f"{where}: 'spec' must be a mapping of ImageSpec fields")
        unknown = set(raw_spec) - _SPEC_FIELDS
        if unknown:
            raise FixtureError(
                f"{where}: unknown spec fields {sorted(unknown)}; allowed {sorted(_SPEC_FIELDS)}"
            )
        try:
            spec = ImageSpec(**raw_spec)
        except (TypeError, ValueError) as exc:
            raise FixtureError(f"{where}: bad spec: {exc}") from exc
        expect = entry.get("expect") or {}
        if not isinstance(expect, dict) or set(expect) - EXPECT_KEYS:
            raise FixtureError(
                f"{where}: 'expect' must be a mapping with keys from {sorted(EXPECT_KEYS)}"
            )
        fixtures[str(name)] = Fixture(str(name), spec, str(entry.get("about", "")), expect)
    return fixtures


@functools.lru_cache(maxsize=8)
def _load_cached(path: str, mtime_ns: int) -> dict[str, Fixture]:
    try:
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise FixtureError(f"{path}: not valid YAML: {exc}") from exc
    return parse_manifest(document, path)


def load_manifest(path: Path | None = None) -> dict[str, Fixture]:
    """The manifest's fixtures by name (re-read only when the file changes)."""
    path = path or manifest_path()
    try:
        mtime_ns = path.stat().st_mtime_ns
    except FileNotFoundError as exc:
        raise FixtureError(f"fixture manifest {path} does not exist") from exc
    return dict(_load_cached(str(path), mtime_ns))


def fixture(name: str, path: Path | None = None) -> Fixture:
    fixtures = load_manifest(path)
    if name not in fixtures:
        raise FixtureError(
            f"no fixture {name!r} in {path or manifest_path()}; known: {', '.join(fixtures)}"
        )
    return fixtures[name]


def spec(name: str, **overrides: Any) -> ImageSpec:
    """The named fixture's spec; overrides (e.g. `seed=i`) make distinct variants of it."""
    base = fixture(name).spec
    try:
        return dataclasses.replace(base, **overrides) if overrides else base
    except (TypeError, ValueError) as exc:
        raise FixtureError(f"fixture {name!r}: bad override {overrides}: {exc}") from exc


def get(name: str, **overrides: Any) -> Path:
    """Path of the named fixture's file, rendered on first use and cached."""
    return materialize(spec(name, **overrides), generated_dir())


def data(name: str, **overrides: Any) -> bytes:
    return get(name, **overrides).read_bytes()


def sha256(name: str, **overrides: Any) -> str:
    """Hex digest of the fixture's bytes: what a stub rule's `sha256` matcher takes."""
    return hashlib.sha256(data(name, **overrides)).hexdigest()


def generate(
    names: list[str] | None = None, out_dir: Path | None = None
) -> list[tuple[Fixture, Path, bool]]:
    """Materialize the named fixtures (all by default); returns (fixture, path, created)."""
    fixtures = load_manifest()
    wanted = names or list(fixtures)
    missing = [n for n in wanted if n not in fixtures]
    if missing:
        raise FixtureError(f"no fixture(s) {', '.join(missing)} in {manifest_path()}")
    target = out_dir or generated_dir()
    made = []
    for name in wanted:
        cached = (target / fixtures[name].spec.cache_name()).exists()
        made.append((fixtures[name], materialize(fixtures[name].spec, target), not cached))
    return made


# --- fixture folders: what an operator's upload folder holds ------------------------------
#
# `fixtures/catalog/<name>/manifest.yaml` lists the files of one upload folder of system B
# (file name -> a fixture of the image manifest, an ImageSpec or literal text, and what
# the catalog must make of it). Like the images, the files are generated, never
# committed: `folder(name)` writes them into `fixtures/catalog/generated/<name>/`.

# "served", or one of the resize function's rejection codes (docs/architecture.md, resize)
FOLDER_OUTCOMES = (
    "served",
    "BadName",
    "NotJpeg",
    "Empty",
    "Unreadable",
    "TooLarge",
    "TooManyPixels",
)
_FOLDER_FILE_KEYS = {"fixture", "seed", "spec", "text", "expect", "about"}
_FOLDER_SOURCES = ("fixture", "spec", "text")


@dataclass(frozen=True)
class FolderFile:
    """One file of a fixture folder: its bytes (`spec` or `text`) and its expected fate."""

    name: str
    expect: str  # "served", or the resize function's rejection code
    spec: ImageSpec | None = None
    text: str | None = None
    about: str = ""

    def render(self) -> bytes:
        if self.spec is not None:
            return render(self.spec)
        return (self.text or "").encode()

    @property
    def content_type(self) -> str:
        """What `aws s3 cp` would send: guessed from the name, as the CLI does."""
        return mimetypes.guess_type(self.name)[0] or "application/octet-stream"


@dataclass(frozen=True)
class FixtureFolder:
    name: str
    about: str
    files: tuple[FolderFile, ...]

    def expected(self, outcome: str) -> list[str]:
        """Names of the files expected to end as `outcome` (served or a rejection code)."""
        return [f.name for f in self.files if f.expect == outcome]


def folders_dir() -> Path:
    from harness import config

    return config.load().project_dir / "fixtures" / "catalog"


def folder_manifest_path(name: str) -> Path:
    return folders_dir() / name / "manifest.yaml"


def folder_generated_dir(name: str) -> Path:
    """Where `folder(name)` writes the files by default (git-ignored)."""
    return folders_dir() / "generated" / name


def _plain_file_name(name: Any) -> bool:
    return (
        isinstance(name, str)
        and name not in ("", ".", "..")
        and "/" not in name
        and "\\" not in name
        and "\0" not in name
    )


def _parse_folder_file(name: str, entry: Any, images: dict[str, Fixture], where: str) -> FolderFile:
    if not isinstance(entry, dict):
        raise FixtureError(f"{where}: must be a mapping with one of {', '.join(_FOLDER_SOURCES)}")
    unknown = set(entry) - _FOLDER_FILE_KEYS
    if unknown:
        raise FixtureError(f"{where}: unknown keys {sorted(unknown)}")
    given = [k for k in _FOLDER_SOURCES if k in entry]
    if len(given) != 1:
        raise FixtureError(f"{where}: give exactly one of {', '.join(_FOLDER_SOURCES)}")
    expect = entry.get("expect")
    if expect not in FOLDER_OUTCOMES:
        raise FixtureError(f"{where}: expect must be one of {', '.join(FOLDER_OUTCOMES)}")
    if "seed" in entry and "fixture" not in entry:
        raise FixtureError(f"{where}: seed overrides a named fixture's seed; give fixture")
    about = str(entry.get("about", ""))
    if "text" in entry:
        if not isinstance(entry["text"], str):
            raise FixtureError(f"{where}: text must be a string")
        return FolderFile(name, expect, text=entry["text"], about=about)
    if "fixture" in entry:
        if entry["fixture"] not in images:
            raise FixtureError(f"{where}: no image fixture {entry['fixture']!r} in the manifest")
        image = images[entry["fixture"]]
        spec = image.spec
        if "seed" in entry:
            if isinstance(entry["seed"], bool) or not isinstance(entry["seed"], int):
                raise FixtureError(f"{where}: seed must be a whole number")
            spec = dataclasses.replace(spec, seed=entry["seed"])
        return FolderFile(name, expect, spec=spec, about=about or image.about)
    raw_spec = entry["spec"]
    if not isinstance(raw_spec, dict) or set(raw_spec) - _SPEC_FIELDS:
        raise FixtureError(f"{where}: spec must be a mapping of {sorted(_SPEC_FIELDS)}")
    try:
        return FolderFile(name, expect, spec=ImageSpec(**raw_spec), about=about)
    except (TypeError, ValueError) as exc:
        raise FixtureError(f"{where}: bad spec: {exc}") from exc


def parse_folder(
    name: str, document: Any, source: str, images: dict[str, Fixture] | None = None
) -> FixtureFolder:
    """Validate a folder manifest; errors name `source`, the file and the field."""
    if not isinstance(document, dict) or document.get("version") != MANIFEST_VERSION:
        raise FixtureError(f"{source}: must be a mapping with version: {MANIFEST_VERSION}")
    unknown = set(document) - {"version", "about", "files"}
    if unknown:
        raise FixtureError(f"{source}: unknown top-level keys {sorted(unknown)}")
    entries = document.get("files")
    if not isinstance(entries, dict) or not entries:
        raise FixtureError(f"{source}: 'files' must be a non-empty mapping of file name -> file")
    images = load_manifest() if images is None else images
    files = []
    for file_name, entry in entries.items():
        if not _plain_file_name(file_name):
            raise FixtureError(f"{source}: {file_name!r} is not a plain file name")
        files.append(_parse_folder_file(file_name, entry, images, f"{source}: {file_name}"))
    return FixtureFolder(name, str(document.get("about", "")).strip(), tuple(files))


def load_folder(name: str) -> FixtureFolder:
    """The fixture folder `fixtures/catalog/<name>/manifest.yaml`."""
    path = folder_manifest_path(name)
    if not _plain_file_name(name) or not path.is_file():
        known = sorted(p.parent.name for p in folders_dir().glob("*/manifest.yaml"))
        raise FixtureError(f"no fixture folder {name!r} ({path}); known: {', '.join(known)}")
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise FixtureError(f"{path}: not valid YAML: {exc}") from exc
    return parse_folder(name, document, str(path))


def folder(name: str, out_dir: Path | None = None) -> Path:
    """Write the fixture folder's files into `out_dir` (default
    `fixtures/catalog/generated/<name>/`) and return it; it then holds exactly them.

    Images come from the cache of `materialize`. A file in `out_dir` that the manifest
    does not list is removed from the default folder, and refused in any other.
    """
    manifest = load_folder(name)
    target = out_dir or folder_generated_dir(name)
    target.mkdir(parents=True, exist_ok=True)
    wanted = {f.name for f in manifest.files}
    strays = [p for p in target.iterdir() if p.name not in wanted]
    if strays and out_dir is not None:
        raise FixtureError(
            f"{target} holds files that fixture folder {name!r} does not list: "
            f"{', '.join(sorted(p.name for p in strays))}"
        )
    for stray in strays:
        if stray.is_file() or stray.is_symlink():
            stray.unlink()
    cache = generated_dir()
    for entry in manifest.files:
        data = (
            materialize(entry.spec, cache).read_bytes()
            if entry.spec is not None
            else entry.render()
        )
        path = target / entry.name
        if path.is_file() and not path.is_symlink() and path.read_bytes() == data:
            continue
        fd, tmp = tempfile.mkstemp(dir=target, prefix=f".{entry.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return target
