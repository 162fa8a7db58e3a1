"""Steps that put messages where the pipeline reads them, or move them.

- redeliver:                  # deliver the S3 event of uploaded objects again
    objects: first            # (SNS and SQS are at-least-once; so are redrives)
    copies: 2                 # default 1
    via: topic                # topic (default: published as S3 does, filter policy
                              # applies) or queue (the SNS envelope straight to SQS)
- send_message:               # a raw message, e.g. to make the DLQ non-empty
    queue: dlq                # dlq or queue
    body: {anything: json}    # a string is sent as it is, a mapping as JSON
    count: 1
- redrive: {timeout: 60}      # move every DLQ message back and wait for the move
- redrive: {queue: notifier-failures}   # invoke the notifier with each failed notice
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus

from harness.events import dlq
from harness.scenarios import templates
from harness.scenarios.model import (
    ObjectsRef,
    ParseContext,
    Step,
    StepFailed,
    parse_objects,
    register_step,
)
from harness.scenarios.runtime import Runtime
from harness.scenarios.source import Src

S3_SUBJECT = "Amazon S3 Notification"


def s3_event(rt: Runtime, key: str, event_name: str = "ObjectCreated:Put") -> dict[str, Any]:
    """The notification S3 sends for `key` as it is now (ETag, size)."""
    bucket = rt.outputs["bucket"]
    head = rt.labeling.s3.head_object(Bucket=bucket, Key=key)
    now = datetime.now(UTC)
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": rt.outputs.get("region", "us-east-1"),
                "eventTime": now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "eventName": event_name,
                "userIdentity": {"principalId": "AWS:harness-scenario"},
                "requestParameters": {"sourceIPAddress": "127.0.0.1"},
                "responseElements": {"x-amz-request-id": uuid.uuid4().hex[:16].upper()},
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "ingest-object-created",
                    "bucket": {
                        "name": bucket,
                        "ownerIdentity": {"principalId": "harness"},
                        "arn": f"arn:aws:s3:::{bucket}",
                    },
                    "object": {
                        # S3 URL-encodes keys in notifications (space as '+').
                        "key": quote_plus(key, safe="/"),
                        "size": head["ContentLength"],
                        "eTag": head["ETag"].strip('"'),
                        "sequencer": f"{time.time_ns():X}",
                    },
                },
            }
        ]
    }


def sns_envelope(message: str, topic_arn: str) -> dict[str, Any]:
    """What SNS puts on a subscribed queue (raw message delivery off)."""
    return {
        "Type": "Notification",
        "MessageId": str(uuid.uuid4()),
        "TopicArn": topic_arn,
        "Subject": S3_SUBJECT,
        "Message": message,
        "Timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "SignatureVersion": "1",
    }


def _fields_or_empty(src: Src, optional: tuple[str, ...]) -> dict[str, Src]:
    return {} if src.is_null else src.fields(optional=optional)


@register_step
@dataclass(frozen=True)
class Redeliver(Step):
    kind = "redeliver"
    summary = "deliver the S3 event of uploaded objects again (duplicate delivery)"

    objects: ObjectsRef
    copies: int = 1
    via: str = "topic"
    event_name: str = "ObjectCreated:Put"

    @classmethod
    def parse(cls, src: Src, ctx: ParseContext) -> Redeliver:
        fields = src.fields(required=("objects",), optional=("copies", "via", "event_name"))
        event_name = "ObjectCreated:Put"
        if "event_name" in fields:
            event_name = fields["event_name"].text()
            if not event_name.startswith(("ObjectCreated:", "ObjectRemoved:", "ObjectRestore:")):
                raise fields["event_name"].fail(f"{event_name!r} is not an S3 event name")
        return cls(
            event_name=event_name,
            objects=parse_objects(fields["objects"], ctx),
            copies=fields["copies"].integer(1, 100) if "copies" in fields else 1,
            via=fields["via"].choice(("topic", "queue")) if "via" in fields else "topic",
        )

    def run(self, rt: Runtime) -> dict[str, Any]:
        keys = rt.objects(self.objects)
        topic_arn = rt.outputs["topic_arn"]
        sent = 0
        for key in keys:
            message = json.dumps(s3_event(rt, key, self.event_name))
            for _ in range(self.copies):
                if self.via == "topic":
                    rt.client("sns").publish(
                        TopicArn=topic_arn, Message=message, Subject=S3_SUBJECT
                    )
                else:
                    rt.labeling.sqs.send_message(
                        QueueUrl=rt.outputs["queue_url"],
                        MessageBody=json.dumps(sns_envelope(message, topic_arn)),
                    )
                sent += 1
        return {"objects": len(keys), "messages": sent, "via": self.via, "event": self.event_name}


@register_step
@dataclass(frozen=True)
class SendMessage(Step):
    kind = "send_message"
    summary = "send a raw message to the labeler queue or the DLQ"

    queue: str
    body: str
    templated: bool  # a string body may use {scenario}; a mapping is sent as JSON as it is
    count: int = 1

    @classmethod
    def parse(cls, src: Src, ctx: ParseContext) -> SendMessage:
        fields = src.fields(required=("queue", "body"), optional=("count",))
        body_src = fields["body"]
        templated = not (body_src.is_mapping or body_src.is_sequence)
        if templated:
            body = templates.check(body_src)
        else:
            body = json.dumps(body_src.value, ensure_ascii=False)
        return cls(
            queue=fields["queue"].choice(("queue", "dlq")),
            body=body,
            templated=templated,
            count=fields["count"].integer(1, 1000) if "count" in fields else 1,
        )

    def run(self, rt: Runtime) -> dict[str, Any]:
        url = rt.outputs["dlq_url" if self.queue == "dlq" else "queue_url"]
        body = rt.render(self.body) if self.templated else self.body
        ids = [
            rt.labeling.sqs.send_message(QueueUrl=url, MessageBody=body)["MessageId"]
            for _ in range(self.count)
        ]
        return {"queue": rt.outputs[f"{self.queue}_name"], "sent": len(ids), "message_ids": ids}


@register_step
@dataclass(frozen=True)
class Redrive(Step):
    kind = "redrive"
    summary = (
        "move every DLQ message back to the labeler queue and wait until moved; with "
        "`queue: notifier-failures`, invoke the notifier with each failed notice"
    )

    timeout: float = 60.0
    queue: str = "dlq"

    @classmethod
    def parse(cls, src: Src, ctx: ParseContext) -> Redrive:
        fields = _fields_or_empty(src, ("timeout", "queue"))
        return cls(
            timeout=fields["timeout"].number(1, 900) if "timeout" in fields else 60.0,
            queue=(
                fields["queue"].choice(("dlq", "notifier-failures")) if "queue" in fields else "dlq"
            ),
        )

    def run(self, rt: Runtime) -> dict[str, Any]:
        if self.queue == "notifier-failures":
            report = rt.labeling.redrive_notices(progress=lambda _m: None)
            rt.counts["notices_redriven"] = rt.counts.get("notices_redriven", 0) + report["invoked"]
            if report["left"]:
                raise StepFailed(f"{len(report['left'])} failed notice(s) left queued", report)
            return report
        report = dlq.redrive(rt.labeling.sqs, rt.outputs, self.timeout, progress=lambda _m: None)
        rt.counts["redriven"] = rt.counts.get("redriven", 0) + int(report["moved"])
        return report
