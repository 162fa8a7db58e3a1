"""`harness demo`: both pipelines at work, end to end, on a stack it brings up."""

from __future__ import annotations

import click

from harness.cli import context
from harness.cli.console import console, progress, working
from harness.runtime import stack


@click.command()
@click.option("--keep", is_flag=True, help="Leave the stack running afterwards.")
def demo(keep: bool) -> None:
    """Bring the stack up, deploy, and show the pipelines at work.

    System A: good and bad images are followed to their labels, the DLQ, the alarm's
    Slack message and a redrive. System B: an upload with rejects, the resize, the
    loader, `verify`, and a database outage that loses nothing. Afterwards (also after
    Ctrl-C) stops what it started, unless --keep; a stack from `harness up` stays.
    """
    from harness.systems.labeling import demo as demo_module

    settings = context.settings()
    try:
        with stack.owned(settings, keep=keep) as stopped, working("demo"):
            demo_module.run(settings, console, progress)
    finally:
        if keep:
            progress("stack left running: `harness status`, `harness dlq show`, `harness down`")
        else:
            progress("stopped: " + (", ".join(stopped) or "nothing (it was running before)"))
