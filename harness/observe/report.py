"""Run reports: `report.json` for machines and a self-contained `report.html` for people.

The HTML has no external references (inline CSS and JS, no fonts, no network), so it
can be attached to a CI run or mailed. Everything is rendered here, HTML-escaped: the
summary, the IAM denials, and per scenario its steps and each object's hops as a
waterfall on a time axis with their details as fields (`harness/observe/waterfall.py`).
The script only filters objects; the run's JSON rides along in a
`<script type="application/json">` block with `<`, `>` and `&` escaped so that no key
or error message can end the block.

Run dict (schema 1, produced by the scenario runner)::

    {"schema": 1, "started_at": float, "finished_at": float, "target": "local"|"aws",
     "scenarios": [{"name", "file", "status": "passed"|"failed"|"skipped", "reason",
                    "duration_s", "steps": [{"index", "kind", "status", "duration_s",
                                              "detail", "error"}],
                    "objects": {key: [{"at", "hop", "detail"}]}, "counts": {...}}]}
"""

from __future__ import annotations

import html
import json
import os
import re
import time
from pathlib import Path
from typing import Any

from harness.observe import waterfall

SCHEMA = 1
STATUSES = ("passed", "failed", "skipped")


class ReportError(ValueError):
    """The run dict does not follow the schema; the message names the field."""


def reports_base() -> Path:
    """Where reports go: `HARNESS_REPORTS_DIR`, else `reports/` in the project."""
    explicit = os.environ.get("HARNESS_REPORTS_DIR")
    if explicit:
        return Path(explicit).expanduser().resolve()
    from harness import config

    return config.load().project_dir / "reports"


def new_path(base: Path, name: str, suffix: str = "", started_at: float | None = None) -> Path:
    """`base/<name><timestamp><suffix>`, a path nothing has yet, so two runs in the same
    second never mix."""
    stamp = name + time.strftime("%Y%m%d-%H%M%S", time.localtime(started_at or time.time()))
    candidate, n = base / f"{stamp}{suffix}", 1
    while candidate.exists():
        n += 1
        candidate = base / f"{stamp}-{n}{suffix}"
    return candidate


def default_dir(started_at: float | None = None) -> Path:
    """`reports/<timestamp>/` in the project (or under `HARNESS_REPORTS_DIR`); a new,
    not yet existing folder, so two runs in the same second never mix."""
    return new_path(reports_base(), "", started_at=started_at)


def validate(run: Any) -> None:
    if not isinstance(run, dict):
        raise ReportError("run must be a dict")
    if run.get("schema") != SCHEMA:
        raise ReportError(f"run.schema must be {SCHEMA}, got {run.get('schema')!r}")
    for name in ("started_at", "finished_at"):
        if not isinstance(run.get(name), int | float):
            raise ReportError(f"run.{name} must be epoch seconds, got {run.get(name)!r}")
    if not isinstance(run.get("scenarios"), list):
        raise ReportError("run.scenarios must be a list")
    for i, scenario in enumerate(run["scenarios"]):
        where = f"run.scenarios[{i}]"
        if not isinstance(scenario, dict) or not isinstance(scenario.get("name"), str):
            raise ReportError(f"{where}.name must be a string")
        if scenario.get("status") not in STATUSES:
            raise ReportError(
                f"{where}.status must be one of {', '.join(STATUSES)}, "
                f"got {scenario.get('status')!r}"
            )
        objects = scenario.get("objects") or {}
        if not isinstance(objects, dict):
            raise ReportError(f"{where}.objects must map object keys to lists of hops")
        for key, hops in objects.items():
            if not isinstance(hops, list) or not all(
                isinstance(h, dict) and isinstance(h.get("at"), int | float) and "hop" in h
                for h in hops
            ):
                raise ReportError(f"{where}.objects[{key!r}] must be a list of {{at, hop, detail}}")
        denied = scenario.get("iam_denials", [])
        if not isinstance(denied, list) or not all(isinstance(d, dict) for d in denied):
            raise ReportError(f"{where}.iam_denials must be a list of denial records")


