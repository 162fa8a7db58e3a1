"""The catalog's admin page: the seed runbook's "check the admin page", served locally.

The runbook ends a registration with a DB count ("one entity has 4 rows") and "check
the admin page". `harness verify` does the count; this page is what a person looks at:
per vertical, every entity with its renditions shown as images, the rows found against
the rows expected (one per size of every image), and what the resize function rejected
and why. A missing row or object is shown as missing, never silently left out.

Three parts, so each can be tested alone:

- `CatalogSource`, the little the page reads (rows, object keys, rejection records,
  queue depths, one object's bytes); `PipelineSource` adapts the deployed
  `CatalogPipeline`, tests use an in-memory one.
- `gather(source)` joins them into a `CatalogView` the way `verify` does: the images
  are the accepted originals plus the images that have rows, and each image expects
  one row and one served object per configured size.
- `render_page(view)` (self-contained HTML, every value escaped) and `AdminServer`, a
  loopback-only HTTP server like the Slack sink's. It serves the page at `/` and the
  renditions at `/image/<bucket>/<key>`, read through the source: a browser has no
  credentials for LocalStack's S3, and only the served bucket is proxied.
"""

from __future__ import annotations

import contextlib
import errno
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar
from urllib.parse import parse_qs, quote, unquote, urlsplit

from harness.config import env_int
from harness.runtime import aws
from harness.stubs.httpserver import HOST, BackgroundServer, ControlRoute, StubHandler
from harness.systems.catalog import lambda_rules
from harness.util.errors import HarnessError

if TYPE_CHECKING:
    from harness.systems.catalog.pipeline import CatalogPipeline

PORT_ENV = "HARNESS_ADMIN_PORT"
DEFAULT_PORT = 4583  # next to the stubs (4580, 4581) and the database (4582)
IMAGE_PATH = "/image/"
DEFAULT_LIMIT = 100  # entities shown per vertical; the counts always cover them all

T = TypeVar("T")


def default_port() -> int:
    return env_int(PORT_ENV, DEFAULT_PORT)


# --- the data source ----------------------------------------------------------------


@dataclass(frozen=True)
class Layout:
    """Where the catalog keeps things: the deployment's `catalog` output, in short."""

    upload_bucket: str
    served_bucket: str
    origin_prefix: str
    cdn_host: str
    sizes: dict[str, int]


@dataclass(frozen=True)
class StoredObject:
    body: bytes
    content_type: str


class CatalogSource(Protocol):
    """What the page reads. Each call may fail on its own (the database can be down
    while S3 answers); the page then shows what it has and says what it could not read."""

    def layout(self) -> Layout: ...

    def rows(self) -> list[dict[str, Any]]:
        """Every row of `celeb_image_url` (vertical, cd_idx, sequence, image_size, url, ...)."""
        ...

    def keys(self, bucket: str, prefix: str) -> list[str]: ...

    def rejections(self) -> list[dict[str, Any]]:
        """The resize function's rejection records (`source`, `reason`, `code`, ...)."""
        ...

    def pending(self) -> dict[str, int]:
        """Messages waiting: `work_queue` (not loaded yet), `dlq`, `resize_failures`."""
        ...

    def read_object(self, bucket: str, key: str) -> StoredObject | None:
        """The object's bytes, or None when there is no such object."""
        ...


class PipelineSource:
    """`CatalogSource` of the deployed pipeline: MariaDB rows and LocalStack's S3/SQS."""

    def __init__(self, pipeline: CatalogPipeline) -> None:
        self.pipeline = pipeline

    def layout(self) -> Layout:
        c = self.pipeline.c
        return Layout(
            upload_bucket=c["upload_bucket"],
            served_bucket=c["served_bucket"],
            origin_prefix=c["origin_prefix"],
            cdn_host=c["cdn_host"],
            sizes=self.pipeline.sizes,
        )

    def rows(self) -> list[dict[str, Any]]:
        return self.pipeline.rows()

    def keys(self, bucket: str, prefix: str) -> list[str]:
        return sorted(self.pipeline.keys(bucket, prefix))

    def rejections(self) -> list[dict[str, Any]]:
        return self.pipeline.rejections()

    def pending(self) -> dict[str, int]:
        return self.pipeline.pending()

    def read_object(self, bucket: str, key: str) -> StoredObject | None:
        stored = aws.read_object(self.pipeline.s3, bucket, key)
        return None if stored is None else StoredObject(*stored)


# --- gathering --------------------------------------------------------------------


