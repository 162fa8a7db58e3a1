"""The matrix document (`matrix.json`) and its two readings: a text table and an HTML page.

Document (schema 1)::

    {"schema": 1, "started_at": float, "finished_at": float, "machine": str,
     "backends": [{"name", "label", "kind", "version", "outcome": "ran" | "start failed"
                   | "deploy failed", "error": str | None, "seconds": float,
                   "speed": {"cold_start_s", "ready_s", "deploy_s", "latency_p50_s",
                             "latency_p95_s", "images_per_s", "alarm_to_slack_s",
                             "peak_memory_mb"[, "latency_p99_s", "latencies_s": [float]]},
                   "behaviours": [{"name", "title", "status", "evidence", "seconds"}],
                   "scenarios": [{"name", "status", "evidence", "seconds"}]}]}

`status` is one of `probes.STATUSES`. The HTML is self-contained (inline CSS, no
script, no network) and every value is escaped, as in `harness/observe/report.py`:
evidence quotes emulator error messages, which may hold anything. Its speed section
opens with a chart (`harness/observe/charts.py`, inline SVG): per backend, the upload ->
result latency (p50-p95 box, every sample when `latencies_s` is there) beside images/s.
"""

from __future__ import annotations

import html
import json
import time
from pathlib import Path
from typing import Any

from harness.matrix.probes import STATUSES
from harness.observe import charts

SCHEMA = 1
OUTCOMES = ("ran", "start failed", "deploy failed")
SPEED = (
    ("cold_start_s", "cold start: server healthy (s)"),
    ("ready_s", "cold start to pipeline ready (s)"),
    ("latency_p50_s", "upload -> result p50 (s)"),
    ("latency_p95_s", "upload -> result p95 (s)"),
    ("images_per_s", "images/s (10-image sample)"),
    ("alarm_to_slack_s", "alarm -> Slack (s)"),
    ("peak_memory_mb", "peak memory of the server process (MiB)"),
)
MARK = {"pass": "pass", "fail": "FAIL", "unsupported": "unsupported", "not run": "-"}


class MatrixError(ValueError):
    """The document does not follow the schema; the message names the field."""


def validate(document: Any) -> None:
    if not isinstance(document, dict) or document.get("schema") != SCHEMA:
        raise MatrixError(f"matrix.schema must be {SCHEMA}")
    for index, backend in enumerate(document.get("backends", [])):
        where = f"backends[{index}]"
        if backend.get("outcome") not in OUTCOMES:
            raise MatrixError(f"{where}.outcome must be one of {OUTCOMES}")
        for kind in ("behaviours", "scenarios"):
            for row in backend.get(kind, []):
                if row.get("status") not in STATUSES:
                    raise MatrixError(f"{where}.{kind}: status {row.get('status')!r}")


def rows(document: dict, kind: str = "behaviours") -> list[tuple[str, list[dict | None]]]:
    """(title, one cell per backend) for every behaviour or scenario any backend has, in
    first-seen order; a backend that never ran it has None (shown as not run)."""
    order: dict[str, str] = {}
    for backend in document["backends"]:
        for row in backend.get(kind, []):
            order.setdefault(row["name"], row.get("title", row["name"]))
    return [
        (
            title,
            [
                next((r for r in backend.get(kind, []) if r["name"] == name), None)
                for backend in document["backends"]
            ],
        )
        for name, title in order.items()
    ]


def headline(error: str, width: int = 90) -> str:
    """The first non-blank line of an error: what the table cell can hold."""
    first = next((line.strip() for line in error.splitlines() if line.strip()), "")
    return first[:width]


def _header(document: dict) -> list[str]:
    return [f"{b['label']} {b['version']}" for b in document["backends"]]


def text_table(document: dict) -> str:
    """A plain-text table (Markdown-compatible): behaviours, scenarios, then speed."""
    header = ["behaviour", *_header(document)]
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        "| outcome | "
        + " | ".join(
            b["outcome"] + (f": {headline(b['error'])}" if b.get("error") else "")
            for b in document["backends"]
        )
        + " |",
    ]
    for kind in ("behaviours", "scenarios"):
        for title, cells in rows(document, kind):
            label = title if kind == "behaviours" else f"scenario {title}"
            marks = [MARK[c["status"]] if c else "-" for c in cells]
            lines.append("| " + " | ".join([label, *marks]) + " |")
    for key, label in SPEED:
        values = [b.get("speed", {}).get(key) for b in document["backends"]]
        shown = ["-" if v is None else str(v) for v in values]
        lines.append("| " + " | ".join([label, *shown]) + " |")
    return "\n".join(lines)


