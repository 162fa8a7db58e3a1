"""Decide whether an alarm notification goes to Slack, and send it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from alarm import dlq_depth, parse_alarm
from aws_lambda_powertools import Logger
from slack_message import build_message
from webhook import post_json

logger = Logger(service="slack_notifier", child=True)


def notify(
    message: str | dict[str, Any],
    *,
    sqs: Any,
    webhook_url: Callable[[], str],
    notify_on_ok: bool,
    timeout: float,
    post: Callable[[str, dict[str, Any], float], str] = post_json,
    note: str | None = None,
) -> bool:
    """Post one alarm notification; return False if skipped because it is not ALARM.

    `webhook_url` is a callable so the SSM parameter is only read when a post
    is actually made. Errors propagate: the invocation must fail to be retried.
    `note` (e.g. that earlier deliveries failed) is shown under the message.
    """
    alarm = parse_alarm(message)
    context = {
        "alarm_name": alarm.name,
        "new_state": alarm.new_state,
        "old_state": alarm.old_state,
        "queue_name": alarm.queue_name,
    }
    if alarm.new_state != "ALARM" and not notify_on_ok:
        logger.info(
            "Not posting: transition is not to ALARM and NOTIFY_ON_OK is off", extra=context
        )
        return False
    depth = dlq_depth(sqs, alarm)
    post(webhook_url(), build_message(alarm, depth, note), timeout)
    logger.info("Posted alarm to Slack", extra={**context, "dlq_depth": depth})
    return True
