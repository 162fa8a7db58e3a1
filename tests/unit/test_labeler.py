"""Business logic of the labeler (labeling.py, s3_notification.py) with fake clients."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote_plus

import pytest
from botocore.exceptions import EndpointConnectionError

BUCKET = "image-pipeline-123456789012"
NOW = "2024-05-01T15:00:02Z"


@pytest.fixture
def labeling(load_lambda):
    return load_lambda("labeler", "labeling")


@pytest.fixture
def notification(load_lambda):
    return load_lambda("labeler", "s3_notification")


@pytest.fixture
def config(labeling):
    return labeling.Config()


def first_message(event: dict[str, Any]) -> dict[str, Any]:
    return event["Records"][0]


def sns_body(message: str) -> str:
    """An SQS body as SNS writes it (envelope around a JSON-string Message)."""
    return json.dumps({"Type": "Notification", "MessageId": "m-1", "Message": message})


def s3_records_of(event: dict[str, Any]) -> list[dict[str, Any]]:
    envelope = json.loads(first_message(event)["body"])
    return json.loads(envelope["Message"])["Records"]


def run(labeling, record: dict[str, Any], s3, rekognition, config, receive_count: int = 1) -> int:
    return labeling.process_message(
        record["body"],
        message_id=record["messageId"],
        receive_count=receive_count,
        s3=s3,
        rekognition=rekognition,
        config=config,
        now=lambda: NOW,
    )


def add_sources(s3, event: dict[str, Any]) -> list[str]:
    """Put the objects named by an event into the fake bucket, with the event's ETag."""
    keys = []
    for raw in s3_records_of(event):
        key = unquote_plus(raw["s3"]["object"]["key"])
        s3.add(raw["s3"]["bucket"]["name"], key, etag=raw["s3"]["object"]["eTag"])
        keys.append(key)
    return keys


# --- parsing --------------------------------------------------------------


def test_key_with_plus_for_space_and_encoded_plus_is_decoded(notification, event):
    raw = s3_records_of(event("sqs_sns_s3_key_spaces"))[0]
    assert raw["s3"]["object"]["key"] == "ingest/summer+trip/beach+day+%2B1.jpg"
    obj = notification.parse_s3_record(raw, 0)
    assert obj.key == "ingest/summer trip/beach day +1.jpg"


def test_korean_key_is_decoded(notification, event):
    raw = s3_records_of(event("sqs_sns_s3_key_korean"))[0]
    obj = notification.parse_s3_record(raw, 0)
    assert obj.key == "ingest/고양이/사진 1.jpg"
    assert (obj.bucket, obj.etag, obj.size) == (BUCKET, "4" * 32, 4096)


def test_test_event_is_recognised(notification, event):
    assert notification.parse_message(first_message(event("sqs_sns_s3_test_event"))["body"]) is None


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("this is not json", "SQS body is not JSON"),
        ("[1, 2]", "SQS body is not a JSON object"),
        (json.dumps({"Records": []}), "SQS body is not an SNS notification: missing Message"),
        (
            json.dumps({"Type": "SubscriptionConfirmation", "Message": "{}"}),
            "SNS envelope Type is 'SubscriptionConfirmation'",
        ),
        (json.dumps({"Type": "Notification", "Message": {"Records": []}}), "not a string"),
        (sns_body("Records: none"), "SNS Message is not JSON"),
        (
            sns_body(json.dumps({"hello": "world"})),
            "SNS Message is not an S3 event notification: missing Records",
        ),
        (sns_body(json.dumps({"Records": []})), "S3 event notification has no Records"),
    ],
)
def test_malformed_messages_have_clear_reasons(notification, body, reason):
    with pytest.raises(notification.MalformedEventError) as caught:
        notification.parse_message(body)
    assert reason in caught.value.reason
    assert caught.value.error_code == "MalformedEvent"
    assert caught.value.transient is False


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("nope", "S3 record 0 is not a JSON object"),
        ({"eventName": "ObjectCreated:Put"}, "S3 record 0 has no s3 section"),
        ({"s3": {"object": {"key": "ingest/a.jpg"}}}, "S3 record 0 has no s3.bucket.name"),
        ({"s3": {"bucket": {"name": BUCKET}, "object": {}}}, "S3 record 0 has no s3.object.key"),
    ],
)
def test_malformed_s3_records_have_clear_reasons(notification, raw, reason):
    with pytest.raises(notification.MalformedEventError, match=reason):
        notification.parse_s3_record(raw, 0)


