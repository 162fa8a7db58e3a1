"""Run reports: `report.json` for machines and a self-contained `report.html` for people.

The HTML has no external references (inline CSS and JS, no fonts, no network), so it
can be attached to a CI run or mailed. The summary table is rendered here, HTML-escaped;
the per-object timelines are rendered in the browser from the run's JSON, embedded in
a `<script type="application/json">` block with `<`, `>` and `&` escaped so that no
key or error message can end the block, and inserted with `textContent` only.

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

SCHEMA = 1
STATUSES = ("passed", "failed", "skipped")


class ReportError(ValueError):
    """The run dict does not follow the schema; the message names the field."""


def default_dir(started_at: float | None = None) -> Path:
    """`reports/<timestamp>/` in the project (or under `HARNESS_REPORTS_DIR`); a new,
    not yet existing folder, so two runs in the same second never mix."""
    explicit = os.environ.get("HARNESS_REPORTS_DIR")
    if explicit:
        base = Path(explicit).expanduser().resolve()
    else:
        from harness import config

        base = config.load().project_dir / "reports"
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(started_at or time.time()))
    candidate, n = base / stamp, 1
    while candidate.exists():
        n += 1
        candidate = base / f"{stamp}-{n}"
    return candidate


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
        "CSS": _CSS,
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
<noscript><p>The timelines need JavaScript; report.json holds the same data.</p></noscript>
<main id="scenarios"></main>
<script type="application/json" id="run-data">%DATA%</script>
<script>%JS%</script>
</body>
</html>
"""

_CSS = """
:root { --ok: #1a7f37; --bad: #cf222e; --skip: #6e7781; --warn: #9a6700; --line: #d0d7de; }
body { font: 14px/1.45 system-ui, sans-serif; margin: 1.5rem; color: #1f2328; }
h1 { font-size: 1.4rem; margin: 0 0 .3rem; }
h2 { font-size: 1.15rem; margin: 2rem 0 .4rem; }
.meta, .file { color: #57606a; }
table { border-collapse: collapse; margin: .5rem 0; }
th, td { border-bottom: 1px solid var(--line); padding: .25rem .6rem; text-align: left;
  vertical-align: top; }
th { background: #f6f8fa; }
.badge { border-radius: 1em; padding: 0 .6em; color: #fff; font-size: .85em; }
.badge.passed { background: var(--ok); } .badge.failed { background: var(--bad); }
.badge.skipped { background: var(--skip); }
tr.status-failed td:first-child { border-left: 4px solid var(--bad); }
.reason { color: var(--bad); white-space: pre-wrap; }
.reason.skipped { color: var(--skip); }
table.hops { width: 100%; }
#controls { margin: 1rem 0; display: flex; gap: 1rem; align-items: center; }
#filter { width: 24rem; padding: .25rem; }
details.object { border: 1px solid var(--line); border-radius: 6px; margin: .4rem 0;
  padding: .3rem .6rem; }
details.object.has-error { border-left: 4px solid var(--bad); }
summary { cursor: pointer; }
summary .key { font-family: ui-monospace, monospace; }
.outcome { margin-left: .6rem; font-size: .85em; }
.outcome.result { color: var(--ok); } .outcome.dlq, .outcome.no_trace { color: var(--bad); }
.outcome.pending, .outcome.not-processed { color: var(--warn); }
.track { position: relative; height: 18px; margin: .5rem 0; border-bottom: 2px solid var(--line); }
.marker { position: absolute; bottom: -6px; width: 10px; height: 10px; border-radius: 50%;
  margin-left: -5px; background: #0969da; }
.marker.error { background: var(--bad); }
table.hops td.t { font-family: ui-monospace, monospace; text-align: right; white-space: nowrap; }
table.hops td.hop { font-weight: 600; white-space: nowrap; }
table.hops td.detail { font-family: ui-monospace, monospace; font-size: .85em;
  word-break: break-all; }
tr.hop-row.error td { background: #ffebe9; }
tr.hop-row.warn td { background: #fff8c5; }
.err-text { color: var(--bad); font-weight: 600; }
tr.step-row.failed td { background: #ffebe9; }
"""

