"""Business logic of the Slack notifier: alarm parsing, DLQ depth, message, webhook post."""

from __future__ import annotations

import json
import re
import socket
import time
from dataclasses import replace
from typing import Any

import pytest
from lambda_records import on_failure_record

ALARM_NAME = "image-labeling-dlq-not-empty"
PARAMETER = "/image-pipeline/slack-webhook-url"
CONSOLE_URL = (
    "https://ap-northeast-2.console.aws.amazon.com/cloudwatch/home?region=ap-northeast-2"
    "#alarmsV2:alarm/image-labeling-dlq-not-empty"
)


@pytest.fixture
def alarm_mod(load_lambda):
    return load_lambda("slack_notifier", "alarm")


@pytest.fixture
def slack_message(load_lambda):
    return load_lambda("slack_notifier", "slack_message")


@pytest.fixture
def webhook(load_lambda):
    return load_lambda("slack_notifier", "webhook")


@pytest.fixture
def notify_mod(load_lambda):
    return load_lambda("slack_notifier", "notify")


def sns_message(recorded: dict[str, Any]) -> str:
    return recorded["Records"][0]["Sns"]["Message"]


@pytest.fixture
def alarm(alarm_mod, event):
    return alarm_mod.parse_alarm(sns_message(event("sns_cloudwatch_alarm")))


# --- parsing ------------------------------------------------------------------


def test_alarm_message_is_a_json_string_and_is_parsed(alarm_mod, event):
    message = sns_message(event("sns_cloudwatch_alarm"))
    assert isinstance(message, str)  # what crashed the seed: it indexed this as a dict

    parsed = alarm_mod.parse_alarm(message)

    assert parsed.name == ALARM_NAME
    assert (parsed.old_state, parsed.new_state) == ("OK", "ALARM")
    assert parsed.queue_name == "image-labeling-dlq"
    assert parsed.region == "ap-northeast-2"
    assert parsed.state_change_time == "2024-05-01T15:10:41.123+0000"
    assert parsed.reason.startswith("Threshold Crossed: 2 out of the last 2 datapoints [3.0")


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ("not json at all", "SNS Message is not JSON"),
        ("[1, 2, 3]", "SNS Message is not a JSON object"),
        (
            json.dumps({"Records": [{"eventSource": "aws:s3"}]}),
            "not a CloudWatch alarm notification: missing AlarmName, NewStateValue, AlarmArn",
        ),
        (
            json.dumps({"AlarmName": "x", "NewStateValue": "ALARM"}),
            "missing AlarmArn",
        ),
    ],
)
def test_non_alarm_messages_are_rejected_with_a_reason(alarm_mod, message, reason):
    with pytest.raises(alarm_mod.NotAnAlarmError) as caught:
        alarm_mod.parse_alarm(message)
    assert reason in str(caught.value)


@pytest.mark.parametrize(
    ("reason", "depth"),
    [
        (
            "Threshold Crossed: 1 datapoint [3.0 (23/11/26 10:00:00)] was greater than or equal "
            "to the threshold (1.0).",
            "3",
        ),
        ("Threshold Crossed: 1 datapoint [2.5 (23/11/26 10:00:00)] was greater ...", "2.5"),
        ("Unchecked: Initial alarm creation", None),
    ],
)
def test_depth_from_reason(alarm_mod, reason, depth):
    assert alarm_mod.depth_from_reason(reason) == depth


def test_dlq_depth_asks_sqs_first(alarm_mod, alarm, fake_sqs):
    assert alarm_mod.dlq_depth(fake_sqs, alarm) == "7"
    assert fake_sqs.calls == [
        ("get_queue_url", {"QueueName": "image-labeling-dlq"}),
        (
            "get_queue_attributes",
            {
                "QueueUrl": "https://sqs.ap-northeast-2.amazonaws.com/123456789012/image-labeling-dlq",
                "AttributeNames": ["ApproximateNumberOfMessages"],
            },
        ),
    ]


def test_dlq_depth_falls_back_to_the_alarm_datapoint(alarm_mod, alarm, fake_sqs, client_error):
    fake_sqs.error = client_error("AccessDenied", "GetQueueUrl", 403)
    assert alarm_mod.dlq_depth(fake_sqs, alarm) == "3 (at alarm time)"


