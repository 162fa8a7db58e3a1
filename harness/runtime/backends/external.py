"""`HARNESS_BACKEND=external`: a LocalStack someone else runs, at `HARNESS_ENDPOINT`,
or another emulator the harness runs itself (`HARNESS_EXTERNAL_KIND`, see `server_kinds`).

A server someone else runs is only checked to answer; it is never started or stopped.
A server of a kind in `server_kinds.KINDS` is installed, started, health-checked and
stopped by the harness, its own way (the emulator matrix, issue #15, runs them so).
"""

from __future__ import annotations

from collections.abc import Callable

from harness.config import Settings
from harness.runtime import lambda_runtimes, localstack
from harness.runtime.backends import server_kinds
from harness.runtime.backends.base import BackendState
from harness.util.errors import HarnessError


class ExternalBackend:
    name = "external"

    def available(self) -> bool:
        return True

    def up(self, settings: Settings, progress: Callable[[str], None]) -> BackendState:
        kind = server_kinds.kind_of(settings)
        if kind is not None:
            record = server_kinds.start(settings, kind, progress)
            return BackendState.of_record(self.name, record)
        if not self.health(settings):
            raise HarnessError(
                f"HARNESS_BACKEND=external but nothing answers at {settings.endpoint}"
                f"{localstack.HEALTH_PATH}; start LocalStack there or set HARNESS_ENDPOINT"
            )
        return BackendState(self.name, settings.endpoint, started=False)

    def health(self, settings: Settings) -> dict | None:
        kind = server_kinds.kind_of(settings)
        return kind.health(settings.endpoint) if kind else localstack.health(settings.endpoint)

    def down(self, settings: Settings) -> bool:
        kind = server_kinds.kind_of(settings)
        return server_kinds.stop(settings, kind) if kind else False  # not ours otherwise

    def lambda_stub_endpoints(self, settings: Settings) -> tuple[str, str]:
        return settings.rekognition_endpoint, settings.slack_endpoint

    def functions_python(self, settings: Settings) -> str:
        # A server on this machine runs them with a local interpreter; for one elsewhere
        # (compose's LocalStack: 3.11), HARNESS_LAMBDA_BUILD_PYTHON says which.
        return lambda_runtimes.build_python(settings)

    def identity(self, settings: Settings) -> str:
        kind = server_kinds.kind_of(settings)
        record = server_kinds.running(settings, kind) if kind else None
        if record is None:
            return f"{self.name}:{settings.endpoint}"
        return f"{self.name}:{kind.name}:{record['pid']}:{record['create_time']}"
