"""Ctrl-C and SIGKILL of the commands that put test gear on the pipeline's topic.

`harness record` and `harness run` subscribe a tap queue to the topic. Ctrl-C must
remove it within the teardown bound; a killed command cannot, so the next tap of the
stack sweeps away the taps whose owner is gone. `harness replay` suspends the bucket's
notifications while it puts objects in place: Ctrl-C must leave them on, and every
event it did publish must still be labeled.
"""

from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.build.fixtures import ImageSpec, render
from harness.observe.tap import Tap
from harness.testing.side_by_side import HARNESS_COMMAND, TEARDOWN_LIMIT_S
from harness.util.waiting import wait_for

pytestmark = pytest.mark.faults


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
        [*HARNESS_COMMAND, *command],
        cwd=tmp_path,
        env=os.environ | {"NO_COLOR": "1"},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # a terminal's foreground group of its own
    )


def ctrl_c_once(process: subprocess.Popen, ready: Callable[[], object], what: str):
    """Wait until `ready()` (the command is mid-work), press Ctrl-C in its terminal;
    returns its output and the seconds it took to exit. It never outlives the test."""
    try:
        wait_for(lambda: ready() or process.poll() is not None, 120, what)
        assert process.poll() is None, process.communicate()[0][-3000:]
        started = time.monotonic()
        os.killpg(process.pid, signal.SIGINT)
        output = process.communicate(timeout=120)[0]
        return output, time.monotonic() - started
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


COMMANDS = {
    "record": ["record", "--duration", "300", "recording.jsonl"],
    "scenario-run": ["run", "happy-path", "--report-dir", "report"],
}


@pytest.mark.parametrize("command", COMMANDS)
def test_ctrl_c_removes_the_tap_within_the_bound(labeling, tmp_path, command):
    assert taps(labeling) == ([], [])
    output, seconds = ctrl_c_once(
        start(COMMANDS[command], tmp_path), lambda: taps(labeling)[1], "a tap"
    )
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


EVENTS = Path(__file__).resolve().parents[2] / "fixtures" / "events"


def test_ctrl_c_of_replay_leaves_notifications_on_and_loses_no_published_event(labeling, tmp_path):
    template = json.loads((EVENTS / "s3-event-notification.json").read_text(encoding="utf-8"))
    token = f"replay-fault-{uuid.uuid4().hex[:8]}"
    keys = [f"ingest/{token}/{i:02d}.jpg" for i in range(20)]
    with open(tmp_path / "recording.jsonl", "w", encoding="utf-8") as recording:
        for i, key in enumerate(keys):
            event = copy.deepcopy(template)
            event["Records"][0]["s3"]["object"]["key"] = key
            recording.write(json.dumps(event) + "\n")
            (tmp_path / "objects" / key).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / "objects" / key).write_bytes(render(ImageSpec(seed=i, width=320)))
    notifying = labeling.s3.get_bucket_notification_configuration(Bucket=labeling.bucket)
    notifying.pop("ResponseMetadata", None)

    command = ["replay", "recording.jsonl", "--objects", "objects", "--rate", "1"]
    # One event a second: interrupted while it publishes.
    output, seconds = ctrl_c_once(
        start(command, tmp_path), lambda: labeling.result(keys[1]), "a result"
    )
    print(f"[fault] Ctrl-C of `harness replay`: exited in {seconds:.1f} s")
    assert seconds <= TEARDOWN_LIMIT_S, output[-3000:]
    assert "interrupted: published" in output, output[-3000:]
    now = labeling.s3.get_bucket_notification_configuration(Bucket=labeling.bucket)
    now.pop("ResponseMetadata", None)
    assert now == notifying, "the bucket must notify again after an interrupted replay"

    published = int(output.split("interrupted: published ", 1)[1].split(" ", 1)[0])
    assert 2 <= published < len(keys), output[-3000:]
    wait_for(
        lambda: all(labeling.result(key) for key in keys[:published]),
        90,
        f"results of the {published} published events",
    )
