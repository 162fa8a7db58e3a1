"""Driving the deployed labeling pipeline (system A) from the outside.

What a user does by hand (upload to `ingest/`, look for `results/`, check the DLQ,
reset between runs), as small functions shared by the demo, the tests and scenarios.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from harness.config import Settings
from harness.events import dlq, notices
from harness.runtime import aws
from harness.stubs.client import RekognitionStubClient, SlackSinkClient
from harness.util.errors import HarnessError
from harness.util.waiting import wait_for


@dataclass
class LabelingPipeline:
    settings: Settings
    outputs: dict

    def __post_init__(self) -> None:
        self.s3 = aws.client("s3", self.settings)
        self.sqs = aws.client("sqs", self.settings)
        self.cloudwatch = aws.client("cloudwatch", self.settings)
        self.logs = aws.client("logs", self.settings)
        self.lambda_ = aws.client("lambda", self.settings)
        self.rekognition = RekognitionStubClient(self.settings.rekognition_endpoint)
        self.slack = SlackSinkClient(self.settings.slack_endpoint)

    @property
    def bucket(self) -> str:
        return self.outputs["bucket"]

    def _under_ingest(self, key: str) -> str:
        prefix = self.outputs["ingest_prefix"]
        if not key.startswith(prefix):
            raise ValueError(f"{key!r} is not under {prefix!r}")
        return key.removeprefix(prefix)

    def result_key(self, key: str) -> str:
        return self.outputs["results_prefix"] + self._under_ingest(key) + ".json"

    def failure_key(self, key: str) -> str:
        return self.outputs["failures_prefix"] + self._under_ingest(key) + ".json"

    def upload(self, key: str, data: bytes, content_type: str = "image/jpeg") -> None:
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)

    def read_json(self, key: str) -> dict | None:
        return aws.read_json(self.s3, self.bucket, key)

    def result(self, key: str) -> dict | None:
        return self.read_json(self.result_key(key))

    def wait_result(self, key: str, timeout: float = 30) -> dict:
        return wait_for(lambda: self.result(key), timeout, f"result of {key}")

    def keys(self, prefix: str, start_after: str = "") -> list[str]:
        """The keys under `prefix`, in S3's order; only those after `start_after` if given."""
        paginator = self.s3.get_paginator("list_objects_v2")
        after = {"StartAfter": start_after} if start_after else {}
        return [
            obj["Key"]
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix, **after)
            for obj in page.get("Contents", [])
        ]

    def dead_letters(self) -> list[dlq.DeadLetter]:
        return dlq.show(self.s3, self.sqs, self.outputs)

    def dlq_depth(self) -> int:
        return dlq.depth(self.sqs, self.outputs["dlq_url"])

    def queue_depth(self) -> int:
        return dlq.depth(self.sqs, self.outputs["queue_url"])

    # --- notices the notifier could not deliver (its on-failure destination) -------

    @property
    def notifier_failures_url(self) -> str | None:
        """None for a deployment made before the notifier had its failures queue."""
        return self.outputs.get("notifier_failures_queue_url")

    def failed_notices(self, limit: int = 100) -> list[notices.FailedNotice]:
        url = self.notifier_failures_url
        return notices.show(self.sqs, url, limit) if url else []

    def notifier_failures_depth(self) -> int:
        url = self.notifier_failures_url
        return dlq.depth(self.sqs, url) if url else 0

    def redrive_notices(self, progress: Callable[[str], None] = print) -> dict:
        """Invoke the notifier with every failed notice (see harness/events/notices.py)."""
        if not self.notifier_failures_url:
            raise HarnessError(
                "this deployment has no notifier-failures queue; run `harness deploy`"
            )
        return notices.redrive(
            self.sqs,
            self.lambda_,
            self.notifier_failures_url,
            self.outputs["notifier_function"],
            progress=progress,
        )

    def alarm_state(self) -> str:
        alarms = self.cloudwatch.describe_alarms(AlarmNames=[self.outputs["alarm_name"]])
        return alarms["MetricAlarms"][0]["StateValue"]

    def reset(self) -> float:
        """Bring the stack back to empty between runs; returns the seconds it took."""
        started = time.monotonic()
        self.rekognition.reset()
        self.slack.reset()
        for url in (self.outputs["queue_url"], self.outputs["dlq_url"], self.notifier_failures_url):
            if url:
                self.sqs.purge_queue(QueueUrl=url)
        aws.delete_versions(self.s3, self.bucket)
        self.cloudwatch.set_alarm_state(
            AlarmName=self.outputs["alarm_name"],
            StateValue="OK",
            StateReason="reset by the harness between runs",
        )
        return time.monotonic() - started
