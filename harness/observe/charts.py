"""Pictures for the pages people look at, drawn on the server as inline SVG.

No script, no fonts, no network: a page that holds one stays self-contained, and every
text that reaches the picture (backend names, hop names) is escaped here. The run
report's waterfall (`harness/observe/report.py`) shares the time axis (`ticks`,
`duration`); the matrix page and the bench share `latency_and_throughput`:

    spreads = [Spread("LocalStack 4.13", p50=0.8, p95=1.4, samples=[0.7, 0.8, ...])]
    bars = [Bar("LocalStack 4.13", 12.5)]
    svg = latency_and_throughput(spreads, bars, latency_target=1.0)

The SVG scales to its container (a `viewBox`, `width="100%"`), so it never makes a
page wider than the window.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape

WIDTH = 1200  # the viewBox: latency left, throughput right
SPLIT = 700  # where the throughput panel starts
NOTES = 180  # room right of the latency plot for its percentiles
ROW = 30
LABEL = 190  # room for a label left of each panel's plot
LABEL_CHARS = 28
INK, MUTED, GRID, TARGET = "#1f2328", "#57606a", "#d0d7de", "#cf222e"
BOX, BAR, DOT = "#0969da", "#1a7f37", "#0969da"


@dataclass(frozen=True)
class Spread:
    """One latency distribution: its percentiles and, when known, every sample (seconds)."""

    label: str
    p50: float | None
    p95: float | None
    p99: float | None = None
    samples: Sequence[float] = field(default_factory=tuple)


@dataclass(frozen=True)
class Bar:
    """One throughput (images/s); None when it was not measured."""

    label: str
    value: float | None


def ticks(top: float, count: int = 5) -> list[float]:
    """Round axis values from 0 past `top`: 1, 2, 2.5 or 5 times a power of ten apart."""
    if not top > 0:
        return [0.0, 1.0]
    raw = top / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    return [round(i * step, 10) for i in range(math.ceil(top / step - 1e-9) + 1)]


def duration(seconds: float) -> str:
    """`250 ms` under a second, `1.5 s` above: how an axis reads a time."""
    if abs(seconds) < 1:
        return f"{seconds * 1000:.0f} ms"
    return f"{seconds:.3g} s" if abs(seconds) < 100 else f"{seconds:.0f} s"


def number(value: float) -> str:
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"


def _short(label: str) -> str:
    return label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "…"


def _text(x: float, y: float, text: str, anchor: str = "start", **style: str) -> str:
    extra = "".join(f' {k.replace("_", "-")}="{escape(v)}"' for k, v in style.items())
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{extra}>{escape(text)}</text>'


def _panel(
    left: float,
    right: float,
    title: str,
    labels: list[str],
    top: float,
    unit: str,
    target: float | None,
) -> tuple[list[str], float, float]:
    """A panel's frame: title, row labels, a grid on round values and an optional target
    line. Returns its parts, the x of value 0 and the pixels per unit."""
    if target is not None:
        top = max(top, target)
    values = ticks(top * 1.05)
    x0, width = left + LABEL, right - left - LABEL
    scale = width / values[-1]
    bottom = 40 + ROW * len(labels)
    parts = [_text(left + 10, 20, title, font_weight="600", fill=INK)]
    for value in values:
        x = x0 + value * scale
        parts.append(f'<line x1="{x:.1f}" y1="34" x2="{x:.1f}" y2="{bottom}" stroke="{GRID}"/>')
        shown = duration(value) if unit == "s" else number(value)
        parts.append(_text(x, bottom + 16, shown, "middle", fill=MUTED))
    for index, label in enumerate(labels):
        y = 40 + ROW * index + ROW / 2 + 4
        shown = _text(x0 - 8, y, _short(label), "end", fill=INK)
        parts.append(f"<g><title>{escape(label)}</title>{shown}</g>")
    if target is not None:
        x = x0 + target * scale
        parts.append(
            f'<line class="target" x1="{x:.1f}" y1="34" x2="{x:.1f}" y2="{bottom}" '
            f'stroke="{TARGET}" stroke-dasharray="5 4"/>'
        )
        parts.append(_text(x + 4, 32, "target", fill=TARGET))
    return parts, x0, scale


def _spread_row(spread: Spread, index: int, x0: float, scale: float, notes: float) -> str:
    mid = 40 + ROW * index + ROW / 2
    parts = [f'<g class="spread" data-label="{escape(spread.label)}">']
    if spread.p50 is not None and spread.p95 is not None:
        a, b = x0 + spread.p50 * scale, x0 + spread.p95 * scale
        parts.append(
            f'<rect class="p50-p95" x="{a:.1f}" y="{mid - 8:.1f}" width="{max(b - a, 2):.1f}" '
            f'height="16" fill="{BOX}" fill-opacity=".15" stroke="{BOX}"/>'
        )
    for n, sample in enumerate(spread.samples):
        dy = ((n * 7) % 11 - 5) * 1.1  # a fixed jitter, so equal samples stay visible
        parts.append(
            f'<circle class="sample" cx="{x0 + sample * scale:.1f}" cy="{mid + dy:.1f}" r="2.5" '
            f'fill="{DOT}" fill-opacity=".6"/>'
        )
    marks = [
        (name, value, width)
        for name, value, width in (
            ("p50", spread.p50, 3),
            ("p95", spread.p95, 1.5),
            ("p99", spread.p99, 1.5),
        )
        if value is not None
    ]
    for name, value, width in marks:
        x = x0 + value * scale
        parts.append(
            f'<line class="{name}" x1="{x:.1f}" y1="{mid - 10:.1f}" x2="{x:.1f}" '
            f'y2="{mid + 10:.1f}" stroke="{INK}" stroke-width="{width}">'
            f"<title>{name} {escape(duration(value))}</title></line>"
        )
    if not marks and not spread.samples:
        parts.append(_text(x0 + 6, mid + 4, "not measured", fill=MUTED))
    else:
        shown = ", ".join(f"{name} {duration(value)}" for name, value, _ in marks)
        parts.append(_text(notes, mid + 4, shown, fill=MUTED))
    return "".join(parts) + "</g>"


def _bar_row(bar: Bar, index: int, x0: float, scale: float) -> str:
    mid = 40 + ROW * index + ROW / 2
    group = f'<g class="bar" data-label="{escape(bar.label)}">'
    if bar.value is None:
        return group + _text(x0 + 6, mid + 4, "not measured", fill=MUTED) + "</g>"
    width = max(bar.value * scale, 1)
    return (
        group
        + f'<rect x="{x0:.1f}" y="{mid - 9:.1f}" width="{width:.1f}" height="18" fill="{BAR}"/>'
        f"{_text(x0 + width + 6, mid + 4, f'{number(bar.value)}/s', fill=INK)}</g>"
    )


def latency_and_throughput(
    spreads: Sequence[Spread],
    bars: Sequence[Bar],
    *,
    latency_title: str = "upload -> result latency (box p50-p95, marks p50/p95/p99, dots samples)",
    rate_title: str = "throughput (images/s)",
    latency_target: float | None = None,
    rate_target: float | None = None,
    standalone: bool = False,
) -> str:
    """Two panels side by side: each spread as a strip of its samples with a p50-p95
    box, and each throughput as a bar. `standalone` makes a file of its own (`.svg`)."""
    rows = max(len(spreads), len(bars), 1)
    height = 40 + ROW * rows + 30
    top = max(
        [v for s in spreads for v in (s.p50, s.p95, s.p99, *s.samples) if v is not None] or [1.0]
    )
    notes = SPLIT - NOTES
    latency, lx0, lscale = _panel(
        0, notes - 20, latency_title, [s.label for s in spreads], top, "s", latency_target
    )
    rates = [b.value for b in bars if b.value is not None]
    rate, rx0, rscale = _panel(
        SPLIT,
        WIDTH - 60,
        rate_title,
        [b.label for b in bars],
        max(rates or [1.0]),
        "/s",
        rate_target,
    )
    latency += [_spread_row(s, i, lx0, lscale, notes) for i, s in enumerate(spreads)]
    rate += [_bar_row(b, i, rx0, rscale) for i, b in enumerate(bars)]
    namespace = ' xmlns="http://www.w3.org/2000/svg"' if standalone else ""
    return (
        f'<svg class="chart"{namespace} viewBox="0 0 {WIDTH} {height}" width="100%" '
        f'style="max-width:{WIDTH}px;height:auto" font-family="system-ui, sans-serif" '
        f'font-size="12" role="img" aria-label="{escape(latency_title)}; {escape(rate_title)}">'
        f'<g class="latency">{"".join(latency)}</g><g class="throughput">{"".join(rate)}</g>'
        "</svg>"
    )
