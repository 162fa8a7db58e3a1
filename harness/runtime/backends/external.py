"""`HARNESS_BACKEND=external`: a LocalStack someone else runs, at `HARNESS_ENDPOINT`.

The harness only checks that it answers; it never starts or stops it.
"""

from __future__ import annotations

from collections.abc import Callable

from harness.config import Settings
from harness.runtime import localstack
from harness.runtime.backends.base import BackendState
from harness.util.errors import HarnessError


class ExternalBackend:
    name = "external"

    def available(self) -> bool:
        return True

    def up(self, settings: Settings, progress: Callable[[str], None]) -> BackendState:
        if not self.health(settings):
            raise HarnessError(
                f"HARNESS_BACKEND=external but nothing answers at {settings.endpoint}"
                f"{localstack.HEALTH_PATH}; start LocalStack there or set HARNESS_ENDPOINT"
            )
        return BackendState(self.name, settings.endpoint, started=False)

    def health(self, settings: Settings) -> dict | None:
        return localstack.health(settings.endpoint)

    def down(self, settings: Settings) -> bool:
        return False  # not ours to stop

    def lambda_stub_endpoints(self, settings: Settings) -> tuple[str, str]:
        return settings.rekognition_endpoint, settings.slack_endpoint

    def identity(self, settings: Settings) -> str:
        return f"{self.name}:{settings.endpoint}"