def evidence_text(document: dict) -> str:
    """Every cell's evidence, backend by backend: what a reader checks a verdict with."""
    out = []
    for backend in document["backends"]:
        out.append(f"## {backend['label']} {backend['version']}: {backend['outcome']}")
        if backend.get("error"):
            out.append(backend["error"])
        for kind in ("behaviours", "scenarios"):
            for row in backend.get(kind, []):
                out.append(f"- {row['name']}: {row['status']}: {row['evidence']}")
    return "\n".join(out)


CSS = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin-bottom:1.5em}
td,th{border:1px solid #ccc;padding:.3em .6em;vertical-align:top;text-align:left}
.pass{background:#dff5df}.fail{background:#fadcdc}.unsupported{background:#fff1c9}
.notrun{color:#888}pre{white-space:pre-wrap;font-size:.85em;max-width:60em}
small{color:#555}td,th{overflow-wrap:break-word}small,pre{overflow-wrap:anywhere}
table{max-width:100%}
"""


def speed_chart(document: dict) -> str:
    """Latency spread and images/s per backend, side by side (inline SVG)."""
    labels = _header(document)
    speeds = [b.get("speed") or {} for b in document["backends"]]
    spreads = [
        charts.Spread(
            label,
            s.get("latency_p50_s"),
            s.get("latency_p95_s"),
            s.get("latency_p99_s"),
            s.get("latencies_s") or (),
        )
        for label, s in zip(labels, speeds, strict=True)
    ]
    bars = [
        charts.Bar(label, s.get("images_per_s")) for label, s in zip(labels, speeds, strict=True)
    ]
    return charts.latency_and_throughput(spreads, bars)


def _cell(row: dict | None) -> str:
    if row is None:
        return '<td class="notrun">-</td>'
    status = row["status"]
    css = status.replace(" ", "")
    return (
        f'<td class="{html.escape(css)}"><b>{html.escape(MARK[status])}</b><br>'
        f"<small>{html.escape(str(row.get('evidence', '')))}</small></td>"
    )


def html_page(document: dict) -> str:
    e = html.escape
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(document["started_at"]))
    head = "".join(f"<th>{e(h)}</th>" for h in _header(document))
    body = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>emulator matrix {e(when)}</title><style>{CSS}</style></head><body>",
        f"<h1>Emulator matrix</h1><p>{e(when)} on {e(str(document.get('machine', '')))}</p>",
        f"<table><tr><th>behaviour</th>{head}</tr>",
        "<tr><th>outcome</th>"
        + "".join(
            f"<td>{e(b['outcome'])}"
            + (f"<pre>{e(b['error'])}</pre>" if b.get("error") else "")
            + "</td>"
            for b in document["backends"]
        )
        + "</tr>",
    ]
    for kind in ("behaviours", "scenarios"):
        for title, cells in rows(document, kind):
            label = title if kind == "behaviours" else f"scenario {title}"
            body.append(f"<tr><th>{e(label)}</th>{''.join(_cell(c) for c in cells)}</tr>")
    body.append("</table><h2>Speed (same run, same machine)</h2>")
    body.append(speed_chart(document))
    body.append(f"<table><tr><th>measure</th>{head}</tr>")
    for key, label in SPEED:
        values = [b.get("speed", {}).get(key) for b in document["backends"]]
        cells = "".join(f"<td>{e('-' if v is None else str(v))}</td>" for v in values)
        body.append(f"<tr><th>{e(label)}</th>{cells}</tr>")
    body.append("</table></body></html>")
    return "\n".join(body)


def write(document: dict, out_dir: Path) -> tuple[Path, Path]:
    """`matrix.json` and `matrix.html` in `out_dir`; returns their paths."""
    validate(document)
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, html_path = out_dir / "matrix.json", out_dir / "matrix.html"
    json_path.write_text(json.dumps(document, indent=2, ensure_ascii=False))
    html_path.write_text(html_page(document))
    return json_path, html_path
