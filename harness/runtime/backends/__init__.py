"""Where LocalStack comes from: embedded on the host, an external endpoint, or Docker.

`HARNESS_BACKEND` names one of `BACKENDS`, objects behind the `Backend` protocol: each
knows how to bring LocalStack up, say whether it is healthy, take down only what it
started itself, and where the functions find the stubs. `auto` is not a backend: it
is resolved here, once, to the first of `AUTO_CHOICES` that can run (`docker` when a
Docker daemon answers, else `embedded`); `resolve()` is the only place that does it.

To add a backend: write a class with the `Backend` methods in a module of this folder
and put an instance in `BACKENDS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from harness.config import Settings
from harness.runtime.backends.base import Backend, BackendState
from harness.runtime.backends.docker import DockerBackend
from harness.runtime.backends.embedded import EmbeddedBackend
from harness.runtime.backends.external import ExternalBackend
from harness.util.errors import HarnessError

__all__ = [
    "AUTO",
    "AUTO_CHOICES",
    "BACKENDS",
    "Backend",
    "BackendState",
    "down",
    "functions_python",
    "get",
    "lambda_stub_endpoints",
    "resolve",
    "up",
]

BACKENDS: dict[str, Backend] = {
    backend.name: backend for backend in (EmbeddedBackend(), ExternalBackend(), DockerBackend())
}
AUTO = "auto"
AUTO_CHOICES = ("docker", "embedded")  # in order of preference


def resolve(settings: Settings, available: Callable[[Backend], bool] | None = None) -> Settings:
    """`settings` naming a registered backend: `auto` becomes the first of
    `AUTO_CHOICES` that is `available` here. An unknown name is a clear error."""
    name = settings.backend
    if name == AUTO:
        can_run = available or (lambda backend: backend.available())
        name = next(choice for choice in AUTO_CHOICES if can_run(BACKENDS[choice]))
    if name not in BACKENDS:
        raise HarnessError(
            f"HARNESS_BACKEND={settings.backend!r} is unknown; "
            f"choose one of {', '.join([*BACKENDS, AUTO])}"
        )
    return settings if name == settings.backend else replace(settings, backend=name)


def get(settings: Settings) -> Backend:
    """The backend object of `settings` (resolved first, if it still says `auto`)."""
    return BACKENDS[resolve(settings).backend]


def up(settings: Settings, progress: Callable[[str], None] = print) -> BackendState:
    settings = resolve(settings)
    return BACKENDS[settings.backend].up(settings, progress)


def down(settings: Settings) -> bool:
    """Stop what this backend started; an external LocalStack is never touched."""
    settings = resolve(settings)
    return BACKENDS[settings.backend].down(settings)


def lambda_stub_endpoints(settings: Settings) -> tuple[str, str]:
    """(Rekognition endpoint, Slack base URL) as the Lambda functions reach the stubs."""
    settings = resolve(settings)
    return BACKENDS[settings.backend].lambda_stub_endpoints(settings)


def functions_python(settings: Settings) -> str:
    """The Python version (`3.X`) that runs the functions on the configured backend."""
    return BACKENDS[settings.backend].functions_python(settings)
