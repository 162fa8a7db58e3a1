"""`harness dlq show|redrive`: the labeling pipeline's dead-letter queue, and the Slack
notices the notifier could not deliver (its notifier-failures queue)."""

from __future__ import annotations

import json
import sys

import click
from rich.table import Table

from harness.build import deploy as deploy_module
from harness.cli import context
from harness.cli.console import console, progress, working
from harness.cli.groups import Group
from harness.events import dlq as dlq_module
from harness.systems.labeling.pipeline import LabelingPipeline

LABELER_DLQ = "labeler-dlq"
NOTIFIER_FAILURES = "notifier-failures"


@click.group(cls=Group)
def dlq() -> None:
    """Inspect and redrive the labeling DLQ and the failed Slack notices."""


def _pipeline() -> LabelingPipeline:
    settings = context.settings()
    return LabelingPipeline(settings, deploy_module.outputs(settings))


def _show_dead_letters(pipeline: LabelingPipeline, limit: int) -> list:
    with working("reading the DLQ"):
        return dlq_module.show(pipeline.s3, pipeline.sqs, pipeline.outputs, limit)


def _print_dead_letters(letters: list) -> None:
    table = Table("message", "object(s)", "attempts", "reason", title=f"DLQ: {len(letters)}")
    for letter in letters:
        table.add_row(
            letter.message_id[:8],
            "\n".join(letter.objects) or "-",
            str(letter.attempts),
            letter.reason,
        )
    console.print(table)


def _print_notices(notices: list) -> None:
    table = Table(
        "message",
        "notice (alarm, transition)",
        "attempts",
        "failed",
        "why",
        title=f"Slack notices not delivered (notifier-failures): {len(notices)}",
    )
    for notice in notices:
        failed = notice.first_failed_at
        if notice.last_failed_at and notice.last_failed_at != notice.first_failed_at:
            failed += f"\n... {notice.last_failed_at}"
        why = notice.problem or f"{notice.condition}: {notice.error}"
        table.add_row(
            notice.message_id[:8],
            f"{notice.alarm}\n{notice.state}",
            f"{notice.attempts} ({notice.records} record(s))",
            failed,
            why,
        )
    console.print(table)
    if any(n.redrivable for n in notices):
        console.print(
            "[dim]Once Slack answers again: `harness dlq redrive --queue notifier-failures` "
            "delivers each notice (nothing is lost while they wait: 14 days).[/dim]"
        )


@dlq.command("show")
@click.option("--limit", default=100, show_default=True, help="Messages to read at most.")
@click.option(
    "--queue",
    type=click.Choice(["all", LABELER_DLQ, NOTIFIER_FAILURES]),
    default="all",
    show_default=True,
    help="Which queue to list.",
)
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def show(limit: int, queue: str, as_json: bool) -> None:
    """List DLQ messages with their objects and failure reasons, and the Slack notices
    that failed after the notifier's retries: which alarm, why, how many attempts.

    The messages stay queued.
    """
    pipeline = _pipeline()
    letters = _show_dead_letters(pipeline, limit) if queue in ("all", LABELER_DLQ) else []
    notices = []
    if queue in ("all", NOTIFIER_FAILURES):
        with working("reading the failed notices"):
            notices = pipeline.failed_notices(limit)
    if as_json:
        document = {
            "labeler_dlq": [letter.__dict__ | {"reason": letter.reason} for letter in letters],
            "notifier_failures": [notice.summary() for notice in notices],
        }
        if queue != "all":
            document = document[queue.replace("-", "_")]
        click.echo(json.dumps(document, indent=2, ensure_ascii=False))
        return
    if queue in ("all", LABELER_DLQ):
        _print_dead_letters(letters)
    if queue in ("all", NOTIFIER_FAILURES):
        if pipeline.notifier_failures_url is None:
            console.print("[yellow]this deployment has no notifier-failures queue[/yellow]")
        else:
            _print_notices(notices)


@dlq.command("redrive")
@click.option(
    "--queue",
    type=click.Choice([LABELER_DLQ, NOTIFIER_FAILURES]),
    default=LABELER_DLQ,
    show_default=True,
    help=(
        "labeler-dlq: move the messages back to the labeling queue. notifier-failures: "
        "invoke the notifier with each failed notice."
    ),
)
@click.option("--timeout", default=60.0, show_default=True, help="Seconds to wait for the move.")
def redrive(queue: str, timeout: float) -> None:
    """Send failed work back.

    labeler-dlq (default): every DLQ message moves back to the labeling queue (an SQS
    message move task). notifier-failures: the Slack notifier is invoked asynchronously
    with each failure record, which it re-sends with a line saying how late it is; each
    message is deleted once Lambda accepted its invocation. A notice that fails again
    comes back to the queue after Lambda's retries. Exits 1 if a message was left.
    """
    pipeline = _pipeline()
    if queue == NOTIFIER_FAILURES:
        with working("redriving the failed notices"):
            report = pipeline.redrive_notices(progress=progress)
        for item in report["left"]:
            console.print(f"[red]left queued[/red] {item['message_id'][:8]}: {item['reason']}")
        progress(
            f"re-sent {report['invoked']} notice(s); queue before {report['before']}, "
            f"after {report['after']} (a notice failing again comes back after the retries)"
        )
        if report["left"]:
            sys.exit(1)
        return
    with working("redriving the DLQ"):
        report = dlq_module.redrive(pipeline.sqs, pipeline.outputs, timeout, progress=progress)
    progress(
        f"moved {report['moved']} message(s); DLQ before {report['before']}, "
        f"after {report['after']}"
    )
