"""`harness replay`: recorded S3 events, replayed into the local labeling pipeline.

A production incident is reproduced from what AWS recorded (see `recordings` for the
shapes): each event is rewritten to the local stack (bucket, ARNs, region, account),
the objects it names are put in place (from a folder, or a placeholder image), and it
is published the way S3 would (to the topic, so the subscription filter policy
applies) or straight to the labeler queue. Then every event is followed to where it
ended: a result, the DLQ with the failure record's reason, or filtered out.

Objects are put while the bucket's notifications are suspended: otherwise the upload
itself would trigger the pipeline and every event would be processed twice.
"""

from __future__ import annotations

import copy
import json
import mimetypes
import os
import re
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote_plus

from harness.build.fixtures import EXTENSIONS, ImageSpec, render
from harness.events import dlq, sns_filter
from harness.events.recordings import RecordedEvent
from harness.runtime import aws
from harness.systems.labeling.pipeline import LabelingPipeline
from harness.util.files import atomic_write_text, private_subdir

S3_SUBJECT = "Amazon S3 Notification"
PLACEHOLDER_SIZE = (320, 240)
FAILED = ("dlq", "error", "timeout")
_ARN = re.compile(r"arn:aws[a-z-]*:([a-z0-9-]+):([a-z0-9-]*):(\d{12})?:")
_FORMATS_BY_EXTENSION = {ext: fmt for fmt, ext in EXTENSIONS.items()} | {".jpeg": "jpeg"}


@dataclass(frozen=True)
class Rewriter:
    """Maps what a recorded event names in AWS to the local stack.

    Buckets go through `bucket_map`, and any bucket not in it to `default_bucket`;
    region and account in every ARN and `awsRegion` become the local ones.
    """

    default_bucket: str
    region: str
    account: str
    bucket_map: dict[str, str] = field(default_factory=dict)

    def bucket(self, name: str) -> str:
        return self.bucket_map.get(name, self.default_bucket)

    def _arn(self, match: re.Match) -> str:
        service, region, account = match.groups()
        return (
            f"arn:aws:{service}:{self.region if region else ''}:{self.account if account else ''}:"
        )

    def _strings(self, value: Any) -> Any:
        if isinstance(value, str):
            return _ARN.sub(self._arn, value)
        if isinstance(value, list):
            return [self._strings(item) for item in value]
        if isinstance(value, dict):
            return {key: self._strings(item) for key, item in value.items()}
        return value

    def rewrite(self, event: dict) -> dict:
        """A rewritten copy of an S3 event notification (or `s3:TestEvent`)."""
        event = copy.deepcopy(event)
        if event.get("Event") == "s3:TestEvent":
            event["Bucket"] = self.bucket(str(event.get("Bucket", "")))
            return self._strings(event)
        for record in event.get("Records", []):
            record["awsRegion"] = self.region
            bucket = record["s3"].setdefault("bucket", {})
            local = self.bucket(str(bucket.get("name", "")))
            bucket["name"] = local
            bucket["arn"] = f"arn:aws:s3:::{local}"
        return self._strings(event)


def parse_bucket_map(pairs: tuple[str, ...] | list[str]) -> dict[str, str]:
    mapping = {}
    for pair in pairs:
        source, sep, target = pair.partition("=")
        if not sep or not source or not target:
            raise ValueError(f"--map-bucket {pair!r}: expected SOURCE=LOCAL")
        mapping[source] = target
    return mapping


@dataclass
class PlannedObject:
    """An object an event names, and where its bytes will come from."""

    original_bucket: str
    bucket: str
    key: str  # decoded
    event_name: str
    source: str  # "file <path>", "placeholder", "present", "not needed" or "refused"
    path: Path | None = None
    root: Path | None = None  # the --objects folder `path` must stay inside
    refused: str = ""  # why the key may not name a local file: the event is not replayed

    @property
    def created(self) -> bool:
        return self.event_name.startswith("ObjectCreated:")