def test_dlq_depth_unknown_when_nothing_answers(alarm_mod, alarm, fake_sqs, client_error):
    fake_sqs.error = client_error("AccessDenied", "GetQueueUrl", 403)
    assert alarm_mod.dlq_depth(fake_sqs, replace(alarm, reason="no numbers here")) == "unknown"
    fake_sqs.calls.clear()
    assert alarm_mod.dlq_depth(fake_sqs, replace(alarm, queue_name=None, reason="")) == "unknown"
    assert fake_sqs.calls == []  # no queue dimension: SQS is not asked


# --- Slack message --------------------------------------------------------------


def test_message_has_blocks_and_text_fallback(slack_message, alarm):
    message = slack_message.build_message(alarm, "7")

    header, fields, reason, context, actions = message["blocks"]
    assert header["type"] == "header"
    assert header["text"]["text"] == f":rotating_light: {ALARM_NAME}: ALARM"
    field_texts = [field["text"] for field in fields["fields"]]
    assert field_texts == [
        "*State*\nOK → ALARM",
        "*Queue*\nimage-labeling-dlq",
        "*DLQ depth*\n7",
        "*Region*\nap-northeast-2",
        "*Time*\n2024-05-01T15:10:41.123+0000",
    ]
    assert reason["text"]["text"].startswith("*Reason*\nThreshold Crossed: 2 out of the last 2")
    assert reason["text"]["text"].endswith("(minimum 2 datapoints for OK -&gt; ALARM transition).")
    assert context["elements"][0]["text"] == (
        "Messages are waiting in the image-labeling dead-letter queue"
    )
    (button,) = actions["elements"]
    assert button["type"] == "button"
    assert button["url"] == CONSOLE_URL
    assert ALARM_NAME in message["text"] and "image-labeling-dlq" in message["text"]
    assert "DLQ depth 7" in message["text"]


def test_console_url_quotes_the_alarm_name(slack_message, alarm):
    odd = replace(alarm, name="dlq alarm/#1", region="us-east-1")
    assert slack_message.console_url(odd) == (
        "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1"
        "#alarmsV2:alarm/dlq%20alarm%2F%231"
    )


def test_ok_message_uses_the_ok_emoji(slack_message, alarm_mod, event):
    ok = alarm_mod.parse_alarm(sns_message(event("sns_cloudwatch_ok")))
    message = slack_message.build_message(ok, "0")
    assert message["blocks"][0]["text"]["text"] == f":white_check_mark: {ALARM_NAME}: OK"
    assert message["blocks"][1]["fields"][0]["text"] == "*State*\nALARM → OK"


# --- webhook ----------------------------------------------------------------------


def test_fetch_webhook_url_decrypts_the_secure_string(webhook, fake_ssm):
    fake_ssm.parameters[PARAMETER] = "https://hooks.slack.com/services/T/B/X\n"

    url = webhook.fetch_webhook_url(fake_ssm, PARAMETER)

    assert url == "https://hooks.slack.com/services/T/B/X"
    assert fake_ssm.calls == [{"Name": PARAMETER, "WithDecryption": True}]


def test_fetch_webhook_url_rejects_non_http_values_without_echoing_them(webhook, fake_ssm):
    fake_ssm.parameters[PARAMETER] = "file:///etc/secret-token"
    with pytest.raises(ValueError, match="does not hold an http") as caught:
        webhook.fetch_webhook_url(fake_ssm, PARAMETER)
    assert "secret-token" not in str(caught.value)


def test_post_json_sends_json_and_returns_the_body(webhook, webhook_server):
    payload = {"text": "hello", "blocks": [{"type": "divider"}]}

    assert webhook.post_json(webhook_server.url, payload, timeout=2) == "ok"

    (request,) = webhook_server.requests
    assert request["path"] == "/services/T000/B000/XXXXXXXX"
    assert request["content_type"].startswith("application/json")
    assert request["json"] == payload


