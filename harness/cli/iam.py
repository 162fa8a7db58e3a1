"""`harness iam denials`: what the local stack's IAM refused (or, in audit mode, would
have refused), from its denial log."""

from __future__ import annotations

import json

import click
from rich.table import Table

from harness.cli import context
from harness.cli.console import console
from harness.cli.groups import Group
from harness.observe import denials as denials_module


@click.group(cls=Group)
def iam() -> None:
    """IAM in the local stack (HARNESS_IAM=enforce|audit|off)."""


@iam.command("denials")
@click.option("--since", help="Only denials at or after this ISO time (e.g. 2026-12-02T06:00).")
@click.option("--limit", default=50, show_default=True, help="Newest denials to show.")
@click.option("--json", "as_json", is_flag=True, help="Print the records as JSON.")
def denials(since: str | None, limit: int, as_json: bool) -> None:
    """List the denials: time, caller, action, resource, why, and the policies looked at."""
    settings = context.settings()
    path = settings.iam_denials
    records = list(denials_module.read(path, since))
    shown = records[-limit:] if limit > 0 else records
    if as_json:
        click.echo(json.dumps(shown, indent=2, ensure_ascii=False))
        return
    table = Table(
        "time",
        "caller",
        "action",
        "resource",
        "why (and the policies looked at)",
        title=f"IAM denials ({settings.iam}): {len(records)} in {path}",
    )
    for record in shown:
        mode = "" if record.get("enforced", True) else " (audit)"
        table.add_row(
            str(record.get("time", "")) + mode,
            denials_module.who(record),
            f"{record.get('action', '')}\n[dim]{record.get('operation', '')}[/dim]",
            str(record.get("resource", "")),
            f"{denials_module.why(record)}\n[dim]looked at: "
            f"{'; '.join(map(str, record.get('policies') or ['none']))}[/dim]",
        )
    console.print(table)
    if len(shown) < len(records):
        console.print(
            f"[dim]{len(records) - len(shown)} older denial(s) not shown (--limit).[/dim]"
        )