@dataclass
class PlannedEvent:
    index: int
    recorded: RecordedEvent
    event: dict  # rewritten, as it will be published
    objects: list[PlannedObject]
    route: str  # "topic", "queue", or "filtered out"
    route_detail: str = ""

    @property
    def refused(self) -> list[str]:
        """`file:line: reason` of every object of this event that was refused."""
        return [f"{self.recorded.location}: {o.refused}" for o in self.objects if o.refused]


@dataclass
class EventReport:
    """Where one event went and how long it took to get there."""

    planned: PlannedEvent
    status: str = "pending"  # result | filtered | ignored | dlq | error | timeout
    detail: str = ""
    seconds: float | None = None
    published_at: float | None = None
    message_id: str | None = None
    objects: dict[str, str] = field(default_factory=dict)  # key -> result key / reason

    @property
    def failed(self) -> bool:
        return self.status in FAILED

    def as_dict(self) -> dict:
        planned = self.planned
        return {
            "index": planned.index,
            "location": str(planned.recorded.location),
            "shape": planned.recorded.shape,
            "route": planned.route,
            "objects": [f"s3://{o.bucket}/{o.key}" for o in planned.objects],
            "object_sources": [o.source for o in planned.objects],
            "status": self.status,
            "detail": self.detail,
            "seconds": None if self.seconds is None else round(self.seconds, 2),
            "per_object": self.objects,
        }


@dataclass(frozen=True)
class Options:
    to: str = "topic"  # or "queue"
    keep_order: bool = True
    rate: float | None = None  # events per second
    objects_dir: Path | None = None
    timeout: float = 120.0
    workers: int = 8  # publishers when the order need not be kept


# --- planning ---------------------------------------------------------------------