@pytest.mark.parametrize(("status", "body"), [(500, b"internal_error"), (403, b"invalid_token")])
def test_post_json_raises_on_non_2xx(webhook, webhook_server, status, body):
    webhook_server.status, webhook_server.body = status, body

    with pytest.raises(webhook.WebhookError) as caught:
        webhook.post_json(webhook_server.url, {"text": "x"}, timeout=2)

    assert f"HTTP {status}" in str(caught.value)
    assert body.decode() in str(caught.value)
    assert "/services/" not in str(caught.value)  # the secret URL is not in the error
    assert len(webhook_server.requests) == 1


def test_post_json_raises_on_timeout(webhook, webhook_server, record_property):
    webhook_server.delay = 1.0
    started = time.perf_counter()

    with pytest.raises(webhook.WebhookError, match=r"timeout 0\.2s") as caught:
        webhook.post_json(webhook_server.url, {"text": "x"}, timeout=0.2)

    record_property("seconds_until_the_timeout", round(time.perf_counter() - started, 3))
    cause = caught.value.__cause__
    assert isinstance(getattr(cause, "reason", cause), TimeoutError), repr(cause)  # not answered
    assert len(webhook_server.requests) == 1  # it was sent, and not retried


def test_post_json_raises_when_nothing_listens(webhook):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(webhook.WebhookError, match="request failed"):
        webhook.post_json(f"http://127.0.0.1:{port}/hook", {"text": "x"}, timeout=1)


# --- notify --------------------------------------------------------------------------


class RecordingPost:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any], float]] = []

    def __call__(self, url: str, payload: dict[str, Any], timeout: float) -> str:
        self.calls.append((url, payload, timeout))
        return "ok"


class CountingUrl:
    def __init__(self) -> None:
        self.reads = 0

    def __call__(self) -> str:
        self.reads += 1
        return "https://hooks.example/T/B/X"


def test_alarm_transition_is_posted(notify_mod, event, fake_sqs):
    post, url = RecordingPost(), CountingUrl()

    sent = notify_mod.notify(
        sns_message(event("sns_cloudwatch_alarm")),
        sqs=fake_sqs,
        webhook_url=url,
        notify_on_ok=False,
        timeout=5.0,
        post=post,
    )

    assert sent is True
    ((posted_url, payload, timeout),) = post.calls
    assert (posted_url, timeout) == ("https://hooks.example/T/B/X", 5.0)
    assert "*DLQ depth*\n7" in [f["text"] for f in payload["blocks"][1]["fields"]]


@pytest.mark.parametrize("state", ["OK", "INSUFFICIENT_DATA"])
def test_non_alarm_transitions_are_skipped_by_default(notify_mod, event, fake_sqs, state, caplog):
    message = json.loads(sns_message(event("sns_cloudwatch_ok")))
    message["NewStateValue"] = state
    post, url = RecordingPost(), CountingUrl()

    sent = notify_mod.notify(
        json.dumps(message),
        sqs=fake_sqs,
        webhook_url=url,
        notify_on_ok=False,
        timeout=5.0,
        post=post,
    )

    assert sent is False
    assert post.calls == [] and url.reads == 0 and fake_sqs.calls == []
    assert any("NOTIFY_ON_OK is off" in r.getMessage() for r in caplog.records)


def test_ok_transition_is_posted_when_enabled(notify_mod, event, fake_sqs):
    post = RecordingPost()
    sent = notify_mod.notify(
        sns_message(event("sns_cloudwatch_ok")),
        sqs=fake_sqs,
        webhook_url=CountingUrl(),
        notify_on_ok=True,
        timeout=5.0,
        post=post,
    )
    assert sent is True
    assert post.calls[0][1]["blocks"][0]["text"]["text"].startswith(":white_check_mark:")


# --- what the notifier is invoked with: SNS events and on-failure records --------


@pytest.fixture
def events_mod(load_lambda):
    return load_lambda("slack_notifier", "notifier_events")


def test_an_sns_event_is_delivered_as_it_is(events_mod, event):
    alarm = event("sns_cloudwatch_alarm")
    [found] = events_mod.notifications(alarm)
    assert found.message == sns_message(alarm)  # still the JSON string SNS sent
    assert found.message_id == "c0a8e0f2-0001-5b5e-9a0e-3f1d2c4b5a61"
    assert found.earlier is None


