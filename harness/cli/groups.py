"""The click groups of the command line: commands listed in the order they are added.

`Group` is for the command groups (`harness dlq`, `harness clock`, ...): `--help` lists
the subcommands in the order they are written, so `promote plan` comes before `apply`.
`MainGroup` is the `harness` group itself: its `--help` lists the commands by section,
and a `HarnessError` ends any command with one red line and exit code 2, never a
traceback.
"""

from __future__ import annotations

import sys

import click

from harness.cli.console import console
from harness.util.errors import HarnessError


class Group(click.Group):
    """A click group whose commands are listed in the order they were added."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)


class MainGroup(Group):
    """The `harness` group: commands added by section, errors as one line."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.sections: dict[str, list[str]] = {}

    def add_section(self, title: str, *commands: click.Command) -> None:
        """Add `commands` under the heading `title` of `harness --help`."""
        for command in commands:
            self.add_command(command)
        self.sections.setdefault(title, []).extend(command.name for command in commands)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        shown = {
            name: command
            for name in self.list_commands(ctx)
            if (command := self.get_command(ctx, name)) is not None and not command.hidden
        }
        if not shown:
            return
        width = max(map(len, shown))  # one column of names across all sections
        limit = formatter.width - 6 - width
        listed = {name for names in self.sections.values() for name in names}
        others = [name for name in shown if name not in listed]
        for title, names in [*self.sections.items(), ("Other commands", others)]:
            rows = [
                (name.ljust(width), shown[name].get_short_help_str(limit))
                for name in names
                if name in shown
            ]
            if rows:
                with formatter.section(title):
                    formatter.write_dl(rows)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except HarnessError as exc:
            # One line whatever the width: a log keeps it whole, to grep and to copy.
            console.print(f"[bold red]error:[/bold red] {exc}", soft_wrap=True)
            sys.exit(2)
