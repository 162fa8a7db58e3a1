"""One object's hops as a waterfall on a time axis, and any detail as readable fields.

Rendered on the server as HTML with inline styles only (`left`/`width` in percent of the
track), every text escaped, for `harness/observe/report.py`. Times are relative to the
object's upload (else its first hop). A hop's bar runs until the object's next later hop
(what it waited on there), or for the length of the invocation when the hop knows its
`duration_ms`; the last hop is a point. The page's CSS (`CSS`) goes with the markup.
"""

from __future__ import annotations

import datetime
import json
from html import escape
from typing import Any

from harness.observe import charts

CSS = """
.waterfall { margin: .5rem 0; }
.wf-row { display: grid; grid-template-columns: 6.5rem 8rem minmax(10rem, 2fr) minmax(0, 3fr);
  gap: 0 .8rem; align-items: start; border-top: 1px solid #eaeef2; padding: .2rem 0; }
.wf-row > * { min-width: 0; }
.wf-axis { border-top: none; color: #57606a; font-size: .8em; }
.wf-axis .track { height: 1.2rem; border-bottom: 1px solid var(--line); }
.tick { position: absolute; bottom: 0; transform: translateX(-50%); white-space: nowrap; }
.tick.first { transform: none; } .tick.last { transform: translateX(-100%); }
.track { position: relative; height: 1.3rem; }
.wf-row .track { background: repeating-linear-gradient(90deg, #eaeef2 0 1px,
  transparent 1px var(--step, 25%)); }
.bar { position: absolute; top: .3rem; height: .7rem; min-width: 3px; border-radius: 2px;
  background: #0969da; }
.bar.point { width: 9px !important; height: 9px; border-radius: 50%; margin-left: -4px;
  top: .35rem; }
.bar.error { background: var(--bad); } .bar.warn { background: var(--warn); }
.wf-row .t { font-family: ui-monospace, monospace; text-align: right; white-space: nowrap; }
.wf-row .hop { font-weight: 600; overflow-wrap: anywhere; }
.wf-row.error { background: #ffebe9; } .wf-row.warn { background: #fff8c5; }
dl.fields { display: grid; grid-template-columns: minmax(0, max-content) minmax(0, 1fr);
  gap: 0 .6rem; margin: 0; font-size: .85em; }
dl.fields dt { color: #57606a; overflow-wrap: anywhere; }
dl.fields dd { margin: 0; font-family: ui-monospace, monospace; overflow-wrap: anywhere;
  white-space: pre-wrap; }
dl.fields dd.err-text { font-family: inherit; }
"""


