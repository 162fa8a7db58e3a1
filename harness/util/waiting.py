"""Polling until a condition holds: the one wait every driver, test and command shares.

AWS (and LocalStack) is eventually consistent, so callers poll instead of sleeping a
fixed time; a timeout says what was last seen, which is what a failing test needs.

Most checks are calls to the emulator, and the longest waits are for timers (a
message's visibility, an alarm's periods): a 72 s wait for a DLQ checked every 0.1 s
made 720 calls, each costing CPU on both sides of a 2-core machine that the other
tests needed. So by default the pause between checks grows with the time already
waited: 0.1 s at first, then a tenth of the wait so far, at most 1 s (98 checks
in those 72 s). A condition is thus seen at most 10 % (or 1 s) after it holds. A caller
that needs a fixed pace (a check with side effects, a measured latency) passes
`interval`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

FIRST_PAUSE_S = 0.1
GROWTH = 0.1  # the pause, as a share of the time waited so far
LONGEST_PAUSE_S = 1.0


class WaitTimeout(AssertionError):
    """A condition was not met in time; the message says what was last seen."""


def pause(waited: float) -> float:
    """The default pause before the next check, `waited` seconds into a wait."""
    return min(LONGEST_PAUSE_S, max(FIRST_PAUSE_S, waited * GROWTH))


def wait_for(
    check: Callable[[], Any],
    timeout: float = 30.0,
    what: str = "condition",
    interval: float | None = None,
) -> Any:
    started = time.monotonic()
    deadline = started + timeout
    last = None
    while (now := time.monotonic()) < deadline:
        last = check()
        if last:
            return last
        time.sleep(pause(now - started) if interval is None else interval)
    raise WaitTimeout(f"{what}: not met in {timeout:.0f} s (last seen: {last!r})")
