"""Kinds of AWS emulator server the `external` backend can start itself (issue #15).

`HARNESS_BACKEND=external` used to mean only "a LocalStack someone else runs". With
`HARNESS_EXTERNAL_KIND=<kind>` naming one of `KINDS`, the backend owns the server: it
installs the kind's pinned package into a cached venv of its own under the harness
cache (as `harness/runtime/localstack.py` does for LocalStack: an emulator pins its own
boto3 and moto, so it never shares the project's venv), starts it on 127.0.0.1 at
`HARNESS_PORT`, health-checks it the kind's own way, records its PID like every process
the harness starts, and stops exactly that process tree.

A kind is data plus three small functions (`command`, `environment`, `health`), so a
new emulator is one `ServerKind(...)` entry in `KINDS`; the lifecycle (`start`,
`stop`, `running`) is shared and is what the unit test drives with a fake server.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from harness.config import Settings
from harness.runtime import lambda_runtimes
from harness.util import http
from harness.util.errors import HarnessError
from harness.util.files import private_dir
from harness.util.net import require_free
from harness.util.processes import ProcessRecords, peak_rss_mb, start_recorded
from harness.util.venvs import build_venv

START_TIMEOUT_S = 120.0


def http_json(url: str, timeout: float = 2.0) -> dict | None:
    """GET `url` as JSON; None when nothing (or not JSON, or an error status) answers.
    An empty answer is an answer ({}), and one that is not an object is wrapped."""
    found = http.get_json_or_none(url, timeout, empty={})
    return found if found is None or isinstance(found, dict) else {"answer": found}


@dataclass(frozen=True)
class ServerKind:
    """One emulator: where it comes from (a pinned pip requirement) and how it runs."""

    name: str
    version: str
    requirement: str  # what `pip install` gets, pinned exactly
    # argv after the venv's python, given (host, port, data folder)
    command: Callable[[str, int, Path], list[str]]
    # extra environment, given (host, port, data folder)
    environment: Callable[[str, int, Path], dict[str, str]] = field(
        default=lambda host, port, data: {}
    )
    # the health document at the endpoint, None while it does not answer
    health: Callable[[str], dict | None] = field(default=lambda endpoint: http_json(endpoint))
    notes: str = ""  # what the matrix should know about it (e.g. how Lambdas run)
    # the interpreter its venv is built with; a server that runs Python functions with
    # its own interpreter needs the functions' (the zips hold python3.12 wheels)
    interpreter: Callable[[Settings], str] = field(default=lambda settings: sys.executable)

    @property
    def record(self) -> str:
        """The process record name: one server of each kind per state dir."""
        return f"external-{self.name}"

    def venv_dir(self, settings: Settings) -> Path:
        python = Path(self.interpreter(settings)).resolve().name
        return settings.cache_dir / "servers" / f"{self.name}-{self.version}-{python}"

    def ensure_installed(self, settings: Settings, progress: Callable[[str], None]) -> Path:
        """The kind's venv, built once and cached; returns its python."""
        target = self.venv_dir(settings)
        build_venv(
            target,
            self.interpreter(settings),
            [[self.requirement]],
            progress=progress,
            what=f"{self.name} {self.version}",
        )
        return target / "bin" / "python"


def _moto_health(endpoint: str) -> dict | None:
    # moto has no health route; its dashboard data answers as soon as it serves requests.
    found = http_json(endpoint + "/moto-api/data.json")
    return None if found is None else {"kind": "moto", "services": sorted(found)}


def _ministack_health(endpoint: str) -> dict | None:
    # MiniStack answers LocalStack's health route (it aims to be a drop-in for it).
    found = http_json(endpoint + "/_localstack/health")
    return found if found is not None else http_json(endpoint + "/_ministack/health")


def _functions_python(settings: Settings) -> str:
    """MiniStack runs Python functions with its own interpreter (`sys.executable`), so
    its venv is built on the functions' runtime, found as the embedded stack finds it."""
    runtime = settings.lambda_runtimes[0] if settings.lambda_runtimes else "python3.12"
    return lambda_runtimes.find_interpreter(runtime) or sys.executable


