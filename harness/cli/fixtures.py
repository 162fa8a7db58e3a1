"""`harness fixtures`: make the manifest's fixture images ahead of a run.

Scenarios render what they need on first use anyway; generating up front makes the
first run's timing honest and lets a user look at (or upload by hand) every image.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from harness.build import fixtures

console = Console(stderr=True)


@click.group("fixtures")
def fixtures_group() -> None:
    """Fixture images named in fixtures/images/manifest.yaml."""


@fixtures_group.command("generate")
@click.argument("names", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def generate(names: tuple[str, ...], as_json: bool) -> None:
    """Generate NAMES (default: all) into fixtures/images/generated/ (cached by spec)."""
    started = time.monotonic()
    made = fixtures.generate(list(names) or None)
    seconds = time.monotonic() - started
    rows = [
        {
            "name": fixture.name,
            "path": str(path),
            "bytes": path.stat().st_size,
            "content_type": fixture.spec.content_type,
            "generated": created,
            "about": fixture.about,
        }
        for fixture, path, created in made
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    table = Table("fixture", "file", "bytes", "type", "", title=str(fixtures.generated_dir()))
    for row in rows:
        table.add_row(
            row["name"],
            Path(row["path"]).name,
            f"{row['bytes']:,}",
            row["content_type"],
            "new" if row["generated"] else "cached",
        )
    console.print(table)
    new = sum(row["generated"] for row in rows)
    console.print(
        f"{len(rows)} fixture(s), {new} generated, {len(rows) - new} cached, {seconds:.1f} s"
    )
