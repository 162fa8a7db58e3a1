"""Polling until a condition holds: the one wait every driver, test and command shares.

AWS (and LocalStack) is eventually consistent, so callers poll instead of sleeping a
fixed time; a timeout says what was last seen, which is what a failing test needs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


class WaitTimeout(AssertionError):
    """A condition was not met in time; the message says what was last seen."""


def wait_for(
    check: Callable[[], Any], timeout: float = 30.0, what: str = "condition", interval: float = 0.1
) -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise WaitTimeout(f"{what}: not met in {timeout:.0f} s (last seen: {last!r})")
