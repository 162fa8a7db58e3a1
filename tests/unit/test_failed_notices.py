"""The notices the notifier could not deliver: reading Lambda's failure records, and the
redrive that invokes the notifier with each one (harness/events/notices.py), against
in-memory SQS and Lambda fakes. The notifier's side of a redrive (it accepts these
records) is tested in test_slack_notifier_handler.py."""

from __future__ import annotations

import itertools
import json
import time

import pytest
from lambda_records import on_failure_record

from harness.events import notices

FUNCTION = "imgpipe-slack-notifier"
FUNCTION_ARN = f"arn:aws:lambda:us-east-1:000000000000:function:{FUNCTION}:$LATEST"
QUEUE = "http://127.0.0.1:4566/000000000000/imgpipe-notifier-failures"


def failure_record(payload: dict, at: str, attempts: int = 3, error: str = "HTTP 500") -> dict:
    """The notifier's failure record (this module's function ARN), as the queue keeps it."""
    return on_failure_record(
        payload, at=at, attempts=attempts, error=error, function_arn=FUNCTION_ARN, request_id="r-1"
    )


def sns_event(reason: str, alarm: str = "imgpipe-labeler-dlq-not-empty") -> dict:
    message = {
        "AlarmName": alarm,
        "OldStateValue": "OK",
        "NewStateValue": "ALARM",
        "NewStateReason": reason,
        "Trigger": {"Dimensions": [{"name": "QueueName", "value": "imgpipe-labeler-dlq"}]},
    }
    return {
        "Records": [
            {"EventSource": "aws:sns", "Sns": {"MessageId": "m-1", "Message": json.dumps(message)}}
        ]
    }


class FakeSqs:
    """One queue: receive (with visibility), delete, change visibility, attributes."""

    def __init__(self) -> None:
        self.messages: dict[str, dict] = {}
        self.ids = itertools.count(1)
        self.handles = itertools.count(1)

    def send(self, body: str, sent_ms: int | None = None) -> str:
        message_id = f"id-{next(self.ids)}"
        self.messages[message_id] = {
            "body": body,
            "visible_at": 0.0,
            "handle": None,
            "sent": sent_ms if sent_ms is not None else int(time.time() * 1000) - 10_000,
        }
        return message_id

    def receive_message(
        self, QueueUrl, MaxNumberOfMessages, VisibilityTimeout, WaitTimeSeconds, AttributeNames
    ):
        now = time.monotonic()
        found = []
        for message_id, message in self.messages.items():
            if message["visible_at"] <= now and len(found) < MaxNumberOfMessages:
                message["handle"] = f"h-{next(self.handles)}"
                message["visible_at"] = now + VisibilityTimeout
                found.append(
                    {
                        "MessageId": message_id,
                        "ReceiptHandle": message["handle"],
                        "Body": message["body"],
                        "Attributes": {"SentTimestamp": str(message["sent"])},
                    }
                )
        return {"Messages": found} if found else {}

    def _by_handle(self, handle: str) -> str | None:
        return next((i for i, m in self.messages.items() if m["handle"] == handle), None)

    def delete_message(self, QueueUrl, ReceiptHandle):
        message_id = self._by_handle(ReceiptHandle)
        assert message_id, "delete with a stale receipt handle"
        del self.messages[message_id]

    def change_message_visibility_batch(self, QueueUrl, Entries):
        for entry in Entries:
            message_id = self._by_handle(entry["ReceiptHandle"])
            if message_id:
                self.messages[message_id]["visible_at"] = (
                    time.monotonic() + entry["VisibilityTimeout"]
                )
        return {"Successful": [{"Id": e["Id"]} for e in Entries]}

    def get_queue_attributes(self, QueueUrl, AttributeNames):
        now = time.monotonic()
        visible = sum(1 for m in self.messages.values() if m["visible_at"] <= now)
        return {
            "Attributes": {
                "ApproximateNumberOfMessages": str(visible),
                "ApproximateNumberOfMessagesNotVisible": str(len(self.messages) - visible),
            }
        }


class FakeLambda:
    def __init__(self, status: int = 202, refuse: set[str] | None = None) -> None:
        self.invocations: list[dict] = []
        self.status = status
        self.refuse = refuse or set()

    def invoke(self, FunctionName, InvocationType, Payload):
        assert InvocationType == "Event", "a redrive invokes asynchronously, as SNS does"
        body = json.loads(Payload)
        if body["requestPayload"]["Records"][0]["Sns"]["Message"] in self.refuse:
            raise RuntimeError("TooManyRequestsException")
        self.invocations.append({"function": FunctionName, "payload": body})
        return {"StatusCode": self.status}


# --- reading ----------------------------------------------------------------------


def test_a_failure_record_says_what_why_and_how_many_attempts():
    record = failure_record(sns_event("Threshold Crossed: 3 messages"), "2026-12-02T03:00:00.000Z")
    notice = notices.read("id-1", json.dumps(record))
    assert notice.redrivable
    assert (notice.alarm, notice.state, notice.alarm_reason) == (
        "imgpipe-labeler-dlq-not-empty",
        "OK -> ALARM",
        "Threshold Crossed: 3 messages",
    )
    assert notice.error == "NotificationFailed: HTTP 500"
    assert notice.condition == "RetriesExhausted"
    assert (notice.attempts, notice.records) == (3, 1)
    assert notice.first_failed_at == notice.last_failed_at == "2026-12-02T03:00:00.000Z"