# --- configuration and keys -----------------------------------------------


def test_config_defaults_and_overrides(labeling):
    assert labeling.Config.from_env({}) == labeling.Config(
        ingest_prefix="ingest/",
        results_prefix="results/",
        failures_prefix="failures/",
        min_confidence=70.0,
        max_labels=25,
        failures_bucket=None,
    )
    custom = labeling.Config.from_env(
        {"INGEST_PREFIX": "in/", "MIN_CONFIDENCE": "85.5", "MAX_LABELS": "10"}
    )
    assert (custom.ingest_prefix, custom.min_confidence, custom.max_labels) == ("in/", 85.5, 10)


def test_config_rejects_bad_numbers(labeling):
    with pytest.raises(ValueError, match=r"MAX_LABELS must be a number \(int\), got 'many'"):
        labeling.Config.from_env({"MAX_LABELS": "many"})


def test_result_and_failure_keys_keep_the_folder(labeling, config):
    assert labeling.result_key("ingest/a/b c.jpg", config) == "results/a/b c.jpg.json"
    assert labeling.failure_key("ingest/a/b c.jpg", "m", config) == "failures/a/b c.jpg.json"
    assert labeling.failure_key(None, "m-9", config) == "failures/_messages/m-9.json"
    assert labeling.failure_key("other/x.jpg", "m-9", config) == "failures/_messages/m-9.json"


def test_describe_failure_classifies_transient_errors(labeling, client_error):
    assert labeling.describe_failure(client_error("ThrottlingException", "DetectLabels")).transient
    assert labeling.describe_failure(client_error("Whatever", "DetectLabels", 503)).transient
    bad_image = labeling.describe_failure(
        client_error("InvalidImageFormatException", "DetectLabels")
    )
    assert (bad_image.error_code, bad_image.transient) == ("InvalidImageFormatException", False)
    offline = labeling.describe_failure(EndpointConnectionError(endpoint_url="http://x"))
    assert (offline.error_code, offline.transient) == ("EndpointConnectionError", True)
    bug = labeling.describe_failure(KeyError("Labels"))
    assert (bug.error_code, bug.transient) == ("KeyError", False)


# --- labeling ---------------------------------------------------------------


def test_put_event_writes_result_document(
    labeling, config, event, fake_s3, fake_rekognition, detect_labels_response
):
    put = event("sqs_sns_s3_put")
    add_sources(fake_s3, put)

    assert run(labeling, first_message(put), fake_s3, fake_rekognition, config) == 1

    assert fake_rekognition.calls == [
        {
            "Image": {
                "S3Object": {
                    "Bucket": BUCKET,
                    "Name": "ingest/2024/05/01/cat.jpg",
                    "Version": "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY",
                }
            },
            "MaxLabels": 25,
            "MinConfidence": 70.0,
        }
    ]
    result_put = [p for p in fake_s3.puts if p["Key"].startswith("results/")]
    assert result_put == [
        {
            "Bucket": BUCKET,
            "Key": "results/2024/05/01/cat.jpg.json",
            "ContentType": "application/json",
        }
    ]
    assert fake_s3.document(BUCKET, "results/2024/05/01/cat.jpg.json") == {
        "source": {
            "bucket": BUCKET,
            "key": "ingest/2024/05/01/cat.jpg",
            "etag": "9b2cf535f27731c974343645a3985328",
            "size": 48213,
            "version_id": "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY",
        },
        "Labels": detect_labels_response["Labels"],
        "LabelModelVersion": "3.0",
        "labeled_at": NOW,
    }


