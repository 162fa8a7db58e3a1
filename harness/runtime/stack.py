"""The local stack as one thing: LocalStack (from a backend) plus the two stubs.

`up` is idempotent: what already runs is reused, so `harness up`, the pytest plugin
and the demo can be run in any order and share one stack. `owned` makes the reuse safe
to end: a session stops only the parts it started, so a stack from `harness up` (or a
MariaDB that was running) survives `make demo` and `make test`.
"""

from __future__ import annotations

import contextlib
import sys
import time
import urllib.request
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field

from harness.config import Settings
from harness.runtime import backends, database_gate, localstack, mariadb
from harness.util.errors import HarnessError
from harness.util.files import private_dir
from harness.util.net import require_free
from harness.util.processes import ProcessRecords, start_recorded

STUBS = "stubs"
LOCALSTACK = "localstack"
MARIADB = mariadb.RECORD
DATABASE_GATE = database_gate.RECORD  # in front of a HARNESS_DATABASE_URL server
PARTS = (STUBS, LOCALSTACK, DATABASE_GATE, MARIADB)  # the order `down` stops them in
STUBS_START_S = 15


@dataclass
class StackState:
    endpoint: str
    backend: str
    started_localstack: bool
    started_stubs: bool
    seconds: float
    stub_urls: dict[str, str] = field(default_factory=dict)

    @property
    def started_parts(self) -> tuple[str, ...]:
        """What this `up` started (the rest was reused): what its caller may stop."""
        return tuple(
            part
            for part, started in (
                (STUBS, self.started_stubs),
                (LOCALSTACK, self.started_localstack),
            )
            if started
        )


def _stubs_healthy(settings: Settings) -> bool:
    for base in (settings.rekognition_endpoint, settings.slack_endpoint):
        try:
            with urllib.request.urlopen(base + "/_stub/health", timeout=1) as response:
                if response.status != 200:
                    return False
        except OSError:
            return False
    return True


def start_stubs(settings: Settings) -> bool:
    """Start the Rekognition stub and Slack sink unless ours already run; True if started."""
    if settings.stubs_endpoint_host != settings.host:  # they run elsewhere (compose)
        if not _stubs_healthy(settings):
            raise HarnessError(
                f"the stubs do not answer at {settings.rekognition_endpoint} and "
                f"{settings.slack_endpoint} (HARNESS_STUBS_ENDPOINT_HOST)"
            )
        return False
    records = ProcessRecords(settings.state_dir)
    running = records.get(STUBS)
    # The Rekognition stub asks LocalStack's IAM only when IAM runs there: stubs started
    # for another HARNESS_IAM are replaced (with `off`, LocalStack has no such route).
    if running and running.get("iam", "enforce") == settings.iam and _stubs_healthy(settings):
        return False
    records.stop(STUBS)
    require_free(
        settings.host,
        [settings.rekognition_port, settings.slack_port],
        "the stubs",
        "set HARNESS_REKOGNITION_PORT / HARNESS_SLACK_PORT",
    )
    log_path = private_dir(settings.state_dir) / "stubs.log"
    command = [
        sys.executable,
        "-m",
        "harness.stubs",
        "--rekognition-port",
        str(settings.rekognition_port),
        "--slack-port",
        str(settings.slack_port),
        "--s3-endpoint",
        settings.endpoint,
        "--iam-endpoint",
        "" if settings.iam == "off" else settings.endpoint,
    ]
    start_recorded(
        records,
        STUBS,
        command,
        log_path,
        lambda: _stubs_healthy(settings),
        what="the stubs",
        timeout=STUBS_START_S,
        iam=settings.iam,
    )
    return True


def up(settings: Settings, progress: Callable[[str], None] = print) -> StackState:
    started = time.monotonic()
    settings = backends.resolve(settings)
    backend = backends.get(settings)
    localstack = backend.up(settings, progress)
    try:
        started_stubs = False if localstack.provides_stubs else start_stubs(settings)
    except BaseException:
        if localstack.started:
            backend.down(settings)
        raise
    return StackState(
        endpoint=localstack.endpoint,
        backend=localstack.backend,
        started_localstack=localstack.started,
        started_stubs=started_stubs,
        seconds=round(time.monotonic() - started, 2),
        stub_urls={
            "rekognition": settings.rekognition_endpoint,
            "slack": settings.slack_endpoint,
        },
    )


def down(settings: Settings, parts: Collection[str] = PARTS) -> list[str]:
    """Stop the named parts (all by default) if the harness started them; returns what
    was stopped."""
    settings = backends.resolve(settings)
    stop = {
        STUBS: lambda: ProcessRecords(settings.state_dir).stop(STUBS),
        LOCALSTACK: lambda: backends.get(settings).down(settings),
        DATABASE_GATE: lambda: database_gate.stop(settings),
        MARIADB: lambda: mariadb.stop(settings),  # system B's database
    }
    return [part for part in PARTS if part in parts and stop[part]()]


def running(settings: Settings) -> frozenset[str]:
    """The parts that run now: LocalStack answering (or recorded, still starting), the
    stubs, the database gate or MariaDB recorded."""
    settings = backends.resolve(settings)
    records = ProcessRecords(settings.state_dir)
    found = {part for part in (STUBS, DATABASE_GATE, MARIADB) if records.get(part) is not None}
    if records.get(localstack.RECORD) or backends.get(settings).health(settings) is not None:
        found.add(LOCALSTACK)
    return frozenset(found)


@contextlib.contextmanager
def owned(settings: Settings, keep: bool = False) -> Iterator[list[str]]:
    """Stop at the end of the block what started inside it, also on Ctrl-C or an error;
    what ran before the block keeps running. The yielded list receives what was stopped.
    """
    before = running(settings)
    stopped: list[str] = []
    try:
        yield stopped
    finally:
        if not keep:
            stopped.extend(down(settings, running(settings) - before))


def status(settings: Settings) -> dict:
    """What runs: LocalStack's health, the stubs, the recorded processes (a damaged record
    says so in `corrupt`)."""
    settings = backends.resolve(settings)
    records = ProcessRecords(settings.state_dir)
    health = backends.get(settings).health(settings)
    return {
        "backend": settings.backend,
        "endpoint": settings.endpoint,
        "localstack": {
            "healthy": bool(health),
            "version": (health or {}).get("version"),
            "services": (health or {}).get("services", {}),
        },
        "stubs": {"healthy": _stubs_healthy(settings)},
        "processes": [
            {"name": r["name"], "pid": r["pid"]}
            | ({"corrupt": r["corrupt"]} if "corrupt" in r else {})
            for r in records.all()
        ],
    }
