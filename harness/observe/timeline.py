"""Per-object timelines of a run: where each upload went, when, and what happened there.

No single AWS service knows an object's whole journey, so `collect` joins what each
one records, on the object key:

| hop            | from                                                           |
| -------------- | -------------------------------------------------------------- |
| `upload`       | the S3 event's `eventTime` seen by the tap (else LastModified) |
| `sns_publish`  | the tap: SNS `Timestamp` of the notification                   |
| `sqs_delivery` | the tap: `SentTimestamp`, when SNS delivered to the queues     |
| `sqs_receive`  | the labeler's logs: one per invocation that got the message    |
| `lambda`       | CloudWatch Logs: START/END/REPORT (RequestId, Duration, Status)|
|                | joined with Powertools JSON lines (`function_request_id`, key) |
| `rekognition`  | the Rekognition stub's call log                                |
| `iam_denied`   | the IAM denial log: a call on the object that IAM refused       |
| `result`       | the result object (and the labeler's "Labeled object" line)    |
| `dlq`          | `harness.events.dlq.show`: DLQ message + failure record (the reason)  |
| `alarm`        | CloudWatch `DescribeAlarmHistory` (objects that reached the DLQ)|
| `slack`        | the Slack sink's captured posts (objects that reached the DLQ) |
| `no_trace`     | nothing at all was found for the key                           |

Each hop is `{"at": epoch seconds, "hop": name, "detail": {...}}`; a hop that went
wrong has `detail["error"]`. Alarm transitions, notifier invocations and Slack posts
belong to no single object: they are attached to every object that had reached the
DLQ before them. A labeler invocation that died before logging any key (an init
error, a timeout before the first object) cannot be tied to an object and is left out.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from harness.build import functions
from harness.events import dlq
from harness.observe.tap import Tap, parse_time
from harness.systems.labeling.pipeline import LabelingPipeline

HOP_ORDER = (
    "upload",
    "sns_publish",
    "sqs_delivery",
    "sqs_receive",
    "lambda",
    "rekognition",
    "iam_denied",
    "result",
    "dlq",
    "alarm",
    "slack",
    "no_trace",
)

_START = re.compile(r"^START RequestId: (\S+)")
_END = re.compile(r"^END RequestId: (\S+)")
_REPORT = re.compile(r"^REPORT RequestId: (\S+)\s+Duration: ([\d.]+) ms(.*)$", re.S)
_STATUS = re.compile(r"Status: (\w+)")
_INIT = re.compile(r"Init Duration: ([\d.]+) ms")
_TIMED_OUT = re.compile(r"(\S+) Task timed out after (.*)$")
_OUTCOMES = {
    "Labeled object": "labeled",
    "Labeling failed": "failed",
    "Already labeled; skipping": "skipped",
}


@dataclass
class Invocation:
    """One Lambda invocation, put together from its log lines."""

    function: str
    request_id: str
    ended_at: float | None = None  # the REPORT line's event time
    first_line_at: float | None = None
    last_logged_at: float | None = None  # newest Powertools `timestamp` of the invocation
    duration_ms: float | None = None
    status: str | None = None  # REPORT `Status:` (timeout, error) when there is one
    cold_start: bool | None = None
    errors: list[str] = field(default_factory=list)
    objects: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def started_at(self) -> float | None:
        """End minus duration. The REPORT event's time is when the logs were stored,
        a little after the end (LocalStack stores them after the invocation); the last
        line the function logged is closer to its end, so the earlier of the two is used,
        which keeps the start before anything the function did."""
        if self.duration_ms is None or self.ended_at is None:
            return self.first_line_at
        ended = min(self.ended_at, self.last_logged_at or self.ended_at)
        return ended - self.duration_ms / 1000

    def detail(self) -> dict[str, Any]:
        error = "; ".join(self.errors) or (
            f"invocation ended with status {self.status}" if self.status else None
        )
        return {
            "function": self.function,
            "request_id": self.request_id,
            "duration_ms": self.duration_ms,
            "cold_start": self.cold_start,
            "status": self.status,
            "error": error,
        }


def _logged_at(document: dict[str, Any], fallback: float) -> float:
    return parse_time(str(document.get("timestamp", "")).replace(",", ".")) or fallback


def read_invocations(logs: Any, log_group: str, function: str, since: float) -> list[Invocation]:
    """Invocations whose log lines were written at or after `since`, oldest first.

    Plain lines (tracebacks, `Task timed out`) carry no request id; each log stream
    belongs to one execution environment, which runs one invocation at a time, so
    they belong to the stream's last START.
    """
    invocations: dict[str, Invocation] = {}
    current: dict[str, str] = {}

    def get(request_id: str) -> Invocation:
        return invocations.setdefault(request_id, Invocation(function, request_id))

    try:
        pages = logs.get_paginator("filter_log_events").paginate(
            logGroupName=log_group, startTime=int(since * 1000)
        )
        events = [event for page in pages for event in page.get("events", [])]
    except logs.exceptions.ResourceNotFoundException:
        return []
    for event in events:
        stream = event.get("logStreamName", "")
        at = event["timestamp"] / 1000
        text = event.get("message", "").rstrip("\n")
        if match := _START.match(text):
            current[stream] = match.group(1)
            get(match.group(1)).first_line_at = at
        elif match := _REPORT.match(text):
            invocation = get(match.group(1))
            invocation.ended_at = at
            invocation.duration_ms = float(match.group(2))
            if status := _STATUS.search(match.group(3)):
                invocation.status = status.group(1)
            if _INIT.search(match.group(3)):
                invocation.cold_start = True
        elif _END.match(text):
            continue
        elif text.startswith("{"):
            try:
                document = json.loads(text)
            except json.JSONDecodeError:
                document = None
            if isinstance(document, dict):
                _json_line(get, current.get(stream), document, at)
        elif match := _TIMED_OUT.search(text):
            get(match.group(1)).errors.append(f"Task timed out after {match.group(2)}")
        elif stream in current and ("[ERROR]" in text or "Traceback" in text):
            get(current[stream]).errors.append(text.splitlines()[0])
    found = [i for i in invocations.values() if i.started_at is not None]
    return sorted(found, key=lambda i: i.started_at or 0.0)


def _json_line(get: Any, current: str | None, document: dict[str, Any], at: float) -> None:
    request_id = document.get("function_request_id") or current
    if not request_id:
        return
    invocation = get(request_id)
    logged_at = _logged_at(document, at)
    invocation.last_logged_at = max(invocation.last_logged_at or logged_at, logged_at)
    if invocation.cold_start is None and "cold_start" in document:
        invocation.cold_start = bool(document["cold_start"])
    message = str(document.get("message", ""))
    key = document.get("key")
    if isinstance(key, str):
        entry = {
            "outcome": _OUTCOMES.get(message, message),
            "logged_at": logged_at,
            "message_id": document.get("message_id"),
        }
        for name in ("receive_count", "reason", "error_code", "transient", "label_count"):
            if name in document:
                entry[name] = document[name]
        invocation.objects.setdefault(key, []).append(entry)
    elif document.get("level") in {"ERROR", "CRITICAL"}:
        invocation.errors.append(message)


def alarm_transitions(cloudwatch: Any, alarm_name: str, since: float) -> list[dict[str, Any]]:
    """State changes of the alarm at or after `since`, oldest first.

    LocalStack 4.x stamps each history item with the time of the *previous* state
    change (AWS stamps the change itself). That shows as a newest item older than the
    alarm's own StateUpdatedTimestamp; then every time is shifted by one item.
    """
    items: list[dict[str, Any]] = []
    for page in cloudwatch.get_paginator("describe_alarm_history").paginate(
        AlarmName=alarm_name, HistoryItemType="StateUpdate"
    ):
        items += page.get("AlarmHistoryItems", [])
    if not items:
        return []
    items.sort(key=lambda item: item["Timestamp"])
    times = [item["Timestamp"].timestamp() for item in items]
    alarms = cloudwatch.describe_alarms(AlarmNames=[alarm_name]).get("MetricAlarms", [])
    if alarms:
        updated = alarms[0]["StateUpdatedTimestamp"].timestamp()
        if times[-1] < updated - 0.001:
            times = [*times[1:], updated]
    transitions = []
    for item, at in zip(items, times, strict=True):
        try:
            data = json.loads(item.get("HistoryData") or "{}")
        except json.JSONDecodeError:
            data = {}
        if at < since:
            continue
        transitions.append(
            {
                "at": at,
                "alarm": alarm_name,
                "from": (data.get("oldState") or {}).get("stateValue"),
                "to": (data.get("newState") or {}).get("stateValue"),
                "reason": (data.get("newState") or {}).get("stateReason"),
                "summary": item.get("HistorySummary"),
            }
        )
    return transitions


def _stub_read(read: Any) -> list[dict[str, Any]]:
    """A stub's log, or nothing where no stub runs (a scenario targeting AWS)."""
    try:
        return list(read())
    except OSError:
        return []


