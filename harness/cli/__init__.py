"""The `harness` command line: `main` is the click group (the console script's entry).

Layout: app.py holds the group and the one list of its commands, one module per command
group holds the commands (stack, deploy, dlq, demo, bench, catalog, fixtures, promote,
replay, scenarios), console.py the console on stderr and the progress helpers, and
groups.py the click group classes.
"""

from harness.cli.app import main

__all__ = ["main"]
