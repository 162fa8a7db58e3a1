"""The `harness` group and the one list of its commands.

Each command group lives in its own module of harness/cli (stack.py has `up`, `down`
and `status`; bench.py has `bench` and `bench resize`; ...) and is added here, under
the heading `harness --help` shows it in. A new command is written in the module of
its group and added to one of these sections.
"""

from __future__ import annotations

import click

from harness.cli import (
    bench,
    catalog,
    demo,
    deploy,
    dlq,
    fixtures,
    iam,
    matrix,
    promote,
    replay,
    scenarios,
    stack,
)
from harness.cli.groups import MainGroup


@click.group(cls=MainGroup)
def main() -> None:
    """Local emulation and test harness for event-driven image pipelines on AWS.

    Runs LocalStack (embedded, no Docker), a Rekognition stub and a Slack webhook
    sink on 127.0.0.1. Settings come from HARNESS_* environment variables; see
    README.md.
    """


main.add_section(
    "Local stack", stack.up, stack.down, stack.status, deploy.deploy, deploy.destroy, iam.iam
)
main.add_section("Try and measure", demo.demo, bench.bench, matrix.matrix)
main.add_section("Scenarios", scenarios.run, scenarios.scenarios, fixtures.fixtures)
main.add_section("Labeling (system A)", dlq.dlq, replay.replay, replay.record)
main.add_section(
    "Catalog (system B)",
    catalog.upload,
    catalog.verify,
    catalog.rejects,
    catalog.admin,
    catalog.clock,
    catalog.db,
)
main.add_section("Real AWS", promote.promote)
