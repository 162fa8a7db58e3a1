"""`harness`: bring the local pipeline stack up, deploy it, drive it, take it down."""

from __future__ import annotations

import json
import sys
import time

import click
from rich.console import Console
from rich.table import Table

from harness import config, stack
from harness.errors import HarnessError

console = Console(stderr=True)


def _progress(message: str) -> None:
    console.print(f"[dim]{time.strftime('%H:%M:%S')}[/dim] {message}")


class HarnessGroup(click.Group):
    """Turns HarnessError into one readable line and exit code 2, never a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except HarnessError as exc:
            console.print(f"[bold red]error:[/bold red] {exc}")
            sys.exit(2)


@click.group(cls=HarnessGroup)
def main() -> None:
    """Local emulation and test harness for event-driven image pipelines on AWS.

    Runs LocalStack (embedded, no Docker), a Rekognition stub and a Slack webhook
    sink on 127.0.0.1. Settings come from HARNESS_* environment variables; see
    README.md.
    """


@main.command()
def up() -> None:
    """Start LocalStack and the stubs (reusing what already runs) and print endpoints."""
    settings = config.load()
    state = stack.up(settings, _progress)
    table = Table(title="Local stack", show_header=True)
    table.add_column("component")
    table.add_column("endpoint")
    table.add_column("state")
    table.add_row(
        f"LocalStack ({state.backend})",
        state.endpoint,
        "started" if state.started_localstack else "reused",
    )
    for name, url in state.stub_urls.items():
        table.add_row(f"{name} stub", url, "started" if state.started_stubs else "reused")
    console.print(table)
    _progress(f"ready in {state.seconds:.1f} s")


@main.command()
def down() -> None:
    """Stop what `harness up` (or a test session) started, by recorded PID."""
    stopped = stack.down(config.load())
    _progress("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def status(as_json: bool) -> None:
    """Show what runs, LocalStack's health per service, and deployed stacks."""
    info = stack.status(config.load())
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    ls = info["localstack"]
    console.print(
        f"LocalStack ({info['backend']}) at {info['endpoint']}: "
        + ("[green]healthy[/green] " + str(ls["version"]) if ls["healthy"] else "[red]down[/red]")
    )
    if ls["services"]:
        table = Table("service", "state")
        for name, state in sorted(ls["services"].items()):
            table.add_row(name, state)
        console.print(table)
    console.print(
        "stubs: " + ("[green]up[/green]" if info["stubs"]["healthy"] else "[red]down[/red]")
    )
    for proc in info["processes"]:
        console.print(f"  pid {proc['pid']}: {proc['name']}")
    for env, deployed in info.get("deployments", {}).items():
        console.print(f"deployed: {env} ({deployed})")


if __name__ == "__main__":
    main()
