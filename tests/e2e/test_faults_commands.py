"""Ctrl-C and SIGKILL of the commands that put test gear on the pipeline's topic.

`harness record` and `harness run` subscribe a tap queue to the topic. Ctrl-C must
remove it within the teardown bound; a killed command cannot, so the next tap of the
stack sweeps away the taps whose owner is gone.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from harness.observe.tap import Tap
from harness.util.waiting import wait_for

pytestmark = pytest.mark.faults

TEARDOWN_LIMIT_S = 15
HARNESS = [sys.executable, "-m", "harness.cli"]


def taps(labeling) -> tuple[list[str], list[str]]:
    """(tap queue URLs, subscriptions of the topic that deliver to a tap queue)."""
    prefix = f"{labeling.settings.name_prefix}-tap-"
    queues = labeling.sqs.list_queues(QueueNamePrefix=prefix).get("QueueUrls", [])
    topic = labeling.outputs["topic_arn"]
    subscriptions = Tap(labeling).sns.list_subscriptions_by_topic(TopicArn=topic)
    delivering = [
        s["SubscriptionArn"]
        for s in subscriptions["Subscriptions"]
        if s["Endpoint"].rsplit(":", 1)[-1].startswith(prefix)
    ]
    return queues, delivering


def start(command: list[str], tmp_path) -> subprocess.Popen:
    return subprocess.Popen(
        [*HARNESS, *command],
        cwd=tmp_path,
        env=os.environ | {"NO_COLOR": "1"},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # a terminal's foreground group of its own
    )


COMMANDS = {
    "record": ["record", "--duration", "300", "recording.jsonl"],
    "scenario-run": ["run", "happy-path", "--report-dir", "report"],
}


@pytest.mark.parametrize("command", COMMANDS)
def test_ctrl_c_removes_the_tap_within_the_bound(labeling, tmp_path, command):
    assert taps(labeling) == ([], [])
    process = start(COMMANDS[command], tmp_path)
    try:
        wait_for(lambda: taps(labeling)[1] or process.poll() is not None, 120, "a tap")
        assert process.poll() is None, process.communicate()[0][-3000:]
        started = time.monotonic()
        os.killpg(process.pid, signal.SIGINT)
        output = process.communicate(timeout=120)[0]
        seconds = time.monotonic() - started
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    print(f"[fault] Ctrl-C of `harness {command}`: exited in {seconds:.1f} s")
    assert seconds <= TEARDOWN_LIMIT_S, output[-3000:]
    assert taps(labeling) == ([], []), output[-3000:]


def test_a_killed_recorder_leaves_a_tap_the_next_one_sweeps(labeling, tmp_path):
    process = start(COMMANDS["record"], tmp_path)
    try:
        wait_for(lambda: taps(labeling)[1] or process.poll() is not None, 120, "a tap")
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    queues, subscriptions = taps(labeling)
    assert len(queues) == 1 and len(subscriptions) == 1  # nothing could remove them

    with Tap(labeling) as tap:
        assert taps(labeling)[0] == [tap.queue_url]  # the orphan is gone, ours is there
    assert taps(labeling) == ([], [])
