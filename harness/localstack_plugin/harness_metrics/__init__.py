"""SQS's per-call metrics reach CloudWatch together, once a second, not one request each.

LocalStack 4.13.1 sends a PutMetricData through its own gateway for every SQS call:
NumberOfMessagesSent and SentMessageSize per message sent, NumberOfMessagesReceived or
NumberOfEmptyReceives per receive, NumberOfMessagesDeleted per delete. CloudWatch then
opens its SQLite file, inserts the one point and commits. An event source mapping that
polls every 0.2 s when idle sends five a second by itself. In a py-spy profile of the
bench (docs/performance.md) CloudWatch was the largest share of LocalStack's busy time.

This hook (entry point `localstack.hooks.on_runtime_create` in this folder's
pyproject.toml) keeps every data point and sends them per account and region every
`HARNESS_SQS_METRICS_FLUSH_S` seconds (1 by default) in one PutMetricData, with one datum
per queue, metric and unit that lists the values seen and how often each came (`Values`
and `Counts`, as CloudWatch's own agents send them): CloudWatch commits once per datum,
not once per point. The statistics are the same (each point stays a sample); a point's
timestamp is the send, at most that long after the call. AWS itself aggregates these
metrics by the minute (infra/envs/differences.yaml, "SQS metrics"). The alarm's
ApproximateNumberOfMessagesVisible is LocalStack's periodic report, untouched.

Hand-written because LocalStack has no setting for it: its only switch,
SQS_DISABLE_CLOUDWATCH_METRICS, drops the alarm's metric too. The patch replaces one
method, `CloudwatchDispatcher.dispatch_sqs_metric`, that every per-call metric goes through.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime

from localstack.runtime import hooks

LOG = logging.getLogger(__name__)
ENV_VAR = "HARNESS_SQS_METRICS_FLUSH_S"
DEFAULT_S = 1.0
MAX_VALUES = 150  # per datum, CloudWatch's limit for Values and Counts
MAX_DATA = 1000  # per PutMetricData, CloudWatch's limit

Publish = Callable[[str, str, list[dict]], None]  # (account, region, data points)


class Gathered:
    """The data points since the last send, sent every `interval` seconds from a thread
    of their own (a daemon: it ends with LocalStack)."""

    def __init__(self, publish: Publish, interval: float) -> None:
        self._publish = publish
        self._interval = interval
        self._lock = threading.Lock()
        self._pending: dict[tuple[str, str], list[dict]] = {}
        threading.Thread(target=self._send_forever, name="harness-sqs-metrics", daemon=True).start()

    def add(self, account_id: str, region: str, datum: dict) -> None:
        with self._lock:
            self._pending.setdefault((account_id, region), []).append(datum)

    def send(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
        for (account_id, region), data in pending.items():
            try:
                self._publish(account_id, region, data)
            except Exception as error:  # as LocalStack's own publisher: logged, not raised
                LOG.info("Unable to send %d SQS metric points: %s", len(data), error)

    def _send_forever(self) -> None:
        while True:
            time.sleep(self._interval)
            self.send()


def as_data(points: list[dict], timestamp: datetime) -> list[dict]:
    """One datum per queue, metric and unit: the distinct values, each with its count."""
    seen: dict[tuple[str, str, str], Counter] = {}
    for point in points:
        key = (point["QueueName"], point["MetricName"], point["Unit"])
        seen.setdefault(key, Counter())[point["Value"]] += 1
    data = []
    for (queue, metric, unit), counts in seen.items():
        values = list(counts.items())
        for start in range(0, len(values), MAX_VALUES):
            part = values[start : start + MAX_VALUES]
            data.append(
                {
                    "MetricName": metric,
                    "Dimensions": [{"Name": "QueueName", "Value": queue}],
                    "Unit": unit,
                    "Timestamp": timestamp,
                    "Values": [value for value, _ in part],
                    "Counts": [float(count) for _, count in part],
                }
            )
    return data


def interval(environ: dict[str, str] | None = None) -> float:
    value = (environ if environ is not None else os.environ).get(ENV_VAR) or str(DEFAULT_S)
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds <= 60:
        raise ValueError(f"{ENV_VAR} must be seconds between 0 and 60, not {value!r}")
    return seconds


@hooks.on_runtime_create()
def gather_sqs_metrics() -> None:
    from localstack.aws.connect import connect_to
    from localstack.services.sqs import provider
    from localstack.utils.bootstrap import is_api_enabled

    def put_sqs_metrics(account_id: str, region: str, points: list[dict]) -> None:
        if not is_api_enabled("cloudwatch"):  # as LocalStack's own publisher
            return
        cloudwatch = connect_to(region_name=region, aws_access_key_id=account_id).cloudwatch
        data = as_data(points, datetime.now(UTC))
        for start in range(0, len(data), MAX_DATA):
            part = data[start : start + MAX_DATA]
            try:
                cloudwatch.put_metric_data(Namespace="AWS/SQS", MetricData=part)
            except Exception as error:  # as LocalStack's own publisher: the next part goes on
                LOG.info("Unable to put %d SQS metric data to CloudWatch: %s", len(part), error)

    gathered = Gathered(put_sqs_metrics, interval())

    def dispatch_sqs_metric(
        self,
        account_id: str,
        region: str,
        queue_name: str,
        metric: str,
        value: float = 1,
        unit: str = "Count",
    ) -> None:
        if not self.running:  # LocalStack's own check: SQS is shutting down
            return
        datum = {"MetricName": metric, "QueueName": queue_name, "Value": value, "Unit": unit}
        gathered.add(account_id, region, datum)

    provider.CloudwatchDispatcher.dispatch_sqs_metric = dispatch_sqs_metric
