"""A function process killed in the middle of a batch loses no image.

On AWS a crashed execution environment fails the whole invocation; the batch's messages
become visible again after the visibility timeout and are delivered again. The same
must hold here: SIGKILL the labeler's process while a DetectLabels call of its batch is
in flight, and every image still gets its result, with no process left of the killed one.
"""

from __future__ import annotations

import os
import signal

import psutil
import pytest

from harness.build.fixtures import ImageSpec, render
from harness.util.processes import ProcessRecords, is_alive
from harness.util.waiting import wait_for

pytestmark = pytest.mark.faults

SLOW_CALL_MS = 3000  # below the labeler's local timeout (4 s): only the kill fails it


def function_processes(state_dir, function: str) -> list[psutil.Process]:
    """The recorded Lambda processes running `function` (the executor records each)."""
    found = []
    for record in ProcessRecords(state_dir).all():
        if not record["name"].startswith("lambda-"):
            continue
        try:
            process = psutil.Process(record["pid"])
            if process.environ().get("AWS_LAMBDA_FUNCTION_NAME") == function:
                found.append(process)
        except psutil.Error:
            continue
    return found


def test_a_labeler_killed_mid_batch_loses_no_image(labeling, harness_settings):
    prefix = labeling.outputs["ingest_prefix"] + "killed-mid-batch/"
    keys = [f"{prefix}{n}.jpg" for n in range(3)]
    labeling.rekognition.add_fault(None, latency_ms=SLOW_CALL_MS, first_n=1)
    for n, key in enumerate(keys):
        labeling.upload(key, render(ImageSpec(seed=40 + n)))

    # The slow call has started (the fault fired): the batch is in the function now.
    wait_for(lambda: labeling.rekognition.faults()[0]["fired"] >= 1, 60, "a call in flight")
    function = labeling.outputs["labeler_function"]
    victims = function_processes(harness_settings.state_dir, function)
    assert victims, "no recorded process of the labeler while its call was in flight"
    for process in victims:
        os.kill(process.pid, signal.SIGKILL)

    results = {key: labeling.wait_result(key, timeout=120) for key in keys}
    assert all(result["Labels"] for result in results.values()), results
    assert labeling.dlq_depth() == 0
    gone = wait_for(
        lambda: all(not is_alive(p.pid, p.create_time()) for p in victims) or None,
        10,
        "the killed processes to be reaped",
    )
    assert gone
