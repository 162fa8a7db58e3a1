"""System A end to end, deployed by Terraform on the embedded LocalStack (its dead
letters: test_labeling_dead_letters.py)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from samples import JPEG, unique_folder

from harness.build.fixtures import ImageSpec, render
from harness.util.waiting import wait_for

PNG = render(ImageSpec(format="png", seed=2, mode="RGBA"))


def test_happy_path_writes_labels_with_source_and_model(labeling):
    key = unique_folder() + "street.jpg"
    labeling.upload(key, JPEG)
    result = labeling.wait_result(key)
    names = {label["Name"] for label in result["Labels"]}
    assert {"Person", "City"} <= names
    assert result["LabelModelVersion"] == "3.0"
    head = labeling.s3.head_object(Bucket=labeling.bucket, Key=key)
    assert result["source"]["key"] == key
    assert result["source"]["size"] == len(JPEG)
    assert result["source"]["etag"].strip('"') == head["ETag"].strip('"')
    assert result["labeled_at"].endswith("Z")


def test_png_and_upper_case_extensions_are_labeled(labeling):
    folder = unique_folder()
    keys = [folder + "alpha.png", folder + "SHOUT.JPG", folder + "long.jpeg"]
    for key, data in zip(keys, [PNG, JPEG, JPEG], strict=True):
        labeling.upload(key, data)
    for key in keys:
        assert labeling.wait_result(key)["source"]["key"] == key


def test_keys_with_spaces_plus_and_korean(labeling):
    folder = unique_folder()
    keys = [folder + "summer trip/beach day +1.jpg", folder + "고양이/사진 1.jpg"]
    for key in keys:
        labeling.upload(key, JPEG)
    for key in keys:
        assert labeling.wait_result(key)["source"]["key"] == key


def test_same_file_name_in_two_folders_gives_two_results(labeling):
    folder = unique_folder()
    alice, bob = folder + "alice/photo.jpg", folder + "bob/photo.jpg"
    labeling.upload(alice, JPEG)
    labeling.upload(bob, PNG)
    assert labeling.wait_result(alice)["source"]["key"] == alice
    assert labeling.wait_result(bob)["source"]["key"] == bob
    assert labeling.result_key(alice) != labeling.result_key(bob)


def test_objects_outside_ingest_are_not_labeled(labeling):
    labeling.upload("elsewhere/photo.jpg", JPEG)
    probe = unique_folder() + "after.jpg"
    labeling.upload(probe, JPEG)
    labeling.wait_result(probe)  # the pipeline has caught up
    called = {call.get("key") for call in labeling.rekognition.calls()}
    assert "elsewhere/photo.jpg" not in called
    assert labeling.keys("results/elsewhere") == []


def test_sqs_per_call_metrics_count_every_message(labeling):
    """SQS's per-call metrics reach CloudWatch gathered (harness_metrics), each point kept:
    every upload adds one message sent, one deleted and one size sample: no point lost,
    none counted twice. (LocalStack alone gives the same numbers: this guards the
    statistics the gathering must keep.) Counted as the growth of the queue's totals, not
    in a window from the test's start: a point is stamped when the gathering sends it."""
    folder = unique_folder()
    keys = [folder + f"{i}.jpg" for i in range(12)]

    def statistic(metric: str, name: str) -> float:
        now = datetime.now(UTC)
        points = labeling.cloudwatch.get_metric_statistics(
            Namespace="AWS/SQS",
            MetricName=metric,
            Dimensions=[{"Name": "QueueName", "Value": labeling.outputs["queue_name"]}],
            StartTime=now - timedelta(hours=2),
            EndTime=now + timedelta(minutes=1),
            Period=3600,
            Statistics=[name],
        )["Datapoints"]
        return sum(point[name] for point in points)

    def totals() -> dict[str, float]:
        return {
            "sent": statistic("NumberOfMessagesSent", "Sum"),
            "deleted": statistic("NumberOfMessagesDeleted", "Sum"),
            "sizes": statistic("SentMessageSize", "SampleCount"),
        }

    def settled() -> dict[str, float] | None:
        """The totals once two reads two sends of the gathering apart agree."""
        first = totals()
        time.sleep(2)
        return first if totals() == first else None

    before = wait_for(settled, 30, "the SQS metrics to settle", interval=0)
    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(lambda k: labeling.upload(k, JPEG), keys))
    for key in keys:
        labeling.wait_result(key)
    wait_for(
        lambda: min(totals()[name] - before[name] for name in before) >= len(keys),
        15,
        "the SQS metrics of the uploads",
        interval=0.5,
    )
    after = wait_for(settled, 30, "the SQS metrics to settle", interval=0)
    assert {name: after[name] - before[name] for name in before} == dict.fromkeys(before, len(keys))
