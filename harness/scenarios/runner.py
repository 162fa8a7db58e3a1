"""Run scenarios on a deployed stack and describe each run in the report schema.

One scenario run: reset the stack (see `isolation`; system B too when the scenario
drives it), run the steps in order with a fresh `{scenario}` key part, stop at the
first failed step (the rest are reported as not run), then count what happened to the
scenario's objects and collect the timelines of system A's objects
(`harness.observe.timeline`). `run_all` wraps the scenario results in the run
document that `harness.observe.report` renders (schema in docs/scenarios.md).
"""

from __future__ import annotations

import contextlib
import functools
import time
import traceback
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

from harness.observe import denials
from harness.scenarios import isolation
from harness.scenarios.model import SkipStep, StepFailed
from harness.scenarios.runtime import CATALOG, CatalogOpener, Runtime
from harness.scenarios.schema import Scenario, StepSpec
from harness.systems.catalog.pipeline import CatalogPipeline
from harness.systems.labeling.pipeline import LabelingPipeline

RUN_SCHEMA = 1


class Observer(Protocol):
    """Progress callbacks; the CLI shows them live, pytest ignores them."""

    def scenario_started(self, scenario: Scenario) -> None: ...

    def step_started(self, scenario: Scenario, step: StepSpec) -> None: ...

    def step_finished(self, scenario: Scenario, step: StepSpec, result: dict) -> None: ...

    def scenario_finished(self, scenario: Scenario, result: dict) -> None: ...


class QuietObserver:
    def scenario_started(self, scenario: Scenario) -> None:
        pass

    def step_started(self, scenario: Scenario, step: StepSpec) -> None:
        pass

    def step_finished(self, scenario: Scenario, step: StepSpec, result: dict) -> None:
        pass

    def scenario_finished(self, scenario: Scenario, result: dict) -> None:
        pass


def _step_result(step: StepSpec, status: str, seconds: float, detail: dict, error: str | None):
    return {
        "index": step.index,
        "kind": step.kind,
        "name": step.label,
        "line": step.line,
        "status": status,
        "duration_s": round(seconds, 3),
        "detail": detail,
        "error": error,
    }


def _run_step(step: StepSpec, rt: Runtime) -> dict:
    if step.action.local_only and not rt.local:
        detail = {"reason": f"{step.kind} needs the local stubs; skipped on {rt.target}"}
        return _step_result(step, "skipped", 0.0, detail, None)
    started = time.monotonic()
    try:
        detail = step.action.run(rt)
    except SkipStep as exc:
        return _step_result(step, "skipped", time.monotonic() - started, {"reason": str(exc)}, None)
    except StepFailed as exc:
        return _step_result(step, "failed", time.monotonic() - started, exc.detail, str(exc))
    except Exception as exc:  # a broken stack or a bug: report it on the step, keep going
        detail = {"traceback": traceback.format_exc(limit=6).splitlines()[-12:]}
        error = f"{type(exc).__name__}: {exc}"
        return _step_result(step, "failed", time.monotonic() - started, detail, error)
    return _step_result(step, "passed", time.monotonic() - started, detail, None)


def _final_counts(rt: Runtime) -> dict[str, Any]:
    """What became of the scenario's objects, counted once at the end."""
    pipeline, outputs = rt.labeling, rt.outputs
    keys = rt.objects(None)
    ingest = outputs["ingest_prefix"]
    under = [k.removeprefix(ingest) for k in keys if k.startswith(ingest)]
    results = set(pipeline.keys(outputs["results_prefix"]))
    failures = set(pipeline.keys(outputs["failures_prefix"]))
    wanted = set(keys)
    counts: dict[str, Any] = {
        "objects": len(keys),
        "results": sum(1 for u in under if f"{outputs['results_prefix']}{u}.json" in results),
        "failure_records": sum(
            1 for u in under if f"{outputs['failures_prefix']}{u}.json" in failures
        ),
        "dlq_messages": sum(1 for d in rt.dead_letters() if wanted.intersection(d.objects)),
    }
    if rt.local:
        calls = rt.rekognition_calls()
        counts["rekognition_calls"] = len(calls)
        counts["faults_injected"] = sum(1 for c in calls if c.get("fault") is not None)
        posts = rt.slack_messages(include_failed=True)
        counts["slack_posts_delivered"] = sum(1 for m in posts if not m.get("failed"))
        counts["slack_posts_failed"] = sum(1 for m in posts if m.get("failed"))
        healed_at = rt.counts.get("slack_healed_at")
        if healed_at is not None:
            counts["slack_recovery_s"] = _recovery_seconds(posts, healed_at)
    return counts