@dataclass
class Rendition:
    """One size of one image: its row and its served object, as expected by the rule."""

    size: str
    key: str  # where the served object should be
    url: str  # what the row's URL should be
    row: dict[str, Any] | None
    row_problem: str | None  # a row that exists but names another place
    has_object: bool

    @property
    def row_state(self) -> str:
        """present | missing | wrong | unknown (the rows could not be read)."""
        if self.row is None:
            return "missing"
        return "wrong" if self.row_problem else "present"


@dataclass
class ImageView:
    sequence: int
    origin_key: str
    has_original: bool
    renditions: list[Rendition]
    rejection: dict[str, Any] | None

    @property
    def rows_found(self) -> int:
        return sum(1 for r in self.renditions if r.row is not None)

    @property
    def rows_expected(self) -> int:
        return len(self.renditions)

    @property
    def objects_found(self) -> int:
        return sum(1 for r in self.renditions if r.has_object)

    @property
    def complete(self) -> bool:
        return all(r.row_state == "present" and r.has_object for r in self.renditions)

    @property
    def status(self) -> str:
        """complete | rejected | incomplete; a rejection wins, it explains the rest."""
        if self.rejection is not None:
            return "rejected"
        return "complete" if self.complete else "incomplete"


@dataclass
class EntityView:
    cd_idx: int
    images: list[ImageView]

    @property
    def rows_found(self) -> int:
        return sum(i.rows_found for i in self.images)

    @property
    def rows_expected(self) -> int:
        return sum(i.rows_expected for i in self.images)

    @property
    def complete(self) -> bool:
        return all(i.status == "complete" for i in self.images)


@dataclass
class VerticalView:
    name: str  # "" for rejected keys directly under the origin prefix
    entities: list[EntityView] = field(default_factory=list)
    rejections: list[dict[str, Any]] = field(default_factory=list)
    stray_objects: list[str] = field(default_factory=list)  # served, but no image expects them
    stray_rows: list[dict[str, Any]] = field(default_factory=list)  # sizes not configured

    @property
    def images(self) -> list[ImageView]:
        return [image for entity in self.entities for image in entity.images]


@dataclass
class CatalogView:
    layout: Layout
    verticals: list[VerticalView]
    rows_known: bool  # False: the rows could not be read, row cells say "unknown"
    pending: dict[str, int] | None
    errors: list[str]
    generated_at: datetime


def _attempt(errors: list[str], what: str, read: Callable[[], T]) -> T | None:
    """`read()`, or None with the failure recorded: one unreadable part (the database
    during an outage) must not hide the others."""
    try:
        return read()
    except Exception as exc:
        errors.append(f"could not read {what}: {type(exc).__name__}: {exc}")
        return None


def _rejection_vertical(key: str, origin_prefix: str) -> str:
    """The folder under the origin prefix, even one the naming rule refuses."""
    folder, slash, _name = key.removeprefix(origin_prefix).partition("/")
    return folder if slash else ""


