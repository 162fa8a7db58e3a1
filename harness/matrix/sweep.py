"""One matrix run: each emulator in turn, started, deployed, probed, measured, stopped.

Every backend runs the same way, through the harness's normal path: `stack.up` (the
backend's server plus the stubs, on free ports, in a state dir of its own), then
`deploy.deploy` of `infra/envs/local` (Terraform through tflocal), then the behaviour
probes (`probes.py`) and the chosen scenarios, then `stack.down`. A server that does
not start or a Terraform apply that fails is a result of the matrix (with the error's
tail), never the end of the run: the next backend still runs.
"""

from __future__ import annotations

import contextlib
import os
import platform
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from harness.build import deploy
from harness.config import Settings
from harness.matrix import probes
from harness.matrix.table import SCHEMA
from harness.runtime import localstack, stack
from harness.runtime.backends import server_kinds
from harness.systems.labeling.pipeline import LabelingPipeline
from harness.util.net import free_ports
from harness.util.processes import ProcessRecords, peak_rss_mb

SCENARIO_TIMEOUT_S = 240.0
ERROR_TAIL_LINES = 25


@dataclass(frozen=True)
class Emulator:
    """A column of the matrix: which backend (and server kind) and how it is called."""

    name: str  # also the resource-name prefix's tail, letters only
    label: str
    backend: str
    kind: str | None = None  # server kind of the external backend

    def version(self, settings: Settings) -> str:
        if self.kind:
            return server_kinds.KINDS[self.kind].version
        return settings.localstack_version

    def record(self) -> str:
        """The process record of the server, for its peak memory."""
        return server_kinds.KINDS[self.kind].record if self.kind else localstack.RECORD


EMULATORS: dict[str, Emulator] = {
    e.name: e
    for e in (
        Emulator("embedded", "LocalStack (embedded, ours)", "embedded"),
        Emulator("ministack", "MiniStack", "external", "ministack"),
        Emulator("moto", "moto server", "external", "moto"),
    )
}


@contextlib.contextmanager
def state_dir(path: Path) -> Iterator[None]:
    """`Settings.state_dir` reads HARNESS_STATE_DIR on every use: point it at this
    backend's own folder for the duration, and put it back."""
    before = os.environ.get("HARNESS_STATE_DIR")
    os.environ["HARNESS_STATE_DIR"] = str(path)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("HARNESS_STATE_DIR", None)
        else:
            os.environ["HARNESS_STATE_DIR"] = before


def settings_for(base: Settings, emulator: Emulator, ports: list[int]) -> Settings:
    """Settings of one column: its backend, free ports, its own resource-name prefix."""
    return replace(
        base,
        backend=emulator.backend,
        external_kind=emulator.kind or "localstack",
        external_endpoint=None,
        port=ports[0],
        rekognition_port=ports[1],
        slack_port=ports[2],
        name_prefix=f"mx{emulator.name[:4]}",
    )


def tail(text: str, lines: int = ERROR_TAIL_LINES) -> str:
    return "\n".join(str(text).strip().splitlines()[-lines:])


def terraform_error(message: str, apply_log: Path) -> str:
    """A failed apply as evidence: every distinct `Error:` line of the whole apply log
    (the first is usually the cause; the exception holds only the output's tail), then
    that tail."""
    try:
        text = apply_log.read_text(errors="replace")
    except OSError:
        text = ""
    errors = list(dict.fromkeys(line for line in text.splitlines() if line.startswith("Error:")))
    return "\n".join([*errors, "--- tail ---", tail(message)]) if errors else tail(message)