def labeler_filter_policy(pipeline: LabelingPipeline) -> tuple[dict | None, str]:
    """The filter policy (and its scope) of the labeler queue's subscription to the topic."""
    sns = aws.client("sns", pipeline.settings)
    queue_arn = pipeline.sqs.get_queue_attributes(
        QueueUrl=pipeline.outputs["queue_url"], AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    paginator = sns.get_paginator("list_subscriptions_by_topic")
    for page in paginator.paginate(TopicArn=pipeline.outputs["topic_arn"]):
        for subscription in page["Subscriptions"]:
            if subscription["Endpoint"] == queue_arn:
                attributes = sns.get_subscription_attributes(
                    SubscriptionArn=subscription["SubscriptionArn"]
                )["Attributes"]
                policy = attributes.get("FilterPolicy")
                scope = attributes.get("FilterPolicyScope", "MessageAttributes")
                return (json.loads(policy) if policy else None), scope
    raise LookupError(f"the labeler queue {queue_arn} is not subscribed to the topic")


class RefusedKey(ValueError):
    """A recorded key that could name a file outside the --objects folder."""


def _check_key(key: str) -> None:
    """Refuse keys that are paths out of the folder: S3 allows any key, a file system not."""
    if "\0" in key:
        raise RefusedKey(f"key {key!r} holds a NUL character")
    if key.startswith("/"):
        raise RefusedKey(f"key {key!r} is an absolute path")
    if ".." in key.split("/"):
        raise RefusedKey(f"key {key!r} has a '..' segment")


def _inside(path: Path, root: Path) -> Path:
    """`path` with every symbolic link resolved, refused unless it stays inside `root`."""
    resolved = path.resolve()
    if not resolved.is_relative_to(root):
        raise RefusedKey(f"{path} leads outside the --objects folder {root} (to {resolved})")
    return resolved


def _object_file(objects_dir: Path | None, key: str) -> Path | None:
    """The file holding `key`'s bytes: DIR/<key>, else DIR/<file name>, never outside DIR.

    Raises `RefusedKey` for keys with `..` segments or absolute paths, and for
    candidates that a symbolic link leads out of the folder.
    """
    if objects_dir is None:
        return None
    _check_key(key)
    root = objects_dir.resolve()
    for candidate in (root / key, root / PurePosixPath(key).name):
        resolved = _inside(candidate, root)
        if resolved.is_file():
            return resolved
    return None


def _read_object_file(path: Path, root: Path) -> bytes:
    """The bytes of a planned object file, checked again at the moment it is read (a
    link put in its place since the plan is refused, not followed)."""
    resolved = _inside(path, root)
    try:
        fd = os.open(resolved, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError as exc:
        raise RefusedKey(f"cannot read {resolved}: {exc.strerror}") from exc
    with os.fdopen(fd, "rb") as handle:
        return handle.read()


def _exists(pipeline: LabelingPipeline, bucket: str, key: str) -> bool:
    try:
        pipeline.s3.head_object(Bucket=bucket, Key=key)
    except pipeline.s3.exceptions.ClientError:
        return False
    return True


def plan(
    pipeline: LabelingPipeline,
    recorded: list[RecordedEvent],
    rewriter: Rewriter,
    options: Options,
    stack_running: bool = True,
) -> list[PlannedEvent]:
    """What replay will do with each event; touches nothing (reads S3 and SNS only)."""
    policy: dict | None = None
    scope = "MessageBody"
    policy_error = ""
    if options.to == "topic":
        if stack_running:
            try:
                policy, scope = labeler_filter_policy(pipeline)
            except LookupError as exc:
                policy_error = str(exc)
        else:
            policy_error = "unknown: the stack is not running"
    planned = []
    for index, entry in enumerate(recorded, start=1):
        event = rewriter.rewrite(entry.event)
        objects = []
        for record in event.get("Records", []):
            name = str(record.get("eventName", ""))
            bucket = record["s3"]["bucket"]["name"]
            key = unquote_plus(str(record["s3"].get("object", {}).get("key", "")))
            original = str(
                entry.event["Records"][len(objects)]["s3"].get("bucket", {}).get("name", "")
            )
            item = PlannedObject(original, bucket, key, name, "not needed")
            if item.created:
                try:
                    item.path = _object_file(options.objects_dir, key)
                except RefusedKey as exc:
                    item.source, item.refused = "refused", f"refused with --objects: {exc}"
                    objects.append(item)
                    continue
                if item.path is not None:
                    item.root = options.objects_dir.resolve() if options.objects_dir else None
                    item.source = f"file {item.path}"
                elif stack_running and _exists(pipeline, bucket, key):
                    item.source = "present"
                else:
                    item.source = "placeholder"
            objects.append(item)
        route, detail = options.to, ""
        if options.to == "topic":
            if policy_error:
                detail = policy_error
            elif not sns_filter.matches(policy, event, scope):
                route = "filtered out"
                detail = f"the labeler subscription's filter policy ({scope})"
        planned.append(PlannedEvent(index, entry, event, objects, route, detail))
    return planned


# --- putting the objects in place -----------------------------------------------------


def placeholder(key: str) -> tuple[bytes, str]:
    """Deterministic stand-in bytes for `key`: an image in the key's format, else text."""
    seed = zlib.crc32(key.encode())
    image_format = _FORMATS_BY_EXTENSION.get(Path(key).suffix.lower())
    if image_format is None:
        return render(ImageSpec(damage="text", seed=seed)), "text/plain"
    width, height = PLACEHOLDER_SIZE
    spec = ImageSpec(format=image_format, width=width, height=height, seed=seed)
    return render(spec), f"image/{image_format}"


def _state_file(pipeline: LabelingPipeline, bucket: str) -> Path:
    return pipeline.settings.state_dir / "replay" / f"notifications-{bucket}.json"


def restore_notifications(pipeline: LabelingPipeline, progress: Callable[[str], None]) -> None:
    """Put back notification configurations a killed replay left suspended."""
    folder = pipeline.settings.state_dir / "replay"
    for saved in sorted(folder.glob("notifications-*.json")) if folder.is_dir() else []:
        bucket = saved.stem.removeprefix("notifications-")
        pipeline.s3.put_bucket_notification_configuration(
            Bucket=bucket, NotificationConfiguration=json.loads(saved.read_text())
        )
        saved.unlink()
        progress(f"restored the notifications of {bucket} left suspended by an earlier replay")


@contextmanager
def notifications_suspended(pipeline: LabelingPipeline, bucket: str) -> Iterator[None]:
    """No S3 notifications from `bucket` inside the block; the saved configuration is
    written to the state folder first, so a killed replay is repaired by the next one."""
    current = pipeline.s3.get_bucket_notification_configuration(Bucket=bucket)
    current.pop("ResponseMetadata", None)
    saved = _state_file(pipeline, bucket)
    private_subdir(pipeline.settings.state_dir, "replay")
    atomic_write_text(saved, json.dumps(current))
    pipeline.s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})
    try:
        yield
    finally:
        pipeline.s3.put_bucket_notification_configuration(
            Bucket=bucket, NotificationConfiguration=current
        )
        saved.unlink(missing_ok=True)


