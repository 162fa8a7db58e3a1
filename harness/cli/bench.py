"""`harness bench` (the labeling pipeline) and `harness bench resize` (system B's resize).

The benchmarks are imported inside the commands: they pull in Pillow and boto3 clients,
which `harness --help` does not need.
"""

from __future__ import annotations

import time
from pathlib import Path

import click
from rich.table import Table

from harness.cli import context
from harness.cli.console import console, progress, working
from harness.cli.groups import Group


@click.group(cls=Group, invoke_without_command=True)
@click.option("--images", default=300, show_default=True, help="Uploads for the latency run.")
@click.option(
    "--rate", default=10.0, show_default=True, help="Upload pace (images/s) for the latency run."
)
@click.option("--no-cold", is_flag=True, help="Skip the cold start (it restarts LocalStack).")
@click.option(
    "--sustained",
    type=click.IntRange(min=0),
    default=None,
    help="Uploads for the sustained run, paced a little above its target (default: a"
    " minute's worth; 0 skips).",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Output folder (default reports/bench-<time>).",
)
@click.pass_context
def bench(
    ctx: click.Context,
    images: int,
    rate: float,
    no_cold: bool,
    sustained: int | None,
    out: Path | None,
) -> None:
    """Benchmark the labeling pipeline: start, latency, throughput.

    Measures cold and warm start, latency, throughput (bursts, and a minute of
    paced uploads) and memory of the local labeling pipeline against their targets,
    and writes bench.json and bench.svg.
    Subcommands benchmark single parts.
    """
    if ctx.invoked_subcommand is not None:
        return
    from harness.systems.labeling import bench as bench_module

    settings = context.settings()
    out = out or settings.project_dir / "reports" / time.strftime("bench-%Y%m%d-%H%M%S")
    with working("benchmarking the labeling pipeline"):
        results = bench_module.run(
            settings,
            out,
            images=images,
            rate=rate,
            cold=not no_cold,
            progress=progress,
            sustained_images=sustained,
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


@bench.command("resize")
@click.option("--images", default=4, show_default=True, help="Synthetic 12 MP JPEGs.")
@click.option("--rounds", default=3, show_default=True, help="Passes over the images per method.")
@click.option("--quality", default=85, show_default=True, help="JPEG quality of the renditions.")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="JSON report (default reports/bench-resize-<time>.json).",
)
def resize(images: int, rounds: int, quality: int, out: Path | None) -> None:
    """Resize speed and quality (PSNR) against naive Pillow.

    Images per second, 12 MP to the four sizes, of the resize function's code and of
    a naive Pillow baseline, and the PSNR of each size. Needs no stack.
    """
    from harness.systems.catalog import bench as bench_module

    settings = context.settings()
    out = out or settings.project_dir / "reports" / time.strftime("bench-resize-%Y%m%d-%H%M%S.json")
    with working("benchmarking the resize"):
        report = bench_module.run(
            out, images=images, rounds=rounds, quality=quality, progress=progress
        )
    table = Table(
        "method", "images/s (wall)", "images/s (CPU)", *[f"PSNR {s}" for s in report["sizes"]]
    )
    for method, result in report["results"].items():
        table.add_row(
            method,
            str(result["images_per_s_wall"]),
            str(result["images_per_s_cpu"]),
            *[f"{result['psnr_db'][s]} dB" for s in report["sizes"]],
        )
    console.print(table)
    progress(
        f"optimised / naive: {report['speedup_wall']}x (wall), {report['speedup_cpu']}x (CPU); "
        f"PSNR difference {report['psnr_delta_db']} dB; report {out}"
    )