def value_text(value: Any) -> str:
    """A field's value as a person reads it: text as it is, anything nested as compact JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, ensure_ascii=False, separators=(", ", ": "), default=str)
    return str(value)


def fields(detail: Any) -> str:
    """`detail` as a definition list, its error first; empty values are left out."""
    if not isinstance(detail, dict):
        return f'<dl class="fields"><dd>{escape(value_text(detail))}</dd></dl>' if detail else ""
    shown = sorted(
        ((k, v) for k, v in detail.items() if v is not None and v != "" and v != {}),
        key=lambda item: item[0] != "error",
    )
    if not shown:
        return ""
    rows = "".join(
        f"<dt>{escape(str(k))}</dt>"
        + ('<dd class="err-text">' if k == "error" else "<dd>")
        + f"{escape(value_text(v))}</dd>"
        for k, v in shown
    )
    return f'<dl class="fields">{rows}</dl>'


def hop_error(hop: dict[str, Any]) -> Any:
    return (hop.get("detail") or {}).get("error") or None


def hop_warns(hop: dict[str, Any]) -> bool:
    return hop["hop"] == "alarm" and (hop.get("detail") or {}).get("to") == "ALARM"


def outcome(hops: list[dict[str, Any]]) -> str:
    """Where the object ended: result, dlq, pending, not processed, or no_trace."""
    names = [h["hop"] for h in hops]
    if "no_trace" in names:
        return "no_trace"
    ends = [n for n in names if n in ("result", "dlq")]
    if ends:
        return ends[-1]
    return "pending" if "lambda" in names else "not processed"


def relative(seconds: float) -> str:
    return f"{'+' if seconds >= 0 else ''}{seconds:.3f} s"


def spans(hops: list[dict[str, Any]]) -> list[tuple[float, float]]:
    """(start, end) of each hop's bar, in seconds from the object's upload."""
    origin = next((h["at"] for h in hops if h["hop"] == "upload"), hops[0]["at"] if hops else 0)
    found = []
    for index, hop in enumerate(hops):
        start = hop["at"] - origin
        took = (hop.get("detail") or {}).get("duration_ms")
        later = [h["at"] - origin for h in hops[index + 1 :] if h["at"] > hop["at"]]
        if isinstance(took, int | float) and not isinstance(took, bool) and took > 0:
            end = start + took / 1000
        else:
            end = min(later, default=start)
        found.append((start, end))
    return found


def _percent(seconds: float, low: float, span: float) -> str:
    return f"{(seconds - low) / span * 100:.3f}%"


def block(key: str, hops: list[dict[str, Any]], open_: bool = False) -> str:
    """The object's `<details>`: a summary line, then one waterfall row per hop."""
    errors = sum(1 for h in hops if hop_error(h))
    result = outcome(hops)
    summary = (
        f'<summary><span class="key">{escape(key)}</span>'
        f'<span class="outcome {result.replace(" ", "-")}">{escape(result)}</span>'
        f'<span class="outcome">{len(hops)} hops'
        + (f", {errors} with errors" if errors else "")
        + "</span></summary>"
    )
    opened = " open" if open_ or (errors and len(hops) <= 40) else ""
    head = (
        f'<details class="object{" has-error" if errors else ""}" data-key="{escape(key)}" '
        f'data-errors="{errors}"{opened}>{summary}'
    )
    if not hops:
        return head + '<p class="meta">No hop was recorded for this object.</p></details>'
    bars = spans(hops)
    low = min(0.0, *(s for s, _ in bars))
    high = max(e for _, e in bars)
    axis = charts.ticks(high - low, 4)
    span = axis[-1] or 1.0
    marks = []
    for index, value in enumerate(axis):
        where = " first" if index == 0 else " last" if index == len(axis) - 1 else ""
        marks.append(
            f'<span class="tick{where}" style="left:{value / span * 100:.3f}%">'
            f"{escape(charts.duration(low + value))}</span>"
        )
    rows = [
        '<div class="wf-row wf-axis"><span></span><span>hop</span>'
        f'<span class="track">{"".join(marks)}</span><span>details</span></div>'
    ]
    for hop, (start, end) in zip(hops, bars, strict=True):
        state = " error" if hop_error(hop) else " warn" if hop_warns(hop) else ""
        point = " point" if end <= start else ""
        took = f", {charts.duration(end - start)}" if end > start else ""
        rows.append(
            f'<div class="wf-row hop-row{state}" data-hop="{escape(str(hop["hop"]))}" '
            f'data-start="{start:.6f}" title="{escape(_iso(hop["at"]))}">'
            f'<span class="t">{relative(start)}</span>'
            f'<span class="hop">{escape(str(hop["hop"]))}</span>'
            f'<span class="track"><span class="bar{state}{point}" '
            f'style="left:{_percent(start, low, span)};width:{(end - start) / span * 100:.3f}%" '
            f'title="{escape(str(hop["hop"]))} {relative(start)}{took}"></span></span>'
            f"{fields(hop.get('detail')) or '<span></span>'}</div>"
        )
    step = f"--step:{axis[1] / span * 100:.3f}%" if len(axis) > 1 else ""
    return head + f'<div class="waterfall" style="{step}">{"".join(rows)}</div></details>'


def _iso(at: float) -> str:
    moment = datetime.datetime.fromtimestamp(at, tz=datetime.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
