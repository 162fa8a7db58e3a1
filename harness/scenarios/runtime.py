"""What steps and conditions see while a scenario runs: the pipeline, the scenario's
objects, its template variables, and observations scoped to this run."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from harness.events import dlq
from harness.runtime import aws
from harness.scenarios import templates
from harness.scenarios.model import ALL_OBJECTS, ObjectsRef
from harness.systems.labeling.pipeline import LabelingPipeline

TARGETS = ("local", "aws")


@dataclass
class Runtime:
    pipeline: LabelingPipeline
    token: str  # `{scenario}`: the scenario's unique key part in this run
    target: str = "local"
    started_at: float = field(default_factory=time.time)
    object_sets: dict[str, list[str]] = field(default_factory=lambda: {ALL_OBJECTS: []})
    counts: dict[str, Any] = field(default_factory=dict)
    _clients: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def local(self) -> bool:
        """The stubs (Rekognition, Slack sink) exist only on the local target."""
        return self.target == "local"

    @property
    def outputs(self) -> dict:
        return self.pipeline.outputs

    def client(self, service: str) -> Any:
        """A boto3 client for the pipeline's stack, made once per scenario run."""
        if service not in self._clients:
            self._clients[service] = aws.client(service, self.pipeline.settings)
        return self._clients[service]

    def variables(self, **extra: Any) -> dict[str, Any]:
        outputs = self.outputs
        values = {
            "scenario": self.token,
            "bucket": outputs.get("bucket", ""),
            "alarm_name": outputs.get("alarm_name", ""),
            "dlq_name": outputs.get("dlq_name", ""),
            "queue_name": outputs.get("queue_name", ""),
            "topic_arn": outputs.get("topic_arn", ""),
        }
        return values | extra

    def render(self, text: str, **extra: Any) -> str:
        return templates.render(text, self.variables(**extra))

    # objects
    def add_objects(self, set_name: str, keys: list[str]) -> None:
        for name in {set_name, ALL_OBJECTS}:
            known = self.object_sets.setdefault(name, [])
            known.extend(k for k in keys if k not in known)

    def objects(self, ref: ObjectsRef | None) -> list[str]:
        if ref is None:
            return list(self.object_sets[ALL_OBJECTS])
        if ref.set_name is not None:
            return list(self.object_sets.get(ref.set_name, []))
        return [self.render(key) for key in ref.keys]

    # observations, scoped to this run
    def dead_letters(self) -> list[dlq.DeadLetter]:
        return dlq.show(self.pipeline.s3, self.pipeline.sqs, self.outputs, limit=10_000)

    def rekognition_calls(self) -> list[dict]:
        """Calls the stub logged since this scenario's reset (the reset clears the log)."""
        return self.pipeline.rekognition.calls()

    def slack_messages(self, include_failed: bool) -> list[dict]:
        messages = self.pipeline.slack.messages(include_failed=include_failed)
        return [m for m in messages if m.get("received_at", 0) >= self.started_at]

    def log_events(self, log_group: str) -> list[dict]:
        """Events of a log group since the scenario started (empty if it does not exist)."""
        logs = self.pipeline.logs
        events: list[dict] = []
        kwargs: dict[str, Any] = {
            "logGroupName": log_group,
            "startTime": int((self.started_at - 1) * 1000),
        }
        try:
            while True:
                page = logs.filter_log_events(**kwargs)
                events += page.get("events", [])
                token = page.get("nextToken")
                if not token or token == kwargs.get("nextToken"):
                    return events
                kwargs["nextToken"] = token
        except logs.exceptions.ResourceNotFoundException:
            return events
