"""System B's operator commands: upload, verify, rejects, clock, db, bench resize.

Registered on the main `harness` group by `register(main)` (one line in cli.py), so
the catalog's commands live next to the code they drive.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from harness import config
from harness.build import deploy as deploy_module
from harness.runtime import stack
from harness.systems.catalog.pipeline import CatalogPipeline
from harness.util.errors import HarnessError

console = Console(stderr=True)


def _progress(message: str) -> None:
    console.print(f"[dim]{time.strftime('%H:%M:%S')}[/dim] {message}")


def _pipeline() -> CatalogPipeline:
    """The deployed catalog, its database started and migrated (deploying if needed)."""
    settings = config.load()
    stack.up(settings, _progress)
    outputs = deploy_module.deploy(settings, progress=_progress)["outputs"]
    return CatalogPipeline.open(settings, outputs, _progress)


# --- upload ---------------------------------------------------------------------


@click.command()
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--vertical", required=True, help="Catalogue section, e.g. actor ([a-z0-9-]).")
@click.option("--workers", default=8, show_default=True, help="Concurrent uploads.")
@click.option("--dry-run", is_flag=True, help="Check and list, upload nothing.")
def upload(directory: Path, vertical: str, workers: int, dry_run: bool) -> None:
    """Upload the valid originals of DIRECTORY to origin/VERTICAL/.

    Every file is checked first with the resize function's own rules: the name
    must be {cd_idx}_{sequence}.jpg and the content a JPEG that decodes. Rejects
    are listed with their reasons before anything is uploaded. Objects already in
    the bucket with the same size and ETag are skipped, so an interrupted upload
    is resumed by running the same command again. Exits 1 if any file was
    rejected or failed to upload (after uploading the others).
    """
    from harness.systems.catalog import upload as catalog_upload

    pipeline = _pipeline()
    plan = catalog_upload.scan(directory, vertical, pipeline.c["origin_prefix"])
    if plan.rejected:
        table = Table("file", "reason", title=f"rejected: {len(plan.rejected)} (not uploaded)")
        for item in plan.rejected:
            table.add_row(item.relative, item.reason or "")
        console.print(table)
    existing = pipeline.keys(
        pipeline.c["upload_bucket"], f"{pipeline.c['origin_prefix']}{vertical}/"
    )
    catalog_upload.compare_with_bucket(plan, existing)
    _progress(
        f"{len(plan.accepted)} valid: {len(plan.to_upload)} to upload, "
        f"{len(plan.already_uploaded)} already uploaded (same size and ETag)"
    )
    result = catalog_upload.UploadResult()
    if plan.to_upload and not dry_run:
        total = sum(item.size for item in plan.to_upload)
        columns = (
            TextColumn("uploading"),
            BarColumn(),
            DownloadColumn(),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=console, transient=False) as bar:
            task = bar.add_task("upload", total=total)
            result = catalog_upload.upload(
                pipeline.s3,
                pipeline.c["upload_bucket"],
                plan.to_upload,
                workers=workers,
                on_bytes=lambda n: bar.advance(task, n),
            )
        for relative, reason in sorted(result.failed.items()):
            console.print(f"[red]failed[/red] {relative}: {reason}")
        _progress(
            f"uploaded {len(result.uploaded)} to s3://{pipeline.c['upload_bucket']}/"
            f"{pipeline.c['origin_prefix']}{vertical}/; the loader catalogs them on its next "
            "run (`harness clock tick` runs it now)"
        )
    if plan.rejected or result.failed:
        sys.exit(1)


# --- verify and rejects -----------------------------------------------------------


@click.command()
@click.option("--vertical", required=True, help="Catalogue section to check.")
@click.option("--cd-idx", "cd_idxs", type=int, multiple=True, help="Entity ids (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def verify(vertical: str, cd_idxs: tuple[int, ...], as_json: bool) -> None:
    """Check each entity: a row per size of every image, its URL, the served objects.

    Exits 1 and names what is missing; queued messages and rejection records are
    shown too, to tell "missing" from "not loaded yet".
    """
    from harness.systems.catalog.verify import verify as run_verify

    result = run_verify(_pipeline(), vertical, list(cd_idxs) or None)
    if as_json:
        document = {
            "vertical": result.vertical,
            "ok": result.ok,
            "sizes": result.sizes,
            "entities": [e.__dict__ | {"ok": e.ok} for e in result.entities],
            "pending": result.pending,
            "rejections": result.rejections,
        }
        click.echo(json.dumps(document, indent=2, ensure_ascii=False))
    else:
        table = Table("cd_idx", "images", "rows", "objects", "status", title=f"verify {vertical}")
        for entity in result.entities:
            table.add_row(
                str(entity.cd_idx),
                ",".join(map(str, entity.sequences)) or "-",
                f"{entity.rows_found}/{entity.rows_expected}",
                f"{entity.objects_found}/{entity.objects_expected}",
                "[green]ok[/green]" if entity.ok else "[red]MISSING[/red]",
            )
        console.print(table)
        for problem in result.problems:
            console.print(f"[red]missing[/red] {problem}")
        for record in result.rejections:
            console.print(
                f"[yellow]rejected[/yellow] {record['source']['key']}: {record['reason']}"
            )
        console.print(
            "pending: "
            + ", ".join(f"{name} {count}" for name, count in result.pending.items())
            + (
                " (run `harness clock tick` to load the work queue)"
                if result.pending["work_queue"]
                else ""
            )
        )
        if not result.entities:
            console.print(f"[red]nothing found for vertical {vertical}[/red]")
    if not result.ok:
        sys.exit(1)


@click.command()
@click.option("--vertical", default=None, help="Only this catalogue section.")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def rejects(vertical: str | None, as_json: bool) -> None:
    """List the uploads the resize function rejected, with the reasons, and the
    resizes that failed after Lambda's retries (the resize-failures queue)."""
    pipeline = _pipeline()
    records = pipeline.rejections(vertical)
    prefix = (
        f"{pipeline.c['origin_prefix']}{vertical}/" if vertical else pipeline.c["origin_prefix"]
    )
    failures = [
        f for f in pipeline.resize_failures() if any(k.startswith(prefix) for k in f["objects"])
    ]
    if as_json:
        document = {"rejected": records, "failed": failures}
        click.echo(json.dumps(document, indent=2, ensure_ascii=False))
        return
    table = Table("object", "code", "reason", "rejected at", title=f"rejected: {len(records)}")
    for record in records:
        table.add_row(
            record["source"]["key"], record["code"], record["reason"], record["rejected_at"]
        )
    console.print(table)
    if failures:
        table = Table("object(s)", "attempts", "error", title=f"resize failed: {len(failures)}")
        for failure in failures:
            table.add_row("\n".join(failure["objects"]), str(failure["attempts"]), failure["error"])
        console.print(table)
        console.print(
            "[dim]Fix the cause, then upload those originals again; the events stay in the "
            "resize-failures queue until you purge it.[/dim]"
        )


