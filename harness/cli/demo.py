"""`harness demo`: both pipelines at work, end to end, on a stack it brings up."""

from __future__ import annotations

import click

from harness import config
from harness.cli.console import console, progress, working
from harness.runtime import stack


@click.command()
@click.option("--keep", is_flag=True, help="Leave the stack running afterwards.")
def demo(keep: bool) -> None:
    """Bring the stack up, deploy, and show the pipelines at work.

    System A: good and bad images are followed to their labels, the DLQ, the alarm's
    Slack message and a redrive. System B: an upload with rejects, the resize, the
    loader, `verify`, and a database outage that loses nothing. Stops the stack
    afterwards unless --keep.
    """
    from harness.systems.labeling import demo as demo_module

    settings = config.load()
    try:
        with working("demo"):
            demo_module.run(settings, console, progress)
    finally:
        if keep:
            progress("stack left running: `harness status`, `harness dlq show`, `harness down`")
        else:
            stopped = stack.down(settings)
            progress("stopped: " + (", ".join(stopped) or "nothing (it was already running)"))