def test_a_failed_redrive_nests_and_the_attempts_add_up():
    first = failure_record(sns_event("late"), "2026-12-02T03:00:00.000Z", attempts=3)
    second = failure_record(first, "2026-12-02T03:10:00.000Z", attempts=3, error="timed out")
    notice = notices.read("id-1", json.dumps(second))
    assert notice.redrivable and notice.alarm == "imgpipe-labeler-dlq-not-empty"
    assert (notice.attempts, notice.records) == (6, 2)
    assert notice.first_failed_at == "2026-12-02T03:00:00.000Z"
    assert notice.last_failed_at == "2026-12-02T03:10:00.000Z"
    assert notice.error == "NotificationFailed: timed out"  # the latest


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("not json", "not JSON"),
        (json.dumps({"Records": []}), "not a Lambda failure record"),
        (json.dumps(failure_record({"something": "else"}, "t")), "no SNS alarm notification"),
    ],
)
def test_what_is_not_a_failed_notice_is_named(body, problem):
    notice = notices.read("id-1", body)
    assert not notice.redrivable and problem in notice.problem


# --- redriving --------------------------------------------------------------------


def _queue_with(*reasons: str) -> FakeSqs:
    sqs = FakeSqs()
    for reason in reasons:
        sqs.send(json.dumps(failure_record(sns_event(reason), "2026-12-02T03:00:00.000Z")))
    return sqs


def test_redrive_invokes_the_notifier_with_each_record_then_deletes_it():
    sqs = _queue_with(*(f"notice {i}" for i in range(12)))  # more than one receive
    lam = FakeLambda()
    report = notices.redrive(sqs, lam, QUEUE, FUNCTION, progress=lambda _m: None)
    assert report == {"before": 12, "invoked": 12, "left": [], "after": 0}
    assert {i["function"] for i in lam.invocations} == {FUNCTION}
    reasons = [
        json.loads(i["payload"]["requestPayload"]["Records"][0]["Sns"]["Message"])["NewStateReason"]
        for i in lam.invocations
    ]
    assert sorted(reasons) == sorted(f"notice {i}" for i in range(12))  # each once
    # The notifier gets the record itself (it unwraps it and says how late it is).
    assert lam.invocations[0]["payload"]["requestContext"]["condition"] == "RetriesExhausted"


def test_a_refused_invocation_leaves_its_message_queued_and_visible():
    sqs = _queue_with("a", "b")
    refused = json.dumps(
        {
            "AlarmName": "imgpipe-labeler-dlq-not-empty",
            "OldStateValue": "OK",
            "NewStateValue": "ALARM",
            "NewStateReason": "b",
            "Trigger": {"Dimensions": [{"name": "QueueName", "value": "imgpipe-labeler-dlq"}]},
        }
    )
    lam = FakeLambda(refuse={refused})
    report = notices.redrive(sqs, lam, QUEUE, FUNCTION, progress=lambda _m: None)
    assert report["invoked"] == 1 and report["after"] == 1
    assert "TooManyRequestsException" in report["left"][0]["reason"]
    assert [n.alarm_reason for n in notices.show(sqs, QUEUE)] == ["b"]  # visible again


def test_only_an_accepted_invocation_deletes():
    sqs = _queue_with("a")
    report = notices.redrive(sqs, FakeLambda(status=500), QUEUE, FUNCTION, progress=lambda _m: None)
    assert report["invoked"] == 0 and report["after"] == 1
    assert "not 202" in report["left"][0]["reason"]


def test_records_of_another_function_and_garbage_stay():
    sqs = _queue_with("a")
    other = failure_record(sns_event("x"), "t")
    other["requestContext"]["functionArn"] = "arn:aws:lambda:us-east-1:000000000000:function:other"
    sqs.send(json.dumps(other))
    sqs.send("garbage")
    lam = FakeLambda()
    report = notices.redrive(sqs, lam, QUEUE, FUNCTION, progress=lambda _m: None)
    assert report["invoked"] == 1 and report["after"] == 2
    assert sorted(item["reason"][:30] for item in report["left"]) == [
        "the body is not JSON",
        "the record is of another funct",
    ]


def test_a_record_that_arrives_during_the_redrive_waits_for_the_next():
    """A notice redriven while Slack is still down fails again and comes back: that new
    record is not redriven in the same pass (no loop)."""
    sqs = _queue_with("a")
    sqs.send(
        json.dumps(failure_record(sns_event("new"), "t")), sent_ms=int(time.time() * 1000) + 60_000
    )
    lam = FakeLambda()
    report = notices.redrive(sqs, lam, QUEUE, FUNCTION, progress=lambda _m: None)
    assert report["invoked"] == 1 and report["left"] == [] and report["after"] == 1


def test_an_empty_queue_is_nothing_to_do():
    messages = []
    report = notices.redrive(FakeSqs(), FakeLambda(), QUEUE, FUNCTION, progress=messages.append)
    assert report == {"before": 0, "invoked": 0, "left": [], "after": 0}
    assert "empty" in messages[0]
