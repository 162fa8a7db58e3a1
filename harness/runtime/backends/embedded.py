"""`HARNESS_BACKEND=embedded` (the default): LocalStack in a venv of its own, on the host.

The harness installs, starts, records and stops it (`harness/runtime/localstack.py`);
the functions run as local processes and reach the stubs on the host's loopback.
"""

from __future__ import annotations

from collections.abc import Callable

from harness.config import Settings
from harness.runtime import lambda_runtimes, localstack
from harness.runtime.backends.base import BackendState
from harness.util.processes import ProcessRecords


class EmbeddedBackend:
    name = "embedded"

    def available(self) -> bool:
        return True  # it installs what it needs

    def up(self, settings: Settings, progress: Callable[[str], None]) -> BackendState:
        record = localstack.start(settings, progress)
        return BackendState.of_record(self.name, record)

    def health(self, settings: Settings) -> dict | None:
        return localstack.health(settings.endpoint)

    def down(self, settings: Settings) -> bool:
        return localstack.stop(settings)

    def lambda_stub_endpoints(self, settings: Settings) -> tuple[str, str]:
        return settings.rekognition_endpoint, settings.slack_endpoint

    def functions_python(self, settings: Settings) -> str:
        return lambda_runtimes.build_python(settings)  # the host's interpreter for it

    def identity(self, settings: Settings) -> str:
        record = ProcessRecords(settings.state_dir).get(localstack.RECORD)
        if record is None:
            return f"{self.name}:{settings.endpoint}"
        return f"{self.name}:{record['pid']}:{record['create_time']}"
