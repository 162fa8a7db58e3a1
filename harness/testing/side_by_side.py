"""A second stack beside the configured one, sharing nothing with it.

Fault tests, cleanup tests and the parallel workers each run a stack of their own next
to the session's: its own ports, state dir (process records, Terraform state, database
files) and resource name prefix. The HARNESS_* variables below are all it takes, so a
child `harness` command or pytest session given this environment never touches the
session's stack, and `harness down` with it stops only its own processes.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from harness.build import snapshots
from harness.util.net import free_ports

# A `harness` command in a child process, with the interpreter running the tests.
HARNESS_COMMAND = [sys.executable, "-m", "harness.cli"]

# How long a command may take to stop everything after Ctrl-C (issue 14's bound).
TEARDOWN_LIMIT_S = 15

# The variables that name a stack's ports, in the order of `stack_environment`'s ports.
PORT_VARIABLES = (
    "HARNESS_PORT",
    "HARNESS_REKOGNITION_PORT",
    "HARNESS_SLACK_PORT",
    "HARNESS_DB_PORT",
    "HARNESS_ADMIN_PORT",
)


def stack_environment(state_dir: Path, prefix: str, ports: tuple[int, ...]) -> dict[str, str]:
    """The HARNESS_* variables of a stack in `state_dir` on `ports` (PORT_VARIABLES)."""
    if len(ports) != len(PORT_VARIABLES):
        raise ValueError(f"{len(PORT_VARIABLES)} ports are needed, got {len(ports)}")
    return {
        "HARNESS_STATE_DIR": str(state_dir),
        "HARNESS_NAME_PREFIX": prefix,
        **{name: str(port) for name, port in zip(PORT_VARIABLES, ports, strict=True)},
    }


def side_by_side_environment(state_dir: Path, prefix: str = "side") -> dict[str, str]:
    """This process's environment for a stack on free ports in `state_dir`, with plain
    output (no colour, wide lines) for tests that read what the commands print. Its
    deployment is not saved: its free ports make a key that never comes back, and its
    saves would push out those of the stacks that do (harness/build/snapshots.py)."""
    ports = tuple(free_ports(len(PORT_VARIABLES)))
    return (
        dict(os.environ)
        | stack_environment(state_dir, prefix, ports)
        | {"NO_COLOR": "1", "COLUMNS": "200", snapshots.ENABLED_ENV: "0"}
    )


def harness_down(env: dict[str, str], timeout: float = 300) -> str:
    """`harness down` for the stack `env` names; what it said (stdout and stderr)."""
    done = subprocess.run(
        [*HARNESS_COMMAND, "down"],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return done.stdout + done.stderr