def _hop(at: float, hop: str, **detail: Any) -> dict[str, Any]:
    return {"at": at, "hop": hop, "detail": detail}


Hops = dict[str, list[dict[str, Any]]]


def _s3_objects(pipeline: LabelingPipeline) -> dict[str, dict[str, Any]]:
    paginator = pipeline.s3.get_paginator("list_objects_v2")
    return {
        obj["Key"]: obj
        for page in paginator.paginate(Bucket=pipeline.bucket)
        for obj in page.get("Contents", [])
    }


def _upload_hops(hops: Hops, tap: Tap | None, s3_objects: dict[str, dict[str, Any]]) -> None:
    """Upload, SNS publish and SQS delivery; without a tap sighting, S3's LastModified."""
    tapped: set[str] = set()
    if tap is not None:
        tap.drain()
        for record in tap.records:
            common = {"sns_message_id": record.sns_message_id, "subject": record.subject}
            for ref in record.objects:
                if ref.key not in hops:
                    continue
                tapped.add(ref.key)
                uploaded = record.event_time(ref.key)
                if uploaded is not None:
                    hops[ref.key].append(
                        _hop(uploaded, "upload", event=ref.event_name, via="S3 event time")
                    )
                if record.published_at is not None:
                    # LocalStack stamps each subscription's copy as it delivers it; AWS
                    # stamps the publish (infra/envs/differences.yaml).
                    hops[ref.key].append(
                        _hop(
                            record.published_at,
                            "sns_publish",
                            via="SNS Timestamp of the tap's copy",
                            **common,
                        )
                    )
                hops[ref.key].append(
                    _hop(record.delivered_at, "sqs_delivery", queue=tap.queue_name, **common)
                )
    for key in set(hops) - tapped:
        if key in s3_objects:
            at = s3_objects[key]["LastModified"].timestamp()
            hops[key].append(_hop(at, "upload", via="S3 LastModified (whole seconds)"))
    for key in set(hops) & set(s3_objects):
        for hop in hops[key]:
            if hop["hop"] == "upload":
                hop["detail"] |= {"size": s3_objects[key]["Size"], "etag": s3_objects[key]["ETag"]}