def run_scenarios(
    settings: Settings,
    outputs: dict,
    names: list[str],
    progress: Callable[[str], None],
) -> list[dict]:
    """The named scenarios of `scenarios/`, each bounded in time; a row per scenario."""
    from harness.scenarios import runner, schema

    found = {s.name: s for s in schema.load_dir(settings.project_dir / "scenarios")}
    pipeline = LabelingPipeline(settings, outputs)
    out = []
    for name in names:
        scenario = found.get(name)
        if scenario is None:
            out.append(row(name, probes.NOT_RUN, "no such scenario", 0.0))
            continue
        progress(f"  scenario {name} ...")
        started = time.monotonic()
        result: dict = {}
        worker = threading.Thread(
            target=lambda s=scenario, r=result: r.update(runner.run_scenario(s, pipeline)),
            daemon=True,
        )
        worker.start()
        worker.join(SCENARIO_TIMEOUT_S)
        seconds = round(time.monotonic() - started, 1)
        if not result:
            out.append(row(name, probes.FAIL, f"no end within {SCENARIO_TIMEOUT_S:.0f} s", seconds))
        else:
            status = {"passed": probes.PASS, "failed": probes.FAIL}.get(
                result["status"], probes.NOT_RUN
            )
            out.append(row(name, status, result.get("reason") or result["status"], seconds))
        progress(f"  scenario {name}: {out[-1]['status']} ({seconds} s)")
    return out


def row(name: str, status: str, evidence: str, seconds: float) -> dict:
    return {"name": name, "status": status, "evidence": str(evidence)[:600], "seconds": seconds}


def run_emulator(
    base: Settings,
    emulator: Emulator,
    work: Path,
    scenario_names: list[str],
    only: set[str] | None = None,
    progress: Callable[[str], None] = print,
) -> dict:
    """One column: start, deploy, probe, measure, stop. Never raises for the emulator's
    failures; they are its column's outcome."""
    settings = settings_for(base, emulator, free_ports(3))
    column = {
        "name": emulator.name,
        "label": emulator.label,
        "kind": emulator.kind or "localstack",
        "version": emulator.version(base),
        "endpoint": settings.endpoint,
        "outcome": "ran",
        "error": None,
        "speed": {},
        "behaviours": [],
        "scenarios": [],
    }
    started = time.monotonic()
    folder = work / emulator.name
    with state_dir(folder):
        try:
            progress(f"{emulator.label}: starting on {settings.endpoint} (state {folder})")
            up = stack.up(settings, progress)
            column["speed"]["cold_start_s"] = round(time.monotonic() - started, 1)
        except Exception as exc:
            column |= {"outcome": "start failed", "error": tail(f"{type(exc).__name__}: {exc}")}
            with contextlib.suppress(Exception):
                stack.down(settings)
            column["seconds"] = round(time.monotonic() - started, 1)
            return column
        try:
            record = deploy.deploy(settings, force=True, progress=progress)
            column["speed"]["ready_s"] = round(time.monotonic() - started, 1)
            column["speed"]["deploy_s"] = record.get("apply_seconds")
        except Exception as exc:
            apply_log = settings.state_dir / "terraform" / "local" / "apply.log"
            error = terraform_error(f"{type(exc).__name__}: {exc}", apply_log)
            column |= {"outcome": "deploy failed", "error": error}
            record = None
        try:
            if record is not None:
                ctx = probes.ProbeContext(
                    settings, record["outputs"], LabelingPipeline(settings, record["outputs"])
                )
                column["behaviours"] = probes.run_all(ctx, only, progress)
                column["speed"] |= ctx.timings
                if scenario_names:
                    column["scenarios"] = run_scenarios(
                        settings, record["outputs"], scenario_names, progress
                    )
            else:
                column["behaviours"] = [
                    row(p.name, probes.NOT_RUN, "the deploy failed", 0.0) | {"title": p.title}
                    for p in probes.PROBES
                    if only is None or p.name in only
                ]
            server = ProcessRecords(settings.state_dir).get(emulator.record())
            if server:
                column["speed"]["peak_memory_mb"] = round(peak_rss_mb(server["pid"]), 1)
        finally:
            progress(f"{emulator.label}: stopping ({', '.join(up.started_parts) or 'nothing'})")
            stack.down(settings)
    column["seconds"] = round(time.monotonic() - started, 1)
    return column


def run(
    base: Settings,
    names: list[str],
    work: Path,
    scenario_names: list[str],
    only: set[str] | None = None,
    progress: Callable[[str], None] = print,
) -> dict:
    """The matrix document (see `table.py`) for the emulators `names`, in that order."""
    document = {
        "schema": SCHEMA,
        "started_at": time.time(),
        "finished_at": None,
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}",
        "backends": [],
    }
    for name in names:
        column = run_emulator(base, EMULATORS[name], work, scenario_names, only, progress)
        document["backends"].append(column)
    document["finished_at"] = time.time()
    return document
