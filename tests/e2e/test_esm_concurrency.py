"""The labeler's SQS mapping with ScalingConfig.MaximumConcurrency runs batches at once.

AWS runs several batches of a standard queue at a time (envs/aws caps them at 5);
LocalStack alone runs one. harness_esm_scaling closes that gap for a mapping that sets
MaximumConcurrency (envs/local sets none: on 2 cores one batch at a time is faster,
measured, see infra/envs/differences.yaml). This test gives the session's mapping
MaximumConcurrency 5 and small batches for one burst, then puts it back.
"""

from __future__ import annotations

import itertools
import re
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from harness.build.fixtures import ImageSpec, render
from harness.runtime import aws
from harness.util.waiting import wait_for

JPEG = render(ImageSpec(seed=7))
REPORT = re.compile(r"REPORT RequestId: (\S+)\s+Duration: ([\d.]+) ms")
IMAGES = 24


def _update(lam, uuid: str, **changes) -> None:
    lam.update_event_source_mapping(UUID=uuid, **changes)
    wait_for(
        lambda: lam.get_event_source_mapping(UUID=uuid)["State"] == "Enabled",
        60,
        "the event source mapping enabled again",
    )


@pytest.fixture
def concurrent_mapping(labeling):
    lam = aws.client("lambda", labeling.settings)
    [mapping] = lam.list_event_source_mappings(FunctionName=labeling.outputs["labeler_function"])[
        "EventSourceMappings"
    ]
    assert "MaximumConcurrency" not in (mapping.get("ScalingConfig") or {})  # envs/local's
    _update(lam, mapping["UUID"], BatchSize=2, ScalingConfig={"MaximumConcurrency": 5})
    try:
        yield mapping
    finally:
        _update(lam, mapping["UUID"], BatchSize=mapping["BatchSize"], ScalingConfig={})


def _invocations(labeling, since_ms: int) -> list[tuple[float, float]]:
    """(start, end) in ms of each labeler invocation since `since_ms`; the executor
    writes an invocation's log lines when it ends, so its REPORT is stamped at the end."""
    pages = labeling.logs.get_paginator("filter_log_events").paginate(
        logGroupName=labeling.outputs["labeler_log_group"],
        startTime=since_ms,
        filterPattern="REPORT",
    )
    spans = []
    for page in pages:
        for event in page["events"]:
            if match := REPORT.search(event["message"]):
                end = float(event["timestamp"])
                spans.append((end - float(match.group(2)), end))
    return spans


def test_a_burst_runs_in_overlapping_batches_and_labels_each_image_once(
    labeling, concurrent_mapping
):
    folder = f"ingest/conc-{int(time.time() * 1000)}/"
    keys = [f"{folder}{i:02}.jpg" for i in range(IMAGES)]
    since_ms = int(time.time() * 1000) - 1000
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda key: labeling.upload(key, JPEG), keys))
    for key in keys:
        labeling.wait_result(key, timeout=120)

    calls = [c for c in labeling.rekognition.calls() if (c.get("key") or "").startswith(folder)]
    assert sorted(c["key"] for c in calls) == keys  # each image labeled once

    # Batches of at most 2; their log lines reach CloudWatch Logs a little later.
    def all_logged() -> list[tuple[float, float]] | None:
        spans = _invocations(labeling, since_ms)
        return spans if len(spans) >= IMAGES // 2 else None

    spans = sorted(wait_for(all_logged, 60, f"{IMAGES // 2} labeler invocations", interval=1))
    overlapping = [(a, b) for a, b in itertools.pairwise(spans) if b[0] < a[1]]
    assert overlapping, f"no two invocations overlapped: {spans}"
