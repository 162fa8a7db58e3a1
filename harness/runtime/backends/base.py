"""What every backend is: the `Backend` protocol and what `up` reports.

Kept apart from the package's `__init__` so that the backend modules can name these
without importing the registry that imports them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from harness.config import Settings


@dataclass
class BackendState:
    backend: str
    endpoint: str
    started: bool  # False when an already running LocalStack was reused
    seconds: float = 0.0
    pid: int | None = None
    provides_stubs: bool = False  # docker: the stubs run in a container of the backend

    @classmethod
    def of_record(cls, backend: str, record: dict) -> BackendState:
        """The state of a server the harness runs, from its process record (as returned
        by the start functions: `reused`, and `seconds` when it was started now)."""
        return cls(
            backend,
            record["endpoint"],
            started=not record["reused"],
            seconds=record.get("seconds", 0.0),
            pid=record["pid"],
        )


class Backend(Protocol):
    """Where LocalStack comes from, and everything that differs between the places."""

    name: str  # the value of HARNESS_BACKEND that picks it

    def available(self) -> bool:
        """Whether it can run here; `auto` takes the first available of its choices."""
        ...

    def up(self, settings: Settings, progress: Callable[[str], None]) -> BackendState:
        """Start LocalStack (the stubs too, if this backend provides them), or reuse it."""
        ...

    def health(self, settings: Settings) -> dict | None:
        """LocalStack's health document, None when it does not answer."""
        ...

    def down(self, settings: Settings) -> bool:
        """Stop what this backend started, nothing else; True if something was stopped."""
        ...

    def lambda_stub_endpoints(self, settings: Settings) -> tuple[str, str]:
        """(Rekognition endpoint, Slack base URL) as the Lambda functions reach the stubs."""
        ...

    def identity(self, settings: Settings) -> str:
        """Which LocalStack instance answers: a new one holds no deployment."""
        ...

    def functions_python(self, settings: Settings) -> str:
        """The Python version (`3.X`) the functions' zips are built for: the one that
        runs them, since a compiled dependency (Pillow) imports under that one only."""
        ...
