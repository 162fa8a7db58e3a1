"""Reading recorded S3 events (shapes, line-numbered errors), rewriting them, and the
filter policy evaluation replay uses: no AWS needed."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image

from harness.events import recordings, replay, sns_filter
from harness.events.shapes import (
    NotAnS3Event,
    eventbridge_to_s3_event,
    object_refs,
    s3_notifications,
)

EVENTS = Path(__file__).resolve().parents[2] / "fixtures" / "events"
# The labeler subscription's policy, as infra/modules/labeling/main.tf writes it.
POLICY = {
    "Records": {
        "s3": {"object": {"key": [{"prefix": "ingest/"}]}},
        "eventName": [{"prefix": "ObjectCreated:"}],
    }
}


def keys(recorded: list[recordings.RecordedEvent]) -> list[str]:
    return [ref.key for entry in recorded for ref in object_refs(entry.event)]


def test_every_sample_recording_is_read_with_its_shape_and_decoded_keys():
    recorded, errors = recordings.read([EVENTS])
    assert errors == []
    found = {(e.location.path.name, e.location.line, e.location.where): e.shape for e in recorded}
    assert found == {
        ("eventbridge-object-created.json", 1, ""): "eventbridge",
        ("recording.jsonl", 1, ""): "sns-envelope",
        ("recording.jsonl", 2, ""): "sns-envelope",
        ("recording.jsonl", 3, ""): "sns-envelope",
        ("s3-event-notification.json", 1, ""): "s3-event",
        ("sns-notification.json", 1, ""): "sns-envelope",
        ("sqs-lambda-event.json", 1, "Records[0]"): "sqs-lambda-event",
        ("sqs-lambda-event.json", 1, "Records[1]"): "sqs-lambda-event",
        ("sqs-lambda-record.json", 1, ""): "sqs-record",
        ("sqs-receive-message.json", 1, "Messages[0]"): "sqs-message",
    }
    assert keys(recorded) == [
        "ingest/eventbridge/부산 항구.jpg",
        "ingest/recorded/midnight upload.jpg",
        "uploads/raw/not-under-ingest.jpg",
        # the s3:TestEvent names no object
        "ingest/summer trip/beach day +1.jpg",
        "ingest/서울 야경.jpg",
        "ingest/batch/first.png",
        "ingest/batch/두 번째.JPG",
        "ingest/lambda/single record.jpeg",
        "ingest/고양이/사진 1.png",
    ]


def test_sample_sqs_messages_carry_the_md5_aws_computes():
    import hashlib

    message = json.loads((EVENTS / "sqs-receive-message.json").read_text())["Messages"][0]
    assert hashlib.md5(message["Body"].encode()).hexdigest() == message["MD5OfBody"]
    for record in json.loads((EVENTS / "sqs-lambda-event.json").read_text())["Records"]:
        assert hashlib.md5(record["body"].encode()).hexdigest() == record["md5OfBody"]


def test_unreadable_entries_are_reported_with_file_and_line_and_the_rest_is_read(tmp_path):
    good = (EVENTS / "recording.jsonl").read_text(encoding="utf-8").splitlines()[0]
    alarm = json.dumps(
        {
            "Type": "Notification",
            "Message": json.dumps({"AlarmName": "dlq", "NewStateValue": "ALARM"}),
        }
    )
    lines = tmp_path / "mixed.jsonl"
    lines.write_text(
        "\n".join([good, "{broken", "", alarm, '{"hello": 1}', "[1, 2]", good]) + "\n",
        encoding="utf-8",
    )
    recorded, errors = recordings.read([lines])
    assert [e.location.line for e in recorded] == [1, 7]
    assert [(e.location.line, e.reason) for e in errors] == [
        (2, "not JSON: Expecting property name enclosed in double quotes (column 2)"),
        (4, "SNS Message is a CloudWatch alarm notification, not an S3 event"),
        (
            5,
            "unknown shape: not an S3 event notification, SNS envelope, SQS message or "
            "record, or EventBridge S3 event (its keys: hello)",
        ),
        (6, "a JSON list, not an object"),
    ]
    assert (
        str(errors[0])
        == f"{lines}:2: not JSON: Expecting property name enclosed in double quotes (column 2)"
    )


def test_pretty_printed_json_errors_and_arrays_keep_their_line_numbers(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text('{\n  "Records": [\n    {"s3": }\n  ]\n}\n')
    array = tmp_path / "array.json"
    s3_event = json.loads((EVENTS / "s3-event-notification.json").read_text())
    array.write_text(
        "[\n" + json.dumps(s3_event) + ",\n\n" + json.dumps(s3_event, indent=1) + "\n]\n"
    )
    empty = tmp_path / "empty.json"
    empty.write_text("\n")
    recorded, errors = recordings.read([broken, array, empty, tmp_path / "missing.json"])
    assert [(e.location.path.name, e.location.line) for e in recorded] == [
        ("array.json", 2),
        ("array.json", 4),
    ]
    assert [(e.location.path.name, e.location.line, e.reason[:22]) for e in errors] == [
        ("broken.json", 3, "not JSON: Expecting va"),
        ("empty.json", 0, "the file is empty"),
        ("missing.json", 0, "no such file or folder"),
    ]


def test_a_bad_record_in_a_lambda_batch_is_reported_and_the_others_kept():
    batch = json.loads((EVENTS / "sqs-lambda-event.json").read_text())
    batch["Records"][0]["body"] = "not an envelope"
    found = s3_notifications(batch)
    assert isinstance(found[0], NotAnS3Event)
    assert str(found[0]).startswith("Records[0]: SQS body is not JSON")
    assert found[1].where == "Records[1]" and found[1].shape == "sqs-lambda-event"


def test_eventbridge_events_become_the_s3_notification_s3_would_send():
    event = json.loads((EVENTS / "eventbridge-object-created.json").read_text())
    record = eventbridge_to_s3_event(event)["Records"][0]
    assert record["eventName"] == "ObjectCreated:Put"
    assert record["awsRegion"] == "ap-northeast-2"
    assert record["s3"]["object"]["eTag"] == event["detail"]["object"]["etag"]
    deleted = event | {
        "detail-type": "Object Deleted",
        "detail": event["detail"] | {"reason": "DeleteObject"},
    }
    assert eventbridge_to_s3_event(deleted)["Records"][0]["eventName"] == "ObjectRemoved:Delete"
    with pytest.raises(NotAnS3Event, match="Object Tags Added"):
        eventbridge_to_s3_event(event | {"detail-type": "Object Tags Added"})


def test_rewriting_maps_buckets_arns_region_and_account_and_keeps_keys_encoded():
    envelope = json.loads((EVENTS / "sns-notification.json").read_text())
    event = json.loads(envelope["Message"])
    rewriter = replay.Rewriter(
        default_bucket="local-images",
        region="us-east-1",
        account="000000000000",
        bucket_map={"other-bucket": "mapped"},
    )
    rewritten = rewriter.rewrite(event)
    record = rewritten["Records"][0]
    assert record["s3"]["bucket"] == {
        "name": "local-images",
        "ownerIdentity": {"principalId": "A3NL1KOZZKEXAMPLE"},
        "arn": "arn:aws:s3:::local-images",
    }
    assert record["awsRegion"] == "us-east-1"
    assert record["s3"]["object"]["key"] == event["Records"][0]["s3"]["object"]["key"]
    assert event["Records"][0]["s3"]["bucket"]["name"] == "prod-image-upload"  # not mutated
    assert rewriter.bucket("other-bucket") == "mapped"
    assert rewriter._strings("arn:aws-cn:sqs:cn-north-1:123456789012:q") == (
        "arn:aws:sqs:us-east-1:000000000000:q"
    )
    test_event = {"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "other-bucket"}
    assert rewriter.rewrite(test_event)["Bucket"] == "mapped"
    assert replay.parse_bucket_map(["a=b", "c=d"]) == {"a": "b", "c": "d"}
    with pytest.raises(ValueError, match="SOURCE=LOCAL"):
        replay.parse_bucket_map(["no-equals-sign"])


def test_the_labeler_filter_policy_lets_only_created_objects_under_ingest_through():
    recorded, _ = recordings.read([EVENTS / "recording.jsonl"])
    verdicts = [sns_filter.matches(POLICY, entry.event) for entry in recorded]
    assert verdicts == [True, False, False]  # ingest/, uploads/, s3:TestEvent
    removed = json.loads(json.dumps(recorded[0].event))
    removed["Records"][0]["eventName"] = "ObjectRemoved:Delete"
    assert not sns_filter.matches(POLICY, json.dumps(removed))
    assert sns_filter.matches(None, "anything")
    assert not sns_filter.matches(POLICY, "not json")


def test_filter_policy_operators():
    message = {"a": {"b": [{"c": "x-1"}, {"c": "y-2"}]}, "n": 5, "flag": True}
    match = sns_filter.matches
    assert match({"a": {"b": {"c": [{"suffix": "-2"}]}}}, message)
    assert match({"a": {"b": {"c": ["x-1"]}}}, message)
    assert not match({"a": {"b": {"c": [{"anything-but": ["x-1", "y-2"]}]}}}, message)
    assert match({"n": [{"numeric": [">", 1, "<=", 5]}]}, message)
    assert match({"n": [5.0]}, message) and not match({"n": ["5"]}, message)
    assert match({"missing": [{"exists": False}], "n": [{"exists": True}]}, message)
    assert match({"$or": [{"n": [1]}, {"flag": [True]}]}, message)
    assert match({"a": {"b": {"c": [{"equals-ignore-case": "X-1"}]}}}, message)
    with pytest.raises(sns_filter.UnsupportedFilter, match="cidr"):
        match({"ip": [{"cidr": "10.0.0.0/24"}]}, {"ip": "10.0.0.1"})


def test_placeholders_are_images_in_the_key_s_format_or_text():
    for key, expected in (("ingest/a b.png", "PNG"), ("ingest/c.JPG", "JPEG"), ("x.jpeg", "JPEG")):
        data, content_type = replay.placeholder(key)
        assert Image.open(io.BytesIO(data)).format == expected
        assert content_type == f"image/{expected.lower()}"
        assert replay.placeholder(key) == (data, content_type)  # deterministic
    data, content_type = replay.placeholder("ingest/notes.txt")
    assert content_type == "text/plain" and b"not an image" in data


def test_sns_envelope_is_what_an_sqs_subscriber_receives():
    event = json.loads((EVENTS / "s3-event-notification.json").read_text())
    envelope = replay.sns_envelope(event, "arn:aws:sns:us-east-1:000000000000:t")
    assert envelope["Type"] == "Notification"
    assert envelope["Subject"] == "Amazon S3 Notification"
    assert envelope["TopicArn"] == "arn:aws:sns:us-east-1:000000000000:t"
    assert json.loads(envelope["Message"]) == event
    [found] = s3_notifications(envelope)
    assert (found.shape, found.event) == ("sns-envelope", event)
