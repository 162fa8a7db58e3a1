"""`harness up`, `down` and `status`: the local stack (LocalStack and the stubs)."""

from __future__ import annotations

import json
import time

import click
from rich.table import Table

from harness.build import deploy as deploy_module
from harness.cli import context
from harness.cli.console import console, progress, working
from harness.runtime import stack


@click.command()
@click.option(
    "--deploy/--no-deploy",
    default=True,
    show_default=True,
    help="Also deploy infra/envs/local (skipped when nothing changed).",
)
def up(deploy: bool) -> None:
    """Start LocalStack and the stubs, deploy, print the endpoints.

    What already runs is reused, and the deploy is skipped when infra/ and lambdas/
    are unchanged.
    """
    settings = context.settings()
    started = time.monotonic()
    with working("starting the local stack"):
        if deploy:
            deployment = deploy_module.ready(settings, progress)
            state = deployment.stack
            if deployment.applied:
                progress(f"deployed in {deployment.apply_seconds:.1f} s")
        else:
            state = stack.up(settings, progress)
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
    # From the command's start: the stack's own start and the deploy, as a user waits.
    progress(f"ready in {time.monotonic() - started:.1f} s (stack {state.seconds:.1f} s)")


@click.command()
def down() -> None:
    """Stop what `harness up` or a test session started.

    Processes are found by the PIDs recorded when they started.
    """
    with working("stopping the local stack"):
        stopped = stack.down(context.settings())
    progress("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def status(as_json: bool) -> None:
    """Show what runs, LocalStack's services and what is deployed."""
    settings = context.settings()
    info = stack.status(settings) | {"deployments": deploy_module.deployments(settings)}
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
    for env, deployed in info["deployments"].items():
        console.print(f"deployed: {env} ({deployed})")