_JS = r"""
(function () {
  "use strict";
  var run = JSON.parse(document.getElementById("run-data").textContent);
  var root = document.getElementById("scenarios");

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      if (name === "text") { node.textContent = attrs[name]; }
      else { node.setAttribute(name, attrs[name]); }
    });
    (children || []).forEach(function (child) { if (child) { node.appendChild(child); } });
    return node;
  }
  function fmt(value) {
    if (value === null || value === undefined) { return ""; }
    return typeof value === "object" ? JSON.stringify(value) : String(value);
  }
  function hopError(hop) { return (hop.detail || {}).error || null; }
  function hopWarn(hop) { return hop.hop === "alarm" && (hop.detail || {}).to === "ALARM"; }
  function outcome(hops) {
    var names = hops.map(function (h) { return h.hop; });
    if (names.indexOf("no_trace") >= 0) { return "no_trace"; }
    var last = null;
    names.forEach(function (n) { if (n === "result" || n === "dlq") { last = n; } });
    if (last) { return last; }
    return names.indexOf("lambda") >= 0 ? "pending" : "not processed";
  }
  function origin(hops) {
    for (var i = 0; i < hops.length; i++) { if (hops[i].hop === "upload") { return hops[i].at; } }
    return hops.length ? hops[0].at : 0;
  }
  function rel(seconds) { return (seconds >= 0 ? "+" : "") + seconds.toFixed(3) + " s"; }

  function stepsTable(steps) {
    var body = el("tbody");
    steps.forEach(function (step) {
      body.appendChild(el("tr", {"class": "step-row " + (step.status || "")}, [
        el("td", {text: fmt(step.index)}), el("td", {text: fmt(step.kind)}),
        el("td", {text: fmt(step.status)}),
        el("td", {text: step.duration_s == null ? "" : step.duration_s.toFixed(2) + " s"}),
        el("td", {"class": step.error ? "err-text" : "", text: fmt(step.error)}),
        el("td", {"class": "detail", text: fmt(step.detail)})
      ]));
    });
    var head = el("tr", {}, ["#", "step", "status", "duration", "error", "detail"].map(
      function (h) { return el("th", {text: h}); }));
    return el("table", {"class": "steps"}, [el("thead", {}, [head]), body]);
  }

  function objectBlock(key, hops) {
    var t0 = origin(hops);
    var span = hops.length ? Math.max(hops[hops.length - 1].at - t0, 0.001) : 0.001;
    var errors = hops.filter(hopError).length;
    var result = outcome(hops);
    var block = el("details", {"class": "object" + (errors ? " has-error" : ""),
                               "data-key": key, "data-errors": String(errors)});
    block.appendChild(el("summary", {}, [
      el("span", {"class": "key", text: key}),
      el("span", {"class": "outcome " + result.replace(" ", "-"), text: result}),
      el("span", {"class": "outcome", text: hops.length + " hops" +
        (errors ? ", " + errors + " with errors" : "")})
    ]));
    var track = el("div", {"class": "track"});
    var body = el("tbody");
    hops.forEach(function (hop) {
      var error = hopError(hop);
      var offset = hop.at - t0;
      var left = Math.min(Math.max(offset / span, 0), 1) * 100;
      track.appendChild(el("span", {"class": "marker" + (error ? " error" : ""),
        style: "left:" + left.toFixed(2) + "%", title: hop.hop + " " + rel(offset)}));
      var parts = Object.keys(hop.detail || {}).filter(function (k) {
        return k !== "error" && hop.detail[k] !== null && hop.detail[k] !== undefined;
      }).map(function (k) { return k + "=" + fmt(hop.detail[k]); });
      var detail = el("td", {"class": "detail"});
      if (error) { detail.appendChild(el("div", {"class": "err-text", text: fmt(error)})); }
      detail.appendChild(el("div", {text: parts.join("  ")}));
      body.appendChild(el("tr", {
        "class": "hop-row" + (error ? " error" : hopWarn(hop) ? " warn" : ""),
        "data-hop": hop.hop, title: new Date(hop.at * 1000).toISOString()
      }, [el("td", {"class": "t", text: rel(offset)}),
          el("td", {"class": "hop", text: hop.hop}), detail]));
    });
    block.appendChild(track);
    block.appendChild(el("table", {"class": "hops"}, [body]));
    if (errors && hops.length <= 40) { block.open = true; }
    return block;
  }

  run.scenarios.forEach(function (scenario, index) {
    var section = el("section", {"class": "scenario", id: "scenario-" + index}, [
      el("h2", {}, [el("span", {text: scenario.name + " "}),
                    el("span", {"class": "badge " + scenario.status, text: scenario.status})]),
      el("div", {"class": "file", text: fmt(scenario.file) + "  ·  " +
        (scenario.duration_s == null ? "" : scenario.duration_s.toFixed(1) + " s")})
    ]);
    if (scenario.reason) {
      section.appendChild(el("div", {"class": "reason " + scenario.status,
                                     text: scenario.reason}));
    }
    if ((scenario.steps || []).length) { section.appendChild(stepsTable(scenario.steps)); }
    var counts = scenario.counts || {};
    if (Object.keys(counts).length) {
      section.appendChild(el("div", {"class": "counts", text: Object.keys(counts).map(
        function (k) { return k + ": " + fmt(counts[k]); }).join("  ·  ")}));
    }
    var objects = scenario.objects || {};
    Object.keys(objects).sort().forEach(function (key) {
      section.appendChild(objectBlock(key, objects[key]));
    });
    root.appendChild(section);
  });

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
