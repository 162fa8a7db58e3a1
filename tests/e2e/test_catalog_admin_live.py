"""The catalog admin page on the deployed pipeline: real rows from MariaDB, renditions
proxied from LocalStack's S3, loaded in headless Chromium.

Upload two originals and a badly named file, let the resize function and one tick do
their work, delete one row by hand, and the page must show both entities with their
renditions decoded, the deleted row as missing and the rejection with its reason.
"""

from __future__ import annotations

import http.client
import io
import uuid

from PIL import Image

from harness.build.fixtures import ImageSpec, render
from harness.observe import browser
from harness.systems.catalog import admin, database


def test_the_admin_page_shows_the_deployed_catalog_and_a_deleted_row_as_missing(catalog):
    name = f"t{uuid.uuid4().hex[:8]}"
    for cd_idx in (500, 501):
        catalog.upload(catalog.origin_key(name, cd_idx, 1), render(ImageSpec(seed=cd_idx)))
    bad = f"{catalog.c['origin_prefix']}{name}/photo.jpg"
    catalog.upload(bad, render(ImageSpec(seed=3)))
    assert catalog.wait_rejection(bad)["code"] == "BadName"
    catalog.wait_queued(2)
    assert catalog.tick().ok
    connection = catalog.database.admin.connect(database.SCHEMA)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM `{database.TABLE}` WHERE vertical = %s AND cd_idx = 501 "
                "AND image_size = 'small'",
                (name,),
            )
    finally:
        connection.close()

    with admin.start(admin.PipelineSource(catalog), port=0) as server:
        # The proxy serves the renditions as the resize function wrote them.
        http_connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        key = f"{name}/thumb/500_thumb_1.jpg"
        http_connection.request("GET", admin.image_path(catalog.c["served_bucket"], key))
        response = http_connection.getresponse()
        assert (response.status, response.getheader("Content-Type")) == (200, "image/jpeg")
        assert Image.open(io.BytesIO(response.read())).size == (160, 120)
        http_connection.close()

        text = browser.dump_dom(f"{server.url}/?vertical={name}", virtual_time_ms=15000)

    elements = browser.Dom(text).elements
    body = next(a for tag, a in elements if tag == "body")
    assert body.get("data-ready") == "true"
    assert body.get("data-images-decoded") == "8/8"  # 2 entities x 4 sizes, all decoded
    entities = {
        a["data-cd-idx"]: (a["data-rows"], a["data-rows-expected"], a["data-status"])
        for tag, a in elements
        if tag == "div" and "data-cd-idx" in a
    }
    assert entities == {"500": ("4", "4", "complete"), "501": ("3", "4", "incomplete")}
    missing = [
        a["data-size"] for tag, a in elements if tag == "figure" and a["data-row"] != "present"
    ]
    assert missing == ["small"]
    assert text.count("row missing") == 1
    assert "photo.jpg" in text and "BadName" in text
