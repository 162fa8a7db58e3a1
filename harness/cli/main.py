"""`harness`: bring the local pipeline stack up, deploy it, drive it, take it down."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from harness import config
from harness.build import deploy as deploy_module
from harness.cli import catalog
from harness.cli.fixtures import fixtures_group
from harness.cli.promote import promote
from harness.cli.replay import record_command, replay_command
from harness.cli.scenarios import run_command as scenario_run_command
from harness.cli.scenarios import scenarios_group
from harness.events import dlq as dlq_module
from harness.runtime import stack
from harness.systems.labeling.pipeline import LabelingPipeline
from harness.util.errors import HarnessError

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
@click.option(
    "--deploy/--no-deploy",
    default=True,
    show_default=True,
    help="Also deploy infra/envs/local (skipped when nothing changed).",
)
def up(deploy: bool) -> None:
    """Start LocalStack and the stubs (reusing what already runs), deploy, print endpoints."""
    settings = config.load()
    state = stack.up(settings, _progress)
    if deploy:
        record = deploy_module.deploy(settings, progress=_progress)
        if record["applied"]:
            _progress(f"deployed in {record['apply_seconds']:.1f} s")
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
    for env, deployed in info["deployments"].items():
        console.print(f"deployed: {env} ({deployed})")


@main.command()
@click.option("--force", is_flag=True, help="Apply even if nothing changed.")
def deploy(force: bool) -> None:
    """Deploy infra/envs/local with tflocal; skipped when infra/ and lambdas/ are unchanged."""
    settings = config.load()
    stack.up(settings, _progress)
    record = deploy_module.deploy(settings, force=force, progress=_progress)
    if record["applied"]:
        _progress(f"deployed in {record['apply_seconds']:.1f} s")
    table = Table("output", "value", title="infra/envs/local outputs")
    for name, value in sorted(record["outputs"].items()):
        table.add_row(name, str(value))
    console.print(table)


@main.command()
def destroy() -> None:
    """Destroy what `harness deploy` created on the local stack."""
    settings = config.load()
    if deploy_module.destroy(settings, progress=_progress):
        _progress("destroyed")


@main.group()
def dlq() -> None:
    """Inspect and redrive the labeling dead-letter queue."""


def _pipeline():
    settings = config.load()
    return LabelingPipeline(settings, deploy_module.outputs(settings))


@dlq.command("show")
@click.option("--limit", default=100, show_default=True, help="Messages to read at most.")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def dlq_show(limit: int, as_json: bool) -> None:
    """List DLQ messages with their objects and failure reasons (messages stay queued)."""
    pipeline = _pipeline()
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
def dlq_redrive(timeout: float) -> None:
    """Move every DLQ message back to the labeling queue and report the counts."""
    pipeline = _pipeline()
    report = dlq_module.redrive(pipeline.sqs, pipeline.outputs, timeout, progress=_progress)
    _progress(
        f"moved {report['moved']} message(s); DLQ before {report['before']}, "
        f"after {report['after']}"
    )


@main.group(invoke_without_command=True)
@click.option("--images", default=300, show_default=True, help="Uploads for the latency run.")
@click.option(
    "--rate", default=10.0, show_default=True, help="Upload pace (images/s) for the latency run."
)
@click.option("--no-cold", is_flag=True, help="Skip the cold start (it restarts LocalStack).")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Output folder (default reports/bench-<time>).",
)
@click.pass_context
def bench(ctx: click.Context, images: int, rate: float, no_cold: bool, out: Path | None) -> None:
    """Benchmark the local labeling pipeline: start times, latency, throughput, memory.

    Writes bench.json and bench.png. Subcommands benchmark single parts.
    """
    if ctx.invoked_subcommand is not None:
        return
    from harness.systems.labeling import bench as bench_module

    settings = config.load()
    out = out or settings.project_dir / "reports" / time.strftime("bench-%Y%m%d-%H%M%S")
    results = bench_module.run(
        settings, out, images=images, rate=rate, cold=not no_cold, progress=_progress
    )
    table = Table("measure", "value", "target", "met", title=f"harness bench -> {out}")
    for name, verdict in results["verdict"].items():
        if isinstance(verdict, dict):
            table.add_row(
                name,
                str(verdict["measured"]),
                str(verdict["target"]),
                "yes" if verdict["met"] else "NO",
            )
    console.print(table)
    console.print(results["verdict"]["where_latency_goes"])
    if "where_throughput_goes" in results["verdict"]:
        console.print(results["verdict"]["where_throughput_goes"])


@main.command()
@click.option("--keep", is_flag=True, help="Leave the stack running afterwards.")
def demo(keep: bool) -> None:
    """Bring the stack up, deploy, and show the labeling pipeline at work end to end."""
    from harness.systems.labeling import demo as demo_module

    settings = config.load()
    try:
        demo_module.run(settings, console, _progress)
    finally:
        if keep:
            _progress("stack left running: `harness status`, `harness dlq show`, `harness down`")
        else:
            stopped = stack.down(settings)
            _progress("stopped: " + (", ".join(stopped) or "nothing (it was already running)"))


main.add_command(fixtures_group)
main.add_command(replay_command)
main.add_command(record_command)
main.add_command(scenario_run_command)
main.add_command(scenarios_group)
main.add_command(promote)
catalog.register(main)  # system B: upload, verify, rejects, clock, db, bench resize

if __name__ == "__main__":
    main()
