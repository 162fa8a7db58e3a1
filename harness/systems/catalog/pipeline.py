"""Driving the deployed catalog pipeline (system B) from the outside.

What an operator or a test does by hand, as small methods shared by the CLI, the
pytest fixture `catalog` and scenarios: upload originals, look at renditions and
rejection records, run the scheduled loader now (`tick`), read the catalog rows,
take the database away for a while, reset everything between runs.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from harness.config import Settings
from harness.events import dlq
from harness.events.shapes import object_refs
from harness.runtime import aws, database_gate, mariadb
from harness.runtime.backends import docker as docker_backend
from harness.stubs.client import SlackSinkClient
from harness.systems.catalog import database
from harness.systems.catalog.database import Database, Served
from harness.systems.catalog.schedule import CronSchedule, LoaderSchedule
from harness.util.errors import HarnessError
from harness.util.processes import ProcessRecords
from harness.util.waiting import WaitTimeout, wait_for

# EventBridge Scheduler's context attributes, as it fills them in a target's input.
SCHEDULER_PLACEHOLDERS = (
    "<aws.scheduler.schedule-arn>",
    "<aws.scheduler.scheduled-time>",
    "<aws.scheduler.execution-id>",
    "<aws.scheduler.attempt-number>",
)

# A tick ends within the loader's timeout (under a minute, so runs never overlap);
# this is the most a caller waits for one whose database died under it.
TICK_END_S = 120


def render_scheduler_input(template: str, schedule_arn: str, at: datetime) -> str:
    """The payload Scheduler would send at `at`: its context attributes substituted."""
    values = {
        "<aws.scheduler.schedule-arn>": schedule_arn,
        "<aws.scheduler.scheduled-time>": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "<aws.scheduler.execution-id>": str(uuid.uuid4()),
        "<aws.scheduler.attempt-number>": "1",
    }
    for placeholder, value in values.items():
        template = template.replace(placeholder, value)
    return template


def schedule_group_arn(schedule_arn: str) -> str:
    """`arn:...:schedule/GROUP/NAME` -> `arn:...:schedule-group/GROUP`: the source ARN
    Scheduler assumes a schedule's role for."""
    prefix, _, path = schedule_arn.partition(":schedule/")
    return f"{prefix}:schedule-group/{path.split('/', 1)[0]}"


