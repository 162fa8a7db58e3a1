"""Between scenarios: empty the stack, and when needed let the DLQ alarm calm down.

`LabelingPipeline.reset()` empties the bucket and queues, the stubs and the alarm state.
One thing it cannot reset is CloudWatch's memory: LocalStack evaluates the alarm over
the last (evaluation periods + 2) periods of the DLQ's depth metric, so for ~30 s after
a scenario that filled the DLQ, the alarm keeps flipping back to ALARM (and posts to
Slack) although the DLQ is empty. A scenario that observes the alarm or Slack would
see that stale alarm instead of its own, so before such a scenario the runner waits
until the metric shows no message in that window, sets the alarm to OK and forgets
Slack posts. Scenarios that do not look at alarms never pay for this. A scenario that
drives the catalog (system B) has it emptied too (`CatalogPipeline.reset()`).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from harness.systems.catalog.pipeline import CatalogPipeline
from harness.systems.labeling.pipeline import LabelingPipeline
from harness.util.waiting import wait_for

SETTLE_AFTER_TRANSITION_S = 3.0  # a transition's notifier post lands within this


def _lookback_seconds(pipeline: LabelingPipeline) -> int:
    alarm = pipeline.cloudwatch.describe_alarms(AlarmNames=[pipeline.outputs["alarm_name"]])
    details = alarm["MetricAlarms"][0]
    return int(details["Period"]) * (int(details["EvaluationPeriods"]) + 2)


def _dlq_metric_clean(pipeline: LabelingPipeline, lookback: int) -> bool:
    now = datetime.now(UTC)
    stats = pipeline.cloudwatch.get_metric_statistics(
        Namespace="AWS/SQS",
        MetricName="ApproximateNumberOfMessagesVisible",
        Dimensions=[{"Name": "QueueName", "Value": pipeline.outputs["dlq_name"]}],
        StartTime=now - timedelta(seconds=lookback + 5),
        EndTime=now + timedelta(seconds=5),
        Period=10,
        Statistics=["Maximum"],
    )
    return all(point["Maximum"] <= 0 for point in stats["Datapoints"])


def _last_transition_age(pipeline: LabelingPipeline) -> float:
    alarm = pipeline.cloudwatch.describe_alarms(AlarmNames=[pipeline.outputs["alarm_name"]])
    updated = alarm["MetricAlarms"][0]["StateUpdatedTimestamp"]
    return (datetime.now(UTC) - updated).total_seconds()


def quiet_alarm(pipeline: LabelingPipeline) -> float:
    """Wait until the DLQ alarm cannot fire on old data; returns the seconds it took."""
    started = time.monotonic()
    lookback = _lookback_seconds(pipeline)
    wait_for(
        lambda: _dlq_metric_clean(pipeline, lookback),
        timeout=lookback + 30,
        what="the DLQ depth metric to show an empty DLQ for the alarm's whole window",
        interval=1.0,
    )
    if pipeline.alarm_state() != "OK":
        # A stale OK -> ALARM transition posts to Slack about a second later: let that
        # post land before forgetting the posts.
        age = _last_transition_age(pipeline)
        if age < SETTLE_AFTER_TRANSITION_S:
            time.sleep(SETTLE_AFTER_TRANSITION_S - age)
        pipeline.cloudwatch.set_alarm_state(
            AlarmName=pipeline.outputs["alarm_name"],
            StateValue="OK",
            StateReason="reset by the harness: the DLQ was emptied between scenarios",
        )
    pipeline.slack.clear_messages()
    return time.monotonic() - started


def prepare(
    pipeline: LabelingPipeline,
    needs_quiet_alarm: bool,
    local: bool,
    catalog: CatalogPipeline | None = None,
) -> dict[str, float]:
    """Reset the stack for the next scenario (system B too, when given); returns what it
    took, in seconds."""
    setup = {"reset_s": round(pipeline.reset() if local else 0.0, 3)}
    if catalog is not None and local:
        setup["catalog_reset_s"] = round(catalog.reset(), 3)
    if needs_quiet_alarm and local:
        setup["quiet_alarm_s"] = round(quiet_alarm(pipeline), 3)
    return setup
