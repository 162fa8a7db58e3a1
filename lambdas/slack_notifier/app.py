"""Lambda entry point of the Slack notifier (handler string `app.handler`).

Subscribed to the SNS topic; the subscription's filter policy lets only the DLQ
alarm through. Every record is handled; if any fails the invocation raises so
SNS/Lambda asynchronous retries deliver it again (the seed logged and returned),
and after the last retry the on-failure destination keeps the event. Invoked with
such a failure record (a redrive), it re-sends the notice the record holds
(notifier_events.py). requirements.txt bundles Powertools; boto3 comes with the
runtime.
"""

from __future__ import annotations

import os
from typing import Any

import boto3
import notifier_events
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext
from notify import notify
from webhook import fetch_webhook_url

logger = Logger(service="slack_notifier")

_clients: dict[str, Any] = {}
_webhook_url: str | None = None


class NotificationFailed(RuntimeError):
    """At least one SNS record could not be turned into a Slack post."""


def client(name: str) -> Any:
    """boto3 client created on first use, reused across warm invocations."""
    if name not in _clients:
        _clients[name] = boto3.client(name)
    return _clients[name]


def webhook_url() -> str:
    """Webhook URL from SSM, read once per execution environment.

    Cached only after a successful read, so a failed read is retried by the
    next invocation instead of being remembered.
    """
    global _webhook_url
    if _webhook_url is None:
        name = os.environ.get("WEBHOOK_PARAMETER_NAME")
        if not name:
            raise RuntimeError("WEBHOOK_PARAMETER_NAME is not set")
        _webhook_url = fetch_webhook_url(client("ssm"), name)
    return _webhook_url


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    """Returns counts of posted and skipped records; raises if any record failed."""
    notify_on_ok = os.environ.get("NOTIFY_ON_OK", "false").strip().lower() == "true"
    timeout = float(os.environ.get("HTTP_TIMEOUT_SECONDS", "5"))
    try:
        records = notifier_events.notifications(event)
    except notifier_events.UnknownEvent as exc:
        raise NotificationFailed(str(exc)) from exc
    posted = skipped = 0
    errors: list[str] = []
    for record in records:
        message_id = record.message_id
        if record.earlier is not None:
            logger.info(
                "Re-sending a notice whose earlier delivery failed",
                extra={
                    "sns_message_id": message_id,
                    "first_failed_at": record.earlier.first_failed_at,
                    "earlier_attempts": record.earlier.attempts,
                },
            )
        try:
            sent = notify(
                record.message,
                sqs=client("sqs"),
                webhook_url=webhook_url,
                notify_on_ok=notify_on_ok,
                timeout=timeout,
                note=record.earlier.describe() if record.earlier else None,
            )
        except Exception as exc:
            logger.exception("Could not notify Slack", extra={"sns_message_id": message_id})
            errors.append(f"{message_id}: {type(exc).__name__}: {exc}")
            continue
        if sent:
            posted += 1
        else:
            skipped += 1
    if errors:
        raise NotificationFailed(
            f"{len(errors)} of {len(records)} record(s) failed: " + "; ".join(errors)
        )
    return {"posted": posted, "skipped": skipped}
