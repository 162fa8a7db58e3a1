"""Where a test run's time went: seconds per part of the suite, printed after the run.

`--durations=15` names the slowest tests; this adds the totals a budget is kept by: per
folder (unit, infra, security, e2e, docker, scenarios) and per marker (`mutations`,
`faults`, `docker`), set-up and teardown included. It adds up each test's own
durations, so with xdist's `-n` the parts overlap and their sum exceeds the wall time.
"""

from __future__ import annotations

from collections import defaultdict

import pytest

MARKERS = ("mutations", "faults", "docker")


def part_of(nodeid: str) -> str:
    """`tests/e2e/test_x.py::t` -> `tests/e2e`; `scenarios/a.yaml::a` -> `scenarios`."""
    path = nodeid.split("::", 1)[0].split("/")
    return "/".join(path[:2]) if path[0] == "tests" and len(path) > 2 else path[0]


class SuiteTimes:
    """A pytest plugin: on the controller (or the one process), each test phase's
    duration added to the test's parts; the totals in the terminal summary."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.tests: dict[str, int] = defaultdict(int)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        names = [part_of(report.nodeid)]
        names += [f"-m {marker}" for marker in MARKERS if marker in report.keywords]
        for name in names:
            self.seconds[name] += report.duration
            self.tests[name] += report.when == "call"

    def pytest_terminal_summary(self, terminalreporter) -> None:
        if not self.seconds:
            return
        terminalreporter.section("time by part of the suite")
        for name, seconds in sorted(self.seconds.items(), key=lambda item: -item[1]):
            terminalreporter.write_line(f"{seconds:>8.1f} s  {self.tests[name]:>5} test(s)  {name}")