@dataclass
class Tick:
    """One run of the loader as the schedule would start it."""

    at: datetime
    payload: dict[str, Any]
    would_fire: bool  # whether the real schedule runs in this minute
    result: dict[str, Any] | None
    error: str | None  # the function's errorMessage when the run failed
    seconds: float

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class CatalogPipeline:
    settings: Settings
    outputs: dict
    database: Database

    @classmethod
    def open(
        cls, settings: Settings, outputs: dict, progress: Callable[[str], None] = print
    ) -> CatalogPipeline:
        """The database up and migrated, and its loader account in the secret."""
        if "catalog" not in outputs:
            raise HarnessError(
                "the deployment has no catalog (system B) outputs; run `harness deploy`"
            )
        pipeline = cls(settings, outputs, database.ensure(settings, progress))
        pipeline.publish_credentials()
        return pipeline

    def __post_init__(self) -> None:
        self.s3 = aws.client("s3", self.settings)
        self.sqs = aws.client("sqs", self.settings)
        self.lambda_ = aws.client("lambda", self.settings)
        self.scheduler = aws.client("scheduler", self.settings)
        self.secrets = aws.client("secretsmanager", self.settings)
        self.cloudwatch = aws.client("cloudwatch", self.settings)
        self.slack = SlackSinkClient(self.settings.slack_endpoint)

    @property
    def c(self) -> dict:
        """The `catalog` output of the deployment (buckets, queues, schedule, ...)."""
        return self.outputs["catalog"]

    @property
    def sizes(self) -> dict[str, int]:
        return {name: int(edge) for name, edge in self.c["image_sizes"].items()}

    # --- database ---------------------------------------------------------------

    def publish_credentials(self, endpoint: database.Endpoint | None = None) -> None:
        """Put the loader's account into the secret the Terraform created (no-op if same)."""
        secret = endpoint.secret() if endpoint else self.database.loader_secret
        value = json.dumps(secret, sort_keys=True)
        with contextlib.suppress(self.secrets.exceptions.ResourceNotFoundException):
            current = self.secrets.get_secret_value(SecretId=self.c["db_secret_arn"])
            if current.get("SecretString") == value:
                return
        self.secrets.put_secret_value(SecretId=self.c["db_secret_arn"], SecretString=value)

    def rows(self, vertical: str | None = None, cd_idxs: list[int] | None = None) -> list[dict]:
        query = f"SELECT * FROM `{database.TABLE}`"
        clauses, args = [], []
        if vertical is not None:
            clauses.append("vertical = %s")
            args.append(vertical)
        if cd_idxs:
            clauses.append(f"cd_idx IN ({', '.join(['%s'] * len(cd_idxs))})")
            args += cd_idxs
        if clauses:
            query += " WHERE " + " AND ".join(clauses)
        query += " ORDER BY vertical, cd_idx, sequence, image_size"
        connection = self.database.admin.connect(database.SCHEMA)
        try:
            with connection.cursor() as cursor:
                cursor.execute(query, args)
                return list(cursor.fetchall())
        finally:
            connection.close()

    @contextlib.contextmanager
    def database_outage(self) -> Iterator[None]:
        """The database is unreachable inside the block and back afterwards.

        The harness's own MariaDB, or the docker backend's database container, is really
        stopped and started again. A server given by HARNESS_DATABASE_URL is not stopped:
        on the embedded backend the database gate in front of it is (its connections
        break, new ones are refused); elsewhere the secret points the loader at a closed
        port, which a warm loader that still reaches its known server does not notice.
        """
        if self.database.kind is Served.MANAGED:
            mariadb.stop(self.settings)
            try:
                yield
            finally:
                mariadb.start(self.settings, database.port(), progress=lambda _: None)
            return
        if self.database.kind is Served.DOCKER:
            with docker_backend.database_stopped(self.settings, database.port()):
                yield
            return
        if self.database.kind is Served.GATED:
            with database_gate.closed(self.settings):
                yield
            return
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            closed_port = probe.getsockname()[1]
        loader = self.database.loader
        self.publish_credentials(
            database.Endpoint("127.0.0.1", closed_port, loader.username, loader.password)
        )
        try:
            yield
        finally:
            self.publish_credentials()

    @contextlib.contextmanager
    def database_killed_mid_tick(self, timeout: float = 60) -> Iterator[Tick]:
        """A tick during which the database dies with the loader's transaction inside it;
        the block runs with the database down (given the failed tick), which is started
        again afterwards.

        To kill it at that moment and no other, a table lock held by the harness makes
        the loader's insert wait; once the server lists the loader's session as waiting
        on the lock, the harness's MariaDB gets SIGKILL. In front of a server given by
        HARNESS_DATABASE_URL, the database gate gets it: the loader's connection dies
        mid-transaction all the same, and the server rolls the transaction back. (The
        lock is taken with the URL's account, which then needs LOCK TABLES on `celeb`.)
        """
        if self.database.kind not in (Served.MANAGED, Served.GATED):
            raise HarnessError(
                "only the harness's own MariaDB process, or the database gate in front of a "
                "server given by HARNESS_DATABASE_URL (on the embedded backend only), can be "
                "killed; use the plain outage (`database: down`) against this one"
            )
        victim = mariadb.RECORD if self.database.kind is Served.MANAGED else database_gate.RECORD
        record = ProcessRecords(self.settings.state_dir).get(victim)
        if record is None:
            raise HarnessError(f"no {victim} process of the harness runs to be killed")
        ticks: list[Tick] = []
        running = threading.Thread(target=lambda: ticks.append(self.tick()), daemon=True)
        try:
            blocker = self.database.admin.connect(database.SCHEMA)
            try:
                with blocker.cursor() as cursor:
                    cursor.execute(f"LOCK TABLES {database.TABLE} WRITE")
                running.start()
                wait_for(
                    lambda: self._loader_waits_on_a_lock(blocker),
                    timeout,
                    "the loader's transaction waiting on the table",
                )
                os.kill(record["pid"], signal.SIGKILL)
            finally:
                with contextlib.suppress(Exception):
                    blocker.close()  # releases the lock if the server still runs
                if running.is_alive():
                    running.join(timeout=TICK_END_S)
            if not ticks:
                raise HarnessError("the tick did not end after the database was killed")
            yield ticks[0]
        finally:
            if self.database.kind is Served.MANAGED:
                mariadb.start(self.settings, database.port(), progress=lambda _: None)
            else:
                database_gate.start_as(self.settings, record)

    def _loader_waits_on_a_lock(self, connection: Any) -> bool:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT COUNT(*) AS waiting FROM information_schema.processlist "
                "WHERE user = %s AND state LIKE %s",
                (self.database.loader.username, "%lock%"),
            )
            return cursor.fetchone()["waiting"] > 0

    # --- buckets ----------------------------------------------------------------

    def origin_key(self, vertical: str, cd_idx: int, sequence: int) -> str:
        return f"{self.c['origin_prefix']}{vertical}/{cd_idx}_{sequence}.jpg"

    def upload(self, key: str, data: bytes, content_type: str = "image/jpeg") -> None:
        self.s3.put_object(
            Bucket=self.c["upload_bucket"], Key=key, Body=data, ContentType=content_type
        )

    def keys(self, bucket: str, prefix: str = "") -> dict[str, dict]:
        """{key: {"size", "etag"}} of every object under prefix."""
        paginator = self.s3.get_paginator("list_objects_v2")
        return {
            obj["Key"]: {"size": obj["Size"], "etag": obj["ETag"].strip('"')}
            for page in paginator.paginate(Bucket=bucket, Prefix=prefix)
            for obj in page.get("Contents", [])
        }

    def served_keys(self, vertical: str) -> list[str]:
        return sorted(self.keys(self.c["served_bucket"], f"{vertical}/"))

    def rejection_key(self, key: str) -> str:
        """Where the resize function records why it rejected `key`."""
        return f"{self.c['rejected_prefix']}{key.removeprefix(self.c['origin_prefix'])}.json"

    def rejection(self, key: str) -> dict | None:
        return aws.read_json(self.s3, self.c["upload_bucket"], self.rejection_key(key))

    def rejections(self, vertical: str | None = None) -> list[dict]:
        prefix = self.c["rejected_prefix"] + (f"{vertical}/" if vertical else "")
        bucket = self.c["upload_bucket"]
        records = (aws.read_json(self.s3, bucket, key) for key in sorted(self.keys(bucket, prefix)))
        return [record for record in records if record is not None]

    def wait_rejection(self, key: str, timeout: float = 30) -> dict:
        return wait_for(lambda: self.rejection(key), timeout, f"rejection record of {key}")

    # --- queues -----------------------------------------------------------------

    def depth(self, queue_url: str) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )

    def queue_depth(self) -> int:
        return self.depth(self.c["queue_url"])

    def pending(self) -> dict[str, int]:
        """Messages waiting: work queue (next tick), DLQ and resize failures (attention)."""
        return {
            "work_queue": self.queue_depth(),
            "dlq": self.depth(self.c["dlq_url"]),
            "resize_failures": self.depth(self.c["resize_failures_queue_url"]),
        }

    def resize_failures(self, limit: int = 100) -> list[dict]:
        """Upload events whose resize failed after Lambda's retries, with the error.

        The queue holds Lambda's on-failure destination records (the event in
        `requestPayload`, the error in `responsePayload`); they stay queued.
        """
        failures = []
        for message in dlq.peek(self.sqs, self.c["resize_failures_queue_url"], limit):
            try:
                record = json.loads(message["Body"])
            except ValueError:
                record = {}
            response = record.get("responsePayload") or {}
            context = record.get("requestContext") or {}
            failures.append(
                {
                    "message_id": message["MessageId"],
                    "objects": [ref.key for ref in object_refs(record.get("requestPayload"))],
                    "error": response.get("errorMessage") or message["Body"][:300],
                    "condition": context.get("condition", ""),
                    "attempts": context.get("approximateInvokeCount"),
                    "failed_at": record.get("timestamp", ""),
                }
            )
        return failures

    def wait_queued(self, count: int, timeout: float | None = None) -> int:
        """Wait until the resize function has queued at least `count` messages.

        The default wait grows with `count` (60 s + 2 s per image): resizing is CPU work,
        and on a loaded 2-core runner (a parallel suite, the docker lane's container) an
        image can take seconds. The wait is a safety net; speed is the benchmark's."""
        try:
            return wait_for(
                lambda: (depth := self.queue_depth()) >= count and depth,
                60 + 2 * count if timeout is None else timeout,
                f"{count} message(s) on {self.c['queue_name']} (resize done)",
                interval=0.2,
            )
        except WaitTimeout as late:
            try:
                progress = self._resize_progress()
            except Exception as error:  # the timeout is the failure; this only explains it
                progress = f"(progress unknown: {error!r})"
            raise WaitTimeout(f"{late}; {progress}") from None

    def _resize_progress(self) -> str:
        """Where a late bulk resize stands: a bare "not met" cannot tell a slow runner
        from failing invocations (which end in the resize failures queue)."""
        failures = self.resize_failures(limit=3)
        errors = "; ".join(f"{f['objects']}: {f['error']}" for f in failures) or "none"
        return (
            f"now {self.pending()}, {len(self.keys(self.c['served_bucket']))} served "
            f"object(s); first resize failures: {errors}"
        )

    # --- schedule ---------------------------------------------------------------

    def schedule(self) -> dict:
        """The deployed every-minute schedule as EventBridge Scheduler describes it."""
        return self.scheduler.get_schedule(
            Name=self.c["schedule_name"], GroupName=self.c["schedule_group"]
        )

    def schedules(self) -> list[dict]:
        """Every deployed schedule of the loader (every minute of the window, and its
        last run), as Scheduler describes them. A deployment made before the window
        was split has the one schedule."""
        named = self.c.get("schedules") or [
            {"name": self.c["schedule_name"], "group": self.c["schedule_group"]}
        ]
        return [
            self.scheduler.get_schedule(Name=item["name"], GroupName=item["group"])
            for item in named
        ]

    @staticmethod
    def _cron(deployed: dict) -> CronSchedule:
        return CronSchedule.parse(
            deployed["ScheduleExpression"], deployed.get("ScheduleExpressionTimezone") or "UTC"
        )

    def cron(self, deployed: list[dict] | None = None) -> LoaderSchedule:
        """The deployed schedules together: the loader runs when any of them fires."""
        return LoaderSchedule.of(
            [(item["Name"], self._cron(item)) for item in deployed or self.schedules()]
        )

    def tick(self, at: datetime | None = None) -> Tick:
        """Run the loader now with the schedule's own target and payload.

        LocalStack's Scheduler never fires, so this is the local clock. Scheduler
        invokes asynchronously; the tick invokes synchronously to report the run. The
        schedule is the one that fires at `at` (its ARN goes into the payload), or the
        every-minute one outside the window.
        """
        at = at or datetime.now(UTC)
        deployed_all = self.schedules()
        loader_schedule = self.cron(deployed_all)
        firing = loader_schedule.firing(at)
        deployed = next((d for d in deployed_all if d["Name"] in firing), deployed_all[0])
        target = deployed["Target"]
        payload = render_scheduler_input(target.get("Input") or "{}", deployed["Arn"], at)
        started = time.monotonic()
        sent = json.loads(payload)
        document, error = self._invoke_as_scheduler(deployed, payload, sent.get("execution_id"))
        return Tick(
            at=at,
            payload=sent,
            would_fire=bool(firing),
            result=None if error else document,
            error=error,
            seconds=round(time.monotonic() - started, 2),
        )

    def _invoke_as_scheduler(
        self, deployed: dict, payload: str, execution_id: str | None
    ) -> tuple[dict | None, str | None]:
        """(the function's answer, the error) of one run of the schedule's target."""
        try:
            response = self._as_scheduler(deployed, execution_id).invoke(
                FunctionName=deployed["Target"]["Arn"],
                InvocationType="RequestResponse",
                Payload=payload.encode(),
            )
        except ClientError as exc:  # Scheduler refused: the target never runs
            error = exc.response.get("Error", {})
            return None, (
                f"Scheduler's {exc.operation_name} failed: "
                f"{error.get('Code')}: {error.get('Message')}"
            )
        body = response["Payload"].read()
        document = json.loads(body) if body else None
        if response.get("FunctionError"):
            return document, (document or {}).get("errorMessage") or response["FunctionError"]
        return document, None

    def _as_scheduler(self, deployed: dict, execution_id: str | None):
        """A Lambda client with the schedule's role, got the way Scheduler gets it:
        AssumeRole by scheduler.amazonaws.com for the schedule's group (aws:SourceArn,
        aws:SourceAccount). So the role's trust policy, then its permission to invoke the
        target, are checked as on AWS (differences.yaml: Scheduler)."""
        role = deployed["Target"]["RoleArn"]
        sts = aws.as_service(
            aws.client("sts", self.settings),
            "scheduler.amazonaws.com",
            schedule_group_arn(deployed["Arn"]),
        )
        session = f"scheduler-{execution_id or uuid.uuid4()}"[:64]
        credentials = sts.assume_role(RoleArn=role, RoleSessionName=session)["Credentials"]
        return aws.client("lambda", self.settings, credentials=credentials)

    # --- alarms -----------------------------------------------------------------

    def alarm_state(self, name: str) -> str:
        alarms = self.cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"]
        return alarms[0]["StateValue"]

    # --- reset ------------------------------------------------------------------

    def reset(self) -> float:
        """Empty queues, buckets and the catalog table, clear the Slack sink; returns the
        seconds it took.

        The alarms are left alone: forcing one to OK while its last datapoints still
        breach makes CloudWatch raise it again, and post to Slack, seconds later (in
        whatever test runs then). Emptied queues bring them back to OK by themselves.
        """
        started = time.monotonic()
        self.slack.clear_messages()
        for name in ("queue_url", "dlq_url", "resize_failures_queue_url"):
            self.sqs.purge_queue(QueueUrl=self.c[name])
        for bucket in (self.c["upload_bucket"], self.c["served_bucket"]):
            aws.delete_versions(self.s3, bucket)
        connection = self.database.admin.connect(database.SCHEMA)
        try:
            with connection.cursor() as cursor:
                cursor.execute(f"DELETE FROM `{database.TABLE}`")
        finally:
            connection.close()
        return time.monotonic() - started
