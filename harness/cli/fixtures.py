"""`harness fixtures`: make the manifest's fixture images ahead of a run.

Scenarios render what they need on first use anyway; generating up front makes the
first run's timing honest and lets a user look at (or upload by hand) every image.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import click
from rich.table import Table

from harness.build import fixtures as fixture_images
from harness.cli.console import console, working
from harness.cli.groups import Group


@click.group(cls=Group)
def fixtures() -> None:
    """Make the fixture images of fixtures/images/manifest.yaml."""


@fixtures.command("generate")
@click.argument("names", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def generate(names: tuple[str, ...], as_json: bool) -> None:
    """Generate NAMES (default: all) into fixtures/images/generated/.

    Files are cached under a name derived from their spec: only new or changed
    fixtures are rendered.
    """
    started = time.monotonic()
    with working("generating fixture images"):
        made = fixture_images.generate(list(names) or None)
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
    table = Table("fixture", "file", "bytes", "type", "", title=str(fixture_images.generated_dir()))
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