def test_result_keeps_every_field_of_the_detect_labels_response(
    labeling, config, event, fake_s3, fake_rekognition, detect_labels_response
):
    """Seed A stored the response itself: readers expect its fields at the top level."""
    fake_rekognition.response = {
        **detect_labels_response,
        "OrientationCorrection": "ROTATE_90",
        "ImageProperties": {"Quality": {"Brightness": 71.2}},
    }
    put = event("sqs_sns_s3_put")
    add_sources(fake_s3, put)
    run(labeling, first_message(put), fake_s3, fake_rekognition, config)

    result = fake_s3.document(BUCKET, "results/2024/05/01/cat.jpg.json")
    assert list(result) == [
        "source",
        "Labels",
        "LabelModelVersion",
        "OrientationCorrection",
        "ImageProperties",
        "labeled_at",
    ]  # boto3's ResponseMetadata is not a result and is left out
    assert result["OrientationCorrection"] == "ROTATE_90"
    assert result["ImageProperties"] == {"Quality": {"Brightness": 71.2}}
    assert result["Labels"] == detect_labels_response["Labels"]


def test_result_document_cannot_be_overridden_by_the_response(labeling):
    document = labeling.result_document(
        {"key": "ingest/a.jpg"}, {"source": "x", "labeled_at": "y", "LabelModelVersion": "3.0"}, NOW
    )
    assert document == {
        "source": {"key": "ingest/a.jpg"},
        "LabelModelVersion": "3.0",
        "Labels": [],
        "labeled_at": NOW,
    }


def test_every_record_of_a_multi_record_event_is_labeled(
    labeling, config, event, fake_s3, fake_rekognition
):
    multi = event("sqs_sns_s3_multi_record")
    add_sources(fake_s3, multi)

    assert run(labeling, first_message(multi), fake_s3, fake_rekognition, config) == 2

    assert fake_rekognition.names() == [
        "ingest/users/alice/photo.jpg",
        "ingest/users/bob/photo.jpg",
    ]
    # Same file name in two folders: two results, neither overwrites the other.
    assert fake_s3.keys("results/") == [
        "results/users/alice/photo.jpg.json",
        "results/users/bob/photo.jpg.json",
    ]
    bob = fake_s3.document(BUCKET, "results/users/bob/photo.jpg.json")
    assert bob["source"]["etag"] == "2" * 32


@pytest.mark.parametrize(
    ("name", "key", "result"),
    [
        (
            "sqs_sns_s3_key_spaces",
            "ingest/summer trip/beach day +1.jpg",
            "results/summer trip/beach day +1.jpg.json",
        ),
        ("sqs_sns_s3_key_korean", "ingest/고양이/사진 1.jpg", "results/고양이/사진 1.jpg.json"),
    ],
)
def test_encoded_keys_are_labeled_under_their_real_name(
    labeling, config, event, fake_s3, fake_rekognition, name, key, result
):
    recorded = event(name)
    add_sources(fake_s3, recorded)

    run(labeling, first_message(recorded), fake_s3, fake_rekognition, config)

    assert fake_rekognition.names() == [key]
    assert fake_s3.document(BUCKET, result)["source"]["key"] == key


def test_test_event_succeeds_without_touching_anything(
    labeling, config, event, fake_s3, fake_rekognition
):
    assert (
        run(
            labeling,
            first_message(event("sqs_sns_s3_test_event")),
            fake_s3,
            fake_rekognition,
            config,
        )
        == 0
    )
    assert fake_rekognition.calls == []
    assert fake_s3.puts == [] and fake_s3.deletes == []


def test_duplicate_delivery_does_not_call_rekognition_again(
    labeling, config, event, fake_s3, fake_rekognition
):
    put = event("sqs_sns_s3_put")
    add_sources(fake_s3, put)
    run(labeling, first_message(put), fake_s3, fake_rekognition, config)
    puts_after_first = len(fake_s3.puts)

    assert run(labeling, first_message(put), fake_s3, fake_rekognition, config) == 0

    assert len(fake_rekognition.calls) == 1
    assert len(fake_s3.puts) == puts_after_first


def test_result_matching_the_current_object_etag_is_kept(
    labeling, config, event, fake_s3, fake_rekognition
):
    """The object was replaced after the event; the result already describes the new bytes."""
    put = event("sqs_sns_s3_put")
    fake_s3.add(BUCKET, "ingest/2024/05/01/cat.jpg", etag="newer0000000000000000000000000000")
    fake_s3.add(
        BUCKET,
        "results/2024/05/01/cat.jpg.json",
        json.dumps(
            {"source": {"etag": "newer0000000000000000000000000000"}, "Labels": []}
        ).encode(),
    )

    assert run(labeling, first_message(put), fake_s3, fake_rekognition, config) == 0
    assert fake_rekognition.calls == []