def materialize(
    pipeline: LabelingPipeline, planned: list[PlannedEvent], progress: Callable[[str], None]
) -> dict[tuple[str, str], str]:
    """Put every needed object in place; returns the errors by (bucket, key).

    Each event's size, ETag and version then describe the local object, as S3's own
    notification would: the labeler compares ETags to skip duplicates.
    """
    wanted: dict[tuple[str, str], PlannedObject] = {}
    errors: dict[tuple[str, str], str] = {}
    for event in planned:
        for obj in event.objects:
            if obj.refused:
                errors[(obj.bucket, obj.key)] = f"{event.recorded.location}: {obj.refused}"
            elif obj.created and obj.source != "present":
                wanted.setdefault((obj.bucket, obj.key), obj)
    for key in errors:
        wanted.pop(key, None)
    refused = len(errors)
    for bucket in sorted({bucket for bucket, _ in wanted}):
        try:
            with notifications_suspended(pipeline, bucket):
                for (b, key), obj in wanted.items():
                    if b != bucket:
                        continue
                    if obj.path is not None:
                        try:
                            data = _read_object_file(obj.path, obj.root or obj.path.parent)
                        except RefusedKey as exc:
                            errors[(b, key)] = f"refused with --objects: {exc}"
                            continue
                        content_type = mimetypes.guess_type(obj.path.name)[0] or ""
                    else:
                        data, content_type = placeholder(key)
                    pipeline.s3.put_object(
                        Bucket=bucket, Key=key, Body=data, ContentType=content_type
                    )
        except pipeline.s3.exceptions.ClientError as exc:
            for b, key in wanted:
                if b == bucket:
                    errors[(b, key)] = f"cannot put objects into bucket {bucket}: {exc}"
    if wanted:
        placed = len(wanted) - (len(errors) - refused)
        progress(f"put {placed} object(s) in place (notifications suspended)")
    for event in planned:
        for record, obj in zip(event.event.get("Records", []), event.objects, strict=True):
            if not obj.created or (obj.bucket, obj.key) in errors:
                continue
            try:
                head = pipeline.s3.head_object(Bucket=obj.bucket, Key=obj.key)
            except pipeline.s3.exceptions.ClientError as exc:
                errors[(obj.bucket, obj.key)] = f"object not found locally: {exc}"
                continue
            s3_object = record["s3"].setdefault("object", {})
            s3_object["size"] = head["ContentLength"]
            s3_object["eTag"] = head["ETag"].strip('"')
            if head.get("VersionId") and head["VersionId"] != "null":
                s3_object["versionId"] = head["VersionId"]
            else:
                s3_object.pop("versionId", None)
    return errors


