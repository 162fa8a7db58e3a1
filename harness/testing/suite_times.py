"""Where a test run's time went: seconds per part of the suite, printed after the run.

`--durations=15` names the slowest tests; this adds the totals a budget is kept by: per
folder (unit, infra, security, e2e, docker, scenarios) and per marker (`mutations`,
`faults`, `docker`), set-up and teardown included. It adds up each test's own
durations, so with xdist's `-n` the parts overlap and their sum exceeds the wall time.

Under xdist it also prints each worker's total, whose largest is the run's critical
path, and the slowest files: a file (or scenario) is the unit harness/testing/parallel.py
packs onto the stack workers, by the seconds in its `UNIT_SECONDS`, which these figures
keep honest. Each worker's line also gives its span, from its first test's start to its
last one's end: what the busy total does not show is the time it waited for work.

And under xdist it writes every test phase (node id, worker, start, stop, seconds) to
`reports/suite-times-<time>.json`, so the next rebalancing of `UNIT_SECONDS` reads
measured figures rather than the 20 names the terminal shows.

Each worker also measures the CPU seconds of its process tree per test (`CpuMeter`:
the worker, the stack it runs, every command a test starts), sent on the teardown
report and written beside the phases as `cpu`. On 2 cores the suite is CPU-bound for
most of its run, so what a unit costs the machine, not only its wall time, says where
time can still be won. Not counted: processes that leave the tree before they end
(a container's, under its shim), and the gap between tests goes to the next one.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import psutil
import pytest

from harness.observe.report import new_path
from harness.util.files import atomic_write_text

MARKERS = ("mutations", "faults", "docker")
SLOWEST_FILES = 20
CPU_PROPERTY = "cpu_seconds"  # the teardown report's user property


def tree_cpu_seconds(process: psutil.Process) -> float:
    """CPU seconds of a process, its ended children and every living descendant: a
    child that ends moves its time into its parent's children times, so the sum only
    grows while the tree keeps its dead (a process reaped outside it is lost)."""
    total = 0.0
    try:
        members = [process, *process.children(recursive=True)]
    except psutil.Error:  # the tree could not be walked: only the process itself
        members = [process]
    for member in members:
        try:
            times = member.cpu_times()
        except psutil.Error:  # ended meanwhile: its parent has its time (or will)
            continue
        total += times.user + times.system + times.children_user + times.children_system
    return total


class CpuMeter:
    """A pytest plugin for a worker: each test's CPU seconds (its process tree's growth
    since the last test ended), as a user property of its teardown report. Measured
    once per test, not per phase: a walk of /proc costs a few milliseconds."""

    def __init__(self) -> None:
        self.process = psutil.Process()
        self.last = tree_cpu_seconds(self.process)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]):
        outcome = yield
        if call.when != "teardown":
            return
        now = tree_cpu_seconds(self.process)
        seconds, self.last = max(0.0, now - self.last), now
        outcome.get_result().user_properties.append((CPU_PROPERTY, round(seconds, 2)))


def part_of(nodeid: str) -> str:
    """`tests/e2e/test_x.py::t` -> `tests/e2e`; `scenarios/a.yaml::a` -> `scenarios`."""
    path = nodeid.split("::", 1)[0].split("/")
    return "/".join(path[:2]) if path[0] == "tests" and len(path) > 2 else path[0]


class SuiteTimes:
    """A pytest plugin: on the controller (or the one process), each test phase's
    duration added to the test's parts; the totals in the terminal summary."""

    def __init__(self, reports: Path | None = None) -> None:
        self.reports = reports  # where the phases go under xdist; None: nowhere
        self.seconds: dict[str, float] = defaultdict(float)
        self.tests: dict[str, int] = defaultdict(int)
        self.files: dict[str, float] = defaultdict(float)
        self.file_cpu: dict[str, float] = defaultdict(float)
        self.workers: dict[str, float] = defaultdict(float)
        self.phases: list[dict] = []

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        names = [part_of(report.nodeid)]
        names += [f"-m {marker}" for marker in MARKERS if marker in report.keywords]
        for name in names:
            self.seconds[name] += report.duration
            self.tests[name] += report.when == "call"
        path = report.nodeid.split("::", 1)[0]
        self.files[path] += report.duration
        cpu = dict(getattr(report, "user_properties", ())).get(CPU_PROPERTY)
        if cpu is not None:
            self.file_cpu[path] += cpu
        worker = getattr(getattr(report, "node", None), "gateway", None)  # xdist's, if any
        if worker is not None:
            self.workers[worker.id] += report.duration
            self.phases.append(
                {
                    "nodeid": report.nodeid,
                    "when": report.when,
                    "worker": worker.id,
                    # pytest >= 8.1 times each phase
                    "start": getattr(report, "start", None),
                    "stop": getattr(report, "stop", None),
                    "seconds": round(report.duration, 3),
                    **({"cpu": cpu} if cpu is not None else {}),
                }
            )

    def pytest_terminal_summary(self, terminalreporter) -> None:
        if not self.seconds:
            return
        terminalreporter.section("time by part of the suite")
        for name, seconds in sorted(self.seconds.items(), key=lambda item: -item[1]):
            terminalreporter.write_line(f"{seconds:>8.1f} s  {self.tests[name]:>5} test(s)  {name}")
        if self.workers:
            terminalreporter.section("time by worker")
            spans = self.spans()
            for worker, seconds in sorted(self.workers.items()):
                first, last = spans.get(worker, (0.0, 0.0))
                span = f"  (first start to last end: {last - first:.1f} s)" if last else ""
                terminalreporter.write_line(f"{seconds:>8.1f} s  {worker}{span}")
            if written := self.write():
                terminalreporter.write_line(written)
        terminalreporter.section(f"the {SLOWEST_FILES} slowest files")
        slowest = sorted(self.files.items(), key=lambda item: -item[1])[:SLOWEST_FILES]
        for path, seconds in slowest:
            cpu = f"  {self.file_cpu[path]:>7.1f} CPU s" if path in self.file_cpu else ""
            terminalreporter.write_line(f"{seconds:>8.1f} s{cpu}  {path}")

    def spans(self) -> dict[str, tuple[float, float]]:
        """Each worker's first start and last end, from the timed phases."""
        spans: dict[str, tuple[float, float]] = {}
        for phase in self.phases:
            start, stop = phase["start"], phase["stop"]
            if start is None:
                continue
            first, last = spans.get(phase["worker"], (start, stop))
            spans[phase["worker"]] = (min(first, start), max(last, stop))
        return spans

    def write(self) -> str | None:
        """Every phase timed under xdist, as JSON in the reports folder: the line that
        says where (or why not: a full disk costs the file, never the run's result)."""
        if self.reports is None or not self.phases:
            return None
        document = json.dumps({"workers": dict(self.workers), "phases": self.phases})
        try:
            self.reports.mkdir(parents=True, exist_ok=True)
            path = new_path(self.reports, "suite-times-", ".json")
            atomic_write_text(path, document, mode=0o644)
        except OSError as error:
            return f"every test's phases: not written ({error})"
        return f"every test's phases: {path}"
