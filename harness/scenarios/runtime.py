"""What steps and conditions see while a scenario runs: the pipelines of both systems,
the scenario's objects, its template variables, and observations scoped to this run.

System A (`labeling`) is what every kind drives unless it says otherwise. System B
(`catalog`) is opened on first use only: opening it starts and migrates its database,
which a labeling scenario never needs. A kind that drives system B says so in
`systems()` (see harness/scenarios/model.py), so the runner resets it before the
scenario; steps and conditions reach it as `rt.catalog`.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from harness.build.functions import SYSTEMS
from harness.events import dlq
from harness.runtime import aws
from harness.scenarios import templates
from harness.scenarios.model import ALL_OBJECTS, ObjectsRef, StepFailed
from harness.systems.catalog.pipeline import CatalogPipeline
from harness.systems.labeling.pipeline import LabelingPipeline

TARGETS = ("local", "aws")
LABELING, CATALOG = SYSTEMS
CatalogOpener = Callable[[], CatalogPipeline]


@dataclass
class Runtime:
    labeling: LabelingPipeline  # system A
    token: str  # `{scenario}`: the scenario's unique key part in this run
    target: str = "local"
    open_catalog: CatalogOpener | None = None  # system B, opened by `catalog` on first use
    started_at: float = field(default_factory=time.time)
    object_sets: dict[str, list[str]] = field(default_factory=lambda: {ALL_OBJECTS: []})
    object_systems: dict[str, str] = field(default_factory=dict)  # key -> system, if not A
    counts: dict[str, Any] = field(default_factory=dict)
    snapshots: dict[str, Any] = field(default_factory=dict)  # kept by `remember:`
    _clients: dict[str, Any] = field(default_factory=dict, repr=False)
    _catalog: CatalogPipeline | None = field(default=None, repr=False)
    _outage: contextlib.ExitStack | None = field(default=None, repr=False)

    @property
    def local(self) -> bool:
        """The stubs (Rekognition, Slack sink) exist only on the local target."""
        return self.target == "local"

    @property
    def catalog(self) -> CatalogPipeline:
        """System B's pipeline (its database up and migrated), opened once."""
        if self._catalog is None:
            if self.open_catalog is None:
                raise StepFailed("this run has no catalog pipeline (system B) to drive")
            self._catalog = self.open_catalog()
        return self._catalog

    # system B's database, taken away and given back by the `database` step
    @property
    def database_down(self) -> bool:
        return self._outage is not None

    def take_database_down(self) -> None:
        """System B's database unreachable until `bring_database_up` (or `close`)."""
        self._begin_outage(self.catalog.database_outage())

    def kill_database_mid_tick(self) -> Any:
        """Run a tick and kill the database while its transaction is inside; the database
        stays down until `bring_database_up` (or `close`). Returns the failed tick."""
        return self._begin_outage(self.catalog.database_killed_mid_tick())

    def _begin_outage(self, outage: contextlib.AbstractContextManager[Any]) -> Any:
        if self._outage is not None:
            raise StepFailed("the catalog's database is down already")
        stack = contextlib.ExitStack()
        entered = stack.enter_context(outage)
        self._outage = stack
        return entered

    def bring_database_up(self) -> None:
        if self._outage is None:
            raise StepFailed("the catalog's database is not down (no `database: down` before)")
        stack, self._outage = self._outage, None
        stack.close()

    def close(self) -> list[str]:
        """Undo what the scenario left changed when it ended; returns notes for the report."""
        if self._outage is None:
            return []
        self.bring_database_up()
        return ["the catalog's database was still down when the scenario ended: brought back"]

    def pipeline_of(self, system: str) -> LabelingPipeline | CatalogPipeline:
        """The pipeline of `system` (one of harness.build.functions.SYSTEMS)."""
        return self.catalog if system == CATALOG else self.labeling

    @property
    def outputs(self) -> dict:
        """The deployment's outputs (both systems: system B's under `catalog`)."""
        return self.labeling.outputs

    def client(self, service: str) -> Any:
        """A boto3 client for the pipelines' stack, made once per scenario run."""
        if service not in self._clients:
            self._clients[service] = aws.client(service, self.labeling.settings)
        return self._clients[service]

    def variables(self, **extra: Any) -> dict[str, Any]:
        outputs = self.outputs
        catalog = outputs.get("catalog") or {}
        values = {
            "scenario": self.token,
            "bucket": outputs.get("bucket", ""),
            "alarm_name": outputs.get("alarm_name", ""),
            "dlq_name": outputs.get("dlq_name", ""),
            "queue_name": outputs.get("queue_name", ""),
            "topic_arn": outputs.get("topic_arn", ""),
            "upload_bucket": catalog.get("upload_bucket", ""),
            "served_bucket": catalog.get("served_bucket", ""),
        }
        return values | extra

    def render(self, text: str, **extra: Any) -> str:
        return templates.render(text, self.variables(**extra))

    # objects
    def add_objects(self, set_name: str, keys: list[str], system: str = LABELING) -> None:
        for name in {set_name, ALL_OBJECTS}:
            known = self.object_sets.setdefault(name, [])
            known.extend(k for k in keys if k not in known)
        if system != LABELING:
            self.object_systems.update(dict.fromkeys(keys, system))

    def system_objects(self, keys: list[str], system: str = LABELING) -> list[str]:
        """Those of `keys` that were uploaded to `system`'s pipeline."""
        return [k for k in keys if self.object_systems.get(k, LABELING) == system]

    def objects(self, ref: ObjectsRef | None) -> list[str]:
        if ref is None:
            return list(self.object_sets[ALL_OBJECTS])
        if ref.set_name is not None:
            return list(self.object_sets.get(ref.set_name, []))
        return [self.render(key) for key in ref.keys]

    # observations, scoped to this run
    def dead_letters(self) -> list[dlq.DeadLetter]:
        return dlq.show(self.labeling.s3, self.labeling.sqs, self.outputs, limit=10_000)

    def rekognition_calls(self) -> list[dict]:
        """Calls the stub logged since this scenario's reset (the reset clears the log)."""
        return self.labeling.rekognition.calls()

    def slack_messages(self, include_failed: bool) -> list[dict]:
        messages = self.labeling.slack.messages(include_failed=include_failed)
        return [m for m in messages if m.get("received_at", 0) >= self.started_at]

    def log_events(self, log_group: str) -> list[dict]:
        """Events of a log group since the scenario started (empty if it does not exist)."""
        logs = self.labeling.logs
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