MOTO = ServerKind(
    name="moto",
    version="5.2.5",
    requirement="moto[server]==5.2.5",
    command=lambda host, port, data: ["-m", "moto.server", "-H", host, "-p", str(port)],
    environment=lambda host, port, data: {"MOTO_PORT": str(port)},
    health=_moto_health,
    notes="moto server: Lambda invocations need Docker (moto runs functions in containers)",
)

MINISTACK = ServerKind(
    name="ministack",
    version="1.5.33",
    requirement="ministack==1.5.33",
    command=lambda host, port, data: ["-m", "ministack"],
    environment=lambda host, port, data: {
        "GATEWAY_PORT": str(port),
        "BIND_HOST": host,
        "LAMBDA_EXECUTOR": "local",
        "S3_PERSIST": "0",
        "S3_DATA_DIR": str(data / "s3"),
        "STATE_DIR": str(data / "state"),
        "TMPDIR": str(data),
    },
    health=_ministack_health,
    notes="MiniStack: Lambdas as local subprocesses of its own interpreter, no Docker",
    interpreter=_functions_python,
)

KINDS: dict[str, ServerKind] = {kind.name: kind for kind in (MOTO, MINISTACK)}


def kind_of(settings: Settings) -> ServerKind | None:
    """The kind the external backend runs itself, None for a server someone else runs."""
    name = settings.external_kind
    if not name or name == "localstack":
        return None
    if name not in KINDS:
        raise HarnessError(
            f"HARNESS_EXTERNAL_KIND={name!r} is unknown; choose localstack (run by you) "
            f"or one the harness starts: {', '.join(KINDS)}"
        )
    return KINDS[name]


def data_dir(settings: Settings, kind: ServerKind) -> Path:
    return settings.state_dir / kind.record


def running(settings: Settings, kind: ServerKind) -> dict | None:
    """The record of our server of this kind if it still runs."""
    return ProcessRecords(settings.state_dir).get(kind.record)


def start(
    settings: Settings,
    kind: ServerKind,
    progress: Callable[[str], None] = print,
    python: Path | None = None,
) -> dict:
    """Start the server (installing it first) or reuse ours; returns its record with
    `reused` and `seconds` (process start to healthy). `python` overrides the venv's
    interpreter (the unit test's fake server)."""
    records = ProcessRecords(settings.state_dir)
    current = records.get(kind.record)
    if current and kind.health(current["endpoint"]):
        return current | {"reused": True}
    records.stop(kind.record)
    require_free(settings.host, [settings.port], kind.name, "choose another with HARNESS_PORT")
    python = python or kind.ensure_installed(settings, progress)
    private_dir(settings.state_dir)
    data = data_dir(settings, kind)
    data.mkdir(parents=True, exist_ok=True)
    log_path = settings.state_dir / f"{kind.record}.log"
    endpoint = f"http://{settings.host}:{settings.port}"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "LOCALSTACK_", "MOTO_")) and k != "PYTHONPATH"
    }
    env |= kind.environment(settings.host, settings.port, data)
    progress(f"Starting {kind.name} {kind.version} on {endpoint} ...")
    started = time.monotonic()
    command = [str(python), *kind.command(settings.host, settings.port, data)]
    _, record = start_recorded(
        records,
        kind.record,
        command,
        log_path,
        lambda: bool(kind.health(endpoint)),
        what=kind.name,
        timeout=float(os.environ.get("HARNESS_START_TIMEOUT", START_TIMEOUT_S)),
        env=env,
        cwd=data,
        interval=0.1,
        endpoint=endpoint,
        kind=kind.name,
        version=kind.version,
        started_at=time.time(),
    )
    return record | {"reused": False, "seconds": round(time.monotonic() - started, 2)}


def peak_memory_mb(settings: Settings, kind: ServerKind) -> float:
    """Peak resident memory of our server process (0 when it is not running)."""
    record = running(settings, kind)
    return round(peak_rss_mb(record["pid"]), 1) if record else 0.0


def stop(settings: Settings, kind: ServerKind) -> bool:
    """Stop our server of this kind and every process it started; True if one ran."""
    return ProcessRecords(settings.state_dir).stop(kind.record)