def _clear_previous_outcomes(
    pipeline: LabelingPipeline, planned: list[PlannedEvent], errors: dict[tuple[str, str], str]
) -> None:
    """Delete earlier results and failure records of the replayed objects, so each event's
    own outcome is what gets reported (and the labeler does not skip it as a duplicate)."""
    prefix = pipeline.outputs["ingest_prefix"]
    for event in planned:
        for obj in event.objects:
            if obj.key.startswith(prefix) and (obj.bucket, obj.key) not in errors:
                for key in (pipeline.result_key(obj.key), pipeline.failure_key(obj.key)):
                    pipeline.s3.delete_object(Bucket=obj.bucket, Key=key)


# --- publishing ---------------------------------------------------------------------


def sns_envelope(event: dict, topic_arn: str) -> dict:
    """The SNS notification SNS would deliver to an SQS subscriber for this event."""
    message_id = str(uuid.uuid4())
    timestamp = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    return {
        "Type": "Notification",
        "MessageId": message_id,
        "TopicArn": topic_arn,
        "Subject": S3_SUBJECT,
        "Message": json.dumps(event),
        "Timestamp": timestamp,
        "SignatureVersion": "1",
        "Signature": "replayed-by-harness",
        "SigningCertURL": "",
        "UnsubscribeURL": "",
    }


class _Pacer:
    """Hands out publish slots no faster than `rate` per second (None: no limit)."""

    def __init__(self, rate: float | None) -> None:
        self.interval = 1.0 / rate if rate else 0.0
        self.next_at = time.monotonic()
        self.lock = threading.Lock()

    def wait(self) -> None:
        with self.lock:
            at = max(self.next_at, time.monotonic())
            self.next_at = at + self.interval
        time.sleep(max(0.0, at - time.monotonic()))


def _publish(pipeline: LabelingPipeline, sns: Any, report: EventReport, to: str) -> None:
    body = report.planned.event
    report.published_at = time.monotonic()
    try:
        if to == "queue":
            envelope = sns_envelope(body, pipeline.outputs["topic_arn"])
            response = pipeline.sqs.send_message(
                QueueUrl=pipeline.outputs["queue_url"], MessageBody=json.dumps(envelope)
            )
        else:
            response = sns.publish(
                TopicArn=pipeline.outputs["topic_arn"],
                Message=json.dumps(body),
                Subject=S3_SUBJECT,
            )
        report.message_id = response["MessageId"]
    except Exception as exc:  # any failure is reported for this event
        report.status, report.detail = "error", f"publish failed: {exc}"


# --- following each event to its outcome ---------------------------------------------


def _read_json(pipeline: LabelingPipeline, bucket: str, key: str) -> dict | None:
    """The stored JSON, or None while it is missing, unreadable or not JSON yet."""
    try:
        stored = aws.read_object(pipeline.s3, bucket, key)
    except pipeline.s3.exceptions.ClientError:
        return None
    try:
        return None if stored is None else json.loads(stored[0])
    except ValueError:
        return None


def _check(pipeline: LabelingPipeline, report: EventReport, dead: dict[str, str]) -> bool:
    """Update `report` from what the pipeline wrote; True once the event reached an end."""
    prefix = pipeline.outputs["ingest_prefix"]
    max_receive = int(pipeline.outputs["max_receive_count"])
    done = True
    for obj in report.planned.objects:
        if obj.key in report.objects:
            continue
        if obj.key.startswith(prefix):
            result = _read_json(pipeline, obj.bucket, pipeline.result_key(obj.key))
            if result is not None:
                report.objects[obj.key] = pipeline.result_key(obj.key)
                continue
            failure = _read_json(pipeline, obj.bucket, pipeline.failure_key(obj.key))
        else:
            failure = _read_json(
                pipeline,
                pipeline.bucket,
                f"{pipeline.outputs['failures_prefix']}_messages/{report.message_id}.json",
            )
        if (
            failure
            and int(failure.get("receive_count", 0)) >= max_receive
            and (obj.key in dead or (report.message_id or "") in dead)
        ):
            report.objects[obj.key] = (
                f"DLQ after {failure.get('receive_count')} attempts: "
                f"{failure.get('error_code', '?')}: {failure.get('reason', '?')}"
            )
            continue
        done = False
    return done


