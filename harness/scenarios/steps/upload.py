"""`upload`: put generated fixture images, literal text or files from a folder into S3.

    - upload:
        as: batch                       # object set name (default: uploads; an item
                                        # may name its own with `as`)
        concurrency: 8                  # parallel PUTs (default 4)
        system: labeling                # labeling (default: the images bucket) or
                                        # catalog (system B's upload bucket)
        items:
          - key: "ingest/{scenario}/{i:03}{ext}"
            count: 200                  # default 1; {i} counts from 0, {n} is count
            fixture: jpeg-baseline      # a name from fixtures/images/manifest.yaml, or
            image: {format: png, width: 64, height: 64, scene: sky}   # an ImageSpec, or
            text: "not an image"        # literal bytes (UTF-8), or
            file: ../fixtures/x.jpg     # a file, or
            folder: ./photos            # every file matching `glob` (default *) in it, or
            fixture_folder: ssgdfm_eye  # the files of fixtures/catalog/<name>/manifest.yaml
            glob: "*.jpg"               # folder and fixture_folder items only
            vary_seed: true             # image seed + i, so the count are distinct (default)
            content_type: image/jpeg    # default: from the format / file name

Paths are relative to the scenario file. Keys of folder files may use {name}, {stem},
{relpath}. A fixture folder's files are generated (harness.build.fixtures.folder), like
the images, and uploaded as `aws s3 cp --recursive` would: every file, whatever its name.
Every uploaded key joins the `as` set and the `all` set. Catalog keys follow
system B's rule, `origin/{vertical}/{cd_idx}_{sequence}.jpg` (e.g.
`origin/{scenario}/1{i}_1.jpg`); a key that breaks it is rejected by the resize function.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import mimetypes
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.build import fixtures
from harness.scenarios import templates
from harness.scenarios.model import ParseContext, Step, parse_system, register_step
from harness.scenarios.runtime import Runtime
from harness.scenarios.source import Src

SOURCES = ("fixture", "image", "text", "file", "folder", "fixture_folder")
FOLDER_SOURCES = ("folder", "fixture_folder")  # one object per file, keys from {name}
DEFAULT_FOLDER_KEYS = {
    "labeling": "ingest/{scenario}/{relpath}",
    "catalog": "origin/{scenario}/{name}",
}
_SPEC_FIELDS = {f.name for f in dataclasses.fields(fixtures.ImageSpec)}


@dataclass(frozen=True)
class Item:
    key: str
    count: int
    source: str  # one of SOURCES
    spec: fixtures.ImageSpec | None = None
    text: str | None = None
    path: Path | None = None
    folder: fixtures.FixtureFolder | None = None  # fixture_folder items
    glob: str = "*"
    vary_seed: bool = True
    content_type: str | None = None
    set_name: str | None = None  # overrides the step's `as`


@dataclass(frozen=True)
class Planned:
    key: str
    load: Any  # () -> bytes
    content_type: str
    set_name: str | None = None


def _parse_spec(src: Src) -> fixtures.ImageSpec:
    fields = src.mapping()
    for name, child in fields.items():
        if name not in _SPEC_FIELDS:
            raise child.fail(f"unknown image field; allowed: {', '.join(sorted(_SPEC_FIELDS))}")
    try:
        return fixtures.ImageSpec(**src.value)
    except (TypeError, ValueError) as exc:
        raise src.fail(f"bad image spec: {exc}") from exc


def _parse_fixture(src: Src) -> fixtures.ImageSpec:
    name = src.text()
    try:
        return fixtures.spec(name)
    except fixtures.FixtureError as exc:
        raise src.fail(str(exc)) from exc


def _set_name(src: Src, ctx: ParseContext) -> str:
    name = src.text()
    if not name.isidentifier():
        raise src.fail(f"{name!r} must be a simple name (letters, digits, _)")
    ctx.object_sets.add(name)
    return name


def _parse_item(src: Src, ctx: ParseContext, system: str) -> Item:
    fields = src.fields(
        optional=("key", "count", "vary_seed", "content_type", "glob", "as", *SOURCES),
    )
    given = [name for name in SOURCES if name in fields]
    if len(given) != 1:
        raise src.fail(f"give exactly one of {', '.join(SOURCES)}; got {given or 'none'}")
    source = given[0]
    count = fields["count"].integer(minimum=1, maximum=10_000) if "count" in fields else 1
    if source in FOLDER_SOURCES and "count" in fields:
        raise fields["count"].fail("a folder uploads each of its files once; drop count")
    if "glob" in fields and source not in FOLDER_SOURCES:
        raise fields["glob"].fail("glob is for folder and fixture_folder items")
    extra = ("i", "n", "ext") + (
        ("name", "stem", "relpath") if source in ("file", *FOLDER_SOURCES) else ()
    )
    if "key" in fields:
        key = templates.check(fields["key"], extra)
    elif source in FOLDER_SOURCES:
        key = DEFAULT_FOLDER_KEYS[system]
    else:
        example = (
            "origin/{scenario}/1{i}_1.jpg"
            if system == "catalog"
            else "ingest/{scenario}/{i:03}{ext}"
        )
        raise src.fail(f"missing required field 'key' (e.g. {example})")
    if count > 1 and "{i" not in key:
        raise fields["key"].fail("with count > 1 the key needs {i} so the objects differ")
    item = Item(
        key=key,
        count=count,
        source=source,
        vary_seed=fields["vary_seed"].boolean() if "vary_seed" in fields else True,
        content_type=fields["content_type"].text() if "content_type" in fields else None,
        glob=fields["glob"].text() if "glob" in fields else "*",
        set_name=_set_name(fields["as"], ctx) if "as" in fields else None,
    )
    value = fields[source]
    if source == "fixture":
        return dataclasses.replace(item, spec=_parse_fixture(value))
    if source == "image":
        return dataclasses.replace(item, spec=_parse_spec(value))
    if source == "text":
        return dataclasses.replace(item, text=value.text(allow_empty=True))
    if source == "fixture_folder":
        try:
            return dataclasses.replace(item, folder=fixtures.load_folder(value.text()))
        except fixtures.FixtureError as exc:
            raise value.fail(str(exc)) from exc
    path = (ctx.base_dir / value.text()).resolve()
    if source == "file" and not path.is_file():
        raise value.fail(f"no file {path}")
    if source == "folder" and not path.is_dir():
        raise value.fail(f"no folder {path}")
    return dataclasses.replace(item, path=path)


def _guess_type(name: str) -> str:
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def _plan_fixture_folder(item: Item, rt: Runtime, cache_dir: Path) -> list[Planned]:
    assert item.folder is not None
    files = [f for f in item.folder.files if fnmatch.fnmatchcase(f.name, item.glob)]
    planned = []
    for i, entry in enumerate(files):
        suffix = Path(entry.name).suffix
        key = rt.render(
            item.key,
            i=i,
            n=len(files),
            ext=suffix,
            name=entry.name,
            stem=Path(entry.name).stem,
            relpath=entry.name,
        )
        load = _loader(entry.spec, cache_dir) if entry.spec is not None else entry.render
        content_type = item.content_type or entry.content_type
        planned.append(Planned(key, load, content_type, item.set_name))
    return planned


def _plan_item(item: Item, rt: Runtime, cache_dir: Path) -> list[Planned]:
    if item.source == "fixture_folder":
        return _plan_fixture_folder(item, rt, cache_dir)
    planned = []
    if item.source == "folder":
        assert item.path is not None
        files = sorted(p for p in item.path.rglob(item.glob) if p.is_file())
        for i, path in enumerate(files):
            relpath = path.relative_to(item.path).as_posix()
            key = rt.render(
                item.key,
                i=i,
                n=len(files),
                ext=path.suffix,
                name=path.name,
                stem=path.stem,
                relpath=relpath,
            )
            content_type = item.content_type or _guess_type(path.name)
            planned.append(Planned(key, path.read_bytes, content_type, item.set_name))
        return planned
    for i in range(item.count):
        if item.source in ("fixture", "image"):
            assert item.spec is not None
            spec = item.spec
            if item.vary_seed and item.count > 1:
                spec = dataclasses.replace(spec, seed=spec.seed + i)
            key = rt.render(item.key, i=i, n=item.count, ext=spec.extension)
            content_type = item.content_type or spec.content_type
            planned.append(Planned(key, _loader(spec, cache_dir), content_type, item.set_name))
        elif item.source == "text":
            data = (item.text or "").encode()
            key = rt.render(item.key, i=i, n=item.count, ext=".txt")
            content_type = item.content_type or "text/plain"
            planned.append(Planned(key, lambda data=data: data, content_type, item.set_name))
        else:  # file
            assert item.path is not None
            path = item.path
            key = rt.render(
                item.key,
                i=i,
                n=item.count,
                ext=path.suffix,
                name=path.name,
                stem=path.stem,
                relpath=path.name,
            )
            content_type = item.content_type or _guess_type(path.name)
            planned.append(Planned(key, path.read_bytes, content_type, item.set_name))
    return planned


def _loader(spec: fixtures.ImageSpec, cache_dir: Path):
    return lambda: fixtures.materialize(spec, cache_dir).read_bytes()


@register_step
@dataclass(frozen=True)
class Upload(Step):
    kind = "upload"
    summary = "put generated images, text or a folder's files into S3 (concurrently)"

    items: tuple[Item, ...]
    set_name: str = "uploads"
    concurrency: int = 4
    system: str = "labeling"

    @classmethod
    def parse(cls, src: Src, ctx: ParseContext) -> Upload:
        fields = src.fields(required=("items",), optional=("as", "concurrency", "system"))
        system = parse_system(fields["system"]) if "system" in fields else "labeling"
        items = tuple(_parse_item(item, ctx, system) for item in fields["items"].items())
        if not items:
            raise fields["items"].fail("list at least one item")
        set_name = _set_name(fields["as"], ctx) if "as" in fields else "uploads"
        ctx.object_sets.add(set_name)
        concurrency = fields["concurrency"].integer(1, 64) if "concurrency" in fields else 4
        return cls(items=items, set_name=set_name, concurrency=concurrency, system=system)

    def systems(self) -> frozenset[str]:
        return frozenset({self.system})

    def run(self, rt: Runtime) -> dict[str, Any]:
        pipeline = rt.pipeline_of(self.system)
        cache_dir = fixtures.generated_dir()
        planned = [p for item in self.items for p in _plan_item(item, rt, cache_dir)]
        rendered_at = time.monotonic()
        bodies = [p.load() for p in planned]  # render first: upload timing is S3's alone
        render_s = time.monotonic() - rendered_at

        def put(index: int) -> float:
            started = time.monotonic()
            pipeline.upload(planned[index].key, bodies[index], planned[index].content_type)
            return time.monotonic() - started

        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            durations = list(pool.map(put, range(len(planned))))
        keys = [p.key for p in planned]
        for p in planned:
            rt.add_objects(p.set_name or self.set_name, [p.key], self.system)
        rt.counts["uploads"] = rt.counts.get("uploads", 0) + len(keys)
        return {
            **({"system": self.system} if self.system != "labeling" else {}),
            "set": self.set_name,
            "uploaded": len(keys),
            "bytes": sum(len(b) for b in bodies),
            "render_s": round(render_s, 3),
            "upload_s": round(time.monotonic() - started, 3),
            "slowest_put_s": round(max(durations, default=0.0), 3),
            "keys": keys[:20] + ([f"... and {len(keys) - 20} more"] if len(keys) > 20 else []),
        }
