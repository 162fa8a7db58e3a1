"""Where LocalStack comes from: embedded on the host, an external endpoint, or Docker.

`HARNESS_BACKEND` picks one. Each backend knows how to bring LocalStack up, say whether
it is healthy, and take down only what it started itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from harness.config import Settings
from harness.runtime import localstack
from harness.runtime.backends import docker as docker_backend
from harness.util.errors import HarnessError

BACKENDS = ("embedded", "external", "docker", "auto")


@dataclass
class BackendState:
    backend: str
    endpoint: str
    started: bool  # False when an already running LocalStack was reused
    seconds: float = 0.0
    pid: int | None = None
    provides_stubs: bool = False  # docker: the stubs run in a container of the backend


def up(settings: Settings, progress: Callable[[str], None] = print) -> BackendState:
    settings = docker_backend.resolve_auto(settings)  # config.load() has done it already
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
        record = docker_backend.start(settings, progress)
        return BackendState(
            "docker",
            record["endpoint"],
            started=not record["reused"],
            seconds=record["seconds"],
            provides_stubs=True,
        )
    raise HarnessError(
        f"HARNESS_BACKEND={settings.backend!r} is unknown; choose one of {', '.join(BACKENDS)}"
    )


def down(settings: Settings) -> bool:
    """Stop what this backend started; an external LocalStack is never touched."""
    settings = docker_backend.resolve_auto(settings)
    if settings.backend == "embedded":
        return localstack.stop(settings)
    if settings.backend == "docker":
        return docker_backend.stop(settings)
    return False


def lambda_stub_endpoints(settings: Settings) -> tuple[str, str]:
    """(Rekognition endpoint, Slack base URL) as the Lambda functions reach the stubs."""
    if settings.backend == "docker":
        return docker_backend.lambda_stub_endpoints()
    return settings.rekognition_endpoint, settings.slack_endpoint


def is_healthy(settings: Settings) -> dict | None:
    return localstack.health(settings.endpoint)
