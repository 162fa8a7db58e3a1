"""The Slack notifier's Lambda handler end to end, posting to a real local HTTP server."""

from __future__ import annotations

import json

import pytest
from lambda_records import on_failure_record

PARAMETER = "/image-pipeline/slack-webhook-url"


@pytest.fixture
def app(load_lambda, fake_ssm, fake_sqs, webhook_server, monkeypatch):
    """Handler module with fake SSM/SQS, a cold cache, and SSM pointing at the local server."""
    module = load_lambda("slack_notifier", "app")
    fake_ssm.parameters[PARAMETER] = webhook_server.url
    monkeypatch.setattr(module, "_clients", {"ssm": fake_ssm, "sqs": fake_sqs})
    monkeypatch.setattr(module, "_webhook_url", None)
    monkeypatch.setenv("WEBHOOK_PARAMETER_NAME", PARAMETER)
    monkeypatch.delenv("NOTIFY_ON_OK", raising=False)
    monkeypatch.delenv("HTTP_TIMEOUT_SECONDS", raising=False)
    return module


def with_messages(recorded: dict, *messages: str) -> dict:
    """The recorded SNS event with one record per message."""
    template = recorded["Records"][0]
    records = []
    for index, message in enumerate(messages):
        record = json.loads(json.dumps(template))
        record["Sns"]["Message"] = message
        record["Sns"]["MessageId"] = f"sns-{index}"
        records.append(record)
    return {"Records": records}


def test_alarm_is_posted_to_slack(app, event, webhook_server, fake_ssm, lambda_context):
    assert app.handler(event("sns_cloudwatch_alarm"), lambda_context) == {"posted": 1, "skipped": 0}

    (request,) = webhook_server.requests
    payload = request["json"]
    assert "image-labeling-dlq-not-empty" in payload["text"]
    assert "image-labeling-dlq" in payload["text"]
    assert payload["blocks"][0]["type"] == "header"
    assert fake_ssm.calls == [{"Name": PARAMETER, "WithDecryption": True}]


def test_webhook_url_is_read_once_per_execution_environment(
    app, event, webhook_server, fake_ssm, lambda_context
):
    app.handler(event("sns_cloudwatch_alarm"), lambda_context)
    app.handler(event("sns_cloudwatch_alarm"), lambda_context)

    assert len(webhook_server.requests) == 2
    assert len(fake_ssm.calls) == 1


def test_failed_ssm_read_is_not_cached(app, event, fake_ssm, client_error, lambda_context):
    fake_ssm.error = client_error("ThrottlingException", "GetParameter")
    with pytest.raises(app.NotificationFailed, match="ThrottlingException"):
        app.handler(event("sns_cloudwatch_alarm"), lambda_context)

    fake_ssm.error = None
    assert app.handler(event("sns_cloudwatch_alarm"), lambda_context)["posted"] == 1
    assert len(fake_ssm.calls) == 2


def test_ok_transition_is_skipped_by_default(app, event, webhook_server, fake_ssm, lambda_context):
    assert app.handler(event("sns_cloudwatch_ok"), lambda_context) == {"posted": 0, "skipped": 1}
    assert webhook_server.requests == []
    assert fake_ssm.calls == []


def test_ok_transition_is_posted_with_notify_on_ok(
    app, event, webhook_server, lambda_context, monkeypatch
):
    monkeypatch.setenv("NOTIFY_ON_OK", "true")
    assert app.handler(event("sns_cloudwatch_ok"), lambda_context) == {"posted": 1, "skipped": 0}
    assert webhook_server.requests[0]["json"]["blocks"][0]["text"]["text"].startswith(
        ":white_check_mark:"
    )


def test_non_2xx_answer_fails_the_invocation(app, event, webhook_server, lambda_context):
    webhook_server.status, webhook_server.body = 500, b"internal_error"
    with pytest.raises(app.NotificationFailed, match="HTTP 500: 'internal_error'"):
        app.handler(event("sns_cloudwatch_alarm"), lambda_context)


def test_timeout_fails_the_invocation(app, event, webhook_server, lambda_context, monkeypatch):
    monkeypatch.setenv("HTTP_TIMEOUT_SECONDS", "0.2")
    webhook_server.delay = 1.0
    with pytest.raises(app.NotificationFailed, match=r"timeout 0\.2s"):
        app.handler(event("sns_cloudwatch_alarm"), lambda_context)