def _recovery_seconds(posts: list[dict], healed_at: float) -> float | None:
    """From Slack answering again to the last post it accepted: how long the notices that
    waited during the outage took to arrive (None: nothing was delivered after it)."""
    after = [
        m["received_at"] for m in posts if not m.get("failed") and m["received_at"] >= healed_at
    ]
    return round(max(after) - healed_at, 3) if after else None


def _start_tap(pipeline: LabelingPipeline, notes: list[str]) -> Any:
    """An unfiltered queue on the topic, for the timelines' SNS/SQS hops (test gear)."""
    try:
        from harness.observe.tap import Tap

        return Tap(pipeline).start()
    except Exception as exc:  # timelines get fewer hops; the scenario still runs
        notes.append(f"no topic tap: {type(exc).__name__}: {exc}")
        return None


def _timelines(
    rt: Runtime, tap: Any, denied: list[dict], notes: list[str]
) -> dict[str, list[dict]]:
    keys = rt.system_objects(rt.objects(None))  # timelines follow system A's hops
    if not keys:
        return {}
    try:
        from harness.observe import timeline
    except ImportError as exc:
        notes.append(f"object timelines unavailable: {exc}")
        return {}
    try:
        hops = timeline.collect(rt.labeling, keys, rt.started_at, tap=tap)
    except Exception as exc:  # the report must not hide the scenario's own outcome
        notes.append(f"object timelines failed: {type(exc).__name__}: {exc}")
        return {}
    timeline.add_denials(hops, denied)
    return hops


def _denials(rt: Runtime, notes: list[str]) -> list[dict]:
    """The calls IAM refused (or would have, in audit mode) while the scenario ran: a
    scenario that passes here with a denial in its report would fail on AWS."""
    try:
        path = rt.labeling.settings.iam_denials
        since = denials.iso(rt.started_at)
        return [denials.brief(record) for record in denials.read(path, since=since)]
    except Exception as exc:  # the report must not hide the scenario's own outcome
        notes.append(f"IAM denial log unreadable: {type(exc).__name__}: {exc}")
        return []


def _skipped(scenario: Scenario, reason: str, status: str = "skipped") -> dict:
    steps = [_step_result(s, "skipped", 0.0, {"reason": reason}, None) for s in scenario.steps]
    return _scenario_result(scenario, status, reason, 0.0, steps, {}, {})


def _open_catalog(scenario: Scenario, catalog: CatalogOpener | None) -> CatalogPipeline | None:
    """System B's pipeline if the scenario drives it, else None; raises if it cannot."""
    if CATALOG not in scenario.systems:
        return None
    if catalog is None:
        raise RuntimeError("this run has no catalog pipeline (system B) to drive")
    return catalog()


def _scenario_result(
    scenario: Scenario,
    status: str,
    reason: str | None,
    seconds: float,
    steps: list[dict],
    objects: dict,
    counts: dict,
    **extra: Any,
) -> dict:
    return {
        "name": scenario.name,
        "file": scenario.display_file,
        "description": scenario.description,
        "target": scenario.target,
        "status": status,
        "reason": reason,
        "duration_s": round(seconds, 3),
        "steps": steps,
        "objects": objects,
        "counts": counts,
        **extra,
    }


def skip_reason(scenario: Scenario, target: str) -> str | None:
    """Why the scenario does not run on `target` at all, if so."""
    if scenario.unavailable:
        return scenario.unavailable
    if target == "aws" and scenario.target == "local":
        return "the scenario targets the local stack (it needs the Rekognition stub or Slack sink)"
    return None