def _labeler_hops(hops: Hops, invocations: list[Invocation]) -> dict[str, dict[str, float]]:
    """An SQS receive and a Lambda hop per object and invocation; returns, per key, when
    it was last labeled and when it last failed (from the labeler's own log lines)."""
    times: dict[str, dict[str, float]] = defaultdict(dict)
    receives: dict[str, int] = defaultdict(int)
    uploaded = {key: h["at"] for key, found in hops.items() for h in found if h["hop"] == "upload"}
    for invocation in invocations:
        for key, entries in invocation.objects.items():
            if key not in hops:
                continue
            # The start is estimated (`Invocation.started_at`), early by the time from
            # the function's last log line to its end: with the mapping long-polling, an
            # invocation may start within milliseconds of the upload, and the estimate
            # fell 6 ms before the S3 event (run w82). No invocation of the key starts
            # before its upload.
            at = max(invocation.started_at or entries[0]["logged_at"], uploaded.get(key, 0.0))
            final = entries[-1]
            receives[key] += 1
            hops[key].append(
                _hop(
                    at,
                    "sqs_receive",
                    receive_count=final.get("receive_count", receives[key]),
                    message_id=final.get("message_id"),
                )
            )
            detail = invocation.detail() | {
                "outcome": final["outcome"],
                "error_code": final.get("error_code"),
                "transient": final.get("transient"),
            }
            if final["outcome"] == "failed":
                detail["error"] = final.get("reason") or detail["error"] or "labeling failed"
                times[key]["failed"] = final["logged_at"]
            elif final["outcome"] == "labeled":
                times[key]["labeled"] = final["logged_at"]
            hops[key].append(_hop(at, "lambda", **detail))
    return times


def _rekognition_hops(hops: Hops, calls: list[dict[str, Any]], since: float) -> None:
    for call in calls:
        if call.get("key") in hops and call.get("time", 0) >= since:
            hops[call["key"]].append(
                _hop(
                    call["time"],
                    "rekognition",
                    outcome=call.get("outcome"),
                    labels=call.get("labels"),
                    error=call.get("error"),
                    fault=call.get("fault"),
                    rule=call.get("rule"),
                    latency_ms=call.get("latency_ms"),
                    request_id=call.get("request_id"),
                )
            )


def _result_hops(
    hops: Hops,
    pipeline: LabelingPipeline,
    s3_objects: dict[str, dict[str, Any]],
    labeled_at: dict[str, float],
) -> None:
    """The result object, timed by the labeler's "Labeled object" line when there is one
    (S3's LastModified has whole seconds only)."""
    for key in hops:
        if not key.startswith(pipeline.outputs["ingest_prefix"]):
            continue
        result_key = pipeline.result_key(key)
        if result_key not in s3_objects:
            continue
        try:
            labels = [label.get("Name") for label in (pipeline.result(key) or {})["Labels"]]
            summary: dict[str, Any] = {"labels": labels[:8], "label_count": len(labels)}
        except (ValueError, KeyError, TypeError) as exc:
            summary = {"error": f"result object is not a labeling result: {exc!r}"}
        at = labeled_at.get(key) or s3_objects[result_key]["LastModified"].timestamp()
        hops[key].append(_hop(at, "result", result_key=result_key, **summary))