def test_non_alarm_record_is_a_visible_failure_but_others_are_sent(
    app, event, webhook_server, lambda_context, caplog
):
    alarm = event("sns_cloudwatch_alarm")
    mixed = with_messages(alarm, json.dumps({"Records": []}), alarm["Records"][0]["Sns"]["Message"])

    with pytest.raises(app.NotificationFailed) as caught:
        app.handler(mixed, lambda_context)

    assert "1 of 2 record(s) failed" in str(caught.value)
    assert "sns-0: NotAnAlarmError" in str(caught.value)
    assert len(webhook_server.requests) == 1
    logged = [r for r in caplog.records if r.getMessage() == "Could not notify Slack"]
    assert [r.sns_message_id for r in logged] == ["sns-0"]


def test_missing_parameter_name_is_reported(app, event, lambda_context, monkeypatch):
    monkeypatch.delenv("WEBHOOK_PARAMETER_NAME")
    with pytest.raises(app.NotificationFailed, match="WEBHOOK_PARAMETER_NAME is not set"):
        app.handler(event("sns_cloudwatch_alarm"), lambda_context)


def test_event_without_records_is_rejected(app, lambda_context):
    with pytest.raises(app.NotificationFailed, match="no SNS Records"):
        app.handler({}, lambda_context)


def test_webhook_url_never_reaches_the_logs(app, event, webhook_server, lambda_context, caplog):
    webhook_server.status = 404
    with pytest.raises(app.NotificationFailed):
        app.handler(event("sns_cloudwatch_alarm"), lambda_context)
    app.handler(event("sns_cloudwatch_ok"), lambda_context)

    assert caplog.records
    for record in caplog.records:
        text = record.getMessage() + json.dumps(record.__dict__, default=str)
        assert "/services/T000" not in text


def test_a_notice_kept_by_the_on_failure_destination_is_sent_by_a_redrive(
    app, event, webhook_server, lambda_context
):
    """Slack down through every retry; the failure record, redriven later, delivers it once."""
    original = event("sns_cloudwatch_alarm")
    webhook_server.status, webhook_server.body = 503, b"service_unavailable"
    errors = []
    for _attempt in range(3):  # the invocation and Lambda's two asynchronous retries
        with pytest.raises(app.NotificationFailed) as caught:
            app.handler(original, lambda_context)
        errors.append(str(caught.value))
    assert len(webhook_server.requests) == 3 and "HTTP 503" in errors[-1]
    record = on_failure_record(original, error=errors[-1])

    webhook_server.status, webhook_server.body = 200, b"ok"
    webhook_server.requests.clear()
    assert app.handler(record, lambda_context) == {"posted": 1, "skipped": 0}

    (request,) = webhook_server.requests
    payload = request["json"]
    assert "image-labeling-dlq-not-empty" in payload["text"]
    notes = [
        element["text"]
        for block in payload["blocks"]
        if block["type"] == "context"
        for element in block["elements"]
    ]
    assert any(n.startswith("Delivered late: 3 earlier attempt(s) failed") for n in notes)
    assert any("HTTP 503" in n for n in notes)


def test_a_redrive_while_slack_is_still_down_fails_again(
    app, event, webhook_server, lambda_context
):
    """Raising sends the record to the on-failure destination again: nothing is lost."""
    record = on_failure_record(event("sns_cloudwatch_alarm"), error="HTTP 503")
    webhook_server.status = 500
    with pytest.raises(app.NotificationFailed, match="HTTP 500"):
        app.handler(record, lambda_context)
    webhook_server.status = 200
    nested = on_failure_record(record, error="HTTP 500", attempts=3)
    assert app.handler(nested, lambda_context) == {"posted": 1, "skipped": 0}
    assert len(webhook_server.requests) == 2


def test_a_redriven_ok_notice_follows_notify_on_ok(app, event, webhook_server, lambda_context):
    record = on_failure_record(event("sns_cloudwatch_ok"), error="HTTP 503")
    assert app.handler(record, lambda_context) == {"posted": 0, "skipped": 1}
    assert webhook_server.requests == []


def test_an_unknown_event_fails_the_invocation(app, lambda_context):
    with pytest.raises(app.NotificationFailed, match="not an on-failure destination record"):
        app.handler({"detail-type": "Scheduled Event"}, lambda_context)
