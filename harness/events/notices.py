"""Slack notices the notifier could not deliver: see them, and deliver them again.

SNS invokes the notifier asynchronously. When every attempt failed (Slack down longer
than Lambda's two retries), Lambda sends its failure record to the notifier's
on-failure destination, the `<prefix>-notifier-failures` queue:
`{"timestamp", "requestContext": {"functionArn", "condition", "approximateInvokeCount"},
"requestPayload": <the SNS event>, "responseContext", "responsePayload": <the error>}`.

Nothing consumes that queue by itself: an event source mapping would retry in a loop
while Slack is down. `redrive` invokes the notifier asynchronously with each record,
as an operator would once Slack answers again (`harness dlq redrive --queue
notifier-failures`); the notifier accepts such records (its notifier_events.py) and
re-sends the notice with a line saying how late it is. A message is deleted only after
Lambda accepted the invocation (202). If the new invocation fails too, Lambda retries
it and then sends a new failure record, with the old one as its `requestPayload`, to
the same queue: a notice is never lost, and `show` sums the attempts of every record.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from harness.events.dlq import depth, peek, release

MAX_NESTING = 25  # as the notifier's own limit: deeper is not a redrive


@dataclass
class FailedNotice:
    """One message of the notifier-failures queue, read."""

    message_id: str
    alarm: str  # AlarmName of the notice, "?" when the record holds none
    state: str  # the transition announced: "OK -> ALARM"
    alarm_reason: str  # the alarm's NewStateReason
    error: str  # the last error ("NotificationFailed: ...") or the failure condition
    condition: str  # RetriesExhausted, EventAgeExceeded, ...
    attempts: int  # invocations that failed, over every record (redrives included)
    records: int  # failure records nested: 1, plus one per failed redrive
    first_failed_at: str
    last_failed_at: str
    function_arn: str
    problem: str | None = None  # why the message is not a failure record of a notice
    body: str = field(default="", repr=False)

    @property
    def redrivable(self) -> bool:
        return self.problem is None

    def summary(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "body"} | {
            "redrivable": self.redrivable
        }


def _is_record(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and isinstance(value.get("requestContext"), dict)
        and "requestPayload" in value
    )


def _error(record: dict) -> str:
    response = record.get("responsePayload")
    if isinstance(response, dict) and (response.get("errorMessage") or response.get("errorType")):
        return f"{response.get('errorType') or 'Error'}: {response.get('errorMessage') or ''}"
    context = record.get("responseContext") or {}
    return str(context.get("functionError") or record["requestContext"].get("condition") or "?")


def _attempts(record: dict) -> int:
    count = record["requestContext"].get("approximateInvokeCount")
    return count if isinstance(count, int) and count > 0 else 1


def _alarm(sns_event: Any) -> dict:
    """The alarm notification inside an SNS event (its first record), or {}."""
    try:
        message = sns_event["Records"][0]["Sns"]["Message"]
        alarm = json.loads(message) if isinstance(message, str) else message
    except (KeyError, IndexError, TypeError, ValueError):
        return {}
    return alarm if isinstance(alarm, dict) else {}


def read(message_id: str, body: str) -> FailedNotice:
    """A message of the queue as a FailedNotice; `problem` says why one is not redrivable."""
    notice = FailedNotice(
        message_id=message_id,
        alarm="?",
        state="?",
        alarm_reason="",
        error="",
        condition="",
        attempts=0,
        records=0,
        first_failed_at="",
        last_failed_at="",
        function_arn="",
        body=body,
    )
    try:
        event = json.loads(body)
    except ValueError:
        notice.problem = "the body is not JSON"
        return notice
    records: list[dict] = []  # outermost (the latest failure) first
    while _is_record(event) and len(records) <= MAX_NESTING:
        records.append(event)
        event = event["requestPayload"]
    if not records:
        notice.problem = "not a Lambda failure record (no requestContext / requestPayload)"
        return notice
    if len(records) > MAX_NESTING:
        notice.problem = f"failure records nested more than {MAX_NESTING} deep"
    latest, oldest = records[0], records[-1]
    alarm = _alarm(event)
    notice.alarm = str(alarm.get("AlarmName") or "?")
    notice.state = f"{alarm.get('OldStateValue', '?')} -> {alarm.get('NewStateValue', '?')}"
    notice.alarm_reason = str(alarm.get("NewStateReason") or "")
    notice.error = _error(latest)
    notice.condition = str(latest["requestContext"].get("condition") or "")
    notice.attempts = sum(_attempts(record) for record in records)
    notice.records = len(records)
    notice.first_failed_at = str(oldest.get("timestamp") or "")
    notice.last_failed_at = str(latest.get("timestamp") or "")
    notice.function_arn = str(latest["requestContext"].get("functionArn") or "")
    if not alarm and notice.problem is None:
        notice.problem = "the record holds no SNS alarm notification"
    return notice


def show(sqs, queue_url: str, limit: int = 100) -> list[FailedNotice]:
    """The failed notices waiting in the queue (they stay queued)."""
    return [read(m["MessageId"], m.get("Body", "")) for m in peek(sqs, queue_url, limit)]


def _function_name(arn_or_name: str) -> str:
    """`arn:...:function:NAME[:qualifier]` or NAME -> NAME."""
    if ":function:" in arn_or_name:
        return arn_or_name.split(":function:", 1)[1].split(":", 1)[0]
    return arn_or_name


def redrive(
    sqs,
    lambda_client,
    queue_url: str,
    function_name: str,
    progress: Callable[[str], None] = print,
    visibility_timeout: int = 60,
) -> dict[str, Any]:
    """Invoke the notifier asynchronously with every failure record queued before now;
    delete each message once Lambda accepted its invocation.

    Messages that are not failure records of this notifier, and those whose invocation
    Lambda refused, stay queued (made visible again) and are reported. Records that
    arrive during the redrive (a redriven notice failing again) are left for the next
    one. Returns {"before", "invoked", "left": [{"message_id", "reason"}], "after"}.
    """
    before = depth(sqs, queue_url)
    if before == 0:
        progress("the notifier-failures queue is empty: nothing to redrive")
        return {"before": 0, "invoked": 0, "left": [], "after": 0}
    started_ms = int(time.time() * 1000)
    invoked: list[str] = []
    left: list[dict[str, str]] = []
    held: list[dict] = []  # messages kept hidden during the redrive, released at the end
    seen: set[str] = set()
    try:
        while True:
            # Long polling (1 s) asks every SQS server: a short poll can miss messages.
            messages = sqs.receive_message(
                QueueUrl=queue_url,
                MaxNumberOfMessages=10,
                VisibilityTimeout=visibility_timeout,
                WaitTimeSeconds=1,
                AttributeNames=["SentTimestamp"],
            ).get("Messages", [])
            fresh = [m for m in messages if m["MessageId"] not in seen]
            if not fresh:
                held += [m for m in messages if m["MessageId"] in seen]
                break
            for message in fresh:
                seen.add(message["MessageId"])
                sent = int(message.get("Attributes", {}).get("SentTimestamp", 0))
                if sent > started_ms:
                    held.append(message)  # a failure of this very redrive: next time
                    continue
                notice = read(message["MessageId"], message.get("Body", ""))
                reason = notice.problem
                if reason is None and _function_name(notice.function_arn) not in (
                    "",
                    function_name,
                ):
                    reason = f"the record is of another function ({notice.function_arn})"
                if reason is None:
                    try:
                        response = lambda_client.invoke(
                            FunctionName=function_name,
                            InvocationType="Event",
                            Payload=message["Body"].encode(),
                        )
                    except Exception as exc:  # boto3's errors: left queued, reported
                        reason = f"Lambda refused the invocation: {exc}"
                    else:
                        status = response.get("StatusCode")
                        if status != 202:
                            reason = f"Lambda answered {status}, not 202 (accepted)"
                if reason is not None:
                    held.append(message)
                    left.append({"message_id": message["MessageId"], "reason": reason})
                    continue
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
                invoked.append(message["MessageId"])
                progress(
                    f"re-sent the notice of {notice.alarm} ({notice.state}), "
                    f"{notice.attempts} attempt(s) failed since {notice.first_failed_at}"
                )
    finally:
        release(sqs, queue_url, held)
    return {"before": before, "invoked": len(invoked), "left": left, "after": depth(sqs, queue_url)}