def write(run: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    """Write `report.json` and `report.html` into `out_dir` (created); returns both paths."""
    validate(run)
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, html_path = out_dir / "report.json", out_dir / "report.html"
    text = json.dumps(run, indent=2, ensure_ascii=False, default=str)
    json_path.write_text(text + "\n", encoding="utf-8")
    html_path.write_text(render_html(run), encoding="utf-8")
    return json_path, html_path


def _script_json(run: dict[str, Any]) -> str:
    """JSON safe inside a script element: `<`, `>`, `&` and line separators escaped."""
    text = json.dumps(run, ensure_ascii=False, default=str)
    for raw, escaped in (
        ("&", "\\u0026"),
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(raw, escaped)
    return text


def _seconds(value: Any) -> str:
    return f"{value:.1f} s" if isinstance(value, int | float) else "-"


def _summary_rows(run: dict[str, Any]) -> str:
    rows = []
    for i, scenario in enumerate(run["scenarios"]):
        status = scenario["status"]
        rows.append(
            f'<tr class="scenario-row status-{status}">'
            f'<td><a href="#scenario-{i}">{html.escape(scenario["name"])}</a></td>'
            f'<td><span class="badge {status}">{status}</span></td>'
            f"<td>{_seconds(scenario.get('duration_s'))}</td>"
            f"<td>{len(scenario.get('objects') or {})}</td>"
            f"<td>{len(scenario.get('iam_denials') or [])}</td>"
            f"<td>{html.escape(str(scenario.get('reason') or ''))}</td></tr>"
        )
    return "\n".join(rows)


def _denial_rows(run: dict[str, Any]) -> str:
    """One row per call IAM refused during a scenario (harness iam denials, per run)."""
    rows = []
    for scenario in run["scenarios"]:
        for denial in scenario.get("iam_denials") or []:
            cells = [scenario["name"], *(denial.get(k) for k in ("time", "who", "action"))]
            cells += [denial.get("resource"), denial.get("why")]
            rows.append(
                '<tr class="denial">'
                + "".join(f"<td>{html.escape(str(c if c is not None else ''))}</td>" for c in cells)
                + "</tr>"
            )
    if not rows:
        return '<p id="iam-denials" class="meta">IAM denied no call during this run.</p>'
    head = "".join(
        f"<th>{h}</th>" for h in ("scenario", "time", "caller", "action", "resource", "why")
    )
    return (
        '<h2>IAM denials</h2>\n<table id="iam-denials">'
        f"<thead><tr>{head}</tr></thead><tbody>\n" + "\n".join(rows) + "\n</tbody></table>"
    )


def _steps(steps: list[dict[str, Any]]) -> str:
    if not steps:
        return ""
    rows = []
    for step in steps:
        status = str(step.get("status") or "")
        error = step.get("error")
        took = step.get("duration_s")
        rows.append(
            f'<tr class="step-row {html.escape(status)}">'
            f"<td>{html.escape(str(step.get('index', '')))}</td>"
            f"<td>{html.escape(str(step.get('kind', '')))}</td><td>{html.escape(status)}</td>"
            f"<td>{f'{took:.2f} s' if isinstance(took, int | float) else ''}</td>"
            f'<td class="err-text">{html.escape(str(error)) if error else ""}</td>'
            f"<td>{waterfall.fields(step.get('detail'))}</td></tr>"
        )
    head = "".join(f"<th>{h}</th>" for h in ("#", "step", "status", "duration", "error", "detail"))
    return (
        f'<table class="steps"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
    )


def _scenario(index: int, scenario: dict[str, Any]) -> str:
    """A scenario's section: heading, reason, steps, counts, then its objects by key."""
    e = html.escape
    status = scenario["status"]
    parts = [
        f'<section class="scenario" id="scenario-{index}">',
        f'<h2><span>{e(scenario["name"])} </span><span class="badge {status}">{status}</span></h2>',
        f'<div class="file">{e(str(scenario.get("file") or ""))}  ·  '
        f"{_seconds(scenario.get('duration_s'))}</div>",
    ]
    if scenario.get("reason"):
        parts.append(f'<div class="reason {status}">{e(str(scenario["reason"]))}</div>')
    parts.append(_steps(scenario.get("steps") or []))
    counts = scenario.get("counts") or {}
    if counts:
        shown = "  ·  ".join(f"{k}: {waterfall.value_text(v)}" for k, v in counts.items())
        parts.append(f'<div class="counts">{e(shown)}</div>')
    objects = scenario.get("objects") or {}
    few = len(objects) <= 6  # a handful is shown open; more would be a wall
    parts += [waterfall.block(key, objects[key], open_=few) for key in sorted(objects)]
    return "\n".join(parts) + "\n</section>"


def render_html(run: dict[str, Any]) -> str:
    counts = {s: sum(1 for x in run["scenarios"] if x["status"] == s) for s in STATUSES}
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(run["started_at"]))
    meta = (
        f"target {html.escape(str(run.get('target', 'local')))} · started {started} · "
        f"{_seconds(run['finished_at'] - run['started_at'])} · "
        + " ".join(f'<span class="badge {s}">{counts[s]} {s}</span>' for s in STATUSES)
    )
    values = {
        "TITLE": f"Pipeline harness run {started}",
        "META": meta,
        "ROWS": _summary_rows(run),
        "DENIALS": _denial_rows(run),
        "SCENARIOS": "\n".join(_scenario(i, s) for i, s in enumerate(run["scenarios"])),
        "CSS": _CSS + waterfall.CSS,
        "JS": _JS,
        "DATA": _script_json(run),
    }
    # One pass, so text from the run can never be taken for a placeholder.
    return re.sub(r"%([A-Z]+)%", lambda m: values[m.group(1)], _TEMPLATE)


_TEMPLATE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>%TITLE%</title>
<style>%CSS%</style>
</head>
<body>
<header>
<h1>Pipeline harness run</h1>
<p class="meta">%META%</p>
</header>
<table id="summary">
<thead><tr><th>scenario</th><th>status</th><th>duration</th><th>objects</th><th>IAM denials</th>
<th>reason</th></tr>
</thead>
<tbody>
%ROWS%
</tbody>
</table>
%DENIALS%
<div id="controls">
<input id="filter" type="search" placeholder="filter objects by key">
<label><input id="errors-only" type="checkbox"> only objects with errors</label>
</div>
<main id="scenarios">
%SCENARIOS%
</main>
<script type="application/json" id="run-data">%DATA%</script>
<script>%JS%</script>
</body>
</html>
"""

_CSS = """
:root { --ok: #1a7f37; --bad: #cf222e; --skip: #6e7781; --warn: #9a6700; --line: #d0d7de; }
body { font: 14px/1.45 system-ui, sans-serif; margin: 1.5rem; color: #1f2328; }
h1 { font-size: 1.4rem; margin: 0 0 .3rem; }
h2 { font-size: 1.15rem; margin: 2rem 0 .4rem; overflow-wrap: anywhere; }
.meta, .file { color: #57606a; overflow-wrap: anywhere; }
table { border-collapse: collapse; margin: .5rem 0; max-width: 100%; }
th, td { border-bottom: 1px solid var(--line); padding: .25rem .6rem; text-align: left;
  vertical-align: top; overflow-wrap: break-word; }
th { background: #f6f8fa; white-space: nowrap; }
/* free text (names, reasons, ARNs, errors) wraps anywhere; the short columns never do */
#summary td:first-child, #summary td:last-child, #iam-denials td:nth-child(3),
#iam-denials td:nth-child(n+5), table.steps td:nth-child(n+5) { overflow-wrap: anywhere;
  min-width: 8rem; }
.badge { border-radius: 1em; padding: 0 .6em; color: #fff; font-size: .85em;
  white-space: nowrap; }
.badge.passed { background: var(--ok); } .badge.failed { background: var(--bad); }
.badge.skipped { background: var(--skip); }
tr.status-failed td:first-child { border-left: 4px solid var(--bad); }
.reason { color: var(--bad); white-space: pre-wrap; overflow-wrap: anywhere; }
.reason.skipped { color: var(--skip); }
.counts { margin: .3rem 0; overflow-wrap: anywhere; }
#controls { margin: 1rem 0; display: flex; gap: 1rem; align-items: center; }
#filter { width: 24rem; max-width: 50%; padding: .25rem; }
details.object { border: 1px solid var(--line); border-radius: 6px; margin: .4rem 0;
  padding: .3rem .6rem; }
details.object.has-error { border-left: 4px solid var(--bad); }
summary { cursor: pointer; overflow-wrap: anywhere; }
summary .key { font-family: ui-monospace, monospace; }
.outcome { margin-left: .6rem; font-size: .85em; }
.outcome.result { color: var(--ok); } .outcome.dlq, .outcome.no_trace { color: var(--bad); }
.outcome.pending, .outcome.not-processed { color: var(--warn); }
.err-text { color: var(--bad); font-weight: 600; }
tr.step-row.failed td { background: #ffebe9; }
"""

_JS = r"""
(function () {
  "use strict";
  function applyFilter() {
    var text = document.getElementById("filter").value.toLowerCase();
    var errorsOnly = document.getElementById("errors-only").checked;
    document.querySelectorAll("details.object").forEach(function (block) {
      var show = block.getAttribute("data-key").toLowerCase().indexOf(text) >= 0 &&
        (!errorsOnly || block.getAttribute("data-errors") !== "0");
      block.style.display = show ? "" : "none";
    });
  }
  document.getElementById("filter").addEventListener("input", applyFilter);
  document.getElementById("errors-only").addEventListener("change", applyFilter);
  document.body.setAttribute("data-rendered", "true");
})();
"""
