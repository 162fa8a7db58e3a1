"""pytest collection of scenario files: one test item per scenario, named after it.

Registered by the harness pytest plugin. `scenarios/*.yaml` (and `*.scenario.yaml`
anywhere) become items such as `scenarios/happy-path.yaml::happy-path`, so `-k happy`
selects by name and `-m "not load"` by tag. Items use the plugin's session fixtures
(the stack is deployed once); a failure shows the failing step, its line and what it
saw. At the end of the session the run is written as a JSON + HTML report
(`reports/<time>/`, or under `HARNESS_REPORTS_DIR`: see harness/report.py).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.scenarios import runner, schema
from harness.scenarios.source import ScenarioError

RUN_KEY = pytest.StashKey[dict]()
REPORT_KEY = pytest.StashKey[Any]()
DETAIL_LINES = 60


class ScenarioFailure(AssertionError):
    """The scenario's result, carried to `repr_failure`."""

    def __init__(self, result: dict) -> None:
        super().__init__(result["reason"])
        self.result = result


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "scenario: a declarative scenario (scenarios/*.yaml)")
    config.stash[RUN_KEY] = runner.new_run("local")


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if schema.is_scenario_file(file_path):
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


class ScenarioFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        try:
            scenario = schema.load(self.path)
        except ScenarioError as exc:
            raise self.CollectError(f"invalid scenario: {exc}") from exc
        item = ScenarioItem.from_parent(
            self, name=scenario.name, callobj=_test_function(scenario), scenario=scenario
        )
        item.add_marker(pytest.mark.scenario)
        item.add_marker(pytest.mark.e2e)
        for tag in scenario.tags:
            self.config.addinivalue_line("markers", f"{tag}: scenarios tagged {tag}")
            item.add_marker(getattr(pytest.mark, tag))
        yield item


def _test_function(scenario: schema.Scenario):
    """A plain function so pytest injects the plugin's session fixtures into it."""

    def run_scenario(request: pytest.FixtureRequest, local_deployment: dict, harness_settings):
        from harness.systems.labeling.pipeline import LabelingPipeline

        pipeline = LabelingPipeline(harness_settings, local_deployment)
        # System B's session fixture (its database), requested only by scenarios driving it.
        result = runner.run_scenario(
            scenario,
            pipeline,
            target="local",
            catalog=lambda: request.getfixturevalue("catalog_pipeline"),
        )
        request.config.stash[RUN_KEY]["scenarios"].append(result)
        if result["status"] == "skipped":
            pytest.skip(result["reason"])
        if result["status"] == "failed":
            raise ScenarioFailure(result)

    return run_scenario


class ScenarioItem(pytest.Function):
    def __init__(self, *args: Any, scenario: schema.Scenario, **kwargs: Any) -> None:
        self.scenario = scenario
        super().__init__(*args, **kwargs)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"scenario: {self.scenario.name}"

    def repr_failure(self, excinfo, style=None):  # type: ignore[override]
        if isinstance(excinfo.value, ScenarioFailure):
            return describe_failure(excinfo.value.result)
        return super().repr_failure(excinfo, style=style)


def describe_failure(result: dict) -> str:
    """The failing step with what it saw, then the list of steps: what a reader needs."""
    lines = [
        f"scenario {result['name']} ({result['file']}) failed after {result['duration_s']:.1f} s",
        f"  {result['reason']}",
    ]
    failed = next((s for s in result["steps"] if s["status"] == "failed"), None)
    if failed is not None and failed["detail"]:
        detail = json.dumps(failed["detail"], indent=2, ensure_ascii=False, default=str)
        detail_lines = detail.splitlines()
        if len(detail_lines) > DETAIL_LINES:
            more = len(detail_lines) - DETAIL_LINES
            detail_lines = [*detail_lines[:DETAIL_LINES], f"... ({more} more lines in the report)"]
        lines += ["  what it saw:", *(f"    {line}" for line in detail_lines)]
    lines.append("  steps:")
    for step in result["steps"]:
        label = f" {step['name']}" if step.get("name") else ""
        lines.append(
            f"    {step['index'] + 1:>2}. {step['kind']:<14} {step['status']:<8}"
            f"{step['duration_s']:>7.1f} s  line {step['line']}{label}"
        )
    return "\n".join(lines)


def pytest_sessionfinish(session: pytest.Session) -> None:
    run = session.config.stash.get(RUN_KEY, None)
    if not run or not run["scenarios"]:
        return
    run["finished_at"] = time.time()
    try:
        session.config.stash[REPORT_KEY] = runner.write_report(run)
    except Exception as exc:  # a report failure must not hide the test results
        session.config.stash[REPORT_KEY] = f"report not written: {type(exc).__name__}: {exc}"


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    run = config.stash.get(RUN_KEY, None)
    if not run or not run["scenarios"]:
        return
    terminalreporter.section("scenarios")
    total = 0.0
    for result in run["scenarios"]:
        total += result["duration_s"]
        terminalreporter.write_line(
            f"{result['status']:<8}{result['duration_s']:>7.1f} s  {result['name']}"
        )
    terminalreporter.write_line(f"{len(run['scenarios'])} scenario(s) in {total:.1f} s")
    written = config.stash.get(REPORT_KEY, None)
    if isinstance(written, tuple):
        terminalreporter.write_line(f"report: {written[0]}  {written[1]}")
    elif written:
        terminalreporter.write_line(str(written))
