"""The catalog admin page: gathered from an in-memory source, served by a real HTTP
server on 127.0.0.1 and loaded in headless Chromium, as an operator would load it."""

from __future__ import annotations

import http.client
import io
import socket
from types import SimpleNamespace
from typing import Any

import pytest
from PIL import Image

from harness.observe import browser
from harness.systems.catalog import admin
from harness.util.errors import HarnessError

SIZES = {"large": 1280, "medium": 800, "small": 400, "thumb": 160}
LAYOUT = admin.Layout(
    upload_bucket="upload",
    served_bucket="served",
    origin_prefix="origin/",
    cdn_host="cdn.example",
    sizes=SIZES,
)
SCRIPT_REASON = "file name '<script>document.title=\"pwned\"</script>.jpg' must end in .jpg"


def jpeg(width: int, height: int, color: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


def served_key(vertical: str, cd_idx: int, size: str, sequence: int = 1) -> str:
    return f"{vertical}/{size}/{cd_idx}_{size}_{sequence}.jpg"


class MemorySource:
    """A `CatalogSource` in memory: rows, objects, rejection records, queue depths."""

    def __init__(self) -> None:
        self.rows_: list[dict[str, Any]] = []
        self.objects: dict[tuple[str, str], admin.StoredObject] = {}
        self.rejections_: list[dict[str, Any]] = []
        self.pending_ = {"work_queue": 0, "dlq": 0, "resize_failures": 0}
        self.rows_error: Exception | None = None

    def layout(self) -> admin.Layout:
        return LAYOUT

    def rows(self) -> list[dict[str, Any]]:
        if self.rows_error is not None:
            raise self.rows_error
        return list(self.rows_)

    def keys(self, bucket: str, prefix: str) -> list[str]:
        return sorted(k for b, k in self.objects if b == bucket and k.startswith(prefix))

    def rejections(self) -> list[dict[str, Any]]:
        return list(self.rejections_)

    def pending(self) -> dict[str, int]:
        return dict(self.pending_)

    def read_object(self, bucket: str, key: str) -> admin.StoredObject | None:
        return self.objects.get((bucket, key))

    # --- building the catalog -------------------------------------------------------
    def put(self, bucket: str, key: str, body: bytes, content_type: str = "image/jpeg") -> None:
        self.objects[(bucket, key)] = admin.StoredObject(body, content_type)

    def register(
        self,
        vertical: str,
        cd_idx: int,
        color: tuple[int, int, int],
        skip_rows: tuple[str, ...] = (),
        skip_objects: tuple[str, ...] = (),
    ) -> None:
        """What upload + resize + tick leave behind for one image, minus the skipped parts."""
        self.put("upload", f"origin/{vertical}/{cd_idx}_1.jpg", jpeg(64, 48, color))
        for size, edge in SIZES.items():
            key = served_key(vertical, cd_idx, size)
            width, height = min(edge, 64) // 4, min(edge, 48) // 4  # small, fast
            if size not in skip_objects:
                self.put("served", key, jpeg(width, height, color))
            if size not in skip_rows:
                self.rows_.append(
                    {
                        "vertical": vertical,
                        "cd_idx": cd_idx,
                        "sequence": 1,
                        "image_size": size,
                        "url": f"https://cdn.example/{key}",
                        "s3_bucket": "served",
                        "s3_key": key,
                        "width": width,
                        "height": height,
                        "bytes": 1000,
                    }
                )

    def reject(self, key: str, code: str, reason: str) -> None:
        self.rejections_.append(
            {
                "source": {"bucket": "upload", "key": key, "etag": "e", "size": 10},
                "reason": reason,
                "code": code,
                "rule": "origin/{vertical}/{cd_idx}_{sequence}.jpg",
                "rejected_at": "2026-05-01T01:02:03Z",
            }
        )


@pytest.fixture
def source() -> MemorySource:
    """actor: 100 complete, 101 without its `small` row, 102 with its `medium` object
    missing and a `thumb` that does not decode, 103 rejected as not JPEG, a bad name;
    singer: one complete entity."""
    memory = MemorySource()
    memory.register("actor", 100, (200, 30, 30))
    memory.register("actor", 101, (30, 200, 30), skip_rows=("small",))
    memory.register("actor", 102, (30, 30, 200), skip_objects=("medium",))
    memory.put("served", served_key("actor", 102, "thumb"), b"this is not a JPEG at all")
    memory.put("upload", "origin/actor/103_1.jpg", b"GIF89a...")
    memory.reject("origin/actor/103_1.jpg", "NotJpeg", "the content is not JPEG (GIF)")
    memory.put("upload", "origin/actor/photo.jpg", jpeg(8, 8, (0, 0, 0)))
    memory.reject("origin/actor/photo.jpg", "BadName", SCRIPT_REASON)
    memory.register("singer", 7, (120, 120, 0))
    memory.pending_["work_queue"] = 2
    return memory


# --- gathering ------------------------------------------------------------------------


def test_gather_counts_rows_and_objects_per_image_against_the_sizes(source):
    view = admin.gather(source)
    assert [v.name for v in view.verticals] == ["actor", "singer"]
    actor = view.verticals[0]
    entities = {e.cd_idx: e for e in actor.entities}
    assert sorted(entities) == [100, 101, 102, 103]
    assert [(e.rows_found, e.rows_expected) for e in entities.values()] == [
        (4, 4),
        (3, 4),
        (4, 4),
        (0, 4),
    ]
    assert [e.images[0].status for e in entities.values()] == [
        "complete",
        "incomplete",
        "incomplete",
        "rejected",
    ]
    missing_row = [r.size for r in entities[101].images[0].renditions if r.row is None]
    assert missing_row == ["small"]
    missing_object = [r.size for r in entities[102].images[0].renditions if not r.has_object]
    assert missing_object == ["medium"]
    assert entities[103].images[0].rejection["code"] == "NotJpeg"
    assert [r["code"] for r in actor.rejections] == ["NotJpeg", "BadName"]
    assert view.pending == {"work_queue": 2, "dlq": 0, "resize_failures": 0}
    assert view.errors == [] and view.rows_known


def test_a_row_pointing_elsewhere_and_strays_are_reported(source):
    source.rows_[0]["url"] = "https://cdn.example/actor/large/100_large_9.jpg"
    source.rows_[1]["s3_bucket"] = "elsewhere"
    source.rows_[2]["s3_bucket"] = source.rows_[2]["s3_key"] = None  # loaded before 0002
    source.rows_.append({**source.rows_[1], "image_size": "huge"})
    source.put("served", "actor/large/999_large_1.jpg", jpeg(8, 8, (1, 2, 3)))
    actor = admin.gather(source).verticals[0]
    large = actor.entities[0].images[0].renditions[0]
    assert large.row_state == "wrong" and "100_large_9.jpg" in (large.row_problem or "")
    medium, small = actor.entities[0].images[0].renditions[1:3]
    assert medium.row_problem == "bucket elsewhere (expected served)"
    assert small.row_state == "present"
    assert actor.stray_objects == ["actor/large/999_large_1.jpg"]
    assert [r["image_size"] for r in actor.stray_rows] == ["huge"]


def test_an_unreadable_database_leaves_the_rest_of_the_page(source):
    source.rows_error = ConnectionRefusedError("Can't connect to MySQL server on 127.0.0.1")
    view = admin.gather(source)
    assert not view.rows_known
    assert len(view.errors) == 1 and "catalog rows" in view.errors[0]
    page = admin.render_page(view)
    assert "Can&#x27;t connect to MySQL server" in page
    assert page.count('data-row="unknown"') == 5 * 4  # 100-103 and singer 7
    assert 'data-row="missing"' not in page  # unknown is not missing


def test_every_value_is_escaped_and_the_page_is_self_contained(source):
    page = admin.render_page(admin.gather(source))
    assert "<script>document.title" not in page
    assert "&lt;script&gt;document.title=&quot;pwned&quot;&lt;/script&gt;" in page
    assert page.count("<script>") == 1  # only the page's own marker script
    assert "http://" not in page and "<link" not in page and "@import" not in page
    assert 'src="/image/served/actor/large/100_large_1.jpg"' in page


def test_one_vertical_and_a_limit_can_be_asked_for(source):
    page = admin.render_page(admin.gather(source), vertical="actor", limit=2)
    assert 'data-vertical="singer"' not in page
    assert page.count('class="entity ') == 2
    assert "Showing 2 of 4 entities" in page


def fake_pipeline(**parts: Any) -> SimpleNamespace:
    """What `admin.PipelineSource` uses of a deployed `CatalogPipeline`, with `parts`."""
    names = {
        "upload_bucket": "upload",
        "served_bucket": "served",
        "origin_prefix": "origin/",
        "cdn_host": "cdn.example",
    }
    return SimpleNamespace(c=names, sizes=SIZES, **parts)


def test_the_pipeline_source_reads_the_deployed_pipeline():
    class NoSuchKey(Exception):
        pass

    class FakeS3:
        exceptions = SimpleNamespace(NoSuchKey=NoSuchKey)

        def get_object(self, Bucket: str, Key: str) -> dict[str, Any]:
            if Key != "actor/thumb/1_thumb_1.jpg":
                raise NoSuchKey(Key)
            return {"Body": io.BytesIO(b"jpeg bytes"), "ContentType": "image/jpeg"}

    pipeline = fake_pipeline(
        s3=FakeS3(), keys=lambda bucket, prefix: {f"{prefix}b": {}, f"{prefix}a": {}}
    )
    pipeline_source = admin.PipelineSource(pipeline)  # type: ignore[arg-type]
    assert pipeline_source.layout() == LAYOUT
    assert pipeline_source.keys("served", "actor/") == ["actor/a", "actor/b"]
    stored = pipeline_source.read_object("served", "actor/thumb/1_thumb_1.jpg")
    assert stored == admin.StoredObject(b"jpeg bytes", "image/jpeg")
    assert pipeline_source.read_object("served", "actor/thumb/2_thumb_1.jpg") is None


# --- the server ---------------------------------------------------------------------


def request(server: admin.AdminServer, path: str, method: str = "GET") -> tuple[int, str, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.request(method, path)
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type") or "", response.read()
    finally:
        connection.close()


def test_the_server_proxies_only_the_served_bucket(source):
    with admin.AdminServer(source, port=0) as server:
        assert server.url.startswith("http://127.0.0.1:")
        key = served_key("actor", 100, "thumb")
        status, content_type, body = request(server, admin.image_path("served", key))
        assert (status, content_type) == (200, "image/jpeg")
        assert body == source.objects[("served", key)].body
        assert request(server, admin.image_path("upload", "origin/actor/100_1.jpg"))[0] == 404
        missing = served_key("actor", 102, "medium")
        assert request(server, admin.image_path("served", missing))[0] == 404
        assert request(server, "/elsewhere")[0] == 404
        assert request(server, "/", method="POST")[0] == 405
        status, content_type, _ = request(server, "/?vertical=singer")
        assert (status, content_type) == (200, "text/html; charset=utf-8")


def test_the_port_comes_from_the_environment_and_a_taken_port_says_what_to_do(source, monkeypatch):
    monkeypatch.delenv(admin.PORT_ENV, raising=False)
    assert admin.default_port() == admin.DEFAULT_PORT
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        monkeypatch.setenv(admin.PORT_ENV, str(port))
        assert admin.default_port() == port
        with pytest.raises(HarnessError, match=f"port {port} .* is in use.*{admin.PORT_ENV}"):
            admin.start(source)


# --- in a browser ---------------------------------------------------------------------


def test_headless_chromium_shows_entities_decoded_images_and_what_is_missing(source):
    with admin.AdminServer(source, port=0) as server:
        text = browser.dump_dom(server.url + "/", virtual_time_ms=15000)
    dom = browser.Dom(text)
    body = next(a for tag, a in dom.elements if tag == "body")
    assert body.get("data-ready") == "true", "the page's load handler did not run"

    # Every entity of both verticals, with its row count against 4 per image.
    entities = {
        (a["data-cd-idx"], a["data-rows"], a["data-rows-expected"])
        for a in dom.find("div")
        if "data-cd-idx" in a
    }
    assert entities == {
        ("100", "4", "4"),
        ("101", "3", "4"),
        ("102", "4", "4"),
        ("103", "0", "4"),
        ("7", "4", "4"),
    }
    assert "cd_idx 101 · " in text and "3/4 rows" in text

    # The images decoded in the browser: 5 images x 4 sizes, minus 103's four and
    # 102's missing medium, are 15 <img>; all decode but 102's corrupt thumb.
    images = dom.find("img")
    assert len(images) == 15
    decoded = [a["src"] for a in images if a.get("data-decoded") == "true"]
    broken = [a["src"] for a in images if a.get("data-decoded") == "false"]
    assert broken == ["/image/served/actor/thumb/102_thumb_1.jpg"]
    assert len(decoded) == 14 and all(
        int(a["data-natural-width"]) > 0 for a in images if a.get("data-decoded") == "true"
    )
    assert body.get("data-images-decoded") == "14/15"
    assert "image does not decode" in text

    # A missing row and a missing object are shown as missing, where they are missing.
    missing_rows = dom.find("figure", data_row="missing")
    assert [a["data-size"] for a in missing_rows] == ["small", *SIZES]  # 101, then 103
    assert text.count("row missing") == 5
    missing_objects = dom.find("figure", data_object="missing")
    assert [a["data-size"] for a in missing_objects] == ["medium", *SIZES]  # 102, 103
    assert text.count("object missing") == 5
    incomplete = [
        a["data-cd-idx"] for a in dom.find("div", data_status="incomplete") if "data-cd-idx" in a
    ]
    assert incomplete == ["101", "102", "103"]

    # What was rejected and why, escaped.
    assert len(dom.find("tr", **{"class": "rejection"})) == 2
    assert "rejected (NotJpeg): the content is not JPEG (GIF)" in text
    assert "BadName" in text and "&lt;script&gt;document.title=" in text
    assert "pwned" not in text.split("</title>")[0]
    assert "2 message(s) not loaded yet" in text


# --- the command --------------------------------------------------------------------


def test_harness_admin_serves_the_deployed_catalog_on_its_port_until_ctrl_c(source, monkeypatch):
    """`harness admin --port N`: the page of the deployed pipeline, stopped by Ctrl-C."""
    from click.testing import CliRunner

    from harness.cli import catalog as catalog_cli
    from harness.cli import main

    pipeline = fake_pipeline(
        rows=source.rows,
        rejections=lambda: source.rejections(),
        pending=source.pending,
        keys=lambda bucket, prefix: {key: {} for key in source.keys(bucket, prefix)},
    )
    monkeypatch.setattr(catalog_cli, "_pipeline", lambda: pipeline)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    seen: list[tuple[int, bytes]] = []

    def operator_looks_then_presses_ctrl_c(seconds: float) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            connection.request("GET", "/")
            response = connection.getresponse()
            seen.append((response.status, response.read()))
        finally:
            connection.close()
        raise KeyboardInterrupt

    monkeypatch.setattr(admin, "time", SimpleNamespace(sleep=operator_looks_then_presses_ctrl_c))
    result = CliRunner().invoke(main, ["admin", "--port", str(port)])
    assert result.exit_code == 0, result.output
    assert f"catalog admin page on http://127.0.0.1:{port}/" in result.output
    assert seen and seen[0][0] == 200 and b"actor" in seen[0][1]
    with socket.socket() as again:  # stopped: the port is free again
        again.bind(("127.0.0.1", port))


def test_harness_admin_is_listed_with_the_catalog_commands():
    from click.testing import CliRunner

    from harness.cli import main

    text = CliRunner().invoke(main, ["--help"]).output
    catalog_section = text.split("Catalog (system B):")[1].split("\n\n")[0]
    assert "admin" in catalog_section and "row counts" in catalog_section
