"""`harness dlq show|redrive`: the labeling pipeline's dead-letter queue."""

from __future__ import annotations

import json

import click
from rich.table import Table

from harness import config
from harness.build import deploy as deploy_module
from harness.cli.console import console, progress, working
from harness.cli.groups import Group
from harness.events import dlq as dlq_module
from harness.systems.labeling.pipeline import LabelingPipeline


@click.group(cls=Group)
def dlq() -> None:
    """Inspect and redrive the labeling dead-letter queue."""


def _pipeline() -> LabelingPipeline:
    settings = config.load()
    return LabelingPipeline(settings, deploy_module.outputs(settings))


@dlq.command("show")
@click.option("--limit", default=100, show_default=True, help="Messages to read at most.")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def show(limit: int, as_json: bool) -> None:
    """List DLQ messages with their objects and failure reasons.

    The messages stay queued.
    """
    pipeline = _pipeline()
    with working("reading the DLQ"):
        letters = dlq_module.show(pipeline.s3, pipeline.sqs, pipeline.outputs, limit)
    if as_json:
        click.echo(
            json.dumps(
                [letter.__dict__ | {"reason": letter.reason} for letter in letters],
                indent=2,
                ensure_ascii=False,
            )
        )
        return
    table = Table("message", "object(s)", "attempts", "reason", title=f"DLQ: {len(letters)}")
    for letter in letters:
        table.add_row(
            letter.message_id[:8],
            "\n".join(letter.objects) or "-",
            str(letter.attempts),
            letter.reason,
        )
    console.print(table)


@dlq.command("redrive")
@click.option("--timeout", default=60.0, show_default=True, help="Seconds to wait for the move.")
def redrive(timeout: float) -> None:
    """Move every DLQ message back to the labeling queue."""
    pipeline = _pipeline()
    with working("redriving the DLQ"):
        report = dlq_module.redrive(pipeline.sqs, pipeline.outputs, timeout, progress=progress)
    progress(
        f"moved {report['moved']} message(s); DLQ before {report['before']}, "
        f"after {report['after']}"
    )
