"""The labeler's Lambda handler end to end through Powertools' BatchProcessor."""

from __future__ import annotations

import json
import os
import threading

import pytest

BUCKET = "image-pipeline-123456789012"
MIXED_OK = ["4a1c9f0e-0001-4b7e-9d3c-5f2a8e6b1c01", "4a1c9f0e-0005-4b7e-9d3c-5f2a8e6b1c05"]
MIXED_BAD = [
    "4a1c9f0e-0002-4b7e-9d3c-5f2a8e6b1c02",  # body is not JSON
    "4a1c9f0e-0003-4b7e-9d3c-5f2a8e6b1c03",  # key outside ingest/
    "4a1c9f0e-0004-4b7e-9d3c-5f2a8e6b1c04",  # SNS Message without Records
]


@pytest.fixture
def app(load_lambda, fake_s3, fake_rekognition, monkeypatch):
    """The handler module with fake clients and a clean environment."""
    module = load_lambda("labeler", "app")
    monkeypatch.setattr(module, "_clients", {"s3": fake_s3, "rekognition": fake_rekognition})
    for name in (
        "INGEST_PREFIX",
        "RESULTS_PREFIX",
        "FAILURES_PREFIX",
        "MIN_CONFIDENCE",
        "MAX_LABELS",
        "FAILURES_BUCKET",
    ):
        monkeypatch.delenv(name, raising=False)
    return module


def failed_ids(response: dict) -> list[str]:
    return sorted(item["itemIdentifier"] for item in response["batchItemFailures"])


def test_partial_batch_failure_reports_exactly_the_failed_messages(
    app, event, fake_s3, fake_rekognition, lambda_context, monkeypatch
):
    monkeypatch.setenv("FAILURES_BUCKET", BUCKET)
    fake_s3.add(BUCKET, "ingest/batch/ok-1.jpg")
    fake_s3.add(BUCKET, "ingest/batch/ok 2.png")
    fake_s3.add(BUCKET, "uploads/elsewhere.jpg")

    response = app.handler(event("sqs_batch_mixed"), lambda_context)

    assert failed_ids(response) == MIXED_BAD
    assert fake_rekognition.names() == ["ingest/batch/ok-1.jpg", "ingest/batch/ok 2.png"]
    assert fake_s3.keys("results/") == [
        "results/batch/ok 2.png.json",
        "results/batch/ok-1.jpg.json",
    ]
    assert fake_s3.keys("failures/") == [f"failures/_messages/{mid}.json" for mid in MIXED_BAD]
    not_json = fake_s3.document(BUCKET, f"failures/_messages/{MIXED_BAD[0]}.json")
    assert (not_json["error_code"], not_json["receive_count"]) == ("MalformedEvent", 3)
    no_records = fake_s3.document(BUCKET, f"failures/_messages/{MIXED_BAD[2]}.json")
    assert no_records["reason"] == "SNS Message is not an S3 event notification: missing Records"


def test_redelivered_good_messages_are_not_labeled_twice(
    app, event, fake_s3, fake_rekognition, lambda_context
):
    fake_s3.add(BUCKET, "ingest/batch/ok-1.jpg")
    fake_s3.add(BUCKET, "ingest/batch/ok 2.png")
    batch = event("sqs_batch_mixed")
    batch["Records"] = [r for r in batch["Records"] if r["messageId"] in MIXED_OK]

    assert app.handler(batch, lambda_context) == {"batchItemFailures": []}
    assert app.handler(batch, lambda_context) == {"batchItemFailures": []}
    assert len(fake_rekognition.calls) == 2


def test_entire_batch_failing_is_reported_not_raised(app, event, fake_rekognition, lambda_context):
    batch = event("sqs_batch_mixed")
    batch["Records"] = [r for r in batch["Records"] if r["messageId"] in MIXED_BAD]

    response = app.handler(batch, lambda_context)

    assert failed_ids(response) == MIXED_BAD
    assert fake_rekognition.calls == []