def test_a_result_in_the_earlier_shape_is_rewritten_on_redelivery(
    labeling, config, event, fake_s3, fake_rekognition
):
    """Results written before `labels` became `Labels` again are brought to the seed's shape."""
    put = event("sqs_sns_s3_put")
    add_sources(fake_s3, put)
    old = {
        "source": {"etag": "9b2cf535f27731c974343645a3985328"},
        "labels": [],
        "label_model_version": "3.0",
    }
    fake_s3.add(BUCKET, "results/2024/05/01/cat.jpg.json", json.dumps(old).encode())

    assert run(labeling, first_message(put), fake_s3, fake_rekognition, config) == 1
    stored = fake_s3.document(BUCKET, "results/2024/05/01/cat.jpg.json")
    assert "labels" not in stored and stored["LabelModelVersion"] == "3.0"


def test_result_for_other_bytes_is_replaced(labeling, config, event, fake_s3, fake_rekognition):
    put = event("sqs_sns_s3_put")
    add_sources(fake_s3, put)
    fake_s3.add(
        BUCKET,
        "results/2024/05/01/cat.jpg.json",
        json.dumps({"source": {"etag": "stale000000000000000000000000000"}}).encode(),
    )

    assert run(labeling, first_message(put), fake_s3, fake_rekognition, config) == 1
    stored = fake_s3.document(BUCKET, "results/2024/05/01/cat.jpg.json")
    assert stored["source"]["etag"] == "9b2cf535f27731c974343645a3985328"


def test_success_removes_an_earlier_failure_record(
    labeling, config, event, fake_s3, fake_rekognition
):
    put = event("sqs_sns_s3_put")
    add_sources(fake_s3, put)
    fake_s3.add(BUCKET, "failures/2024/05/01/cat.jpg.json", b'{"reason": "throttled"}')

    run(labeling, first_message(put), fake_s3, fake_rekognition, config)

    assert fake_s3.keys("failures/") == []
    assert (BUCKET, "failures/2024/05/01/cat.jpg.json") in fake_s3.deletes


# --- failures -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "transient"),
    [
        ("InvalidImageFormatException", False),
        ("ImageTooLargeException", False),
        ("InvalidS3ObjectException", False),
        ("ThrottlingException", True),
    ],
)
def test_rekognition_error_writes_failure_record_and_raises(
    labeling, config, event, fake_s3, fake_rekognition, client_error, code, transient
):
    put = event("sqs_sns_s3_put")
    add_sources(fake_s3, put)
    fake_rekognition.errors["ingest/2024/05/01/cat.jpg"] = client_error(code, "DetectLabels")

    with pytest.raises(labeling.MessageFailed, match=code):
        run(labeling, first_message(put), fake_s3, fake_rekognition, config, receive_count=4)

    assert fake_s3.keys("results/") == []
    record = fake_s3.document(BUCKET, "failures/2024/05/01/cat.jpg.json")
    assert record == {
        "reason": f"An error occurred ({code}) when calling the DetectLabels operation: {code}",
        "error_code": code,
        "transient": transient,
        "receive_count": 4,
        "message_id": "059f36b4-87a3-44ab-83d2-661975830a7d",
        "source": {"bucket": BUCKET, "key": "ingest/2024/05/01/cat.jpg"},
        "failed_at": NOW,
    }


def test_missing_source_object_fails_without_calling_rekognition(
    labeling, config, event, fake_s3, fake_rekognition
):
    put = event("sqs_sns_s3_put")  # the object is not in the fake bucket

    with pytest.raises(labeling.MessageFailed, match="no longer exists"):
        run(labeling, first_message(put), fake_s3, fake_rekognition, config)

    assert fake_rekognition.calls == []
    record = fake_s3.document(BUCKET, "failures/2024/05/01/cat.jpg.json")
    assert (record["error_code"], record["transient"]) == ("NoSuchKey", False)


