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
    if "Body" in payload:  # an SQS ReceiveMessage message
        return object_refs(payload["Body"])
    return []
