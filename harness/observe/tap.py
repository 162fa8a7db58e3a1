"""A tap on the pipeline's topic: an extra, unfiltered SQS subscription.

The labeler's queue sees only what its filter policy lets through, and consumes it.
To know when each S3 event was published and delivered (and to see what the filter
dropped, and the alarm notifications), a run subscribes a throw-away queue of its own
to the topic, without a filter policy, and reads it at the end. It is created with
boto3 at run time rather than in Terraform: it is test equipment, not pipeline, and
must never be deployed. Start it before the uploads; close it afterwards.

A tap is closed on every way out, Ctrl-C included. Only a killed process (SIGKILL, a
crash) can leave one behind; its name carries the owner's pid, so the next tap of the
same stack sweeps away the taps whose owner is gone, with their subscriptions.
"""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from harness.events.shapes import ObjectRef, object_refs
from harness.runtime import aws
from harness.systems.labeling.pipeline import LabelingPipeline
from harness.util.processes import is_alive

TAP_NAME_RE = re.compile(r"-tap-(?P<pid>\d+)-[0-9a-f]{8}$")


def parse_time(value: Any) -> float | None:
    """Epoch seconds from the ISO-8601 forms AWS messages use (`...Z`, `...+0000`)."""
    if not isinstance(value, str) or not value:
        return None
    text = value.replace("Z", "+00:00")
    if len(text) > 5 and text[-5] in "+-" and text[-3] != ":":
        text = text[:-2] + ":" + text[-2:]  # +0000 -> +00:00
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


@dataclass
class TapRecord:
    """One SNS notification as the tap saw it."""

    sns_message_id: str
    subject: str | None
    published_at: float | None  # SNS `Timestamp`
    delivered_at: float  # SQS `SentTimestamp`: SNS delivered it to the subscribed queues
    received_at: float  # when the tap read it
    message: Any  # SNS `Message`, decoded when it is JSON
    objects: list[ObjectRef] = field(default_factory=list)

    @property
    def alarm(self) -> dict[str, Any] | None:
        """The CloudWatch alarm state change this notification carries, if it is one."""
        if isinstance(self.message, dict) and "NewStateValue" in self.message:
            return self.message
        return None

    def event_time(self, key: str) -> float | None:
        """`eventTime` of the S3 record naming `key` (when S3 saw the upload)."""
        if not isinstance(self.message, dict):
            return None
        for record in self.message.get("Records") or []:
            refs = object_refs({"Records": [record]})
            if refs and refs[0].key == key and isinstance(record, dict):
                return parse_time(record.get("eventTime"))
        return None


def _parse(message: dict[str, Any], received_at: float) -> TapRecord:
    attributes = message.get("Attributes", {})
    delivered_at = int(attributes.get("SentTimestamp", received_at * 1000)) / 1000
    try:
        envelope = json.loads(message.get("Body", ""))
    except json.JSONDecodeError:
        envelope = {"Message": message.get("Body", "")}
    raw = envelope.get("Message", "")
    try:
        decoded = json.loads(raw) if isinstance(raw, str) else raw
    except json.JSONDecodeError:
        decoded = raw
    return TapRecord(
        sns_message_id=str(envelope.get("MessageId", message.get("MessageId", ""))),
        subject=envelope.get("Subject"),
        published_at=parse_time(envelope.get("Timestamp")),
        delivered_at=delivered_at,
        received_at=received_at,
        message=decoded,
        objects=object_refs(decoded),
    )


class Tap:
    """`start()` before the uploads, `drain()` whenever (and at the end), `close()` last.

    Cheap: two calls to start (CreateQueue with its policy, Subscribe), two to close.
    """

    def __init__(self, pipeline: LabelingPipeline) -> None:
        self.settings = pipeline.settings
        self.topic_arn: str = pipeline.outputs["topic_arn"]
        self.sqs = pipeline.sqs
        self.sns = aws.client("sns", pipeline.settings)
        self.queue_name = f"{self._prefix}{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.queue_url: str | None = None
        self.subscription_arn: str | None = None
        self.records: list[TapRecord] = []

    @property
    def _prefix(self) -> str:
        return f"{self.settings.name_prefix}-tap-"

    def start(self) -> Tap:
        """Create and subscribe the queue; on any failure, Ctrl-C included, nothing stays."""
        self.sweep()
        try:
            return self._start()
        except BaseException:
            self.close()
            raise

    def sweep(self) -> list[str]:
        """Delete the taps (queue and subscription) of processes that no longer run."""
        urls = self.sqs.list_queues(QueueNamePrefix=self._prefix).get("QueueUrls", [])
        orphans = {}
        for url in urls:
            match = TAP_NAME_RE.search(url)
            if match and not is_alive(int(match["pid"])):
                orphans[url.rsplit("/", 1)[-1]] = url
        if not orphans:
            return []
        pages = self.sns.get_paginator("list_subscriptions_by_topic")
        for page in pages.paginate(TopicArn=self.topic_arn):
            for subscription in page["Subscriptions"]:
                if subscription["Endpoint"].rsplit(":", 1)[-1] in orphans:
                    self.sns.unsubscribe(SubscriptionArn=subscription["SubscriptionArn"])
        for url in orphans.values():
            self.sqs.delete_queue(QueueUrl=url)
        return sorted(orphans)

    def _start(self) -> Tap:
        _, _, _, region, account, _ = self.topic_arn.split(":", 5)
        queue_arn = f"arn:aws:sqs:{region}:{account}:{self.queue_name}"
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "TopicMayDeliver",
                    "Effect": "Allow",
                    "Principal": {"Service": "sns.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": queue_arn,
                    "Condition": {"ArnEquals": {"aws:SourceArn": self.topic_arn}},
                }
            ],
        }
        self.queue_url = self.sqs.create_queue(
            QueueName=self.queue_name,
            Attributes={"Policy": json.dumps(policy), "MessageRetentionPeriod": "86400"},
        )["QueueUrl"]
        self.subscription_arn = self.sns.subscribe(
            TopicArn=self.topic_arn,
            Protocol="sqs",
            Endpoint=queue_arn,
            ReturnSubscriptionArn=True,
        )["SubscriptionArn"]
        return self

    def drain(self, wait_seconds: int = 0) -> list[TapRecord]:
        """Read and delete everything queued; returns the new records (also kept in
        `records`). `wait_seconds` > 0 long-polls once more when the queue looks empty,
        which on AWS also reaches messages a short poll can miss."""
        if self.queue_url is None:
            raise RuntimeError("the tap was not started")
        new: list[TapRecord] = []
        long_polled = wait_seconds == 0
        while True:
            messages = self._receive(0)
            if not messages and not long_polled:
                long_polled = True
                messages = self._receive(wait_seconds)
            if not messages:
                break
            now = time.time()
            new += [_parse(m, now) for m in messages]
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(messages)
                ],
            )
        self.records += new
        return new

    def _receive(self, wait_seconds: int) -> list[dict[str, Any]]:
        response = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=wait_seconds,
            AttributeNames=["SentTimestamp"],
        )
        return list(response.get("Messages", []))

    def close(self) -> None:
        """Unsubscribe and delete the queue; safe to call twice."""
        if self.subscription_arn is not None:
            self.sns.unsubscribe(SubscriptionArn=self.subscription_arn)
            self.subscription_arn = None
        if self.queue_url is not None:
            self.sqs.delete_queue(QueueUrl=self.queue_url)
            self.queue_url = None

    def __enter__(self) -> Tap:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()