def gather(source: CatalogSource) -> CatalogView:
    """Join rows, served objects, originals and rejection records per vertical and entity.

    Which images exist, and which rows and objects each should have, is decided the
    way `harness verify` decides it, with the resize function's own naming rule.
    """
    naming = lambda_rules.naming()
    layout = source.layout()
    errors: list[str] = []
    rows = _attempt(errors, "the catalog rows (database)", source.rows)
    served = _attempt(
        errors,
        f"the served objects (s3://{layout.served_bucket}/)",
        lambda: source.keys(layout.served_bucket, ""),
    )
    originals = _attempt(
        errors,
        f"the originals (s3://{layout.upload_bucket}/{layout.origin_prefix})",
        lambda: source.keys(layout.upload_bucket, layout.origin_prefix),
    )
    rejections = _attempt(errors, "the rejection records", source.rejections)
    pending = _attempt(errors, "the queue depths", source.pending)

    served_keys = set(served or [])
    original_keys = set(originals or [])
    images: dict[str, dict[int, set[int]]] = {}
    for key in sorted(original_keys):
        try:
            name = naming.parse_origin_key(key, layout.origin_prefix)
        except naming.NameRejected:
            continue  # its rejection record says why
        images.setdefault(name.vertical, {}).setdefault(name.cd_idx, set()).add(name.sequence)
    by_rendition: dict[tuple[str, int, int, str], dict[str, Any]] = {}
    for row in rows or []:
        vertical, cd_idx, sequence = row["vertical"], int(row["cd_idx"]), int(row["sequence"])
        images.setdefault(vertical, {}).setdefault(cd_idx, set()).add(sequence)
        by_rendition[(vertical, cd_idx, sequence, row["image_size"])] = row
    rejected_by_vertical: dict[str, list[dict[str, Any]]] = {}
    rejected_by_key: dict[str, dict[str, Any]] = {}
    for record in rejections or []:
        key = str((record.get("source") or {}).get("key", ""))
        folder = _rejection_vertical(key, layout.origin_prefix)
        rejected_by_vertical.setdefault(folder, []).append(record)
        rejected_by_key[key] = record
    served_verticals = {key.partition("/")[0] for key in served_keys}

    verticals = []
    for vertical in sorted(set(images) | set(rejected_by_vertical) | served_verticals):
        view = VerticalView(vertical, rejections=rejected_by_vertical.get(vertical, []))
        expected_keys: set[str] = set()
        for cd_idx, sequences in sorted(images.get(vertical, {}).items()):
            entity = EntityView(cd_idx, [])
            for sequence in sorted(sequences):
                name = naming.ImageName(vertical, cd_idx, sequence)
                origin_key = name.origin_key(layout.origin_prefix)
                renditions = []
                for size in layout.sizes:
                    key = name.served_key(size)
                    expected_keys.add(key)
                    row = by_rendition.get((vertical, cd_idx, sequence, size))
                    renditions.append(
                        Rendition(
                            size=size,
                            key=key,
                            url=f"https://{layout.cdn_host}/{key}",
                            row=row,
                            row_problem=_row_problem(row, layout, key) if row else None,
                            has_object=key in served_keys,
                        )
                    )
                entity.images.append(
                    ImageView(
                        sequence=sequence,
                        origin_key=origin_key,
                        has_original=origin_key in original_keys,
                        renditions=renditions,
                        rejection=rejected_by_key.get(origin_key),
                    )
                )
            view.entities.append(entity)
        view.stray_objects = sorted(
            k for k in served_keys if k.startswith(f"{vertical}/") and k not in expected_keys
        )
        view.stray_rows = [
            row
            for row in rows or []
            if row["vertical"] == vertical and row["image_size"] not in layout.sizes
        ]
        verticals.append(view)
    return CatalogView(
        layout=layout,
        verticals=verticals,
        rows_known=rows is not None,
        pending=pending,
        errors=errors,
        generated_at=datetime.now(UTC),
    )


def _row_problem(row: dict[str, Any], layout: Layout, key: str) -> str | None:
    """Why a row does not point at its rendition: its URL, and its S3 location where the
    row keeps one (`s3_bucket`/`s3_key`, migration 0002; NULL in rows loaded before)."""
    problems = []
    url = f"https://{layout.cdn_host}/{key}"
    if row.get("url") != url:
        problems.append(f"URL {row.get('url')} (expected {url})")
    if row.get("s3_bucket") not in (None, layout.served_bucket):
        problems.append(f"bucket {row['s3_bucket']} (expected {layout.served_bucket})")
    if row.get("s3_key") not in (None, key):
        problems.append(f"key {row['s3_key']} (expected {key})")
    return "; ".join(problems) or None