def test_rekognition_error_fails_only_its_message(
    app, event, fake_s3, fake_rekognition, client_error, lambda_context
):
    put, korean = event("sqs_sns_s3_put"), event("sqs_sns_s3_key_korean")
    fake_s3.add(BUCKET, "ingest/2024/05/01/cat.jpg", etag="9b2cf535f27731c974343645a3985328")
    fake_s3.add(BUCKET, "ingest/고양이/사진 1.jpg")
    fake_rekognition.errors["ingest/고양이/사진 1.jpg"] = client_error(
        "ThrottlingException", "DetectLabels", message="Rate exceeded"
    )
    batch = {"Records": put["Records"] + korean["Records"]}

    response = app.handler(batch, lambda_context)

    assert failed_ids(response) == [korean["Records"][0]["messageId"]]
    record = fake_s3.document(BUCKET, "failures/고양이/사진 1.jpg.json")
    assert (record["error_code"], record["transient"]) == ("ThrottlingException", True)
    assert fake_s3.keys("results/") == ["results/2024/05/01/cat.jpg.json"]


def test_environment_settings_reach_detect_labels(
    app, event, fake_s3, fake_rekognition, lambda_context, monkeypatch
):
    monkeypatch.setenv("MIN_CONFIDENCE", "90")
    monkeypatch.setenv("MAX_LABELS", "5")
    monkeypatch.setenv("RESULTS_PREFIX", "labels/")
    fake_s3.add(BUCKET, "ingest/users/alice/photo.jpg")
    fake_s3.add(BUCKET, "ingest/users/bob/photo.jpg")

    assert app.handler(event("sqs_sns_s3_multi_record"), lambda_context) == {
        "batchItemFailures": []
    }

    assert {(c["MaxLabels"], c["MinConfidence"]) for c in fake_rekognition.calls} == {(5, 90.0)}
    assert fake_s3.keys("labels/") == [
        "labels/users/alice/photo.jpg.json",
        "labels/users/bob/photo.jpg.json",
    ]


def test_invalid_setting_fails_the_invocation(app, event, lambda_context, monkeypatch):
    monkeypatch.setenv("MAX_LABELS", "lots")
    with pytest.raises(ValueError, match="MAX_LABELS"):
        app.handler(event("sqs_sns_s3_put"), lambda_context)


def test_test_event_is_acknowledged(app, event, fake_s3, fake_rekognition, lambda_context):
    assert app.handler(event("sqs_sns_s3_test_event"), lambda_context) == {"batchItemFailures": []}
    assert fake_rekognition.calls == [] and fake_s3.puts == []


def test_rekognition_client_uses_the_standard_endpoint_variable(load_lambda, monkeypatch):
    """The local stub is reached through boto3's AWS_ENDPOINT_URL_REKOGNITION, nothing custom."""
    module = load_lambda("labeler", "app")
    monkeypatch.setattr(module, "_clients", {})
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-northeast-2")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_ENDPOINT_URL_REKOGNITION", "http://127.0.0.1:4580")

    client = module.client("rekognition")

    assert client.meta.endpoint_url == "http://127.0.0.1:4580"
    assert module.client("rekognition") is client


def test_every_message_of_a_batch_of_ten_starts_at_once(
    app, event, fake_s3, fake_rekognition, lambda_context, monkeypatch
):
    """Ten DetectLabels calls must be in flight together. With asyncio's default executor
    (min(32, cpus + 4) threads: 6 on 2 vCPUs) the last messages of a batch started late,
    passed the time check just above the margin and were cut off by the timeout after
    DetectLabels but before the result was written: labeled twice on redelivery."""
    # What a small function reports (Python 3.13 and later ask process_cpu_count).
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    monkeypatch.setattr(os, "process_cpu_count", lambda: 2, raising=False)
    together = threading.Barrier(10, timeout=10)
    detect_labels = fake_rekognition.detect_labels

    def detect_labels_once_all_ten_are_calling(**kwargs):
        together.wait()  # BrokenBarrierError (a failed message) unless ten threads wait
        return detect_labels(**kwargs)

    monkeypatch.setattr(fake_rekognition, "detect_labels", detect_labels_once_all_ten_are_calling)
    batch = event("sqs_sns_s3_put")
    template = batch["Records"][0]
    batch["Records"] = []
    for n in range(10):
        key = f"ingest/batch/{n}.jpg"
        fake_s3.add(BUCKET, key)
        body = json.loads(template["body"])
        message = json.loads(body["Message"])
        message["Records"][0]["s3"]["bucket"]["name"] = BUCKET
        message["Records"][0]["s3"]["object"]["key"] = key
        body["Message"] = json.dumps(message)
        batch["Records"].append(
            template | {"messageId": f"00000000-0000-4000-8000-{n:012}", "body": json.dumps(body)}
        )

    assert app.handler(batch, lambda_context) == {"batchItemFailures": []}
    assert sorted(fake_rekognition.names()) == [f"ingest/batch/{n}.jpg" for n in range(10)]
