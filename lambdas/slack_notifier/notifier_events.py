"""What the notifier is invoked with: an SNS event, or the failure record of one.

Shapes accepted by `notifications(event)`:

- The SNS event of the topic subscription (`Records[].Sns.Message` is the alarm as
  a JSON *string*).
- A Lambda asynchronous-invocation failure record, as the notifier's on-failure
  destination (the notifier-failures queue) keeps it once SNS's delivery failed
  after Lambda's retries (Slack down longer than the retry window):
  `{"version", "timestamp", "requestContext": {"requestId", "functionArn",
  "condition", "approximateInvokeCount"}, "requestPayload": <the original SNS
  event>, "responseContext": {"statusCode", "executedVersion", "functionError"},
  "responsePayload": {"errorMessage", "errorType", ...}}`. Invoking the notifier
  with it (a redrive of that queue) re-sends the notices of `requestPayload`. If
  the redriven invocation fails too, its own failure record has the earlier
  record as `requestPayload`: records are unwrapped until the SNS event.
- An SQS event whose message bodies are such records or SNS events (the failure
  queue as an event source), each record unwrapped as above.

Anything else raises UnknownEvent, which fails the invocation visibly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

# Failure records nest once per failed redrive; far more than that is not a redrive.
MAX_NESTING = 25
ERROR_LIMIT = 300


class UnknownEvent(ValueError):
    """The event is neither an SNS event nor an on-failure destination record of one."""


@dataclass(frozen=True)
class EarlierFailure:
    """What the failure records say about the deliveries that failed before this one."""

    first_failed_at: str  # timestamp of the oldest failure record
    attempts: int  # invocations that failed, summed over the records
    error: str  # the most recent error message

    def describe(self) -> str:
        return (
            f"Delivered late: {self.attempts} earlier attempt(s) failed, the first at "
            f"{self.first_failed_at}; last error: {self.error}"
        )


@dataclass(frozen=True)
class Notification:
    """One SNS message to deliver."""

    message_id: str
    message: Any  # Sns.Message: the alarm notification as a JSON string
    earlier: EarlierFailure | None = field(default=None)


def is_failure_record(event: Any) -> bool:
    return (
        isinstance(event, dict)
        and isinstance(event.get("requestContext"), dict)
        and "requestPayload" in event
    )


def _error_of(record: dict[str, Any]) -> str:
    response = record.get("responsePayload")
    if isinstance(response, dict):
        text = f"{response.get('errorType') or 'Error'}: {response.get('errorMessage') or ''}"
    else:
        context = record.get("responseContext") or {}
        text = str(
            context.get("functionError") or record["requestContext"].get("condition") or "unknown"
        )
    return text if len(text) <= ERROR_LIMIT else text[: ERROR_LIMIT - 1] + "…"


def _attempts_of(record: dict[str, Any]) -> int:
    count = record["requestContext"].get("approximateInvokeCount")
    return count if isinstance(count, int) and count > 0 else 1


def _unwrap(event: Any) -> tuple[Any, EarlierFailure | None]:
    """The SNS event inside (nested) failure records, and what the records say."""
    records: list[dict[str, Any]] = []  # outermost (most recent) first
    while is_failure_record(event):
        if len(records) >= MAX_NESTING:
            raise UnknownEvent(f"failure records nested more than {MAX_NESTING} deep")
        records.append(event)
        event = event["requestPayload"]
    if not records:
        return event, None
    return event, EarlierFailure(
        first_failed_at=str(records[-1].get("timestamp") or "unknown"),
        attempts=sum(_attempts_of(record) for record in records),
        error=_error_of(records[0]),
    )


def _from_sns_event(event: Any, earlier: EarlierFailure | None) -> list[Notification]:
    records = event.get("Records") if isinstance(event, dict) else None
    if not isinstance(records, list) or not records:
        raise UnknownEvent(
            "event has no SNS Records and is not an on-failure destination record "
            f"(keys: {sorted(event) if isinstance(event, dict) else type(event).__name__})"
        )
    found = []
    for index, record in enumerate(records):
        sns = record.get("Sns") if isinstance(record, dict) else None
        if not isinstance(sns, dict) or "Message" not in sns:
            raise UnknownEvent(f"record {index} is not an SNS record (no Sns.Message)")
        found.append(Notification(str(sns.get("MessageId") or f"record {index}"), sns["Message"]))
    return [Notification(n.message_id, n.message, earlier) for n in found]


def _is_sqs_event(event: Any) -> bool:
    records = event.get("Records") if isinstance(event, dict) else None
    return (
        isinstance(records, list)
        and bool(records)
        and all(isinstance(r, dict) and r.get("eventSource") == "aws:sqs" for r in records)
    )


def notifications(event: Any) -> list[Notification]:
    """The SNS messages to deliver, from any accepted shape (see the module docstring)."""
    if _is_sqs_event(event):
        found = []
        for index, record in enumerate(event["Records"]):
            try:
                body = json.loads(record.get("body") or "")
            except ValueError as exc:
                raise UnknownEvent(f"SQS record {index} body is not JSON: {exc}") from exc
            found += _from_sns_event(*_unwrap(body))
        return found
    sns_event, earlier = _unwrap(event)
    return _from_sns_event(sns_event, earlier)