def run_scenario(
    scenario: Scenario,
    pipeline: LabelingPipeline,
    target: str = "local",
    observer: Observer | None = None,
    catalog: CatalogOpener | None = None,
) -> dict:
    """Run one scenario; never raises for a scenario failure (the result says it).

    `pipeline` is system A's; `catalog` opens system B's, called only if the scenario
    drives it (opening starts the catalog's database).
    """
    observer = observer or QuietObserver()
    observer.scenario_started(scenario)
    reason = skip_reason(scenario, target)
    if reason is not None:
        result = _skipped(scenario, reason)
        observer.scenario_finished(scenario, result)
        return result
    started = time.monotonic()
    catalog = functools.cache(catalog) if catalog is not None else None
    try:
        catalog_pipeline = _open_catalog(scenario, catalog)
    except Exception as exc:
        result = _skipped(scenario, f"system B (catalog) unavailable: {exc}", status="failed")
        observer.scenario_finished(scenario, result)
        return result
    setup = isolation.prepare(
        pipeline, scenario.needs_quiet_alarm, local=target == "local", catalog=catalog_pipeline
    )
    rt = Runtime(
        labeling=pipeline,
        token=f"{scenario.name}-{uuid.uuid4().hex[:6]}",
        target=target,
        open_catalog=catalog,
    )
    notes: list[str] = []
    tap = _start_tap(pipeline, notes)
    try:
        steps: list[dict] = []
        failed: dict | None = None
        for step in scenario.steps:
            if failed is not None:
                detail = {"reason": f"not run: step {failed['index'] + 1} failed"}
                steps.append(_step_result(step, "skipped", 0.0, detail, None))
                continue
            observer.step_started(scenario, step)
            result = _run_step(step, rt)
            steps.append(result)
            observer.step_finished(scenario, step, result)
            if result["status"] == "failed":
                failed = result
        try:
            notes += rt.close()
        except Exception as exc:  # reported; the next scenario's reset says more if it matters
            notes.append(f"restoring after the scenario failed: {type(exc).__name__}: {exc}")
        try:
            counts = _final_counts(rt) | rt.counts
        except Exception as exc:
            counts = dict(rt.counts)
            notes.append(f"final counts failed: {type(exc).__name__}: {exc}")
        denied = _denials(rt, notes)
        objects = _timelines(rt, tap, denied, notes)
    except BaseException:  # Ctrl-C mid-scenario: undo its stub faults and queue changes
        with contextlib.suppress(Exception):
            rt.close()
        raise
    finally:
        if tap is not None:  # never left subscribed to the topic
            tap.close()
    status, reason = "passed", None
    if failed is not None:
        status = "failed"
        reason = (
            f"{scenario.steps[failed['index']].title} at line {failed['line']}: {failed['error']}"
        )
    result = _scenario_result(
        scenario,
        status,
        reason,
        time.monotonic() - started,
        steps,
        objects,
        counts,
        key_prefix=rt.token,
        started_at=rt.started_at,
        setup=setup,
        iam_denials=denied,
        **({"notes": notes} if notes else {}),
    )
    observer.scenario_finished(scenario, result)
    return result


def new_run(target: str) -> dict:
    return {
        "schema": RUN_SCHEMA,
        "started_at": time.time(),
        "finished_at": None,
        "target": target,
        "scenarios": [],
    }


def run_all(
    scenarios: Iterable[Scenario],
    pipeline: LabelingPipeline,
    target: str = "local",
    observer: Observer | None = None,
    catalog: CatalogOpener | None = None,
) -> dict:
    """Run scenarios in order; system B is opened once, by the first that drives it."""
    run = new_run(target)
    catalog = functools.cache(catalog) if catalog is not None else None
    for scenario in scenarios:
        run["scenarios"].append(run_scenario(scenario, pipeline, target, observer, catalog))
    run["finished_at"] = time.time()
    return run


def write_report(run: dict, out_dir: Path | None = None) -> tuple[Path, Path] | str:
    """Write the JSON and HTML reports (default: a new `reports/<time>/`); returns their
    paths, or why they were not written."""
    try:
        from harness.observe import report
    except ImportError as exc:
        return f"report not written: harness.observe.report is not available ({exc})"
    return report.write(run, out_dir or report.default_dir(run["started_at"]))
