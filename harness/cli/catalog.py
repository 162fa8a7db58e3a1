"""System B's operator commands: `upload`, `verify`, `rejects`, `admin`, `clock`, `db`.

Each one works on the deployed catalog (`_pipeline()`: the stack started and deployed
if needed, the database started and migrated). `harness bench resize` lives with the
other benchmarks in harness/cli/bench.py.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import click
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from harness.build import deploy as deploy_module
from harness.cli import context
from harness.cli.console import console, progress, working
from harness.cli.groups import Group
from harness.systems.catalog.pipeline import CatalogPipeline
from harness.util.errors import HarnessError


def _pipeline() -> CatalogPipeline:
    """The deployed catalog, its database started and migrated (deploying if needed)."""
    with working("getting the catalog ready"):
        settings = context.settings()
        outputs = deploy_module.ready(settings, progress).outputs
        return CatalogPipeline.open(settings, outputs, progress)


# --- upload ---------------------------------------------------------------------


@click.command()
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--vertical", required=True, help="Catalogue section, e.g. ssgdfm_eye ([a-z0-9_-]).")
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
    from harness.systems.catalog import folder_upload as catalog_upload

    pipeline = _pipeline()
    with working(f"checking {directory}"):
        plan = catalog_upload.scan(directory, vertical, pipeline.c["origin_prefix"])
    if plan.rejected:
        table = Table("file", "reason", title=f"rejected: {len(plan.rejected)} (not uploaded)")
        for item in plan.rejected:
            table.add_row(item.relative, item.reason or "")
        console.print(table)
    with working("listing what is uploaded already"):
        existing = pipeline.keys(
            pipeline.c["upload_bucket"], f"{pipeline.c['origin_prefix']}{vertical}/"
        )
    catalog_upload.compare_with_bucket(plan, existing)
    progress(
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
        progress(
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
    """Check each entity's rows, URLs and served objects.

    Per entity: a row per size of every image, its URL, and the served objects.

    Exits 1 and names what is missing; queued messages and rejection records are
    shown too, to tell "missing" from "not loaded yet".
    """
    from harness.systems.catalog.verify import verify as run_verify

    pipeline = _pipeline()
    with working(f"verifying {vertical}"):
        result = run_verify(pipeline, vertical, list(cd_idxs) or None)
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
    """List rejected uploads and failed resizes, with the reasons.

    The uploads the resize function rejected (the rejection records), and the
    resizes that failed after Lambda's retries (the resize-failures queue).
    """
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


# --- admin page -------------------------------------------------------------------


@click.command()
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Port on 127.0.0.1 (default HARNESS_ADMIN_PORT, 4583; 0 picks a free one).",
)
def admin(port: int | None) -> None:
    """Serve the admin page: renditions, row counts and rejections.

    The seed runbook's "check the admin page", on 127.0.0.1 only: per vertical, each
    entity's renditions shown as images, the rows found against the rows expected
    (one per size of every image), what is still queued, and what the resize
    function rejected and why. Runs until Ctrl-C.
    """
    from harness.systems.catalog import admin as admin_page

    admin_page.serve(_pipeline(), port, progress)


# --- clock ----------------------------------------------------------------------


@click.group(cls=Group)
def clock() -> None:
    """The loader's schedule: show it, or run the loader now."""


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
@click.option(
    "--count",
    default=5,
    show_default=True,
    type=click.IntRange(1, 10000),
    help="Upcoming runs to list.",
)
def clock_show(count: int) -> None:
    """The deployed schedules, whether the loader runs now, its next runs.

    The seed's window, every minute from 07:00 to 21:00 (Korea), 21:00 included, is two
    schedules: every minute 07:00-20:59, and 21:00. Times are the schedules' own zone
    (Asia/Seoul), with UTC beside them.
    """
    from harness.systems.catalog.schedule import describe_runs

    pipeline = _pipeline()
    deployed = pipeline.schedules()
    cron = pipeline.cron(deployed)
    now = datetime.now(UTC)
    for item in deployed:
        console.print(
            f"{item['Name']}: {item['ScheduleExpression']} in "
            f"{item.get('ScheduleExpressionTimezone') or 'UTC'} ({item.get('State')}), "
            f"target {item['Target']['Arn']}"
        )
    firing = cron.firing(now)
    console.print(
        f"now ({now.astimezone(cron.zone):%Y-%m-%d %H:%M %Z}): "
        + (
            f"[green]runs this minute[/green] ({', '.join(firing)})"
            if firing
            else "outside the schedule"
        )
    )
    for line in describe_runs(cron, now, count):
        console.print(f"  next: {line}")
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
    """Run the catalog loader now, as the schedule would.

    Invokes the schedule's own target with its payload, the placeholders filled as
    EventBridge Scheduler fills them (LocalStack stores schedules but never fires
    them). Exits 1 if the run failed.
    """
    pipeline = _pipeline()
    moment = _parse_at(at)
    cron = pipeline.cron()
    if respect_window and not cron.fires_at(moment):
        progress(f"{moment.astimezone(cron.zone):%H:%M %Z} is outside {cron.expression}: no run")
        return
    with working("running the catalog loader"):
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
            progress(
                f"note: {moment.astimezone(cron.zone):%H:%M %Z} is outside {cron.expression}; "
                "on AWS no run would start now"
            )
        if tick.ok:
            progress(f"loader run in {tick.seconds:.1f} s: {tick.result}")
        else:
            console.print(f"[red]loader run failed[/red]: {tick.error}")
            progress(f"messages not loaded stay queued: {pipeline.pending()}")
    if not tick.ok:
        sys.exit(1)


# --- database -------------------------------------------------------------------


@click.group(cls=Group)
def db() -> None:
    """System B's MySQL database: start and migrate it, count rows.

    The harness's MariaDB on 127.0.0.1, or the server of HARNESS_DATABASE_URL.
    """


@db.command("up")
def db_up() -> None:
    """Start or reuse the database, migrate it, fill the secret.

    Applies the migrations and puts the loader's account into the secret the
    function reads.
    """
    pipeline = _pipeline()
    admin = pipeline.database.admin
    kind = pipeline.database.kind
    progress(f"database ready: {admin.host}:{admin.port} ({kind}), schema celeb migrated")


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
