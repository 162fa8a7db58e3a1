"""Read a CloudWatch alarm notification and the depth of the queue it watches.

SNS hands the alarm to Lambda as a JSON *string* in `Sns.Message`; the seed
indexed it like a dict and crashed. Everything here takes that string.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

REQUIRED_FIELDS = ("AlarmName", "NewStateValue", "AlarmArn")
# First datapoint of a reason such as
# "Threshold Crossed: 1 datapoint [3.0 (23/11/26 10:00:00)] was greater than ..."
_DATAPOINT = re.compile(r"\[\s*(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)\s*\(")


class NotAnAlarmError(ValueError):
    """The SNS message is not a CloudWatch alarm state change notification."""


@dataclass(frozen=True)
class Alarm:
    """The fields of an alarm notification the Slack message uses."""

    name: str
    new_state: str
    old_state: str
    reason: str
    description: str
    state_change_time: str
    arn: str
    region: str
    queue_name: str | None


def parse_alarm(message: str | dict[str, Any]) -> Alarm:
    """Decode `Sns.Message`; raise NotAnAlarmError with what is wrong with it.

    SNS always delivers the JSON string; an already decoded object (a hand-made
    test event) is accepted as well.
    """
    if isinstance(message, dict):
        data: Any = message
    else:
        try:
            data = json.loads(message)
        except (TypeError, ValueError) as exc:
            raise NotAnAlarmError(f"SNS Message is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise NotAnAlarmError("SNS Message is not a JSON object")
    missing = [field for field in REQUIRED_FIELDS if not isinstance(data.get(field), str)]
    if missing:
        raise NotAnAlarmError(
            "SNS Message is not a CloudWatch alarm notification: missing " + ", ".join(missing)
        )
    return Alarm(
        name=data["AlarmName"],
        new_state=data["NewStateValue"],
        old_state=str(data.get("OldStateValue") or "unknown"),
        reason=str(data.get("NewStateReason") or ""),
        description=str(data.get("AlarmDescription") or ""),
        state_change_time=str(data.get("StateChangeTime") or "unknown"),
        arn=data["AlarmArn"],
        region=region_from_arn(data["AlarmArn"]),
        queue_name=queue_name(data.get("Trigger")),
    )


def region_from_arn(arn: str) -> str:
    """Region code (`ap-northeast-2`); the message's `Region` is a display name."""
    parts = arn.split(":")
    return parts[3] if len(parts) > 3 and parts[3] else "unknown"


def queue_name(trigger: Any) -> str | None:
    """Value of the `QueueName` dimension of the alarm's metric, if there is one."""
    if not isinstance(trigger, dict):
        return None
    for dimension in trigger.get("Dimensions") or []:
        if isinstance(dimension, dict) and dimension.get("name") == "QueueName":
            value = dimension.get("value")
            return value if isinstance(value, str) else None
    return None


def depth_from_reason(reason: str) -> str | None:
    """Most recent datapoint in NewStateReason, as a whole number when it is one."""
    match = _DATAPOINT.search(reason)
    if match is None:
        return None
    value = float(match.group(1))
    return str(int(value)) if value.is_integer() else str(value)


def dlq_depth(sqs: Any, alarm: Alarm) -> str:
    """Current number of messages in the queue, else the alarm's datapoint, else "unknown".

    The live value is what the team will find when they look; the datapoint
    (averaged over the alarm period) is a fallback when SQS cannot be asked.
    """
    if alarm.queue_name:
        try:
            url = sqs.get_queue_url(QueueName=alarm.queue_name)["QueueUrl"]
            attributes = sqs.get_queue_attributes(
                QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
            )["Attributes"]
            return str(attributes["ApproximateNumberOfMessages"])
        except Exception:  # any failure: fall back to the alarm's own number
            pass
    from_reason = depth_from_reason(alarm.reason)
    return f"{from_reason} (at alarm time)" if from_reason is not None else "unknown"
