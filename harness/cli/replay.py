"""`harness replay` and `harness record`: recorded S3 events into the local pipeline.

The command-line side of harness.events.replay and harness.events.record.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from harness.build import deploy
from harness.cli import context
from harness.cli.console import console, progress, working
from harness.events import record as recorder
from harness.events import recordings
from harness.events import replay as replayer
from harness.runtime import localstack
from harness.systems.labeling.pipeline import LabelingPipeline
from harness.util.errors import HarnessError

STATUS_STYLE = {
    "result": "green",
    "filtered": "cyan",
    "ignored": "cyan",
    "dlq": "red",
    "error": "red",
    "timeout": "red",
}


# How long the check that LocalStack runs waits for its answer. A stopped LocalStack
# refuses at once; a running one on a loaded machine can take more than the 2 s of a
# health poll (run 62: `harness record` said "does not answer" to a stack that had just
# deployed, while four stacks and an image build shared the 2 cores).
PREFLIGHT_TIMEOUT_S = 15.0


def _running_pipeline(start: bool, must_run: bool = True) -> LabelingPipeline:
    """The deployed pipeline; with `start`, the stack is started and deployed if needed."""
    settings = context.settings()
    if start:
        outputs = deploy.ready(settings, progress).outputs
    else:
        if must_run and not localstack.health(settings.endpoint, PREFLIGHT_TIMEOUT_S):
            raise HarnessError(
                f"LocalStack does not answer at {settings.endpoint}; run `harness up` and "
                "`harness deploy` first"
            )
        outputs = deploy.outputs(settings)
    return LabelingPipeline(settings, outputs)


def _print_errors(errors: list[recordings.Unreadable]) -> None:
    for error in errors:
        console.print(f"[yellow]unreadable[/yellow] {escape(str(error))}", highlight=False)


def _print_refused(planned: list[replayer.PlannedEvent]) -> list[str]:
    """`file:line: reason` of every object refused (keys out of --objects); printed."""
    refused = [line for event in planned for line in event.refused]
    for line in refused:
        console.print(f"[red]refused[/red] {escape(line)}", highlight=False)
    return refused


def _print_plan(planned: list[replayer.PlannedEvent]) -> None:
    table = Table("#", "from", "shape", "event", "local object", "object bytes", "route")
    for event in planned:
        names = {o.event_name for o in event.objects} or {"s3:TestEvent"}
        route = event.route + (f" ({event.route_detail})" if event.route_detail else "")
        table.add_row(
            str(event.index),
            str(event.recorded.location),
            event.recorded.shape,
            ", ".join(sorted(names)),
            "\n".join(f"s3://{o.bucket}/{o.key}" for o in event.objects) or "-",
            "\n".join(o.source for o in event.objects) or "-",
            route,
        )
    console.print(table)


def _print_reports(reports: list[replayer.EventReport]) -> None:
    table = Table("#", "from", "shape", "outcome", "detail", "seconds")
    for report in reports:
        style = STATUS_STYLE.get(report.status, "")
        table.add_row(
            str(report.planned.index),
            str(report.planned.recorded.location),
            report.planned.recorded.shape,
            f"[{style}]{report.status}[/{style}]" if style else report.status,
            report.detail,
            "-" if report.seconds is None else f"{report.seconds:.2f}",
        )
    console.print(table)


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--to",
    type=click.Choice(["topic", "queue"]),
    default="topic",
    show_default=True,
    help="Publish to the topic as S3 does (filter policies apply) or straight to the queue.",
)
@click.option(
    "--map-bucket",
    multiple=True,
    metavar="SOURCE=LOCAL",
    help="Rewrite bucket SOURCE to LOCAL (repeatable); others go to the deployed bucket.",
)
@click.option(
    "--objects",
    "objects_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder with the objects' bytes (DIR/<key> or DIR/<file name>); "
    "missing ones get a placeholder.",
)
@click.option(
    "--keep-order/--any-order",
    default=True,
    show_default=True,
    help="Publish one by one in recorded order, or all at once from several threads.",
)
@click.option("--rate", type=click.FloatRange(min=0.01), help="Publish at most this many a second.")
@click.option(
    "--timeout",
    default=120.0,
    show_default=True,
    help="Seconds to wait for every event's outcome after publishing.",
)
@click.option("--dry-run", is_flag=True, help="Show the plan; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON on stdout.")
@click.pass_context
def replay(
    ctx: click.Context,
    paths: tuple[Path, ...],
    to: str,
    map_bucket: tuple[str, ...],
    objects_dir: Path | None,
    keep_order: bool,
    rate: float | None,
    timeout: float,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Replay recorded S3 events and report where each one ended.

    PATHS are JSON or JSON Lines files, or folders of them; the events go into the
    local labeling pipeline. Every shape AWS records is read: S3 event notifications,
    SNS envelopes, SQS messages and Lambda SQS events carrying them, EventBridge
    "Object Created" events. Exit code 1 when an entry was unreadable or an event
    failed (DLQ, error, no outcome in time).
    """
    try:
        bucket_map = replayer.parse_bucket_map(map_bucket)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--map-bucket") from None
    recorded, errors = recordings.read(paths)
    _print_errors(errors)
    with working("getting the labeling pipeline ready"):
        pipeline = _running_pipeline(start=not dry_run, must_run=False)
    rewriter = replayer.Rewriter(
        default_bucket=pipeline.bucket,
        region=pipeline.outputs["region"],
        account=pipeline.outputs["account_id"],
        bucket_map=bucket_map,
    )
    options = replayer.Options(
        to=to, keep_order=keep_order, rate=rate, objects_dir=objects_dir, timeout=timeout
    )
    running = bool(localstack.health(pipeline.settings.endpoint))
    planned = replayer.plan(pipeline, recorded, rewriter, options, stack_running=running)
    progress(f"read {len(recorded)} event(s); {len(errors)} unreadable entr(ies)")
    refused = _print_refused(planned)
    if dry_run:
        _print_plan(planned)
        if as_json:
            click.echo(
                json.dumps(
                    {
                        "plan": [replayer.EventReport(p).as_dict() for p in planned],
                        "unreadable": [str(e) for e in errors],
                        "refused": refused,
                    },
                    indent=2,
                    ensure_ascii=False,
                )
            )
        ctx.exit(1 if errors or refused else 0)
    with working(f"replaying {len(planned)} event(s)"):
        reports = replayer.run(pipeline, planned, options, progress)
    _print_reports(reports)
    failed = [r for r in reports if r.failed]
    progress(
        f"{len(reports)} event(s): "
        + ", ".join(
            f"{sum(r.status == s for r in reports)} {s}"
            for s in ("result", "filtered", "ignored", "dlq", "error", "timeout")
            if any(r.status == s for r in reports)
        )
        + (f"; {len(errors)} unreadable" if errors else "")
    )
    if as_json:
        click.echo(
            json.dumps(
                {
                    "events": [r.as_dict() for r in reports],
                    "unreadable": [str(e) for e in errors],
                },
                indent=2,
                ensure_ascii=False,
            )
        )
    ctx.exit(1 if failed or errors else 0)


@click.command()
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--count", type=click.IntRange(min=1), help="Stop after this many S3 events.")
@click.option("--duration", type=click.FloatRange(min=0.1), help="Stop after this many seconds.")
@click.option(
    "--all",
    "keep_all",
    is_flag=True,
    help="Also keep messages that are not S3 events (alarm notifications).",
)
def record(out: Path, count: int | None, duration: float | None, keep_all: bool) -> None:
    """Capture the messages on the local topic, for `replay`.

    Writes them into OUT (JSON Lines of SNS envelopes) until Ctrl-C, --count or
    --duration; `harness replay OUT` replays them.
    """
    pipeline = _running_pipeline(start=False)
    with working(f"recording into {out} (Ctrl-C stops)"):
        result = recorder.record(
            pipeline,
            out,
            count=count,
            duration=duration,
            keep_all=keep_all,
            progress=progress,
        )
    progress(
        f"wrote {result.written} message(s) to {out} in {result.seconds:.1f} s"
        + (f"; skipped {result.skipped} that were not S3 events" if result.skipped else "")
    )
