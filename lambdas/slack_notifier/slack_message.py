"""Build the Slack message (Block Kit plus a plain-text fallback) for an alarm."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from alarm import Alarm

STATE_EMOJI = {
    "ALARM": ":rotating_light:",
    "OK": ":white_check_mark:",
    "INSUFFICIENT_DATA": ":grey_question:",
}
# Block Kit limits: header text 150 chars, mrkdwn section text 3000 chars.
HEADER_LIMIT = 150
SECTION_LIMIT = 3000


def console_url(alarm: Alarm) -> str:
    """CloudWatch console page of the alarm, where the team starts debugging."""
    region = alarm.region
    return (
        f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
        f"#alarmsV2:alarm/{quote(alarm.name, safe='')}"
    )


def _escape(text: str) -> str:
    """Slack mrkdwn treats &, < and > as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def build_message(alarm: Alarm, dlq_depth: str, note: str | None = None) -> dict[str, Any]:
    """Slack webhook payload: `blocks` for the channel, `text` for notifications.

    `note` (a late delivery's history) becomes a context block under the reason.
    """
    emoji = STATE_EMOJI.get(alarm.new_state, ":grey_question:")
    queue = alarm.queue_name or "unknown"
    fields = [
        ("State", f"{alarm.old_state} → {alarm.new_state}"),
        ("Queue", queue),
        ("DLQ depth", dlq_depth),
        ("Region", alarm.region),
        ("Time", alarm.state_change_time),
    ]
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {
                "type": "plain_text",
                "text": _truncate(f"{emoji} {alarm.name}: {alarm.new_state}", HEADER_LIMIT),
                "emoji": True,
            },
        },
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": f"*{label}*\n{_escape(value)}"}
                for label, value in fields
            ],
        },
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": _truncate(
                    f"*Reason*\n{_escape(alarm.reason or 'not given')}", SECTION_LIMIT
                ),
            },
        },
    ]
    if note:
        blocks.append(
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": _truncate(_escape(note), SECTION_LIMIT)}],
            }
        )
    if alarm.description:
        blocks.append(
            {
                "type": "context",
                "elements": [
                    {"type": "mrkdwn", "text": _truncate(_escape(alarm.description), SECTION_LIMIT)}
                ],
            }
        )
    blocks.append(
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Open alarm in CloudWatch"},
                    "url": console_url(alarm),
                }
            ],
        }
    )
    text = (
        f"{emoji} CloudWatch alarm {alarm.name} is {alarm.new_state} "
        f"(was {alarm.old_state}): queue {queue}, DLQ depth {dlq_depth}"
    )
    return {"text": text, "blocks": blocks}
