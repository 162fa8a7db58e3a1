"""The run's time per part of the suite (harness/testing/suite_times.py)."""

from __future__ import annotations

from types import SimpleNamespace

from harness.testing.suite_times import SuiteTimes, part_of


def report(nodeid: str, when: str, duration: float, *markers: str) -> SimpleNamespace:
    keywords = {name: 1 for name in (nodeid.rsplit("::", 1)[-1], *markers)}
    return SimpleNamespace(nodeid=nodeid, when=when, duration=duration, keywords=keywords)


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
    assert [line.split()[-1] for line in lines[1:]] == ["tests/e2e", "faults", "tests/unit"]