def _dlq_hops(
    hops: Hops, pipeline: LabelingPipeline, failed_at: dict[str, float]
) -> dict[str, float]:
    """DLQ hops with the failure record's reason; returns when each key got there."""
    entered: dict[str, float] = {}
    # peek at more than the default 100: a storm can leave hundreds of dead letters
    limit = max(100, 2 * len(hops))
    for letter in dlq.show(pipeline.s3, pipeline.sqs, pipeline.outputs, limit):
        records = {(r.get("source") or {}).get("key"): r for r in letter.reasons}
        for key in letter.objects:
            if key not in hops:
                continue
            record = records.get(key, {})
            at = failed_at.get(key) or parse_time(record.get("failed_at")) or letter.sent_at
            entered[key] = min(entered.get(key, at), at)
            hops[key].append(
                _hop(
                    at,
                    "dlq",
                    message_id=letter.message_id,
                    attempts=letter.attempts,
                    error=record.get("reason") or letter.reason,
                    error_code=record.get("error_code"),
                    transient=record.get("transient"),
                    time_basis="last failed attempt (SQS does not record when it moved it)",
                )
            )
    return entered


def _alerting_hops(pipeline: LabelingPipeline, since: float) -> list[dict[str, Any]]:
    """Alarm transitions, notifier invocations and Slack posts since `since`."""
    alerting = []
    for transition in alarm_transitions(pipeline.cloudwatch, pipeline.outputs["alarm_name"], since):
        detail = {k: v for k, v in transition.items() if k != "at"}
        alerting.append(_hop(transition["at"], "alarm", **detail))
    function = functions.get("notifier")
    notifier = read_invocations(
        pipeline.logs, function.log_group(pipeline.outputs), function.short, since
    )
    alerting += [_hop(i.started_at or since, "lambda", **i.detail()) for i in notifier]
    for message in _stub_read(lambda: pipeline.slack.messages(include_failed=True)):
        if message.get("received_at", 0) < since:
            continue
        body = message.get("body")
        text = body.get("text") if isinstance(body, dict) else body
        error = None
        if message.get("failed"):
            why = message.get("reason") or message.get("response")
            error = f"HTTP {message.get('status')}: {why}"
        alerting.append(
            _hop(
                message["received_at"],
                "slack",
                status=message.get("status"),
                text=str(text)[:500],
                error=error,
            )
        )
    return alerting


def collect(
    pipeline: LabelingPipeline, keys: list[str], since: float, tap: Tap | None = None
) -> Hops:
    """Time-ordered hops per object key (every key appears, traced or not).

    `pipeline` is a `harness.systems.labeling.pipeline.LabelingPipeline`; `since` is when the run
    started (epoch seconds); `tap` is the run's `Tap`, started before the uploads
    (without it there are no SNS/SQS delivery hops and upload times are whole seconds).
    """
    hops: Hops = {key: [] for key in keys}
    s3_objects = _s3_objects(pipeline)
    _upload_hops(hops, tap, s3_objects)
    function = functions.get("labeler")
    labeler = read_invocations(
        pipeline.logs, function.log_group(pipeline.outputs), function.short, since
    )
    times = _labeler_hops(hops, labeler)
    _rekognition_hops(hops, _stub_read(pipeline.rekognition.calls), since)
    labeled_at = {k: t["labeled"] for k, t in times.items() if "labeled" in t}
    _result_hops(hops, pipeline, s3_objects, labeled_at)
    failed_at = {k: t["failed"] for k, t in times.items() if "failed" in t}
    entered = _dlq_hops(hops, pipeline, failed_at)
    if entered:
        alerting = _alerting_hops(pipeline, since)
        for key, at in entered.items():
            hops[key] += [
                {**hop, "detail": dict(hop["detail"])} for hop in alerting if hop["at"] >= at
            ]
    for found in hops.values():
        if not found:
            found.append(
                _hop(
                    since,
                    "no_trace",
                    error="no trace of this object: not in S3, not published, never processed",
                )
            )
        found.sort(key=lambda h: (h["at"], HOP_ORDER.index(h["hop"])))
    return hops


def add_denials(hops: Hops, records: list[dict[str, Any]]) -> None:
    """An `iam_denied` hop on each object whose key a denied call's resource names (an S3
    ARN ends with `/<key>`): the object's timeline then shows why it stopped there."""
    for record in records:
        resource = str(record.get("resource") or "")
        at = parse_time(record.get("time"))
        if at is None:
            continue
        for key, found in hops.items():
            if resource.endswith("/" + key):
                detail = {k: record.get(k) for k in ("who", "action", "resource")}
                found.append(_hop(at, "iam_denied", **detail, error=record.get("why")))
                found.sort(key=lambda h: (h["at"], HOP_ORDER.index(h["hop"])))