# --- the page ---------------------------------------------------------------------

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5rem 2rem; color: #1d1c1d; }
h2 { margin-top: 2rem; border-bottom: 2px solid #ddd; }
.meta { color: #616061; font-size: .85rem; }
.errors { border: 1px solid #e01e5a; background: #fff5f7; padding: .5rem 1rem; }
.ok { color: #007a5a; } .bad, .missing, .wrong { color: #c0123c; font-weight: 600; }
.unknown { color: #a36a00; font-weight: 600; }
.entity { border: 1px solid #ddd; border-radius: 6px; padding: .5rem 1rem; margin: .8rem 0; }
.entity.incomplete { border-color: #e01e5a; }
.image { margin: .4rem 0 .8rem; }
.renditions { display: flex; flex-wrap: wrap; gap: .8rem; }
figure { margin: 0; width: 170px; border: 1px solid #eee; padding: 4px; font-size: .8rem; }
figure img { display: block; max-width: 160px; max-height: 120px; }
.noimage { width: 160px; height: 60px; background: #fff5f7; color: #c0123c;
  display: flex; align-items: center; justify-content: center; font-weight: 600; }
.broken-note { display: none; } figure.broken .broken-note { display: inline; }
figure.broken { border-color: #e01e5a; }
table { border-collapse: collapse; font-size: .85rem; }
td, th { border: 1px solid #ddd; padding: .2rem .5rem; text-align: left; vertical-align: top; }
code { font-size: .8rem; } figcaption code { word-break: break-all; }
"""

# Marks every rendition image once the page has loaded: decoded (naturalWidth > 0) or
# broken. People see the broken ones; headless Chromium's DOM dump carries the marks.
_SCRIPT = """
window.addEventListener("load", function () {
  var images = document.querySelectorAll("img.rendition-image"), decoded = 0;
  images.forEach(function (img) {
    var ok = img.complete && img.naturalWidth > 0;
    img.setAttribute("data-decoded", ok ? "true" : "false");
    img.setAttribute("data-natural-width", String(img.naturalWidth));
    if (ok) { decoded += 1; } else { img.closest("figure").classList.add("broken"); }
  });
  document.body.setAttribute("data-images-decoded", decoded + "/" + images.length);
  document.body.setAttribute("data-ready", "true");
});
"""


def _e(value: Any) -> str:
    return escape(str(value), quote=True)


def image_path(bucket: str, key: str) -> str:
    """The page's address of an object, proxied by the server from S3."""
    return f"{IMAGE_PATH}{quote(bucket, safe='')}/{quote(key, safe='/')}"


def _count(found: int, expected: int, what: str) -> str:
    css = "ok" if found == expected else "bad"
    return f'<span class="{css}">{found}/{expected} {_e(what)}</span>'


def _rendition_html(rendition: Rendition, layout: Layout, rows_known: bool) -> str:
    state = rendition.row_state if rows_known else "unknown"
    if rendition.has_object:
        picture = (
            f'<img class="rendition-image" alt="{_e(rendition.key)}" '
            f'src="{_e(image_path(layout.served_bucket, rendition.key))}">'
            '<span class="broken-note bad">image does not decode</span>'
        )
    else:
        picture = '<div class="noimage object-missing">object missing</div>'
    row = rendition.row
    if state == "present" and row is not None:
        row_text = (
            f'<span class="ok">row</span> {_e(row.get("width"))}×{_e(row.get("height"))}, '
            f"{_e(row.get('bytes'))} B"
        )
    elif state == "wrong":
        row_text = f'<span class="wrong">row wrong</span>: {_e(rendition.row_problem)}'
    elif state == "missing":
        row_text = '<span class="missing row-missing">row missing</span>'
    else:
        row_text = '<span class="unknown">row unknown</span>'
    return (
        f'<figure class="rendition" data-size="{_e(rendition.size)}" data-row="{state}" '
        f'data-object="{"present" if rendition.has_object else "missing"}">'
        f"{picture}<figcaption><b>{_e(rendition.size)}</b> · {row_text}<br>"
        f"<code>{_e(rendition.key)}</code></figcaption></figure>"
    )


def _image_html(image: ImageView, layout: Layout, rows_known: bool) -> str:
    rejection = ""
    if image.rejection is not None:
        rejection = (
            f'<div class="bad">rejected ({_e(image.rejection.get("code"))}): '
            f"{_e(image.rejection.get('reason'))}</div>"
        )
    original = (
        "" if image.has_original else ' · <span class="meta">original not in the bucket</span>'
    )
    renditions = "".join(_rendition_html(r, layout, rows_known) for r in image.renditions)
    return (
        f'<div class="image {image.status}" data-sequence="{image.sequence}" '
        f'data-status="{image.status}" data-rows="{image.rows_found}" '
        f'data-rows-expected="{image.rows_expected}">'
        f"<div>image {image.sequence} · {_count(image.rows_found, image.rows_expected, 'rows')}"
        f" · {_count(image.objects_found, image.rows_expected, 'objects')} · "
        f"<code>{_e(image.origin_key)}</code>{original}</div>{rejection}"
        f'<div class="renditions">{renditions}</div></div>'
    )


def _entity_html(entity: EntityView, layout: Layout, rows_known: bool) -> str:
    state = "complete" if entity.complete else "incomplete"
    images = "".join(_image_html(i, layout, rows_known) for i in entity.images)
    return (
        f'<div class="entity {state}" data-cd-idx="{entity.cd_idx}" data-status="{state}" '
        f'data-rows="{entity.rows_found}" data-rows-expected="{entity.rows_expected}">'
        f"<h3>cd_idx {entity.cd_idx} · "
        f"{_count(entity.rows_found, entity.rows_expected, 'rows')} "
        f'<span class="meta">({len(layout.sizes)} per image × {len(entity.images)} '
        f"image{'s' if len(entity.images) != 1 else ''})</span></h3>{images}</div>"
    )


def _rejections_html(records: list[dict[str, Any]]) -> str:
    if not records:
        return ""
    lines = "".join(
        '<tr class="rejection">'
        f"<td><code>{_e((r.get('source') or {}).get('key', ''))}</code></td>"
        f"<td>{_e(r.get('code', ''))}</td><td>{_e(r.get('reason', ''))}</td>"
        f"<td><code>{_e(r.get('rule', ''))}</code></td><td>{_e(r.get('rejected_at', ''))}</td>"
        "</tr>"
        for r in records
    )
    return (
        f'<h3>Rejected: {len(records)}</h3><table class="rejections">'
        "<tr><th>uploaded key</th><th>code</th><th>reason</th><th>rule</th><th>at</th></tr>"
        f"{lines}</table>"
    )


def _strays_html(view: VerticalView) -> str:
    parts = []
    if view.stray_objects:
        items = "".join(f"<li><code>{_e(k)}</code></li>" for k in view.stray_objects)
        parts.append(
            f"<h3>Served objects no image expects: {len(view.stray_objects)}</h3><ul>{items}</ul>"
        )
    if view.stray_rows:
        items = "".join(
            f"<li>cd_idx {_e(r['cd_idx'])} image {_e(r['sequence'])} size "
            f"<code>{_e(r['image_size'])}</code>: {_e(r.get('url', ''))}</li>"
            for r in view.stray_rows
        )
        parts.append(
            f"<h3>Rows of sizes not configured: {len(view.stray_rows)}</h3><ul>{items}</ul>"
        )
    return "".join(parts)


def _vertical_html(view: VerticalView, catalog: CatalogView, limit: int) -> str:
    images = view.images
    rows_found = sum(i.rows_found for i in images)
    rows_expected = sum(i.rows_expected for i in images)
    objects = sum(i.objects_found for i in images)
    complete = sum(1 for i in images if i.status == "complete")
    shown = view.entities[:limit]
    more = ""
    if len(view.entities) > limit:
        more = (
            f'<p class="meta">Showing {limit} of {len(view.entities)} entities; '
            f'<a href="/?vertical={_e(quote(view.name))}&amp;limit={len(view.entities)}">'
            "show all</a>.</p>"
        )
    title = view.name or "(keys directly under the origin prefix)"
    rows_summary = (
        _count(rows_found, rows_expected, "rows")
        if catalog.rows_known
        else '<span class="unknown">rows unknown</span>'
    )
    entities = "".join(_entity_html(e, catalog.layout, catalog.rows_known) for e in shown)
    return (
        f'<section class="vertical" data-vertical="{_e(view.name)}">'
        f'<h2 id="v-{_e(view.name)}">{_e(title)}</h2>'
        f"<p>{len(view.entities)} entities, {len(images)} images ({complete} complete) · "
        f"{rows_summary} ({len(catalog.layout.sizes)} per image) · "
        f"{_count(objects, rows_expected, 'served objects')} · "
        f"{len(view.rejections)} rejected</p>"
        f"{more}{entities}{_rejections_html(view.rejections)}{_strays_html(view)}</section>"
    )


def render_page(
    catalog: CatalogView, vertical: str | None = None, limit: int = DEFAULT_LIMIT, refresh: int = 0
) -> str:
    """The whole page; `vertical` shows one section only, `refresh` reloads every N s."""
    layout = catalog.layout
    shown = [v for v in catalog.verticals if vertical is None or v.name == vertical]
    errors = ""
    if catalog.errors:
        items = "".join(f"<li>{_e(error)}</li>" for error in catalog.errors)
        errors = f'<div class="errors"><b>Incomplete view</b><ul>{items}</ul></div>'
    pending = ""
    if catalog.pending is not None:
        waiting = catalog.pending.get("work_queue", 0)
        hint = " (catalogued on the loader's next run: <code>harness clock tick</code>)"
        pending = (
            f"<p>Work queue: {_e(waiting)} message(s) not loaded yet{hint if waiting else ''}"
            f" · loader DLQ: {_e(catalog.pending.get('dlq', 0))}"
            f" · resize failures: {_e(catalog.pending.get('resize_failures', 0))}</p>"
        )
    nav = " · ".join(
        f'<a href="#v-{_e(v.name)}">{_e(v.name or "(no vertical)")}</a>' for v in shown
    )
    sizes = ", ".join(f"{_e(name)} {_e(edge)} px" for name, edge in layout.sizes.items())
    body = "".join(_vertical_html(v, catalog, limit) for v in shown)
    meta_refresh = f'<meta http-equiv="refresh" content="{refresh}">' if refresh > 0 else ""
    return (
        '<!doctype html>\n<html><head><meta charset="utf-8">'
        f"{meta_refresh}<title>Catalog admin</title><style>{_STYLE}</style></head><body>"
        "<h1>Catalog admin</h1>"
        f'<p class="meta">Served <code>s3://{_e(layout.served_bucket)}</code> as '
        f"<code>https://{_e(layout.cdn_host)}/</code> · uploads "
        f"<code>s3://{_e(layout.upload_bucket)}/{_e(layout.origin_prefix)}</code> · sizes: "
        f"{sizes} · generated {_e(catalog.generated_at.strftime('%Y-%m-%d %H:%M:%S'))} UTC "
        '(<a href="?refresh=10">refresh every 10 s</a>)</p>'
        f"{errors}{pending}<nav>{nav}</nav>"
        f"{body or '<p>Nothing catalogued, uploaded or rejected yet.</p>'}"
        f"<script>{_SCRIPT}</script></body></html>\n"
    )


# --- the server -------------------------------------------------------------------

_TEXT = "text/plain; charset=utf-8"


def _int_param(query: dict[str, list[str]], name: str, default: int) -> int:
    try:
        return max(0, int(query[name][0]))
    except (KeyError, ValueError):
        return default


class AdminHandler(StubHandler):
    control_routes: ClassVar[dict[tuple[str, str], ControlRoute]] = {}

    @property
    def source(self) -> CatalogSource:
        return self.server.state  # type: ignore[no-any-return]

    def handle_service(self, method: str) -> None:
        path = urlsplit(self.path).path
        if method != "GET":
            self.send_bytes(405, b"the admin page is read-only", _TEXT)
        elif path == "/":
            query = parse_qs(urlsplit(self.path).query)
            page = render_page(
                gather(self.source),
                vertical=query["vertical"][0] if "vertical" in query else None,
                limit=_int_param(query, "limit", DEFAULT_LIMIT),
                refresh=_int_param(query, "refresh", 0),
            )
            self.send_bytes(200, page.encode(), "text/html; charset=utf-8")
        elif path.startswith(IMAGE_PATH):
            self._send_image(path[len(IMAGE_PATH) :])
        else:
            self.send_bytes(404, b"not found", _TEXT)

    def _send_image(self, rest: str) -> None:
        """Proxy one served rendition; nothing outside the served bucket is readable."""
        quoted_bucket, _, quoted_key = rest.partition("/")
        bucket, key = unquote(quoted_bucket), unquote(quoted_key)
        if bucket != self.source.layout().served_bucket or not key:
            self.send_bytes(404, b"only the served bucket's objects are shown here", _TEXT)
            return
        try:
            stored = self.source.read_object(bucket, key)
        except Exception as exc:  # S3 down: say so instead of dropping the connection
            self.send_bytes(502, f"reading s3://{bucket}/{key} failed: {exc}".encode(), _TEXT)
            return
        if stored is None:
            self.send_bytes(404, f"no object s3://{bucket}/{key}".encode(), _TEXT)
            return
        headers = {"Cache-Control": "no-store"}  # a re-upload must show at once
        self.send_bytes(200, stored.body, stored.content_type, headers)


class AdminServer(BackgroundServer):
    """The admin page on 127.0.0.1:`port` (0 = ephemeral) in a background thread.

    Loopback only, always: it shows the content of private buckets.
    """

    name = "catalog admin"

    def __init__(self, source: CatalogSource, port: int = 0) -> None:
        super().__init__(port, AdminHandler, source, HOST)


def start(source: CatalogSource, port: int | None = None) -> AdminServer:
    """The admin server running in the background (`HARNESS_ADMIN_PORT` by default)."""
    port = default_port() if port is None else port
    try:
        return AdminServer(source, port).start()
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise HarnessError(
                f"port {port} on {HOST} is in use: choose another with --port or {PORT_ENV}=<port>"
            ) from exc
        raise


def serve(
    pipeline: CatalogPipeline, port: int | None = None, progress: Callable[[str], None] = print
) -> None:
    """Serve the deployed catalog's admin page in the foreground until Ctrl-C (the CLI)."""
    server = start(PipelineSource(pipeline), port)
    progress(f"catalog admin page on {server.url}/ (Ctrl-C stops it)")
    try:
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)
    finally:
        server.stop()
