"""Where LocalStack comes from: embedded on the host, an external endpoint, or Docker.

`HARNESS_BACKEND` picks one. Each backend knows how to bring LocalStack up, say whether
it is healthy, and take down only what it started itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from harness import localstack
from harness.config import Settings
from harness.errors import HarnessError

BACKENDS = ("embedded", "external", "docker")


@dataclass
class BackendState:
    backend: str
    endpoint: str
    started: bool  # False when an already running LocalStack was reused
    seconds: float = 0.0
    pid: int | None = None


def up(settings: Settings, progress: Callable[[str], None] = print) -> BackendState:
    if settings.backend == "embedded":
        record = localstack.start(settings, progress)
        return BackendState(
            "embedded",
            record["endpoint"],
            started=not record["reused"],
            seconds=record.get("seconds", 0.0),
            pid=record["pid"],
        )
    if settings.backend == "external":
        if not localstack.health(settings.endpoint):
            raise HarnessError(
                f"HARNESS_BACKEND=external but nothing answers at {settings.endpoint}"
                f"{localstack.HEALTH_PATH}; start LocalStack there or set HARNESS_ENDPOINT"
            )
        return BackendState("external", settings.endpoint, started=False)
    if settings.backend == "docker":
        raise HarnessError(
            "HARNESS_BACKEND=docker is not available yet; use embedded (the default) or external"
        )
    raise HarnessError(
        f"HARNESS_BACKEND={settings.backend!r} is unknown; choose one of {', '.join(BACKENDS)}"
    )


def down(settings: Settings) -> bool:
    """Stop what this backend started; an external LocalStack is never touched."""
    if settings.backend == "embedded":
        return localstack.stop(settings)
    return False


def is_healthy(settings: Settings) -> dict | None:
    return localstack.health(settings.endpoint)
