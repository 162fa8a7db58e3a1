"""What every command that drives the local stack starts from.

`settings()` decides `HARNESS_BACKEND=auto` once per command (probing Docker costs a
round trip), so the stack, deploy and pipeline calls below it receive a named backend
and never probe again.
"""

from __future__ import annotations

from harness import config
from harness.config import Settings
from harness.runtime import backends


def settings() -> Settings:
    return backends.resolve(config.load())