def test_key_outside_ingest_prefix_is_a_visible_failure(
    labeling, config, event, fake_s3, fake_rekognition
):
    outside = event("sqs_batch_mixed")["Records"][2]
    fake_s3.add(BUCKET, "uploads/elsewhere.jpg")

    with pytest.raises(labeling.MessageFailed, match="outside the ingest prefix"):
        run(labeling, outside, fake_s3, fake_rekognition, config)

    assert fake_rekognition.calls == []
    record = fake_s3.document(BUCKET, f"failures/_messages/{outside['messageId']}.json")
    assert record["error_code"] == "KeyOutsideIngestPrefix"
    assert record["source"] == {"bucket": BUCKET, "key": "uploads/elsewhere.jpg"}


def test_non_create_event_is_a_visible_failure(labeling, config, event, fake_s3, fake_rekognition):
    put = event("sqs_sns_s3_put")
    record = first_message(put)
    envelope = json.loads(record["body"])
    s3_event = json.loads(envelope["Message"])
    s3_event["Records"][0]["eventName"] = "ObjectRemoved:Delete"
    envelope["Message"] = json.dumps(s3_event)
    record["body"] = json.dumps(envelope)

    with pytest.raises(labeling.MessageFailed, match="unsupported S3 event 'ObjectRemoved:Delete'"):
        run(labeling, record, fake_s3, fake_rekognition, config)
    assert fake_rekognition.calls == []


def test_unexpected_exception_is_recorded_with_its_type(
    labeling, config, event, fake_s3, fake_rekognition
):
    put = event("sqs_sns_s3_put")
    add_sources(fake_s3, put)
    fake_rekognition.errors["ingest/2024/05/01/cat.jpg"] = RuntimeError("boom")

    with pytest.raises(labeling.MessageFailed, match="RuntimeError: boom"):
        run(labeling, first_message(put), fake_s3, fake_rekognition, config)
    assert (
        fake_s3.document(BUCKET, "failures/2024/05/01/cat.jpg.json")["error_code"] == "RuntimeError"
    )


def test_one_bad_object_does_not_stop_the_others(
    labeling, config, event, fake_s3, fake_rekognition, client_error
):
    multi = event("sqs_sns_s3_multi_record")
    add_sources(fake_s3, multi)
    fake_rekognition.errors["ingest/users/alice/photo.jpg"] = client_error(
        "ImageTooLargeException", "DetectLabels"
    )

    with pytest.raises(
        labeling.MessageFailed, match=r"1 of 2 object\(s\) failed: ingest/users/alice"
    ):
        run(labeling, first_message(multi), fake_s3, fake_rekognition, config)
    assert fake_s3.keys("results/") == ["results/users/bob/photo.jpg.json"]
    assert fake_s3.keys("failures/") == ["failures/users/alice/photo.jpg.json"]

    # The image is fixed and the message redelivered: only alice is labeled again.
    del fake_rekognition.errors["ingest/users/alice/photo.jpg"]
    fake_rekognition.calls.clear()
    assert run(labeling, first_message(multi), fake_s3, fake_rekognition, config) == 1
    assert fake_rekognition.names() == ["ingest/users/alice/photo.jpg"]
    assert fake_s3.keys("failures/") == []


def test_malformed_body_failure_record_goes_to_failures_bucket(
    labeling, event, fake_s3, fake_rekognition
):
    bad = event("sqs_batch_mixed")["Records"][1]
    config = labeling.Config(failures_bucket="ops-bucket")

    with pytest.raises(labeling.RecordFailure, match="SQS body is not JSON"):
        run(labeling, bad, fake_s3, fake_rekognition, config, receive_count=3)

    record = fake_s3.document("ops-bucket", f"failures/_messages/{bad['messageId']}.json")
    assert record["error_code"] == "MalformedEvent"
    assert record["receive_count"] == 3
    assert "source" not in record


def test_malformed_body_without_failures_bucket_is_only_logged(
    labeling, config, event, fake_s3, fake_rekognition, caplog
):
    bad = event("sqs_batch_mixed")["Records"][1]

    with pytest.raises(labeling.RecordFailure):
        run(labeling, bad, fake_s3, fake_rekognition, config)

    assert fake_s3.puts == []
    failed = [r for r in caplog.records if r.getMessage() == "Labeling failed"]
    assert len(failed) == 1
    assert failed[0].message_id == bad["messageId"]
    assert failed[0].reason.startswith("SQS body is not JSON")


