"""The benchmark's one short run in the suite: it proves `harness bench` still works on
the real stack. Its figures go to its report, not into asserts (the full bench is
`harness bench`; docs/performance.md has its numbers)."""

from __future__ import annotations

import json

from harness.systems.labeling import bench


def test_a_short_bench_run_measures_every_figure_and_leaves_the_batch_size(labeling, tmp_path):
    results = bench.run(
        labeling.settings,
        tmp_path,
        images=10,
        rate=20,
        cold=False,
        progress=lambda message: print(f"[bench] {message}"),
        throughput_images=10,
        sustained_images=20,
        alarm=False,  # the alarm it would raise is other tests' business
    )
    written = json.loads((tmp_path / "bench.json").read_text())
    assert written["verdict"] == results["verdict"]
    assert (tmp_path / "bench.svg").read_text().lstrip().startswith("<svg")
    latency = results["latency"]
    assert latency["images"] == 10 and len(latency["latencies_s"]) == 10
    assert 0 < latency["p50_s"] <= latency["p95_s"]
    assert results["lambda_duration_ms"]["invocations"] >= 1
    assert [(r["batch_size"], r["uploaders"]) for r in results["throughput"]] == [
        (1, 8),
        (10, 1),
        (10, 4),
        (10, 8),
    ]
    assert all(r["images"] == 10 and r["images_per_s"] > 0 for r in results["throughput"])
    sustained = results["sustained"]
    assert sustained["images"] == 20 and len(sustained["p50_by_tenth_s"]) == 10
    pace = bench.TARGETS["sustained_images_per_s"] * bench.SUSTAIN_OVER
    assert sustained["rate_per_s"] == pace and sustained["images_per_s"] > 0
    assert sustained["uploaded_per_s"] > 0
    assert results["memory"]["localstack_peak_rss_mb"] > 0
    assert set(results["verdict"]) >= {
        "warm_start_s",
        "latency_p50_s",
        "throughput_images_per_s",
        "sustained_images_per_s",
    }
    assert "dlq_to_slack_s" not in results["verdict"]  # not measured: alarm=False
    mappings = labeling.lambda_.list_event_source_mappings(
        FunctionName=labeling.outputs["labeler_function"]
    )["EventSourceMappings"]
    assert [mapping["BatchSize"] for mapping in mappings] == [10]  # as deployed
