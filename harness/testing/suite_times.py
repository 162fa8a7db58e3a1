"""Where a test run's time went: seconds per part of the suite, printed after the run.

`--durations=15` names the slowest tests; this adds the totals a budget is kept by: per
folder (unit, infra, security, e2e, docker, scenarios) and per marker (`mutations`,
`faults`, `docker`), set-up and teardown included. It adds up each test's own
durations, so with xdist's `-n` the parts overlap and their sum exceeds the wall time.

Under xdist it also prints each worker's total, whose largest is the run's critical
path, and the slowest files: a file (or scenario) is the unit harness/testing/parallel.py
packs onto the stack workers, by the seconds in its `UNIT_SECONDS`, which these figures
keep honest.
"""

from __future__ import annotations

from collections import defaultdict

import pytest

MARKERS = ("mutations", "faults", "docker")
SLOWEST_FILES = 20


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
        self.files: dict[str, float] = defaultdict(float)
        self.workers: dict[str, float] = defaultdict(float)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        names = [part_of(report.nodeid)]
        names += [f"-m {marker}" for marker in MARKERS if marker in report.keywords]
        for name in names:
            self.seconds[name] += report.duration
            self.tests[name] += report.when == "call"
        self.files[report.nodeid.split("::", 1)[0]] += report.duration
        worker = getattr(getattr(report, "node", None), "gateway", None)  # xdist's, if any
        if worker is not None:
            self.workers[worker.id] += report.duration

    def pytest_terminal_summary(self, terminalreporter) -> None:
        if not self.seconds:
            return
        terminalreporter.section("time by part of the suite")
        for name, seconds in sorted(self.seconds.items(), key=lambda item: -item[1]):
            terminalreporter.write_line(f"{seconds:>8.1f} s  {self.tests[name]:>5} test(s)  {name}")
        if self.workers:
            terminalreporter.section("time by worker")
            for worker, seconds in sorted(self.workers.items()):
                terminalreporter.write_line(f"{seconds:>8.1f} s  {worker}")
        terminalreporter.section(f"the {SLOWEST_FILES} slowest files")
        slowest = sorted(self.files.items(), key=lambda item: -item[1])[:SLOWEST_FILES]
        for path, seconds in slowest:
            terminalreporter.write_line(f"{seconds:>8.1f} s  {path}")