def _dead_letters(pipeline: LabelingPipeline) -> dict[str, str]:
    """Keys and message ids of what is in the DLQ now."""
    found: dict[str, str] = {}
    for letter in dlq.show(pipeline.s3, pipeline.sqs, pipeline.outputs, limit=1000):
        found[letter.message_id] = letter.reason
        for key in letter.objects:
            found[key] = letter.reason
    return found


def _finish(report: EventReport) -> None:
    report.seconds = time.monotonic() - (report.published_at or time.monotonic())
    dead = [detail for detail in report.objects.values() if detail.startswith("DLQ")]
    if dead:
        report.status, report.detail = "dlq", "; ".join(dead)
    else:
        report.status = "result"
        report.detail = ", ".join(report.objects.values())


def follow(
    pipeline: LabelingPipeline, reports: list[EventReport], timeout: float, interval: float = 0.25
) -> None:
    """Poll results, failure records and the DLQ until every event has an outcome."""
    deadline = time.monotonic() + timeout
    pending = [r for r in reports if r.status == "pending"]
    dead: dict[str, str] = {}
    last_dlq_read = 0.0
    while pending and time.monotonic() < deadline:
        for report in list(pending):
            if _check(pipeline, report, dead):
                _finish(report)
                pending.remove(report)
        if pending and time.monotonic() - last_dlq_read >= 1.0:
            dead = _dead_letters(pipeline)
            last_dlq_read = time.monotonic()
        if pending:
            time.sleep(interval)
    for report in pending:
        report.status = "timeout"
        report.seconds = time.monotonic() - (report.published_at or time.monotonic())
        missing = [o.key for o in report.planned.objects if o.key not in report.objects]
        report.detail = f"no result and not in the DLQ after {timeout:.0f} s: " + ", ".join(missing)


def run(
    pipeline: LabelingPipeline,
    planned: list[PlannedEvent],
    options: Options,
    progress: Callable[[str], None] = print,
) -> list[EventReport]:
    """Replay the planned events and report where each one ended."""
    restore_notifications(pipeline, progress)
    reports = [EventReport(event) for event in planned]
    errors = materialize(pipeline, planned, progress)
    _clear_previous_outcomes(pipeline, planned, errors)
    to_publish = []
    for report in reports:
        event = report.planned
        broken = [errors[(o.bucket, o.key)] for o in event.objects if (o.bucket, o.key) in errors]
        if broken:
            report.status, report.detail = "error", "; ".join(broken)
        elif event.route == "filtered out":
            report.status, report.detail = "filtered", f"filtered out by {event.route_detail}"
        else:
            to_publish.append(report)
    sns = aws.client("sns", pipeline.settings)
    pacer = _Pacer(options.rate)

    published: list[EventReport] = []

    def publish(report: EventReport) -> None:
        pacer.wait()
        _publish(pipeline, sns, report, options.to)
        published.append(report)

    try:
        if options.keep_order:
            for report in to_publish:
                publish(report)
        else:
            with ThreadPoolExecutor(max_workers=options.workers) as pool:
                list(pool.map(publish, to_publish))
    except KeyboardInterrupt:  # say what went out, so the rest can be replayed on purpose
        sent = {id(r) for r in published}
        unsent = [r.planned.recorded.location for r in to_publish if id(r) not in sent]
        first = f"; the first not sent: {unsent[0]}" if unsent else ""
        progress(
            f"interrupted: published {len(published)} of {len(to_publish)} event(s) to the "
            f"{options.to}{first}"
        )
        raise
    progress(f"published {len(to_publish)} event(s) to the {options.to}")
    for report in to_publish:
        if report.status == "pending" and not report.planned.objects:
            report.status = "ignored"
            report.detail = "s3:TestEvent: names no object; the labeler acknowledges it"
            report.seconds = 0.0
    follow(pipeline, reports, options.timeout)
    return reports
