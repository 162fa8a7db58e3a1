"""System B's part of `harness demo`: the seed's runbook, automated, in about 20 seconds.

An operator's folder with good originals and the usual mistakes is uploaded (the
mistakes are listed and stay home), the resize function makes four sizes, the
schedule's loader fills the catalog, `verify` checks every entity, and a database
outage during a run loses nothing.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from harness.build.fixtures import ImageSpec, render
from harness.config import Settings
from harness.systems.catalog import folder_upload as catalog_upload
from harness.systems.catalog.pipeline import CatalogPipeline
from harness.systems.catalog.verify import verify

VERTICAL = "actor"
GOOD = {
    "1001_1.jpg": ImageSpec(width=2400, height=1600, seed=21, scene="portrait"),
    "1001_2.jpg": ImageSpec(width=1600, height=2400, seed=22, scene="sky"),
    "1002_1.jpg": ImageSpec(width=2000, height=1500, seed=23, mode="CMYK"),
    "1003_1.jpg": ImageSpec(width=2000, height=1500, seed=24, exif_orientation=6),
    "1004_1.jpg": ImageSpec(width=800, height=600, seed=25, mode="L"),
}
MISTAKES = {
    "1005_1.jpg": ImageSpec(format="png", seed=26),  # a PNG with a .jpg name
    "photo.jpg": ImageSpec(seed=27),
    "1006_1.JPG": ImageSpec(seed=28),
    "1007_1.jpg": ImageSpec(seed=29, damage="truncated", width=800, height=600),
}
LATE = {"1008_1.jpg": ImageSpec(seed=30), "1009_1.jpg": ImageSpec(seed=31)}


def _write(folder: Path, images: dict[str, ImageSpec]) -> None:
    for name, spec in images.items():
        (folder / name).write_bytes(render(spec))


def _upload(pipeline: CatalogPipeline, folder: Path) -> catalog_upload.UploadPlan:
    plan = catalog_upload.scan(folder, VERTICAL, pipeline.c["origin_prefix"])
    existing = pipeline.keys(
        pipeline.c["upload_bucket"], f"{pipeline.c['origin_prefix']}{VERTICAL}/"
    )
    catalog_upload.compare_with_bucket(plan, existing)
    catalog_upload.upload(pipeline.s3, pipeline.c["upload_bucket"], plan.to_upload)
    return plan


def run(
    settings: Settings, outputs: dict, console: Console, progress: Callable[[str], None]
) -> None:
    pipeline = CatalogPipeline.open(settings, outputs, progress)
    pipeline.reset()

    console.rule("B1. harness upload: rejects are listed and stay home")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _write(folder, GOOD | MISTAKES)
        plan = _upload(pipeline, folder)
        table = Table("file", "reason", title="rejected before upload")
        for item in plan.rejected:
            table.add_row(item.relative, item.reason or "")
        console.print(table)
        progress(f"uploaded {len(plan.to_upload)} originals to origin/{VERTICAL}/")

        console.rule("B2. resize: four sizes each, upright, RGB")
        pipeline.wait_queued(len(GOOD))
        table = Table("served object", title=f"s3://{pipeline.c['served_bucket']}")
        for key in pipeline.served_keys(VERTICAL)[:8]:
            table.add_row(key)
        console.print(table)

        console.rule("B3. the schedule's loader fills the catalog")
        cron = pipeline.cron()
        now = datetime.now(UTC)
        progress(
            f"schedule {cron.expression} in {cron.timezone}: "
            + ("runs this minute" if cron.fires_at(now) else "not now")
            + f"; next run {cron.next_fires(now)[0]:%Y-%m-%d %H:%M %Z}. LocalStack never fires"
            " schedules: `harness clock tick` runs the loader as the schedule would"
        )
        tick = pipeline.tick()
        progress(f"tick: {tick.result}")
        _print_verify(console, pipeline)

        console.rule("B4. the database goes down during a run: nothing is lost")
        _write(folder, LATE)
        _upload(pipeline, folder)
        pipeline.wait_queued(len(LATE))
        with pipeline.database_outage():
            failed = pipeline.tick()
            progress(f"tick while the database is down: {failed.error}")
            progress(f"still queued: {pipeline.queue_depth()} message(s)")
        recovered = pipeline.tick()
        progress(f"tick after recovery: {recovered.result}")
        _print_verify(console, pipeline)


def _print_verify(console: Console, pipeline: CatalogPipeline) -> None:
    report = verify(pipeline, VERTICAL)
    table = Table(
        "cd_idx", "images", "rows", "objects", "status", title=f"harness verify {VERTICAL}"
    )
    for entity in report.entities:
        table.add_row(
            str(entity.cd_idx),
            ",".join(map(str, entity.sequences)),
            f"{entity.rows_found}/{entity.rows_expected}",
            f"{entity.objects_found}/{entity.objects_expected}",
            "ok" if entity.ok else "; ".join(entity.problems),
        )
    console.print(table)
    rows = pipeline.rows(VERTICAL, [1001])
    if rows:
        console.print(f"e.g. {rows[0]['url']} ({rows[0]['width']}x{rows[0]['height']})")