def test_a_failure_record_gives_back_the_original_notice(events_mod, event):
    alarm = event("sns_cloudwatch_alarm")
    [found] = events_mod.notifications(on_failure_record(alarm))
    assert found.message == sns_message(alarm)
    assert found.message_id == "c0a8e0f2-0001-5b5e-9a0e-3f1d2c4b5a61"  # the SNS message's id
    assert found.earlier == events_mod.EarlierFailure(
        first_failed_at="2024-05-01T15:13:02.411Z",
        attempts=3,
        error="NotificationFailed: 1 of 1 record(s) failed: WebhookError: "
        "Slack webhook answered HTTP 503",
    )
    assert "3 earlier attempt(s) failed, the first at 2024-05-01T15:13:02.411Z" in (
        found.earlier.describe()
    )


def test_a_failed_redrive_is_unwrapped_to_the_first_notice(events_mod, event):
    """A redriven invocation that fails again wraps the earlier record in a new one."""
    alarm = event("sns_cloudwatch_alarm")
    twice = on_failure_record(
        on_failure_record(alarm, at="2024-05-01T15:13:02.411Z"),
        attempts=3,
        at="2024-05-01T16:00:00.000Z",
        error="timeout",
    )
    [found] = events_mod.notifications(twice)
    assert found.message == sns_message(alarm)
    assert (found.earlier.first_failed_at, found.earlier.attempts) == (
        "2024-05-01T15:13:02.411Z",
        6,
    )
    assert found.earlier.error == "NotificationFailed: timeout"  # the most recent one


def test_records_redriven_through_an_sqs_trigger_are_unwrapped(events_mod, event):
    alarm = event("sns_cloudwatch_alarm")
    sqs_event = {
        "Records": [
            {
                "eventSource": "aws:sqs",
                "messageId": "q1",
                "body": json.dumps(on_failure_record(alarm)),
            },
            {"eventSource": "aws:sqs", "messageId": "q2", "body": json.dumps(alarm)},
        ]
    }
    found = events_mod.notifications(sqs_event)
    assert [n.message for n in found] == [sns_message(alarm)] * 2
    assert [n.earlier is None for n in found] == [False, True]


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ({}, "no SNS Records and is not an on-failure destination record"),
        ({"Records": []}, "no SNS Records"),
        ([1, 2], "no SNS Records"),
        ({"Records": [{"eventSource": "aws:s3"}]}, "record 0 is not an SNS record"),
        (on_failure_record(None), "no SNS Records"),
        (on_failure_record({"detail-type": "Scheduled Event"}), "keys: ['detail-type']"),
        (
            {"Records": [{"eventSource": "aws:sqs", "body": "not json"}]},
            "SQS record 0 body is not JSON",
        ),
    ],
)
def test_unknown_events_are_refused_with_a_reason(events_mod, payload, reason):
    with pytest.raises(events_mod.UnknownEvent, match=re.escape(reason)):
        events_mod.notifications(payload)


def test_nesting_is_bounded(events_mod, event):
    nested: Any = event("sns_cloudwatch_alarm")
    for _ in range(events_mod.MAX_NESTING + 1):
        nested = on_failure_record(nested)
    with pytest.raises(events_mod.UnknownEvent, match="nested more than"):
        events_mod.notifications(nested)


def test_an_already_decoded_alarm_is_accepted(alarm_mod, event):
    decoded = json.loads(sns_message(event("sns_cloudwatch_alarm")))
    assert alarm_mod.parse_alarm(decoded).name == ALARM_NAME


def test_a_late_notice_says_so_under_the_reason(slack_message, alarm):
    payload = slack_message.build_message(alarm, "7", note="Delivered late: <3> attempts")
    contexts = [b for b in payload["blocks"] if b["type"] == "context"]
    assert contexts[0]["elements"][0]["text"] == "Delivered late: &lt;3&gt; attempts"
    assert payload["text"] == slack_message.build_message(alarm, "7")["text"]
