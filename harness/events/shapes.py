"""Reading S3 object references out of the envelopes AWS wraps them in.

A message on the pipeline's queues is an SNS notification whose `Message` is an S3
event notification; operators need the object keys back out of it (to show a DLQ, to
replay an incident) whatever the wrapping.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import unquote_plus


@dataclass(frozen=True)
class ObjectRef:
    bucket: str
    key: str
    event_name: str = ""


def _loads(value: object) -> object:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def object_refs(payload: object) -> list[ObjectRef]:
    """S3 objects named by an S3 event, or an SNS / SQS envelope around one.

    Keys come URL-encoded in S3 events (spaces as `+`); they are decoded here.
    Anything unreadable gives an empty list: callers report it, never guess.
    """
    payload = _loads(payload)
    if not isinstance(payload, dict):
        return []
    if "Records" in payload and isinstance(payload["Records"], list):
        refs: list[ObjectRef] = []
        for record in payload["Records"]:
            if not isinstance(record, dict):
                continue
            if "s3" in record:
                s3 = record["s3"]
                try:
                    refs.append(
                        ObjectRef(
                            s3["bucket"]["name"],
                            unquote_plus(s3["object"]["key"]),
                            record.get("eventName", ""),
                        )
                    )
                except (KeyError, TypeError):
                    continue
            elif "Sns" in record:
                refs += object_refs(record["Sns"].get("Message"))
            elif "body" in record:
                refs += object_refs(record["body"])
        return refs
    if payload.get("Type") == "Notification" and "Message" in payload:
        return object_refs(payload["Message"])
    if payload.get("source") == "aws.s3" and isinstance(payload.get("detail"), dict):
        try:
            return object_refs(eventbridge_to_s3_event(payload))
        except NotAnS3Event:
            return []
    if "Body" in payload:  # an SQS ReceiveMessage message
        return object_refs(payload["Body"])
    return []


# --- shapes AWS records S3 events in (used by `harness replay`) --------------------

SHAPES = (
    "s3-event",  # an S3 event notification: {"Records": [{"eventSource": "aws:s3", ...}]}
    "s3-test-event",  # what S3 sends once when a notification is configured
    "sns-envelope",  # an SNS notification whose Message is the S3 event (a JSON string)
    "sns-lambda-event",  # SNS -> Lambda: {"Records": [{"EventSource": "aws:sns", "Sns": ...}]}
    "sqs-message",  # an SQS ReceiveMessage message: {"MessageId", "ReceiptHandle", "Body"}
    "sqs-record",  # one record of a Lambda SQS event: {"messageId", "body", "eventSource"}
    "sqs-lambda-event",  # a whole Lambda SQS event: {"Records": [sqs-record, ...]}
    "eventbridge",  # an EventBridge event from S3: {"source": "aws.s3", "detail-type", ...}
)

# EventBridge names the API call in `detail.reason`; S3 notifications name the event.
_EVENTBRIDGE_EVENT_NAMES = {
    ("Object Created", "PutObject"): "ObjectCreated:Put",
    ("Object Created", "POST Object"): "ObjectCreated:Post",
    ("Object Created", "CopyObject"): "ObjectCreated:Copy",
    ("Object Created", "CompleteMultipartUpload"): "ObjectCreated:CompleteMultipartUpload",
    ("Object Deleted", "DeleteObject"): "ObjectRemoved:Delete",
    ("Object Deleted", "Lifecycle Expiration"): "LifecycleExpiration:Delete",
}


class NotAnS3Event(ValueError):
    """The payload carries no S3 event notification; the message says what it is instead."""


@dataclass(frozen=True)
class S3Notification:
    """An S3 event notification found in a recorded payload, and how it was wrapped.

    `where` locates it inside a batch (`Records[2]`); `event` is the notification as
    S3 publishes it to SNS (`{"Records": [...]}`, or the `s3:TestEvent`).
    """

    shape: str
    event: dict
    where: str = ""


def eventbridge_to_s3_event(event: dict) -> dict:
    """The S3 event notification S3 would have sent for this EventBridge event.

    Keys stay URL-encoded, as in both of S3's own formats.
    """
    detail = event.get("detail") or {}
    kind = event.get("detail-type", "")
    if not isinstance(detail, dict) or not isinstance(kind, str):
        raise NotAnS3Event("EventBridge S3 event whose detail is not an object")
    reason = detail.get("reason", "PutObject" if kind == "Object Created" else "DeleteObject")
    if not isinstance(reason, str):
        raise NotAnS3Event("EventBridge S3 event: " + _wrong("detail.reason", reason, "a string"))
    if kind == "Object Deleted" and detail.get("deletion-type") == "Delete Marker Created":
        name = "ObjectRemoved:DeleteMarkerCreated"
    else:
        name = _EVENTBRIDGE_EVENT_NAMES.get((kind, reason), "")
    if not name:
        raise NotAnS3Event(
            f"EventBridge {kind!r} event (reason {reason!r}) has no S3 event notification "
            "equivalent; only Object Created and Object Deleted can be replayed"
        )
    bucket_detail, obj = detail.get("bucket"), detail.get("object")
    bucket = bucket_detail.get("name") if isinstance(bucket_detail, dict) else None
    if not isinstance(obj, dict):
        obj = {}
    if not isinstance(bucket, str) or not isinstance(obj.get("key"), str):
        raise NotAnS3Event("EventBridge S3 event without detail.bucket.name or detail.object.key")
    s3_object: dict = {"key": obj["key"]}
    if "size" in obj:
        s3_object["size"] = obj["size"]
    if "etag" in obj:
        s3_object["eTag"] = obj["etag"]
    if "version-id" in obj:
        s3_object["versionId"] = obj["version-id"]
    s3_object["sequencer"] = obj.get("sequencer", "")
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": event.get("region", ""),
                "eventTime": event.get("time", ""),
                "eventName": name,
                "userIdentity": {"principalId": str(detail.get("requester", ""))},
                "requestParameters": {"sourceIPAddress": detail.get("source-ip-address", "")},
                "responseElements": {"x-amz-request-id": detail.get("request-id", "")},
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "eventbridge",
                    "bucket": {
                        "name": bucket,
                        "ownerIdentity": {"principalId": str(event.get("account", ""))},
                        "arn": f"arn:aws:s3:::{bucket}",
                    },
                    "object": s3_object,
                },
            }
        ]
    }


_MISSING = object()


def _wrong(path: str, value: object, wanted: str) -> str:
    if value is _MISSING:
        return f"{path} is missing"
    kinds = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    kind = "null" if value is None else kinds.get(type(value), "a number")
    return f"{path} is {kind}, not {wanted}"


def record_problem(record: object, where: str = "the record") -> str | None:
    """Why an S3 event record cannot be replayed (a field missing or of the wrong type),
    or None. S3 always sends `s3.bucket.name` and `s3.object.key` as strings."""
    if not isinstance(record, dict):
        return _wrong(where, record, "an object")
    s3 = record.get("s3", _MISSING)
    if not isinstance(s3, dict):
        return _wrong(f"{where}.s3", s3, "an object")
    for part, field in (("bucket", "name"), ("object", "key")):
        value = s3.get(part, _MISSING)
        if not isinstance(value, dict):
            return _wrong(f"{where}.s3.{part}", value, "an object")
        if not isinstance(value.get(field), str):
            return _wrong(f"{where}.s3.{part}.{field}", value.get(field, _MISSING), "a string")
    for field in ("eventName", "awsRegion"):
        if field in record and not isinstance(record[field], str):
            return _wrong(f"{where}.{field}", record[field], "a string")
    return None


def _checked_s3_event(payload: dict, what: str) -> dict:
    """`payload` (a dict with a list of S3 records) when every record can be replayed."""
    for index, record in enumerate(payload["Records"]):
        problem = record_problem(record, f"Records[{index}]")
        if problem:
            raise NotAnS3Event(f"{what}: {problem}")
    return payload


def _s3_event_or_error(payload: object, what: str) -> dict:
    """`payload` (a dict or JSON string) as an S3 event notification, or why it is not one."""
    if isinstance(payload, str):
        try:
            payload = json.loads(payload)
        except json.JSONDecodeError as exc:
            raise NotAnS3Event(f"{what} is not JSON ({exc.msg} at char {exc.pos})") from None
    if not isinstance(payload, dict):
        raise NotAnS3Event(f"{what} is not a JSON object")
    if payload.get("Event") == "s3:TestEvent":
        return payload
    records = payload.get("Records")
    if (
        isinstance(records, list)
        and records
        and all(isinstance(r, dict) and "s3" in r for r in records)
    ):
        return _checked_s3_event(payload, what)
    if "AlarmName" in payload:
        raise NotAnS3Event(f"{what} is a CloudWatch alarm notification, not an S3 event")
    if payload.get("Type") == "Notification" and "Message" in payload:
        # S3 -> SNS -> SQS without raw delivery, seen from the SQS side.
        return _s3_event_or_error(payload["Message"], f"{what} (SNS Message)")
    keys = ", ".join(sorted(payload)[:6]) or "none"
    raise NotAnS3Event(f"{what} is not an S3 event notification (its keys: {keys})")


def _unwrap_one(payload: dict) -> S3Notification:
    if payload.get("Event") == "s3:TestEvent":
        return S3Notification("s3-test-event", payload)
    if payload.get("Type") == "Notification" and "Message" in payload:
        return S3Notification("sns-envelope", _s3_event_or_error(payload["Message"], "SNS Message"))
    if "Body" in payload and ("MessageId" in payload or "ReceiptHandle" in payload):
        return S3Notification("sqs-message", _s3_event_or_error(payload["Body"], "SQS Body"))
    if "body" in payload and payload.get("eventSource") == "aws:sqs":
        return S3Notification("sqs-record", _s3_event_or_error(payload["body"], "SQS body"))
    if payload.get("source") == "aws.s3" and "detail-type" in payload:
        return S3Notification("eventbridge", eventbridge_to_s3_event(payload))
    if "Sns" in payload and isinstance(payload["Sns"], dict):
        return S3Notification(
            "sns-lambda-event", _s3_event_or_error(payload["Sns"].get("Message"), "Sns.Message")
        )
    keys = ", ".join(sorted(payload)[:6]) or "none"
    raise NotAnS3Event(
        "unknown shape: not an S3 event notification, SNS envelope, SQS message or record, "
        f"or EventBridge S3 event (its keys: {keys})"
    )


def s3_notifications(payload: object) -> list[S3Notification | NotAnS3Event]:
    """Every S3 event notification in one recorded payload, whatever AWS wrapped it in.

    A batch (a Lambda SQS or SNS event) gives one item per record; a record that cannot
    be read gives a `NotAnS3Event` in its place, so the others still replay.
    """
    if not isinstance(payload, dict):
        return [NotAnS3Event(f"a JSON {type(payload).__name__}, not an object")]
    if isinstance(payload.get("Messages"), list):  # `aws sqs receive-message` output
        found: list[S3Notification | NotAnS3Event] = []
        for index, message in enumerate(payload["Messages"]):
            for item in s3_notifications(message):
                if isinstance(item, NotAnS3Event):
                    found.append(NotAnS3Event(f"Messages[{index}]: {item}"))
                else:
                    found.append(S3Notification(item.shape, item.event, f"Messages[{index}]"))
        return found or [NotAnS3Event("Messages is empty")]
    records = payload.get("Records")
    if isinstance(records, list) and "Type" not in payload:
        if not records:
            return [NotAnS3Event("Records is empty")]
        if all(isinstance(r, dict) and "s3" in r for r in records):
            try:
                return [S3Notification("s3-event", _checked_s3_event(payload, "S3 event"))]
            except NotAnS3Event as exc:
                return [exc]
        batch_shape = {"aws:sqs": "sqs-lambda-event", "aws:sns": "sns-lambda-event"}
        found = []
        for index, record in enumerate(records):
            where = f"Records[{index}]"
            if not isinstance(record, dict):
                found.append(NotAnS3Event(f"{where} is not a JSON object"))
                continue
            source = record.get("eventSource") or record.get("EventSource")
            try:
                inner = _unwrap_one(record)
            except NotAnS3Event as exc:
                found.append(NotAnS3Event(f"{where}: {exc}"))
                continue
            found.append(S3Notification(batch_shape.get(source, inner.shape), inner.event, where))
        return found
    try:
        return [_unwrap_one(payload)]
    except NotAnS3Event as exc:
        return [exc]
