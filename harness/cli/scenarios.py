"""`harness run` and `harness scenarios list|check`: scenarios from the command line.

Imports of the engine are inside the commands so `harness --help` stays fast.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from harness.cli import context
from harness.cli.console import console, progress
from harness.cli.groups import Group
from harness.util.errors import HarnessError

STATUS_STYLE = {"passed": "green", "failed": "bold red", "skipped": "yellow"}


def _folder(folder: Path | None) -> Path:
    from harness import config

    return folder or config.load().project_dir / "scenarios"


def _load_all(folder: Path):
    from harness.scenarios import schema
    from harness.scenarios.source import ScenarioError

    if not folder.is_dir():
        raise HarnessError(f"no scenario folder {folder}")
    try:
        return schema.load_dir(folder)
    except ScenarioError as exc:
        raise HarnessError(str(exc)) from exc


def select(folder: Path, wanted: tuple[str, ...]):
    """Scenarios by name (from `folder`) or by file path; all of `folder` if none given."""
    from harness.scenarios import schema
    from harness.scenarios.source import ScenarioError

    if not wanted:
        return _load_all(folder)
    by_name = None
    chosen = []
    for item in wanted:
        path = Path(item)
        if path.suffix in (".yaml", ".yml") or path.is_file():
            if not path.is_file():
                raise HarnessError(f"no scenario file {path}")
            try:
                chosen.append(schema.load(path))
            except ScenarioError as exc:
                raise HarnessError(str(exc)) from exc
            continue
        by_name = by_name or {s.name: s for s in _load_all(folder)}
        if item not in by_name:
            raise HarnessError(f"no scenario named {item!r}; known: {', '.join(sorted(by_name))}")
        chosen.append(by_name[item])
    return chosen


class LiveObserver:
    """A progress bar per scenario (steps done / all) and one line per finished scenario."""

    def __init__(self, bar: Progress) -> None:
        self.progress = bar
        self.task = None

    def scenario_started(self, scenario) -> None:
        self.task = self.progress.add_task(scenario.name, total=len(scenario.steps))

    def step_started(self, scenario, step) -> None:
        label = f"{scenario.name}: {step.index + 1}/{len(scenario.steps)} {step.kind}"
        if step.label:
            label += f" ({step.label})"
        self.progress.update(self.task, description=label)

    def step_finished(self, scenario, step, result: dict) -> None:
        self.progress.advance(self.task)

    def scenario_finished(self, scenario, result: dict) -> None:
        self.progress.remove_task(self.task)
        style = STATUS_STYLE[result["status"]]
        line = (
            f"[{style}]{result['status']:<8}[/{style}] {result['duration_s']:>6.1f} s  "
            f"{scenario.name}"
        )
        if result["reason"]:
            line += f"\n         [dim]{result['reason']}[/dim]"
        self.progress.console.print(line)


def _summary(run: dict) -> Table:
    table = Table("scenario", "status", "seconds", "steps", "reason", title="Scenarios")
    for result in run["scenarios"]:
        done = sum(1 for s in result["steps"] if s["status"] == "passed")
        style = STATUS_STYLE[result["status"]]
        table.add_row(
            result["name"],
            f"[{style}]{result['status']}[/{style}]",
            f"{result['duration_s']:.1f}",
            f"{done}/{len(result['steps'])}",
            result["reason"] or "",
        )
    return table


@click.command()
@click.argument("scenarios", nargs=-1)
@click.option(
    "--dir",
    "folder",
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder of the scenarios named (default: scenarios/ of the project).",
)
@click.option(
    "--target",
    type=click.Choice(["local", "aws"]),
    default="local",
    show_default=True,
    help="Where the pipeline runs.",
)
@click.option(
    "--report-dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Where report.json and report.html go (default: a new reports/<time>/).",
)
@click.option("--keep", is_flag=True, help="Leave a stack this command started running.")
def run(
    scenarios: tuple[str, ...],
    folder: Path | None,
    target: str,
    report_dir: Path | None,
    keep: bool,
) -> None:
    """Run scenarios on the local stack and write their reports.

    SCENARIOS are names or files; all of scenarios/ by default. Brings the local
    stack up and deploys it if needed (both are skipped when done already), runs
    each scenario isolated, shows a summary and writes the reports. Exits 1 if any
    scenario failed.
    """
    from harness.build import deploy
    from harness.runtime import stack
    from harness.scenarios import runner
    from harness.systems.catalog.pipeline import CatalogPipeline
    from harness.systems.labeling.pipeline import LabelingPipeline

    chosen = select(_folder(folder), scenarios)
    if target == "aws":
        raise HarnessError(
            "running scenarios against AWS needs the promotion issue (an AWS deployment "
            "record); until then use --target local"
        )
    settings = context.settings()
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
    with stack.owned(settings, keep=keep):  # what it started stops, also on Ctrl-C
        outputs = deploy.ready(settings, progress).outputs
        pipeline = LabelingPipeline(settings, outputs)
        with Progress(*columns, console=console, transient=True) as bar:
            outcome = runner.run_all(
                chosen,
                pipeline,
                target,
                LiveObserver(bar),
                catalog=lambda: CatalogPipeline.open(settings, outputs, progress),
            )
    console.print(_summary(outcome))
    statuses = Counter(r["status"] for r in outcome["scenarios"])
    elapsed = outcome["finished_at"] - outcome["started_at"]
    console.print(
        f"{statuses['passed']} passed, {statuses['failed']} failed, "
        f"{statuses['skipped']} skipped in {elapsed:.1f} s"
    )
    written = runner.write_report(outcome, report_dir)
    if isinstance(written, tuple):
        console.print(f"report: {written[0]}\n        {written[1]}")
    else:
        console.print(f"[yellow]{written}[/yellow]")
    sys.exit(1 if statuses["failed"] else 0)


@click.group(cls=Group)
def scenarios() -> None:
    """List and validate the declarative scenarios (scenarios/*.yaml)."""


@scenarios.command("list")
@click.option(
    "--dir", "folder", type=click.Path(path_type=Path, file_okay=False), help="Scenario folder."
)
def list_command(folder: Path | None) -> None:
    """Name, target, steps and description of every scenario."""
    table = Table("scenario", "target", "steps", "description", title="Scenarios", show_lines=True)
    for scenario in _load_all(_folder(folder)):
        kinds = Counter(step.kind for step in scenario.steps)
        steps = ", ".join(f"{k} x{n}" if n > 1 else k for k, n in kinds.items())
        tags = f"\n[dim]tags: {', '.join(scenario.tags)}[/dim]" if scenario.tags else ""
        table.add_row(
            f"{scenario.name}\n[dim]{scenario.display_file}[/dim]",
            scenario.target,
            f"{len(scenario.steps)}: {steps}",
            scenario.description + tags,
        )
    Console().print(table)  # the listing itself goes to stdout


@scenarios.command("check")
@click.argument("files", nargs=-1, type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--dir", "folder", type=click.Path(path_type=Path, file_okay=False), help="Scenario folder."
)
def check_command(files: tuple[Path, ...], folder: Path | None) -> None:
    """Validate scenario files (all of the folder by default).

    Exits 1 if any file is invalid; each error names the file, the line and the field.
    """
    from harness.scenarios import schema
    from harness.scenarios.source import ScenarioError

    paths = list(files) or sorted(
        p for p in _folder(folder).iterdir() if schema.is_scenario_file(p)
    )
    failed = 0
    for path in paths:
        try:
            scenario = schema.load(path)
        except ScenarioError as exc:
            failed += 1
            console.print(f"[bold red]invalid[/bold red] {exc}")
            continue
        console.print(
            f"[green]ok[/green]      {path}: {scenario.name}, {len(scenario.steps)} steps"
        )
    sys.exit(1 if failed else 0)
