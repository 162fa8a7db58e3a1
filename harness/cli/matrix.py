"""`harness matrix`: the emulator matrix of issue #15 (the work is in harness/matrix/).

Imported lazily inside the command: the matrix pulls in the scenario engine and Pillow,
which `harness --help` does not need.
"""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

import click

from harness.cli import context
from harness.cli.console import console, progress

DEFAULT_SCENARIOS = ("unicode-keys", "filter-policy")


@click.command()
@click.option(
    "--backend",
    "names",
    multiple=True,
    type=click.Choice(["embedded", "ministack", "moto"]),
    help="Emulators to run, in order (default: all three).",
)
@click.option(
    "--scenario",
    "scenario_names",
    multiple=True,
    help=f"Scenarios of scenarios/ to run per emulator (default: {', '.join(DEFAULT_SCENARIOS)}).",
)
@click.option("--all-scenarios", is_flag=True, help="Every scenario of scenarios/ (slow).")
@click.option("--no-scenarios", is_flag=True, help="Behaviour probes only.")
@click.option("--probe", "only", multiple=True, help="Run only these probes (by name).")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Output folder (default reports/matrix-<time>).",
)
def matrix(
    names: tuple[str, ...],
    scenario_names: tuple[str, ...],
    all_scenarios: bool,
    no_scenarios: bool,
    only: tuple[str, ...],
    out: Path | None,
) -> None:
    """Run the same deploy, probes and scenarios on each emulator; write the matrix.

    Each emulator (embedded LocalStack, MiniStack, moto server) is started on free
    ports with a state dir of its own, deployed with infra/envs/local, probed, timed
    and stopped. Writes matrix.json and matrix.html and prints the table.
    """
    from harness.matrix import sweep, table

    # A run takes many minutes and owns three servers in turn: a SIGTERM (CI's timeout,
    # `kill`) unwinds like Ctrl-C, so the server of the current column is stopped.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    settings = context.settings()
    out = out or settings.project_dir / "reports" / time.strftime("matrix-%Y%m%d-%H%M%S")
    if no_scenarios:
        chosen: list[str] = []
    elif all_scenarios:
        from harness.scenarios import schema

        chosen = [s.name for s in schema.load_dir(settings.project_dir / "scenarios")]
    else:
        chosen = list(scenario_names or DEFAULT_SCENARIOS)
    document = sweep.run(
        settings,
        list(names or sweep.EMULATORS),
        out / "state",
        chosen,
        set(only) if only else None,
        progress,
    )
    json_path, html_path = table.write(document, out)
    console.print(table.text_table(document), markup=False, highlight=False)
    minutes = (document["finished_at"] - document["started_at"]) / 60
    console.print(f"matrix: {json_path} and {html_path} ({minutes:.1f} min)")
