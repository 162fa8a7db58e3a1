"""`harness record`: capture what flows through the local topic, for `harness replay`.

A `harness.observe.tap.Tap` (a temporary queue subscribed to the topic without a filter policy
and without raw delivery) receives every message as the SNS envelope an SQS subscriber
gets; each one is written, as received, as one JSON line. The queue and its
subscription are removed when recording stops (count, duration, Ctrl-C), also after an
error.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness.events.shapes import NotAnS3Event, s3_notifications
from harness.observe.tap import Tap
from harness.systems.labeling.pipeline import LabelingPipeline


@dataclass
class Recording:
    path: Path
    written: int = 0
    skipped: int = 0  # not S3 events (alarm notifications), unless all were kept
    seconds: float = 0.0


def record(
    pipeline: LabelingPipeline,
    path: Path,
    *,
    count: int | None = None,
    duration: float | None = None,
    keep_all: bool = False,
    stop: threading.Event | None = None,
    on_ready: Callable[[], None] | None = None,
    progress: Callable[[str], None] = print,
) -> Recording:
    """Write the topic's messages to `path` (JSON Lines) until `count` S3 events were
    written, `duration` seconds passed, `stop` is set, or Ctrl-C."""
    stop = stop or threading.Event()
    recording = Recording(path)
    started = time.monotonic()
    tap = Tap(pipeline).start()  # the unfiltered subscription; its messages are read here
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8") as out:
            progress(f"recording {pipeline.outputs['topic_arn']} into {path}")
            if on_ready:
                on_ready()
            while not stop.is_set():
                if count is not None and recording.written >= count:
                    break
                if duration is not None and time.monotonic() - started >= duration:
                    break
                messages = tap.sqs.receive_message(
                    QueueUrl=tap.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
                ).get("Messages", [])
                for message in messages:
                    if count is not None and recording.written >= count:
                        break
                    envelope = json.loads(message["Body"])
                    is_s3 = not any(
                        isinstance(found, NotAnS3Event) for found in s3_notifications(envelope)
                    )
                    if is_s3 or keep_all:
                        out.write(json.dumps(envelope, ensure_ascii=False) + "\n")
                        out.flush()
                        recording.written += 1
                    else:
                        recording.skipped += 1
                    tap.sqs.delete_message(
                        QueueUrl=tap.queue_url, ReceiptHandle=message["ReceiptHandle"]
                    )
    except KeyboardInterrupt:
        progress("stopped (Ctrl-C)")
    finally:
        tap.close()
        recording.seconds = time.monotonic() - started
    return recording