def test_failure_log_names_key_and_reason(
    labeling, config, event, fake_s3, fake_rekognition, client_error, caplog
):
    put = event("sqs_sns_s3_put")
    add_sources(fake_s3, put)
    fake_rekognition.errors["ingest/2024/05/01/cat.jpg"] = client_error(
        "InvalidImageFormatException", "DetectLabels", message="Request has invalid image format"
    )

    with pytest.raises(labeling.MessageFailed):
        run(labeling, first_message(put), fake_s3, fake_rekognition, config)

    (failed,) = [r for r in caplog.records if r.getMessage() == "Labeling failed"]
    assert failed.levelname == "ERROR"
    assert failed.key == "ingest/2024/05/01/cat.jpg"
    assert "Request has invalid image format" in failed.reason
    assert failed.failure_record == f"s3://{BUCKET}/failures/2024/05/01/cat.jpg.json"


def test_original_error_is_raised_when_failure_record_cannot_be_written(
    labeling, config, event, fake_s3, fake_rekognition, client_error, caplog
):
    put = event("sqs_sns_s3_put")
    add_sources(fake_s3, put)
    fake_rekognition.errors["ingest/2024/05/01/cat.jpg"] = client_error(
        "InvalidS3ObjectException", "DetectLabels"
    )
    fake_s3.fail_puts_under = "failures/"

    with pytest.raises(labeling.MessageFailed, match="InvalidS3ObjectException"):
        run(labeling, first_message(put), fake_s3, fake_rekognition, config)

    assert fake_s3.keys("failures/") == []
    assert any(r.getMessage() == "Could not write failure record" for r in caplog.records)


def test_folder_placeholder_objects_are_ignored(labeling, config, fake_s3, fake_rekognition):
    """The S3 console creates `ingest/<folder>/` objects; they are not images."""
    raw = {
        "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": BUCKET}, "object": {"key": "ingest/new+folder/", "size": 0}},
    }
    record = {"messageId": "m-folder", "body": sns_body(json.dumps({"Records": [raw]}))}

    assert run(labeling, record, fake_s3, fake_rekognition, config) == 0
    assert fake_rekognition.calls == [] and fake_s3.puts == []


def test_objects_not_started_before_the_timeout_fail_with_a_recorded_reason(
    labeling, config, event, fake_s3, fake_rekognition
):
    multi = event("sqs_sns_s3_multi_record")
    add_sources(fake_s3, multi)
    record = first_message(multi)
    # Time for the first object only (checked as it starts and before its DetectLabels).
    budget = iter([False, False, True])

    with pytest.raises(labeling.MessageFailed, match=r"1 of 2 object\(s\) failed"):
        _process_on_a_budget(labeling, record, fake_s3, fake_rekognition, config, budget)
    assert fake_rekognition.names() == ["ingest/users/alice/photo.jpg"]
    failure = fake_s3.document(BUCKET, "failures/users/bob/photo.jpg.json")
    assert failure["error_code"] == "TimeBudgetExhausted"
    assert failure["transient"] is True
    assert "ran out of time" in failure["reason"]


def test_time_running_out_after_the_reads_skips_detect_labels_and_records_why(
    labeling, config, event, fake_s3, fake_rekognition
):
    """Cut off between DetectLabels and the result's write, an invocation would have the
    next delivery pay Rekognition again; so the budget is checked just before the call."""
    single = event("sqs_sns_s3_multi_record")
    add_sources(fake_s3, single)
    record = first_message(single)
    budget = iter([False, True, True, True])  # enough to start, not to call Rekognition

    with pytest.raises(labeling.MessageFailed, match=r"2 of 2 object\(s\) failed"):
        _process_on_a_budget(labeling, record, fake_s3, fake_rekognition, config, budget)
    assert fake_rekognition.names() == []
    failure = fake_s3.document(BUCKET, "failures/users/alice/photo.jpg.json")
    assert failure["error_code"] == "TimeBudgetExhausted"


def _process_on_a_budget(labeling, record, fake_s3, fake_rekognition, config, budget) -> int:
    """process_message with `out_of_time` answered by the `budget` iterator, in order."""
    return labeling.process_message(
        record["body"],
        message_id=record["messageId"],
        receive_count=1,
        s3=fake_s3,
        rekognition=fake_rekognition,
        config=config,
        out_of_time=lambda: next(budget),
    )
