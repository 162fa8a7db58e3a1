"""A Slack notice is never lost: Slack down longer than Lambda's retries, the notice waits
in the notifier-failures queue (the notifier's on-failure destination), `harness dlq
show` names it, and `harness dlq redrive --queue notifier-failures` delivers it, once,
when Slack answers again. The scenario slack-down-then-up tells the same story with two
notices and the notifier-failures alarm's own notice."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta

from click.testing import CliRunner

from harness.cli import main
from harness.util.waiting import wait_for


def alarm_event(labeling, reason: str) -> dict:
    """What SNS delivers to the notifier for the DLQ alarm's OK -> ALARM transition."""
    message = {
        "AlarmName": labeling.outputs["alarm_name"],
        "AlarmArn": labeling.outputs["alarm_arn"],
        "AlarmDescription": "test notice",
        "NewStateValue": "ALARM",
        "OldStateValue": "OK",
        "NewStateReason": reason,
        "StateChangeTime": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
        "Region": "US East (N. Virginia)",
        "Trigger": {
            "MetricName": "ApproximateNumberOfMessagesVisible",
            "Namespace": "AWS/SQS",
            "Dimensions": [{"name": "QueueName", "value": labeling.outputs["dlq_name"]}],
        },
    }
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "Sns": {
                    "Type": "Notification",
                    "MessageId": str(uuid.uuid4()),
                    "TopicArn": labeling.outputs["topic_arn"],
                    "Message": json.dumps(message),
                },
            }
        ]
    }


def settle_the_failures_alarm(labeling) -> None:
    """Leave no notifier-failures alarm behind: the queue held a message for ~20 s, so
    the alarm (2 of 2 periods of 10 s, evaluated every 20 s over 40 s) may still fire
    and post to Slack during the next test. Wait until its metric is clean over that
    window, then set it OK and forget the posts (as the scenario runner's quiet_alarm
    does for the DLQ alarm)."""
    queue = labeling.outputs["notifier_failures_queue_name"]

    def clean() -> bool:
        now = datetime.now(UTC)
        stats = labeling.cloudwatch.get_metric_statistics(
            Namespace="AWS/SQS",
            MetricName="ApproximateNumberOfMessagesVisible",
            Dimensions=[{"Name": "QueueName", "Value": queue}],
            StartTime=now - timedelta(seconds=45),
            EndTime=now + timedelta(seconds=5),
            Period=10,
            Statistics=["Maximum"],
        )
        return all(point["Maximum"] <= 0 for point in stats["Datapoints"])

    wait_for(clean, 120, f"no message in {queue}'s metric for the alarm's window", interval=1)
    time.sleep(3)  # a transition's post lands within this
    labeling.cloudwatch.set_alarm_state(
        AlarmName=labeling.outputs["notifier_failures_alarm_name"],
        StateValue="OK",
        StateReason="settled by test_failed_notices",
    )
    labeling.slack.clear_messages()


def test_a_notice_slack_refused_is_kept_shown_and_redriven_once(labeling):
    try:
        _kept_shown_and_redriven_once(labeling)
    finally:
        labeling.slack.clear_failures()
        settle_the_failures_alarm(labeling)


def _kept_shown_and_redriven_once(labeling) -> None:
    reason = f"failed-notice test {uuid.uuid4().hex[:8]}"
    labeling.slack.fail_next(100)  # down for longer than the retries
    labeling.lambda_.invoke(
        FunctionName=labeling.outputs["notifier_function"],
        InvocationType="Event",  # as SNS invokes it
        Payload=json.dumps(alarm_event(labeling, reason)).encode(),
    )
    # The invocation and Lambda's 2 retries (5 s and 10 s later locally), then the record.
    wait_for(
        lambda: labeling.notifier_failures_depth() == 1,
        60,
        "the notice in the notifier-failures queue",
        interval=0.5,
    )
    attempts = labeling.slack.messages(include_failed=True, containing=reason)
    assert len(attempts) == 3 and all(m["failed"] for m in attempts)

    shown = CliRunner().invoke(main, ["dlq", "show", "--queue", "notifier-failures", "--json"])
    assert shown.exit_code == 0, shown.output
    (notice,) = json.loads(shown.stdout)
    assert notice["alarm"] == labeling.outputs["alarm_name"]
    assert notice["state"] == "OK -> ALARM" and notice["alarm_reason"] == reason
    assert notice["condition"] == "RetriesExhausted" and notice["attempts"] == 3
    assert "HTTP 500" in notice["error"] and notice["redrivable"]
    assert labeling.notifier_failures_depth() == 1  # show leaves it queued

    labeling.slack.clear_failures()  # Slack is back
    redriven = CliRunner().invoke(main, ["dlq", "redrive", "--queue", "notifier-failures"])
    assert redriven.exit_code == 0, redriven.output
    assert labeling.notifier_failures_depth() == 0
    posted = labeling.slack.wait_for_messages(1, timeout=30, containing=reason)
    time.sleep(3)  # a duplicate would land by now
    assert len(labeling.slack.messages(containing=reason)) == 1
    body = json.dumps(posted[0]["body"])
    assert reason in body and "Delivered late: 3 earlier attempt(s) failed" in body