# --- clock ----------------------------------------------------------------------


@click.group()
def clock() -> None:
    """The loader's schedule: show it, or run the loader now as the schedule would."""


def _parse_at(at: str | None) -> datetime:
    if not at:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(at)
    except ValueError as exc:
        raise HarnessError(
            f"--at {at!r} is not an ISO time such as 2025-05-01T07:00+09:00"
        ) from exc
    if moment.tzinfo is None:
        raise HarnessError(f"--at {at!r} needs a time zone offset, e.g. +09:00")
    return moment


@clock.command("show")
@click.option("--count", default=5, show_default=True, help="Upcoming runs to list.")
def clock_show(count: int) -> None:
    """The deployed schedule, whether it runs this minute, and its next runs."""
    pipeline = _pipeline()
    deployed = pipeline.schedule()
    cron = pipeline.cron()
    now = datetime.now(UTC)
    console.print(
        f"{deployed['Name']}: {cron.expression} in {cron.timezone} ({deployed.get('State')}), "
        f"target {deployed['Target']['Arn']}"
    )
    console.print(
        f"now ({now.astimezone(cron.zone):%Y-%m-%d %H:%M %Z}): "
        + ("[green]runs this minute[/green]" if cron.fires_at(now) else "outside the schedule")
    )
    for moment in cron.next_fires(now, count):
        console.print(f"  next: {moment:%Y-%m-%d %H:%M %Z} ({moment.astimezone(UTC):%H:%M} UTC)")
    console.print(
        "[dim]LocalStack stores schedules but never fires them: `harness clock tick` "
        "runs the loader instead.[/dim]"
    )


