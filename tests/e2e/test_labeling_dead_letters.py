"""System A's dead letters: bad inputs, a batch with one bad image, and a throttled
folder redriven once the stub heals.

A message reaches the DLQ after max_receive_count (3) receives, each after the queue's
24 s visibility (envs/local): about 75 s, whatever else the test does. Each case used
to wait that out alone; here the module sends all three at once (the `sent` fixture) and
waits once for their six letters, then each test asserts its own folder's. Batches
then mix the cases' messages, which the partial batch failures must sort out as they
would for one case.

What each test asserts was read in the fixture before any test changed it (the
letters, the stub's calls, the alarm's posts), so their order does not matter, except
that the redrive test changes the DLQ for good: it deletes the permanent failures (a
redrive moves the whole queue, as on AWS; they would only fail again), redrives the
throttled ones and waits for the alarm to go back to OK on its own, so that no post of
this round can reach the next test (a reset cannot delete metric data).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
from samples import JPEG, unique_folder

from harness.build.fixtures import ImageSpec, render
from harness.events import dlq
from harness.events.shapes import object_refs
from harness.systems.labeling.pipeline import LabelingPipeline
from harness.util.waiting import wait_for

CORRUPT_JPEG = render(ImageSpec(seed=3, damage="truncated"))
NOT_AN_IMAGE = render(ImageSpec(damage="text"))


@dataclass(frozen=True)
class Round:
    """What the module sent, and the DLQ and the stub's calls once all six letters
    were in."""

    pipeline: LabelingPipeline
    not_image: str
    corrupt: str
    good: list[str]  # the batch of ten: nine good images ...
    bad: str  # ... and one corrupt one
    throttled_folder: str
    throttled: list[str]
    letters: dict[str, dlq.DeadLetter]  # by the object each names
    calls: Counter[str]  # Rekognition calls per key
    posts: list[dict]  # Slack's, from the first letter on, one evaluation after the first


@pytest.fixture(scope="module")
def sent(local_deployment: dict, harness_settings) -> Iterator[Round]:
    pipeline = LabelingPipeline(harness_settings, local_deployment)
    pipeline.reset()
    try:
        yield send(pipeline)
    finally:  # also after a failed wait: no fault or letter is left to the next test
        pipeline.reset()


def send(pipeline: LabelingPipeline) -> Round:
    """The round: everything uploaded at once, then the six letters and the alarm's post."""
    inputs, batch, throttled_folder = unique_folder(), unique_folder(), unique_folder()
    throttled = [throttled_folder + f"img-{i}.jpg" for i in range(3)]
    good = [batch + f"good-{i}.jpg" for i in range(9)]
    pipeline.rekognition.add_fault("ThrottlingException", rate=1.0, key_glob=throttled_folder + "*")
    uploads = [(key, JPEG, "image/jpeg") for key in good]
    uploads += [(batch + "bad.jpg", CORRUPT_JPEG, "image/jpeg")]
    uploads += [(inputs + "notes.jpg", NOT_AN_IMAGE, "text/plain")]
    uploads += [(inputs + "broken.jpg", CORRUPT_JPEG, "image/jpeg")]
    uploads += [(key, JPEG, "image/jpeg") for key in throttled]
    with ThreadPoolExecutor(max_workers=10) as pool:
        list(pool.map(lambda upload: pipeline.upload(*upload), uploads))
    first_letter_at: list[float] = []

    def all_six() -> list[dlq.DeadLetter] | None:
        found = pipeline.dead_letters()
        if found and not first_letter_at:
            first_letter_at.append(time.time() - 1)  # polled every second
        return found if len(found) >= 6 else None  # a seventh is named by the tests

    letters = wait_for(
        all_six,
        timeout=180,  # 3 receives x 24 s visibility (envs/local), then the move
        what="the six bad or throttled objects in the DLQ",
        interval=1,
    )
    calls = Counter(call.get("key") or "" for call in pipeline.rekognition.calls())

    # The alarm needs 2 of 2 periods of 10 s; LocalStack evaluates it every 20 s. Posts
    # from before the first letter are not this round's: an alarm on the last periods of
    # a test that ended in the DLQ just before (the reset cannot delete metric data).
    def posts() -> list[dict]:
        slack = pipeline.slack.messages()
        return [post for post in slack if post["received_at"] >= first_letter_at[0]]

    wait_for(posts, 90, "the alarm's post to Slack", interval=1)
    time.sleep(21)  # a second post would arrive within the next evaluation (20 s)
    return Round(
        pipeline=pipeline,
        not_image=inputs + "notes.jpg",
        corrupt=inputs + "broken.jpg",
        good=good,
        bad=batch + "bad.jpg",
        throttled_folder=throttled_folder,
        throttled=throttled,
        letters={letter.objects[0]: letter for letter in letters},
        calls=calls,
        posts=posts(),
    )


