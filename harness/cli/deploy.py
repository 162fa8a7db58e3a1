"""`harness deploy` and `destroy`: infra/envs/local on the local stack, with tflocal."""

from __future__ import annotations

import click
from rich.table import Table

from harness.build import deploy as deploy_module
from harness.cli import context
from harness.cli.console import console, progress, working


@click.command()
@click.option("--force", is_flag=True, help="Apply even if nothing changed.")
def deploy(force: bool) -> None:
    """Deploy infra/envs/local and print its outputs.

    Starts the stack if needed. The apply is skipped when infra/ and lambdas/ are
    unchanged since the last deploy (--force applies anyway).
    """
    settings = context.settings()
    with working("deploying infra/envs/local"):
        deployment = deploy_module.ready(settings, progress, force=force)
    if deployment.applied:
        progress(f"deployed in {deployment.apply_seconds:.1f} s")
    table = Table("output", "value", title="infra/envs/local outputs")
    for name, value in sorted(deployment.outputs.items()):
        table.add_row(name, str(value))
    console.print(table)


@click.command()
def destroy() -> None:
    """Destroy what `harness deploy` created on the local stack."""
    settings = context.settings()
    with working("destroying infra/envs/local"):
        destroyed = deploy_module.destroy(settings, progress=progress)
    if destroyed:
        progress("destroyed")