@clock.command("tick")
@click.option(
    "--at", default=None, help="Scheduled time to simulate (ISO with offset); default now."
)
@click.option(
    "--respect-window",
    is_flag=True,
    help="Do nothing when the schedule would not run at that time.",
)
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def clock_tick(at: str | None, respect_window: bool, as_json: bool) -> None:
    """Run the catalog loader now, with the schedule's own target and payload."""
    pipeline = _pipeline()
    moment = _parse_at(at)
    cron = pipeline.cron()
    if respect_window and not cron.fires_at(moment):
        _progress(f"{moment.astimezone(cron.zone):%H:%M %Z} is outside {cron.expression}: no run")
        return
    tick = pipeline.tick(moment)
    if as_json:
        document = {
            "at": tick.at.isoformat(),
            "would_fire": tick.would_fire,
            "payload": tick.payload,
            "result": tick.result,
            "error": tick.error,
            "seconds": tick.seconds,
        }
        click.echo(json.dumps(document, indent=2))
    else:
        if not tick.would_fire:
            _progress(
                f"note: {moment.astimezone(cron.zone):%H:%M %Z} is outside {cron.expression}; "
                "on AWS no run would start now"
            )
        if tick.ok:
            _progress(f"loader run in {tick.seconds:.1f} s: {tick.result}")
        else:
            console.print(f"[red]loader run failed[/red]: {tick.error}")
            _progress(f"messages not loaded stay queued: {pipeline.pending()}")
    if not tick.ok:
        sys.exit(1)


# --- database -------------------------------------------------------------------


@click.group()
def db() -> None:
    """System B's MySQL database (the harness's MariaDB, or HARNESS_DATABASE_URL)."""


@db.command("up")
def db_up() -> None:
    """Start (or reuse) the database, apply migrations, put its account in the secret."""
    pipeline = _pipeline()
    admin = pipeline.database.admin
    kind = "harness MariaDB" if pipeline.database.managed else "HARNESS_DATABASE_URL"
    _progress(f"database ready: {admin.host}:{admin.port} ({kind}), schema celeb migrated")


@db.command("status")
def db_status() -> None:
    """Rows per vertical in celeb.celeb_image_url."""
    pipeline = _pipeline()
    counts: dict[str, int] = {}
    for row in pipeline.rows():
        counts[row["vertical"]] = counts.get(row["vertical"], 0) + 1
    table = Table(
        "vertical", "rows", title=f"celeb.celeb_image_url at {pipeline.database.admin.where()}"
    )
    for vertical, count in sorted(counts.items()):
        table.add_row(vertical, str(count))
    console.print(table)


# --- bench ----------------------------------------------------------------------


@click.command("resize")
@click.option("--images", default=4, show_default=True, help="Synthetic 12 MP JPEGs.")
@click.option("--rounds", default=3, show_default=True, help="Passes over the images per method.")
@click.option("--quality", default=85, show_default=True, help="JPEG quality of the renditions.")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="JSON report (default reports/bench-resize-<time>.json).",
)
def bench_resize(images: int, rounds: int, quality: int, out: Path | None) -> None:
    """Resize speed (images/s, 12 MP -> four sizes) and quality (PSNR) vs naive Pillow."""
    from harness.systems.catalog import bench as bench_module

    settings = config.load()
    out = out or settings.project_dir / "reports" / time.strftime("bench-resize-%Y%m%d-%H%M%S.json")
    report = bench_module.run(
        out, images=images, rounds=rounds, quality=quality, progress=_progress
    )
    table = Table(
        "method", "images/s (wall)", "images/s (CPU)", *[f"PSNR {s}" for s in report["sizes"]]
    )
    for method, result in report["results"].items():
        table.add_row(
            method,
            str(result["images_per_s_wall"]),
            str(result["images_per_s_cpu"]),
            *[f"{result['psnr_db'][s]} dB" for s in report["sizes"]],
        )
    console.print(table)
    _progress(
        f"optimised / naive: {report['speedup_wall']}x (wall), {report['speedup_cpu']}x (CPU); "
        f"PSNR difference {report['psnr_delta_db']} dB; report {out}"
    )


def register(main: click.Group) -> None:
    """Add system B's commands to the `harness` group."""
    for command in (upload, verify, rejects, clock, db):
        main.add_command(command)
    bench = main.commands.get("bench")
    if isinstance(bench, click.Group):
        bench.add_command(bench_resize)
    else:  # no `bench` group: offer `harness bench-resize`
        main.add_command(bench_resize, name="bench-resize")
