"""Dead-letter queue operations: see what failed and why, and send it back.

SQS moves a message to the DLQ unchanged, so the reason is not on the message: the
labeler writes a failure record (`failures/<path under ingest>.json`) on every failed
attempt. `show` joins each DLQ message with that record, so an operator sees the
object, the error and how many attempts it had, in one place.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from harness.events.shapes import object_refs
from harness.runtime import aws
from harness.util.errors import HarnessError


@dataclass
class DeadLetter:
    message_id: str
    receive_count: int
    sent_at: float
    objects: list[str]
    reasons: list[dict] = field(default_factory=list)

    @property
    def attempts(self) -> int:
        """Labeling attempts, from the failure record: peeking at the DLQ also raises
        SQS's own receive count, so that one overstates them."""
        counts = [int(r["receive_count"]) for r in self.reasons if "receive_count" in r]
        return max(counts, default=self.receive_count)

    @property
    def reason(self) -> str:
        if not self.objects:
            return "message names no S3 object (malformed event)"
        if not self.reasons:
            return "no failure record found"
        return "; ".join(r.get("reason", "?") for r in self.reasons)


def failure_record_key(key: str, ingest_prefix: str, failures_prefix: str) -> str:
    return failures_prefix + key.removeprefix(ingest_prefix) + ".json"


def peek(sqs, queue_url: str, limit: int = 100) -> list[dict]:
    """Read up to `limit` messages without consuming them.

    A receive returns at most 10 messages, and with VisibilityTimeout=0 the same ones
    again, so beyond 10 messages each page is hidden for a moment (the next receive then
    returns others) and every message is made visible again before returning. The receive
    count grows, which is harmless on a DLQ (it has no redrive policy of its own).
    """
    first = _receive(sqs, queue_url, visibility_timeout=0)
    if len(first) < 10:
        # Everything fits in one page: nothing is hidden, so reading the DLQ never makes
        # its depth alarm see an empty queue (and flap, and post to Slack again).
        return first[:limit]
    seen: dict[str, dict] = {}
    empty_polls = 0
    try:
        while len(seen) < limit and empty_polls < 3:
            messages = _receive(sqs, queue_url, visibility_timeout=30)
            if not messages:
                empty_polls += 1
            for message in messages:
                seen[message["MessageId"]] = message
    finally:
        release(sqs, queue_url, list(seen.values()))
    return list(seen.values())[:limit]


def _receive(sqs, queue_url: str, visibility_timeout: int) -> list[dict]:
    return sqs.receive_message(
        QueueUrl=queue_url,
        MaxNumberOfMessages=10,
        VisibilityTimeout=visibility_timeout,
        WaitTimeSeconds=0,
        AttributeNames=["All"],
    ).get("Messages", [])


def release(sqs, queue_url: str, messages: list[dict]) -> None:
    """Make received messages visible again at once."""
    for start in range(0, len(messages), 10):
        entries = [
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
            for i, m in enumerate(messages[start : start + 10])
        ]
        sqs.change_message_visibility_batch(QueueUrl=queue_url, Entries=entries)


def show(s3, sqs, outputs: dict, limit: int = 100) -> list[DeadLetter]:
    bucket = outputs["bucket"]
    letters = []
    for message in peek(sqs, outputs["dlq_url"], limit):
        attributes = message.get("Attributes", {})
        refs = object_refs(message.get("Body", ""))
        letter = DeadLetter(
            message_id=message["MessageId"],
            receive_count=int(attributes.get("ApproximateReceiveCount", 0)),
            sent_at=int(attributes.get("SentTimestamp", 0)) / 1000,
            objects=[ref.key for ref in refs],
        )
        for ref in refs:
            record_key = failure_record_key(
                ref.key, outputs["ingest_prefix"], outputs["failures_prefix"]
            )
            reason = aws.read_json(s3, bucket, record_key)
            if reason is not None:
                letter.reasons.append(reason)
        letters.append(letter)
    return letters


def depth(sqs, queue_url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def redrive(
    sqs,
    outputs: dict,
    timeout: float = 60.0,
    progress: Callable[[str], None] = print,
) -> dict:
    """Move every DLQ message back to its source queue and wait until the move is done."""
    dlq_arn = sqs.get_queue_attributes(QueueUrl=outputs["dlq_url"], AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    before = depth(sqs, outputs["dlq_url"])
    if before == 0:
        progress("DLQ is empty: nothing to redrive")
        return {"moved": 0, "before": 0, "after": 0, "status": "NOTHING_TO_DO"}
    started_ms = int(time.time() * 1000) - 1000
    task = sqs.start_message_move_task(SourceArn=dlq_arn)
    progress(f"redriving {before} message(s) from {outputs['dlq_name']} to their source queue")
    deadline = time.monotonic() + timeout
    status: dict = {}
    while time.monotonic() < deadline:
        # Newest first; as on AWS, only a RUNNING task still shows its TaskHandle.
        tasks = sqs.list_message_move_tasks(SourceArn=dlq_arn, MaxResults=10)["Results"]
        status = next((t for t in tasks if t.get("StartedTimestamp", 0) >= started_ms), {})
        if status.get("Status") in {"COMPLETED", "FAILED", "CANCELLED"}:
            break
        time.sleep(0.25)
    if status.get("Status") != "COMPLETED":
        raise HarnessError(f"redrive did not complete in {timeout:.0f} s: {status or task}")
    after = depth(sqs, outputs["dlq_url"])
    return {
        "moved": int(status.get("ApproximateNumberOfMessagesMoved", before - after)),
        "before": before,
        "after": after,
        "status": status["Status"],
    }
