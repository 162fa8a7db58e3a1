"""`harness demo`: the labeling pipeline's whole story in about a minute.

Good images get labels; a non-image and a throttled image end in the DLQ with their
reasons; the DLQ alarm posts one Slack message; once Rekognition recovers, a redrive
delivers the throttled image's labels and the non-image stays visible in the DLQ.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from rich.console import Console
from rich.table import Table

from harness.build import deploy
from harness.build.fixtures import ImageSpec, render
from harness.config import Settings
from harness.events import dlq
from harness.systems.catalog import demo as demo_catalog
from harness.systems.labeling.pipeline import LabelingPipeline
from harness.util.waiting import wait_for

GOOD = {
    "ingest/demo/street.jpg": ImageSpec(seed=11, scene="shapes"),
    "ingest/demo/portrait.png": ImageSpec(format="png", seed=12, scene="portrait"),
    "ingest/demo/서울 야경.jpg": ImageSpec(seed=13, scene="sky"),
    "ingest/demo/summer trip/beach +1.JPG": ImageSpec(seed=14, scene="sky"),
}
NOT_AN_IMAGE = "ingest/demo/notes.jpg"
THROTTLED = "ingest/demo/busy hour.jpg"


def run(settings: Settings, console: Console, progress: Callable[[str], None]) -> None:
    deployment = deploy.ready(settings, progress)
    progress(f"stack ready at {deployment.stack.endpoint} in {deployment.seconds:.1f} s")
    outputs = deployment.outputs
    pipeline = LabelingPipeline(settings, outputs)
    pipeline.reset()

    console.rule("1. Upload images to ingest/")
    pipeline.rekognition.add_fault("ThrottlingException", rate=1.0, key_glob=THROTTLED)
    started = {}
    for key, spec in GOOD.items():
        pipeline.upload(key, render(spec))
        started[key] = time.monotonic()
        progress(f"uploaded {key}")
    pipeline.upload(NOT_AN_IMAGE, b"meeting notes, not a picture\n", "text/plain")
    pipeline.upload(THROTTLED, render(ImageSpec(seed=15)))
    progress(f"uploaded {NOT_AN_IMAGE} (not an image) and {THROTTLED} (Rekognition throttles it)")

    console.rule("2. Results in results/")
    table = Table("object", "result", "top labels", "seconds")
    for key in GOOD:
        result = pipeline.wait_result(key)
        labels = ", ".join(
            f"{label['Name']} {label['Confidence']:.0f}%" for label in result["Labels"][:4]
        )
        took = time.monotonic() - started[key]
        table.add_row(key, pipeline.result_key(key), labels, f"{took:.2f}")
    console.print(table)

    console.rule("3. Failures go to the DLQ with their reason")
    max_receive = outputs["max_receive_count"]
    progress(f"waiting for {max_receive} attempts each, then the dead-letter queue ...")
    wait_for(lambda: pipeline.dlq_depth() >= 2, 120, "2 messages in the DLQ", interval=1)
    _print_dlq(console, pipeline)

    console.rule("4. The DLQ alarm posts to Slack")
    message = pipeline.slack.wait_for_messages(1, timeout=90)[0]
    console.print(f"[bold]Slack received:[/bold] {message['body']['text']}")
    console.print(f"(captured messages: {settings.slack_endpoint}/)")

    console.rule("5. Rekognition recovers: redrive the DLQ")
    pipeline.rekognition.clear_faults()
    report = dlq.redrive(pipeline.sqs, outputs, progress=progress)
    progress(f"moved {report['moved']} message(s) back to the queue")
    result = pipeline.wait_result(THROTTLED)
    progress(f"{THROTTLED} labeled after redrive: {result['Labels'][0]['Name']}, ...")
    progress(f"{NOT_AN_IMAGE} fails again and returns to the DLQ: nothing is lost")
    wait_for(lambda: pipeline.dlq_depth() >= 1, 120, "the non-image back in the DLQ", interval=1)
    _print_dlq(console, pipeline)
    demo_catalog.run(settings, outputs, console, progress)  # system B
    console.rule("Demo complete")


def _print_dlq(console: Console, pipeline: LabelingPipeline) -> None:
    table = Table("object", "attempts", "reason")
    for letter in pipeline.dead_letters():
        table.add_row(", ".join(letter.objects), str(letter.attempts), letter.reason)
    console.print(table)
