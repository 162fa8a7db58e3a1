"""`harness bench`: how fast the local pipeline is, measured in one run on this machine.

Numbers, not impressions: cold and warm start, upload -> result latency percentiles,
throughput by batch size and by number of uploaders, DLQ -> Slack time, and peak
memory of LocalStack and the Lambda processes. Where a target is missed the report
says where the time went (Lambda execution vs. delivery), not just the number.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

from harness.build import deploy, snapshots
from harness.build.fixtures import ImageSpec, render
from harness.config import Settings
from harness.observe import charts
from harness.runtime import aws, localstack, stack
from harness.systems.labeling.pipeline import LabelingPipeline
from harness.util.errors import HarnessError
from harness.util.processes import ProcessRecords, peak_rss_mb
from harness.util.stats import percentile
from harness.util.waiting import wait_for

# The goals of the performance issue: 40 images/s sustained on 2 cores, p50 <= 0.3 s.
# Bursts (100 images as fast as they go) are judged on the median of the batch-10 runs,
# not the best one. Sustained: uploads paced SUSTAIN_OVER above the target for a minute
# (SUSTAIN_SECONDS), and the rate at which their results came out, from the first upload
# to the last result. A pipeline that keeps up then shows the pace less its last
# latency; one that falls behind shows what it can do (a burst of 30 s is not enough: a
# pipeline that falls behind slowly keeps up for half a minute, docs/performance.md).
TARGETS = {
    "cold_start_s": 45.0,  # nothing running -> pipeline ready, with the saved deployment
    "warm_start_s": 5.0,
    "latency_p50_s": 0.3,
    "throughput_images_per_s": 40.0,
    "sustained_images_per_s": 40.0,
    "dlq_to_slack_s": 20.0,
}
SUSTAIN_OVER = 1.05
SUSTAIN_SECONDS = 60
RESULTS_POLL_SECONDS = 1.0  # only to know when a run is over: its times come from the results
REPORT_RE = re.compile(r"REPORT RequestId: \S+\s+Duration: ([\d.]+) ms")


class MemorySampler:
    """Samples the peak RSS of LocalStack and of every Lambda process while it runs."""

    def __init__(self, settings: Settings) -> None:
        self.records = ProcessRecords(settings.state_dir)
        self.localstack_mb = 0.0
        self.lambda_mb: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            for record in self.records.all():
                peak = peak_rss_mb(record["pid"])
                if record["name"] == localstack.RECORD:
                    self.localstack_mb = max(self.localstack_mb, peak)
                elif record["name"].startswith("lambda-"):
                    self.lambda_mb[record["pid"]] = max(self.lambda_mb.get(record["pid"], 0), peak)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def result(self) -> dict:
        per_process = list(self.lambda_mb.values())
        return {
            "localstack_peak_rss_mb": round(self.localstack_mb, 1),
            "lambda_processes_seen": len(per_process),
            "lambda_peak_rss_mb_max": round(max(per_process, default=0), 1),
            "lambda_peak_rss_mb_sum": round(sum(per_process), 1),
        }


def _upload_and_time(
    pipeline: LabelingPipeline,
    count: int,
    uploaders: int,
    prefix: str,
    rate: float | None = None,
    timeout: float = 300,
) -> dict:
    """Upload `count` images with `uploaders` threads; time each until its result exists.

    With `rate` (images/s) uploads are paced, so latency is measured at a load the
    pipeline sustains; without it they go as fast as possible (throughput). Each latency
    runs from the upload's answer to the result's `labeled_at` (the labeler's clock, to
    the millisecond, taken just before it writes the result; the same machine's clock).

    The bench keeps its own load off the pipeline while it runs: it lists `results/`
    once a second only to know when every result exists, and reads the results after
    the run. Watching for each result instead meant listing 20 times a second, and
    LocalStack sorts the whole bucket on every list whatever the prefix (5.6 % of its
    GIL samples in a sustained run, docs/performance.md).
    """
    image = render(ImageSpec(seed=42, width=320, height=240))
    keys = [f"{prefix}{i:04}.jpg" for i in range(count)]
    uploaded: dict[str, float] = {}
    result_prefix = pipeline.result_key(keys[0]).rsplit("/", 1)[0] + "/"
    expected = sorted(pipeline.result_key(k) for k in keys)  # S3 lists in key order
    seen: set[str] = set()

    def upload(key: str) -> None:
        pipeline.upload(key, image)
        uploaded[key] = time.time()

    def all_written() -> bool:
        in_order = 0  # expected[:in_order] have all been seen: list only after them
        while in_order < len(expected) and expected[in_order] in seen:
            in_order += 1
        after = expected[in_order - 1] if in_order else ""
        seen.update(pipeline.keys(result_prefix, start_after=after))
        return seen.issuperset(expected)

    started = time.time()
    with ThreadPoolExecutor(max_workers=uploaders) as pool:
        if rate:
            for index, key in enumerate(keys):
                time.sleep(max(0.0, started + index / rate - time.time()))
                pool.submit(upload, key)
        else:
            list(pool.map(upload, keys))
    wait_for(all_written, timeout, f"{count} results", interval=RESULTS_POLL_SECONDS)
    with ThreadPoolExecutor(max_workers=8) as pool:
        written = dict(zip(keys, pool.map(_labeled_at, [pipeline] * count, keys), strict=True))
    latencies = [written[k] - uploaded[k] for k in keys]
    finished = max(written.values())
    last_upload = max(uploaded.values())
    return {
        "images": count,
        "uploaders": uploaders,
        "p50_s": round(percentile(latencies, 50), 3),
        "p95_s": round(percentile(latencies, 95), 3),
        "p99_s": round(percentile(latencies, 99), 3),
        "mean_s": round(statistics.fmean(latencies), 3),
        "images_per_s": round(count / (finished - started), 2),
        "uploaded_per_s": round(count / max(last_upload - started, 1e-6), 2),
        "latencies_s": [round(v, 3) for v in latencies],
    }


def _labeled_at(pipeline: LabelingPipeline, key: str) -> float:
    """When the labeler wrote `key`'s result (epoch seconds)."""
    result = pipeline.result(key)
    if result is None:
        raise HarnessError(f"the result of {key} was listed but cannot be read")
    return datetime.fromisoformat(result["labeled_at"]).timestamp()  # 3.11 reads the "Z"


def _sustained(pipeline: LabelingPipeline, count: int, pace: float) -> dict:
    """A paced run as deployed, with the p50 of each tenth of it: flat when the pipeline
    keeps up, rising when it falls behind. `uploaded_per_s` says whether the uploads
    themselves kept the pace (8 uploaders: each PUT may take up to 8 / pace seconds)."""
    measured = _upload_and_time(pipeline, count, 8, "ingest/bench/sustained/", rate=pace)
    latencies = measured.pop("latencies_s")
    tenths = [latencies[i * count // 10 : (i + 1) * count // 10] for i in range(10)]
    p50s = [round(percentile(part, 50), 3) for part in tenths if part]
    return measured | {"rate_per_s": pace, "p50_by_tenth_s": p50s}


def _batch_sizes(pipeline: LabelingPipeline) -> list[int]:
    """The batch size of each of the labeler's mappings, as deployed."""
    lam = aws.client("lambda", pipeline.settings)
    mappings = lam.list_event_source_mappings(FunctionName=pipeline.outputs["labeler_function"])
    return [mapping["BatchSize"] for mapping in mappings["EventSourceMappings"]]


def _set_batch_size(pipeline: LabelingPipeline, batch_size: int) -> None:
    lam = aws.client("lambda", pipeline.settings)
    mappings = lam.list_event_source_mappings(FunctionName=pipeline.outputs["labeler_function"])
    for mapping in mappings["EventSourceMappings"]:
        lam.update_event_source_mapping(UUID=mapping["UUID"], BatchSize=batch_size)
        wait_for(
            lambda uuid=mapping["UUID"]: (
                lam.get_event_source_mapping(UUID=uuid)["State"] == "Enabled"
            ),
            30,
            "event source mapping enabled",
        )


def _lambda_durations_ms(pipeline: LabelingPipeline, since: float) -> list[float]:
    events = pipeline.logs.get_paginator("filter_log_events").paginate(
        logGroupName=pipeline.outputs["labeler_log_group"],
        startTime=int(since * 1000),
        filterPattern="REPORT",
    )
    return [
        float(m.group(1))
        for page in events
        for event in page["events"]
        if (m := REPORT_RE.search(event["message"]))
    ]


def _dlq_to_slack(pipeline: LabelingPipeline) -> float:
    pipeline.reset()
    started = time.monotonic()
    pipeline.sqs.send_message(QueueUrl=pipeline.outputs["dlq_url"], MessageBody='{"bench": 1}')
    pipeline.slack.wait_for_messages(1, timeout=120)
    return round(time.monotonic() - started, 2)


def _ready(
    settings: Settings, progress: Callable[[str], None], use_saved: bool = True
) -> tuple[LabelingPipeline, float, bool]:
    """Ready and reset; also whether a saved deployment was loaded."""
    started = time.monotonic()
    deployment = deploy.ready(settings, progress, use_saved=use_saved)
    pipeline = LabelingPipeline(settings, deployment.outputs)
    pipeline.reset()
    return pipeline, round(time.monotonic() - started, 2), deployment.loaded_saved


def _cold_starts(settings: Settings, progress: Callable[[str], None]) -> dict[str, float]:
    """From nothing running to ready, twice: applying from scratch (saved deployments
    off: what a first start pays) and loading the saved deployment (what every later
    start of the same sources pays; saved by an apply from scratch when there is none)."""
    progress("cold start from scratch: stopping everything, then up + a full apply")
    stack.down(settings)
    _, from_scratch, _ = _ready(settings, progress, use_saved=False)
    loaded = False
    seconds = 0.0
    for _ in range(2):  # the first may have to save it
        progress("cold start: stopping everything, then up + the saved deployment")
        stack.down(settings)
        _, seconds, loaded = _ready(settings, progress)
        if loaded or not snapshots.enabled(settings):
            break
    return {"cold_start_from_scratch_s": from_scratch} | (
        {"cold_start_s": seconds} if loaded else {}
    )


def run(
    settings: Settings,
    out_dir: Path,
    images: int = 300,
    rate: float = 10.0,
    cold: bool = True,
    progress: Callable[[str], None] = print,
    throughput_images: int = 100,
    alarm: bool = True,
    sustained_images: int | None = None,
) -> dict:
    """Every measure in one run; `throughput_images`, `sustained_images` (a minute's worth
    at the sustained pace unless given; 0 skips it) and `alarm=False` (no DLQ -> Slack
    time, which leaves the alarm raised) make the short smoke run of the test suite."""
    results: dict = {"machine": {"cpus": os.cpu_count()}, "targets": TARGETS}
    if cold:
        results |= _cold_starts(settings, progress)
    else:
        _ready(settings, progress)  # deploy any change first: warm means nothing changed
    progress("warm start: up + deploy (no change) + reset")
    pipeline, results["warm_start_s"], _ = _ready(settings, progress)
    results["reset_s"] = round(pipeline.reset(), 3)

    with MemorySampler(settings) as memory:
        since = time.time()
        progress(f"latency: {images} uploads paced at {rate}/s, batch size 10")
        results["latency"] = _upload_and_time(
            pipeline, images, 4, "ingest/bench/latency/", rate=rate
        )
        results["latency"]["rate_per_s"] = rate
        durations = _lambda_durations_ms(pipeline, since)
        results["lambda_duration_ms"] = {
            "invocations": len(durations),
            "p50": round(percentile(durations, 50), 1) if durations else None,
            "p95": round(percentile(durations, 95), 1) if durations else None,
        }
        results["throughput"] = []
        deployed = _batch_sizes(pipeline)
        try:
            for batch_size, uploaders in ((1, 8), (10, 1), (10, 4), (10, 8)):
                _set_batch_size(pipeline, batch_size)
                pipeline.reset()
                progress(
                    f"throughput: batch size {batch_size}, {uploaders} uploaders, "
                    f"{throughput_images} images"
                )
                run_ = _upload_and_time(
                    pipeline,
                    throughput_images,
                    uploaders,
                    f"ingest/bench/tp-b{batch_size}-u{uploaders}/",
                )
                run_.pop("latencies_s")
                results["throughput"].append({"batch_size": batch_size, **run_})
        finally:  # the deployed batch size back, whatever happened
            for batch_size in deployed[:1]:  # the labeler has one mapping
                _set_batch_size(pipeline, batch_size)
        pace = TARGETS["sustained_images_per_s"] * SUSTAIN_OVER
        if sustained_images is None:
            sustained_images = round(pace * SUSTAIN_SECONDS)
        if sustained_images:
            pipeline.reset()
            progress(f"sustained: {sustained_images} uploads paced at {pace:g}/s")
            results["sustained"] = _sustained(pipeline, sustained_images, pace)
        results["dlq_to_slack_s"] = None
        if alarm:
            progress("DLQ message -> Slack payload")
            results["dlq_to_slack_s"] = _dlq_to_slack(pipeline)
    results["memory"] = memory.result()
    results["verdict"] = _verdict(results)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "bench.json").write_text(json.dumps(results, indent=2))
    _chart(results, out_dir / "bench.svg")
    return results


def _verdict(results: dict) -> dict:
    best = max(results["throughput"], key=lambda r: r["images_per_s"])
    tens = [r["images_per_s"] for r in results["throughput"] if r["batch_size"] == 10]
    measured = {
        "cold_start_s": results.get("cold_start_s"),
        "warm_start_s": results["warm_start_s"],
        "latency_p50_s": results["latency"]["p50_s"],
        "throughput_images_per_s": round(statistics.median(tens or [best["images_per_s"]]), 2),
        "sustained_images_per_s": results.get("sustained", {}).get("images_per_s"),
        "dlq_to_slack_s": results["dlq_to_slack_s"],
    }
    verdict = {}
    for name, target in TARGETS.items():
        value = measured[name]
        if value is None:  # not measured in this run
            continue
        met = value >= target if name.endswith("images_per_s") else value <= target
        verdict[name] = {"measured": value, "target": target, "met": met}
    lam = results["lambda_duration_ms"]["p50"] or 0
    verdict["where_latency_goes"] = (
        f"median Lambda execution {lam:.0f} ms of a median {results['latency']['p50_s'] * 1000:.0f}"
        " ms upload->result; the rest is S3->SNS->SQS delivery, the event source mapping's"
        " polling and the result PUT"
    )
    if not verdict["throughput_images_per_s"]["met"]:
        verdict["where_throughput_goes"] = (
            f"median of the batch-10 runs {measured['throughput_images_per_s']} images/s, "
            f"best {best['images_per_s']} (batch {best['batch_size']}, "
            f"{best['uploaders']} uploaders) at a median invocation of {lam:.0f} ms. "
            "Every request of the pipeline (the uploads, the S3->SNS->SQS fan-out, the "
            "mapping's polling, the functions' own S3 calls) goes through LocalStack's one "
            "process, which is near a full core when the uploads are sustained; the "
            "functions, the stubs and this bench share the other (docs/performance.md has "
            "the CPU per process and the profile)"
        )
    return verdict


def _chart(results: dict, path: Path) -> None:
    """The latency spread and the throughput runs side by side, as the matrix draws them:
    an SVG file at `path`, viewable in any browser."""
    latency = results["latency"]
    spread = charts.Spread(
        f"{latency['images']} images at {latency.get('rate_per_s', '?')}/s",
        latency["p50_s"],
        latency["p95_s"],
        latency.get("p99_s"),
        latency.get("latencies_s") or (),
    )
    bars = [
        charts.Bar(f"batch {r['batch_size']}, {r['uploaders']} uploaders", r["images_per_s"])
        for r in results["throughput"]
    ]
    if sustained := results.get("sustained"):
        paced = f"{sustained['images']} paced at {sustained['rate_per_s']:g}/s"
        bars.append(charts.Bar(paced, sustained["images_per_s"]))
    svg = charts.latency_and_throughput(
        [spread],
        bars,
        rate_title="throughput (images/s: bursts of 100, then a paced run)",
        latency_target=TARGETS["latency_p50_s"],
        rate_target=TARGETS["throughput_images_per_s"],
        standalone=True,
    )
    path.write_text(svg + "\n", encoding="utf-8")
