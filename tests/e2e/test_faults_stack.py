"""A fault of the stack itself: LocalStack killed, beside the session's stack.

The test runs a stack of its own (its own state dir and free ports) beside the
session's, which must lose nothing. What is measured: the time from the fault to a
clean stop (at most 15 s) and that no process outlives it. Ctrl-C in each phase, a
stack from `harness up` and a full state folder: test_faults_own_stack.py.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from typing import Any

import pytest

from harness import config
from harness.build import deploy, snapshots
from harness.build.fixtures import ImageSpec, render
from harness.runtime import aws, stack
from harness.testing.side_by_side import (
    HARNESS_COMMAND,
    TEARDOWN_LIMIT_S,
    side_by_side_environment,
)
from harness.util.processes import ProcessRecords, is_alive
from harness.util.waiting import wait_for

pytestmark = pytest.mark.faults


def answer_of(lambda_: Any, function: str) -> tuple[int, str | None, str | None]:
    """Status, FunctionError and error type of an invocation with an empty batch."""
    answer = lambda_.invoke(FunctionName=function, Payload=b'{"Records": []}')
    payload = json.loads(answer["Payload"].read() or b"{}")
    kind = payload.get("errorType") if isinstance(payload, dict) else None
    return answer["StatusCode"], answer.get("FunctionError"), kind


def test_a_killed_localstack_leaves_nothing_that_down_cannot_stop(labeling, tmp_path, monkeypatch):
    """SIGKILL gives LocalStack no chance to stop its function processes; they are
    recorded, so `harness down` still stops them, and the next `up` starts a new
    LocalStack, which loads the deployment saved after the first deploy.

    The session's stack runs beside it all along: its objects and its pipeline are
    untouched by the other stack's death and cleanup (each has its own S3 storage).
    """
    kept = labeling.outputs["ingest_prefix"] + "side-by-side/kept.jpg"
    labeling.upload(kept, render(ImageSpec(seed=71)))
    for name, value in side_by_side_environment(tmp_path / "state").items():
        monkeypatch.setenv(name, value)
    # Saved after the first deploy, loaded by the `up` after the kill (deleted at the end:
    # this stack's free ports make a key that never comes back).
    monkeypatch.setenv(snapshots.ENABLED_ENV, "1")
    settings = config.load()
    saved = None
    try:
        first = deploy.ready(settings, progress=lambda m: None)
        outputs = first.outputs
        saved = snapshots.find(settings, deploy.deployed(settings)["snapshot"]["key"])
        assert saved is not None and not first.loaded_saved
        lambda_ = aws.client("lambda", settings)
        # Any answer will do: the invocation leaves the function's process running.
        answer = answer_of(lambda_, outputs["labeler_function"])
        records = ProcessRecords(settings.state_dir)
        before = {r["name"]: r for r in records.all()}
        assert any(name.startswith("lambda-") for name in before), before
        os.kill(before["localstack"]["pid"], signal.SIGKILL)
        wait_for(lambda: not stack.status(settings)["localstack"]["healthy"], 10, "dead")
        shown = subprocess.run(
            [*HARNESS_COMMAND, "dlq", "show"], env=dict(os.environ), capture_output=True, text=True
        )
        assert shown.returncode == 2, shown.stdout + shown.stderr  # at once, and says why
        said = shown.stdout + shown.stderr  # errors go to stderr, one line
        assert "is gone" in said and "harness up" in said, said

        started = time.monotonic()
        stopped = stack.down(settings)
        seconds = time.monotonic() - started
        print(f"[fault] down after LocalStack was killed: {seconds:.1f} s, stopped {stopped}")
        assert seconds <= TEARDOWN_LIMIT_S
        assert "stubs" in stopped
        for record in before.values():
            assert not is_alive(record["pid"], record["create_time"]), record
        assert records.all() == []

        # The session's stack lost nothing and still works.
        assert labeling.wait_result(kept, timeout=60)["Labels"]
        during = labeling.outputs["ingest_prefix"] + "side-by-side/after.jpg"
        labeling.upload(during, render(ImageSpec(seed=72)))
        assert labeling.wait_result(during, timeout=60)["Labels"]

        # A new LocalStack holds nothing: deployed afresh, from what the first deploy saved.
        redeployed = deploy.ready(settings, progress=lambda m: None)
        assert set(redeployed.stack.started_parts) == {"localstack", "stubs"}
        assert redeployed.applied and redeployed.loaded_saved
        assert redeployed.outputs == outputs
        # ... and its function answers as it did before the kill.
        assert answer_of(aws.client("lambda", settings), outputs["labeler_function"]) == answer
    finally:
        stack.down(settings)
        if saved is not None:
            snapshots.discard(saved)
    assert ProcessRecords(settings.state_dir).all() == []