def test_bad_inputs_end_in_the_dlq_with_reasons_and_alarm_posts_once(sent):
    assert set(sent.letters) == {sent.not_image, sent.corrupt, sent.bad, *sent.throttled}
    max_receive = int(sent.pipeline.outputs["max_receive_count"])
    for key in (sent.not_image, sent.corrupt):
        letter = sent.letters[key]
        assert letter.reasons, f"no failure record for {letter.objects}"
        assert letter.reasons[0]["error_code"] == "InvalidImageFormatException"
        assert letter.reasons[0]["receive_count"] == max_receive
        assert "invalid image format" in letter.reason.lower()
        assert sent.pipeline.result(key) is None

    payloads = sent.posts
    assert len(payloads) == 1
    text = payloads[0]["body"]["text"]
    assert sent.pipeline.outputs["alarm_name"] in text
    assert sent.pipeline.outputs["dlq_name"] in text
    assert " is ALARM " in text


def test_batch_of_ten_with_one_bad_image_labels_the_nine_once(sent):
    for key in sent.good:
        assert sent.pipeline.wait_result(key)["source"]["key"] == key
    assert {key: sent.calls[key] for key in sent.good} == dict.fromkeys(sent.good, 1)
    assert sent.calls[sent.bad] == int(sent.pipeline.outputs["max_receive_count"])
    assert sent.letters[sent.bad].reasons[0]["error_code"] == "InvalidImageFormatException"


def test_redrive_after_the_stub_heals_delivers_every_result(sent):
    pipeline = sent.pipeline
    throttled = [sent.letters[key] for key in sent.throttled]
    assert all(letter.reasons[0]["error_code"] == "ThrottlingException" for letter in throttled)
    assert all(letter.reasons[0]["transient"] is True for letter in throttled)

    pipeline.rekognition.clear_faults()
    dlq_url = pipeline.outputs["dlq_url"]
    permanent = [
        message
        for message in dlq.peek(pipeline.sqs, dlq_url)
        if not {ref.key for ref in object_refs(message["Body"])} & set(sent.throttled)
    ]
    assert len(permanent) == 3, permanent  # the bad inputs and the batch's bad image
    for message in permanent:  # they would only fail again
        pipeline.sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"])
    report = dlq.redrive(pipeline.sqs, pipeline.outputs, progress=lambda m: None)
    assert report["moved"] == 3 and report["after"] == 0
    for key in sent.throttled:
        assert pipeline.wait_result(key)["source"]["key"] == key
    # A success removes the failure record (after writing the result), so failures/ only
    # lists what is still broken.
    folder = sent.throttled_folder.removeprefix(pipeline.outputs["ingest_prefix"])
    failures = pipeline.outputs["failures_prefix"] + folder
    wait_for(lambda: pipeline.keys(failures) == [], 30, "the failure records removed")
    # With the DLQ empty, the alarm goes back to OK on its own at an evaluation (every 20 s).
    wait_for(lambda: pipeline.alarm_state() == "OK", 90, "the DLQ alarm back to OK", interval=2)
