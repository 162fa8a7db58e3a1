"""The command line's one console, and how long work shows that it is moving.

Everything meant for people goes to stderr through `console`, so stdout carries only
what a command prints for programs (`--json`). Long work reports in two ways:

- `progress(message)`: one timestamped line. It is the `progress` callback that the
  harness's long calls take (`stack.up`, `deploy`, `replay.run`, ...), so their steps
  appear as they happen.
- `working(message)`: a spinner with the time so far while a block runs, for the
  stretches in which nothing is printed (a Terraform apply, a loader run, a benchmark).
  `progress` lines still print, above the spinner.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

console = Console(stderr=True)


def progress(message: str) -> None:
    """Print `HH:MM:SS message` on stderr."""
    console.print(f"[dim]{time.strftime('%H:%M:%S')}[/dim] {message}")


@contextmanager
def working(message: str) -> Iterator[None]:
    """Show a spinner, `message` and the elapsed time until the block ends.

    Only on a terminal: in a pipe, a log or a test nothing extra is written. Keep a
    block that shows its own progress bar outside (older versions of rich refuse two
    live displays at once), and print `--json` documents after the block.
    """
    if not console.is_terminal:
        yield
        return
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    # stdout is left alone: it carries the --json documents, never the spinner's lines.
    with Progress(*columns, console=console, transient=True, redirect_stdout=False) as spinner:
        spinner.add_task(message, total=None)
        yield
