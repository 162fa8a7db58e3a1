"""The pictures' shared drawing (harness/observe/charts.py): round axes, readable times,
the bench's chart, and the 1400 px check itself (it must see a page that is too wide)."""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree

import pytest
from page_checks import chromium

from harness.observe import browser, charts
from harness.systems.labeling import bench


@pytest.mark.parametrize(
    ("top", "count", "expected"),
    [
        (1.5, 4, [0, 0.5, 1.0, 1.5]),
        (1.0, 5, [0, 0.2, 0.4, 0.6, 0.8, 1.0]),
        (42.0, 5, [0, 10, 20, 30, 40, 50]),
        (0.0775, 5, [0, 0.02, 0.04, 0.06, 0.08]),
        (0.0, 5, [0, 1.0]),
    ],
)
def test_axes_stop_on_round_values_past_the_top(top, count, expected):
    assert charts.ticks(top, count) == pytest.approx(expected)


def test_times_read_in_ms_below_a_second_and_in_s_above():
    assert [charts.duration(v) for v in (0, 0.0775, 0.5, 1, 1.25, 35.2, 250)] == [
        "0 ms",
        "78 ms",
        "500 ms",
        "1 s",
        "1.25 s",
        "35.2 s",
        "250 s",
    ]


def test_the_bench_draws_its_latency_and_throughput_as_the_matrix_does(tmp_path: Path):
    results = {
        "latency": {
            "images": 4,
            "rate_per_s": 10.0,
            "p50_s": 0.5,
            "p95_s": 0.9,
            "p99_s": 0.9,
            "latencies_s": [0.4, 0.5, 0.6, 0.9],
        },
        "throughput": [
            {"batch_size": 1, "uploaders": 8, "images_per_s": 6.5},
            {"batch_size": 10, "uploaders": 4, "images_per_s": 14.0},
        ],
    }
    bench._chart(results, tmp_path / "bench.svg")
    svg = (tmp_path / "bench.svg").read_text(encoding="utf-8")
    root = ElementTree.fromstring(svg)  # a well-formed file of its own
    ns = "{http://www.w3.org/2000/svg}"
    assert root.tag == f"{ns}svg"
    groups = {g.get("class"): g for g in root.iter(f"{ns}g") if g.get("class")}
    assert len(list(groups["spread"].iter(f"{ns}circle"))) == 4
    bars = [g.get("data-label") for g in root.iter(f"{ns}g") if g.get("class") == "bar"]
    assert bars == ["batch 1, 8 uploaders", "batch 10, 4 uploaders"]
    assert len([x for x in root.iter(f"{ns}line") if x.get("class") == "target"]) == 2


def test_the_width_check_sees_a_page_that_scrolls_sideways(tmp_path: Path):
    chromium()
    wide = tmp_path / "wide.html"
    wide.write_text("<!doctype html><body><div style='width:2000px'>wide</div></body>")
    assert browser.overflow(wide, width=1400) > 500
    assert browser.overflow(wide, width=2200) == 0
