"""wait_for: the default pause grows with the wait (fewer calls to the emulator in the
long waits for timers), a caller's interval is kept, and a timeout says what was seen."""

from __future__ import annotations

import pytest

from harness.util import waiting
from harness.util.waiting import WaitTimeout, wait_for


def test_the_default_pause_starts_short_and_grows_to_a_second():
    assert [waiting.pause(s) for s in (0, 0.5, 1, 5, 10, 72)] == [0.1, 0.1, 0.1, 0.5, 1.0, 1.0]


class Clock:
    """time.monotonic and time.sleep stood in for: sleeping advances the clock."""

    def __init__(self) -> None:
        self.now = 0.0
        self.pauses: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self.now += seconds


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(waiting.time, "monotonic", clock.monotonic)
    monkeypatch.setattr(waiting.time, "sleep", clock.sleep)
    return clock


def test_a_72_s_wait_checks_98_times_not_720(clock):
    checks = []

    def check() -> bool:
        checks.append(clock.now)
        return clock.now >= 72

    assert wait_for(check, timeout=120)
    assert len(checks) == 98, len(checks)
    assert checks[-1] - 72 <= 1.0  # seen at most a second after it held


def test_an_interval_given_is_kept_and_a_timeout_says_what_was_seen(clock):
    with pytest.raises(WaitTimeout, match=r"the thing: not met in 3 s \(last seen: 0\)"):
        wait_for(lambda: 0, timeout=3, what="the thing", interval=0.5)
    assert set(clock.pauses) == {0.5} and len(clock.pauses) == 6
