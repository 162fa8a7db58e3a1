"""The run's time per part of the suite (harness/testing/suite_times.py)."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from types import SimpleNamespace

import psutil

from harness.testing import suite_times
from harness.testing.suite_times import SuiteTimes, part_of, tree_cpu_seconds


def report(
    nodeid: str,
    when: str,
    duration: float,
    *markers: str,
    worker: str | None = None,
    start: float | None = None,
) -> SimpleNamespace:
    keywords = {name: 1 for name in (nodeid.rsplit("::", 1)[-1], *markers)}
    made = SimpleNamespace(nodeid=nodeid, when=when, duration=duration, keywords=keywords)
    if start is not None:
        made.start, made.stop = start, start + duration
    if worker is not None:  # xdist's report on the controller names its worker's gateway
        made.node = SimpleNamespace(gateway=SimpleNamespace(id=worker))
    return made


def test_a_test_counts_to_its_folder_and_its_markers_with_every_phase():
    times = SuiteTimes()
    mutation = "tests/e2e/test_iam_mutations.py::test_x[labeler-Read]"
    for when, seconds in (("setup", 2.0), ("call", 10.0), ("teardown", 0.5)):
        times.pytest_runtest_logreport(report(mutation, when, seconds, "mutations", "e2e"))
    times.pytest_runtest_logreport(report("scenarios/burst-200.yaml::burst-200", "call", 30.0))
    times.pytest_runtest_logreport(report("tests/unit/test_a.py::test_b", "call", 0.25))
    assert dict(times.seconds) == {
        "tests/e2e": 12.5,
        "-m mutations": 12.5,
        "scenarios": 30.0,
        "tests/unit": 0.25,
    }
    assert times.tests["-m mutations"] == 1 and times.tests["tests/e2e"] == 1


def test_parts_are_the_folder_under_tests_or_the_top_folder():
    assert part_of("tests/docker/test_compose.py::test_up") == "tests/docker"
    assert part_of("tests/unit/iam/test_actions.py::test_a") == "tests/unit"
    assert part_of("scenarios/nothing-lost.yaml::nothing-lost") == "scenarios"


def test_the_summary_lists_the_parts_longest_first():
    times = SuiteTimes()
    times.pytest_runtest_logreport(report("tests/unit/test_a.py::t", "call", 1.0))
    times.pytest_runtest_logreport(report("tests/e2e/test_a.py::t", "call", 5.0, "faults"))
    lines: list[str] = []
    writer = SimpleNamespace(section=lambda title: lines.append(title), write_line=lines.append)
    times.pytest_terminal_summary(writer)
    assert lines[0] == "time by part of the suite"
    assert [line.split()[-1] for line in lines[1:4]] == ["tests/e2e", "faults", "tests/unit"]
    assert lines[4] == "the 20 slowest files"  # no workers in one process
    assert [line.split()[-1] for line in lines[5:]] == [
        "tests/e2e/test_a.py",
        "tests/unit/test_a.py",
    ]


def test_under_xdist_each_worker_and_the_slowest_files_are_summed():
    times = SuiteTimes()
    times.pytest_runtest_logreport(report("tests/e2e/test_a.py::t1", "setup", 80.0, worker="gw0"))
    times.pytest_runtest_logreport(report("tests/e2e/test_a.py::t1", "call", 20.0, worker="gw0"))
    times.pytest_runtest_logreport(report("tests/e2e/test_a.py::t2", "call", 30.0, worker="gw0"))
    times.pytest_runtest_logreport(report("scenarios/b.yaml::b", "call", 40.0, worker="gw1"))
    assert dict(times.workers) == {"gw0": 130.0, "gw1": 40.0}
    assert dict(times.files) == {"tests/e2e/test_a.py": 130.0, "scenarios/b.yaml": 40.0}
    lines: list[str] = []
    writer = SimpleNamespace(section=lambda title: lines.append(title), write_line=lines.append)
    times.pytest_terminal_summary(writer)
    at = lines.index("time by worker")
    assert [line.split() for line in lines[at + 1 : at + 3]] == [
        ["130.0", "s", "gw0"],
        ["40.0", "s", "gw1"],
    ]


def test_each_workers_span_is_shown_and_every_phase_written(tmp_path):
    times = SuiteTimes(tmp_path / "reports")
    for name, seconds, start in (("t", 20.0, 100), ("u", 5.0, 150)):
        phase = report(f"tests/e2e/a.py::{name}", "call", seconds, worker="gw0", start=start)
        times.pytest_runtest_logreport(phase)
    lines: list[str] = []
    writer = SimpleNamespace(section=lambda title: lines.append(title), write_line=lines.append)
    times.pytest_terminal_summary(writer)
    at = lines.index("time by worker")
    assert " ".join(lines[at + 1].split()) == "25.0 s gw0 (first start to last end: 55.0 s)"
    (written,) = (tmp_path / "reports").glob("suite-times-*.json")
    assert lines[at + 2] == f"every test's phases: {written}"
    times.pytest_terminal_summary(writer)  # a second summary in the same second
    assert len(list((tmp_path / "reports").glob("suite-times-*.json"))) == 2
    found = json.loads(written.read_text())
    assert found["workers"] == {"gw0": 25.0}
    assert [(p["nodeid"], p["worker"], p["start"], p["stop"]) for p in found["phases"]] == [
        ("tests/e2e/a.py::t", "gw0", 100, 120.0),
        ("tests/e2e/a.py::u", "gw0", 150, 155.0),
    ]


def test_one_process_writes_nothing(tmp_path):
    times = SuiteTimes(tmp_path / "reports")
    times.pytest_runtest_logreport(report("tests/unit/test_a.py::t", "call", 1.0, start=1.0))
    times.pytest_terminal_summary(SimpleNamespace(section=print, write_line=print))
    assert not (tmp_path / "reports").exists()


def test_a_phases_file_that_cannot_be_written_costs_only_the_file(tmp_path):
    (tmp_path / "reports").write_text("a file where the folder should be")
    times = SuiteTimes(tmp_path / "reports")
    times.pytest_runtest_logreport(report("tests/e2e/a.py::t", "call", 1.0, worker="gw0", start=1))
    lines: list[str] = []
    writer = SimpleNamespace(section=lambda title: lines.append(title), write_line=lines.append)
    times.pytest_terminal_summary(writer)
    assert any(line.startswith("every test's phases: not written (") for line in lines), lines


def test_a_child_that_ended_keeps_its_cpu_time_in_the_tree():
    me = psutil.Process()
    before = tree_cpu_seconds(me)
    burn = "import time\nend = time.process_time() + 0.4\nwhile time.process_time() < end: pass"
    subprocess.run([sys.executable, "-c", burn], check=True)  # ended and reaped
    assert tree_cpu_seconds(me) - before >= 0.35  # /proc counts in 10 ms ticks


def test_the_meter_puts_each_tests_cpu_on_its_teardown_report(monkeypatch):
    readings = iter([10.0, 12.5, 12.0])  # at start, after a test, a tree that lost a child
    monkeypatch.setattr(suite_times, "tree_cpu_seconds", lambda process: next(readings))
    meter = suite_times.CpuMeter()

    def made(when: str) -> SimpleNamespace:
        result = SimpleNamespace(user_properties=[])
        hook = meter.pytest_runtest_makereport(None, SimpleNamespace(when=when))
        next(hook)
        with contextlib.suppress(StopIteration):
            hook.send(SimpleNamespace(get_result=lambda: result))
        return result

    assert made("setup").user_properties == [] and made("call").user_properties == []
    assert made("teardown").user_properties == [("cpu_seconds", 2.5)]
    assert made("teardown").user_properties == [("cpu_seconds", 0.0)]  # never negative


def test_the_cpu_of_each_test_is_written_and_summed_per_file(tmp_path):
    times = SuiteTimes(tmp_path / "reports")
    for name, cpu in (("t", 3.0), ("u", 1.5)):
        phase = report(f"tests/e2e/a.py::{name}", "teardown", 1.0, worker="gw0", start=1)
        phase.user_properties = [("cpu_seconds", cpu)]
        times.pytest_runtest_logreport(phase)
    times.pytest_runtest_logreport(report("tests/e2e/a.py::t", "call", 2.0, worker="gw0", start=2))
    lines: list[str] = []
    writer = SimpleNamespace(section=lambda title: lines.append(title), write_line=lines.append)
    times.pytest_terminal_summary(writer)
    assert " ".join(lines[-1].split()) == "4.0 s 4.5 CPU s tests/e2e/a.py"
    (written,) = (tmp_path / "reports").glob("suite-times-*.json")
    assert [p.get("cpu") for p in json.loads(written.read_text())["phases"]] == [3.0, 1.5, None]
