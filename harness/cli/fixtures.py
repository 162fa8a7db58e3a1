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
    """Make the fixture images of fixtures/images/manifest.yaml, and upload folders."""


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


@fixtures.command("folder")
@click.argument("name")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write here instead of fixtures/catalog/generated/NAME/ (empty or missing).",
)
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def folder(name: str, out: Path | None, as_json: bool) -> None:
    """Write a catalog upload folder, e.g. the seed's ssgdfm_eye.

    fixtures/catalog/NAME/manifest.yaml describes the folder: JPEGs and the files an
    operator's folder also holds; each file says whether the catalog serves it or
    which rejection code it gets. Then: `harness upload <folder> --vertical NAME`.
    """
    with working(f"writing fixture folder {name}"):
        path = fixture_images.folder(name, out)
        manifest = fixture_images.load_folder(name)
    rows = [
        {
            "file": entry.name,
            "bytes": (path / entry.name).stat().st_size,
            "expect": entry.expect,
            "about": entry.about,
        }
        for entry in manifest.files
    ]
    if as_json:
        click.echo(json.dumps({"name": name, "path": str(path), "files": rows}, indent=2))
        return
    table = Table("file", "bytes", "expect", "about", title=str(path))
    for row in rows:
        table.add_row(row["file"], f"{row['bytes']:,}", row["expect"], row["about"])
    console.print(table)
    served = len(manifest.expected("served"))
    console.print(
        f"{len(rows)} file(s): {served} to be served, {len(rows) - served} to be rejected; "
        f"upload with `harness upload {path} --vertical {name}`"
    )
