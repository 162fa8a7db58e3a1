"""Behaviour probes: one small, direct boto3 check per behaviour the pipelines rely on.

Each probe is a function registered with `@probe(name, title)` that returns
`(status, evidence)`; `status` is one of `STATUSES` and `evidence` a line a reader can
check (what was called, what came back). A probe raises nothing the matrix has to know:
`run_probe` turns an API the emulator does not implement into `unsupported` (with the
error) and any other exception into `fail`, and bounds every probe in time, so one
emulator missing a behaviour never stops the matrix. Probes run in order and share a
`ProbeContext`: the DLQ probes reuse the message the redrive probe sent there.

To add a behaviour: write a function here, decorated with `@probe`.
"""

from __future__ import annotations

import concurrent.futures
import io
import json
import statistics
import threading
import time
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from harness.config import Settings
from harness.runtime import aws
from harness.systems.labeling.pipeline import LabelingPipeline
from harness.util.stats import percentile
from harness.util.waiting import WaitTimeout, wait_for

PASS, FAIL, UNSUPPORTED, NOT_RUN = "pass", "fail", "unsupported", "not run"
STATUSES = (PASS, FAIL, UNSUPPORTED, NOT_RUN)
# What emulators answer for an API or feature they lack.
UNSUPPORTED_CODES = {
    "NotImplemented",
    "NotImplementedException",
    "NotImplementedError",
    "InvalidAction",
    "UnknownOperationException",
    "UnknownOperation",
    "UnsupportedOperation",
    "UnrecognizedClientException",
}
Result = tuple[str, str]


@dataclass
class ProbeContext:
    """What the probes share: the deployment, clients, and what earlier probes found."""

    settings: Settings
    outputs: dict
    pipeline: LabelingPipeline
    token: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    found: dict[str, Any] = field(default_factory=dict)  # shared between probes
    timings: dict[str, Any] = field(default_factory=dict)  # the speed columns

    def client(self, service: str) -> Any:
        return aws.client(service, self.settings)


@dataclass(frozen=True)
class Probe:
    name: str
    title: str
    run: Callable[[ProbeContext], Result]
    timeout: float


PROBES: list[Probe] = []


def probe(name: str, title: str, timeout: float = 120.0) -> Callable:
    def register(function: Callable[[ProbeContext], Result]) -> Callable[[ProbeContext], Result]:
        PROBES.append(Probe(name, title, function, timeout))
        return function

    return register


def classify(exc: BaseException) -> Result:
    """An exception as a probe result: a missing API is `unsupported`, the rest `fail`."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        text = f"{exc.operation_name}: {code} ({status}): {error.get('Message', '')}"[:400]
        missing = code in UNSUPPORTED_CODES or status == 501 or "not yet implemented" in text
        return (UNSUPPORTED if missing else FAIL), text
    if isinstance(exc, NotImplementedError | AttributeError) and "implement" in str(exc):
        return UNSUPPORTED, f"{type(exc).__name__}: {exc}"[:400]
    if isinstance(exc, WaitTimeout | BotoCoreError):
        return FAIL, f"{type(exc).__name__}: {exc}"[:400]
    return FAIL, f"{type(exc).__name__}: {exc}"[:400]


def run_probe(item: Probe, ctx: ProbeContext) -> dict:
    """One probe's row: status, evidence, seconds; never raises, never outlives its
    timeout (a probe still blocked then is left to finish in its daemon thread)."""
    started = time.monotonic()
    outcome: dict[str, Result] = {}

    def body() -> None:
        try:
            outcome["result"] = item.run(ctx)
        except Exception as exc:
            outcome["result"] = classify(exc)

    worker = threading.Thread(target=body, name=f"probe-{item.name}", daemon=True)
    worker.start()
    worker.join(item.timeout)
    status, evidence = outcome.get(
        "result", (FAIL, f"no answer within {item.timeout:.0f} s (probe bound)")
    )
    return {
        "name": item.name,
        "title": item.title,
        "status": status,
        "evidence": evidence,
        "seconds": round(time.monotonic() - started, 2),
    }


def tiny_jpeg(seed: int = 0) -> bytes:
    """A small real JPEG, above Rekognition's 80-pixel minimum (the stub enforces it)."""
    from PIL import Image

    image = Image.new("RGB", (320, 240), ((seed * 40) % 256, 120, 200))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    return out.getvalue()


def _function_env(ctx: ProbeContext, output: str) -> dict[str, str]:
    lam = ctx.client("lambda")
    config = lam.get_function_configuration(FunctionName=ctx.outputs[output])
    return dict(config.get("Environment", {}).get("Variables", {}))


def _queue_arn(sqs: Any, url: str) -> str:
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]


# --- configuration reads ------------------------------------------------------------


@probe("secrets_ssm", "Secrets Manager and SSM reads")
def secrets_and_parameters(ctx: ProbeContext) -> Result:
    ssm, secrets = ctx.client("ssm"), ctx.client("secretsmanager")
    parameter = _function_env(ctx, "notifier_function").get(
        "WEBHOOK_PARAMETER_NAME", ctx.outputs["webhook_parameter_name"]
    )
    value = ssm.get_parameter(Name=parameter, WithDecryption=True)["Parameter"]
    secret_id = _function_env(ctx, "catalog_loader_function").get("DB_SECRET_ID")
    if not secret_id:
        return FAIL, "the loader's environment has no DB_SECRET_ID"
    # Terraform creates the secret empty; the harness puts the account when it starts
    # the database. The probe puts one the same way, then reads it back.
    account = {"host": "127.0.0.1", "port": 3306, "username": "probe", "password": ctx.token}
    secrets.put_secret_value(SecretId=secret_id, SecretString=json.dumps(account))
    secret = json.loads(secrets.get_secret_value(SecretId=secret_id)["SecretString"])
    webhook_ok = str(value.get("Value", "")).startswith(ctx.settings.slack_endpoint)
    evidence = (
        f"ssm {parameter} ({value.get('Type')}) -> webhook URL "
        f"{'as deployed' if webhook_ok else 'WRONG: ' + str(value.get('Value'))[:60]}; "
        f"secret {secret_id.rsplit(':', 1)[-1]} put and read back "
        f"{'unchanged' if secret == account else 'CHANGED'}"
    )
    return (PASS if webhook_ok and secret == account else FAIL), evidence


@probe("scheduler", "EventBridge Scheduler: the loader's schedules stored as deployed")
def scheduler(ctx: ProbeContext) -> Result:
    client = ctx.client("scheduler")
    found = client.list_schedules(NamePrefix=ctx.settings.name_prefix)["Schedules"]
    details = [client.get_schedule(Name=s["Name"]) for s in found]
    described = [
        f"{d['Name']}: {d['ScheduleExpression']} {d.get('ScheduleExpressionTimezone', '?')}"
        for d in details
    ]
    seoul = [d for d in details if d.get("ScheduleExpressionTimezone") == "Asia/Seoul"]
    ok = len(seoul) >= 2
    return (PASS if ok else FAIL), "; ".join(described) + " (firing is not checked)" if (
        described
    ) else "no schedules found"


# --- system A, end to end ----------------------------------------------------------


@probe("s3_sns_urlencoded_key", "S3 -> SNS notification with URL-encoded keys, to a result")
def urlencoded_key(ctx: ProbeContext) -> Result:
    key = f"{ctx.outputs['ingest_prefix']}mtx-{ctx.token}/a b+c 한글 (1).jpg"
    started = time.monotonic()
    ctx.pipeline.upload(key, tiny_jpeg())
    result = ctx.pipeline.wait_result(key, timeout=90)
    source = result.get("source", {}).get("key")
    seconds = time.monotonic() - started
    evidence = f"uploaded {key!r}; result names {source!r} after {seconds:.1f} s"
    return (PASS if source == key else FAIL), evidence


@probe("sns_sqs_filter_policy_body", "SNS -> SQS filter policy on the message body")
def filter_policy_on_body(ctx: ProbeContext) -> Result:
    sns, sqs = ctx.client("sns"), ctx.client("sqs")
    topic = ctx.outputs["topic_arn"]
    subscriptions = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    labeler = next(
        (s for s in subscriptions if s["Endpoint"].endswith(":" + ctx.outputs["queue_name"])), None
    )
    if labeler is None:
        return FAIL, f"no subscription of {ctx.outputs['queue_name']} on the topic"
    attributes = sns.get_subscription_attributes(SubscriptionArn=labeler["SubscriptionArn"])[
        "Attributes"
    ]
    policy, scope = attributes.get("FilterPolicy"), attributes.get("FilterPolicyScope")
    # The same filter on a probe queue of our own: the labeler's queue is drained at once.
    url = sqs.create_queue(QueueName=f"{ctx.settings.name_prefix}-mtx-filter-{ctx.token}")[
        "QueueUrl"
    ]
    arn = _queue_arn(sqs, url)
    sqs.set_queue_attributes(
        QueueUrl=url,
        Attributes={
            "Policy": json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "sns.amazonaws.com"},
                            "Action": "sqs:SendMessage",
                            "Resource": arn,
                            "Condition": {"ArnEquals": {"aws:SourceArn": topic}},
                        }
                    ],
                }
            )
        },
    )
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=arn,
        Attributes={
            "FilterPolicy": policy or "{}",
            "FilterPolicyScope": scope or "MessageAttributes",
        },
        ReturnSubscriptionArn=True,
    )

    def event(name: str, key: str) -> str:
        return json.dumps({"Records": [{"eventName": name, "s3": {"object": {"key": key}}}]})

    ingest = ctx.outputs["ingest_prefix"]
    sns.publish(TopicArn=topic, Message=event("ObjectRemoved:Delete", f"{ingest}x.jpg"))
    sns.publish(TopicArn=topic, Message=event("ObjectCreated:Put", "elsewhere/x.jpg"))
    sns.publish(TopicArn=topic, Message=event("ObjectCreated:Put", f"{ingest}mtx-{ctx.token}"))
    bodies: list[str] = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        bodies += [m["Body"] for m in got.get("Messages", [])]
        if len(bodies) >= 1 and time.monotonic() > deadline - 6:
            break
    passed = [b for b in bodies if ctx.token in b]
    ok = scope == "MessageBody" and len(bodies) == 1 and len(passed) == 1
    return (PASS if ok else FAIL), (
        f"scope {scope}; 3 published (1 matching) -> {len(bodies)} delivered, "
        f"{len(passed)} of them the matching one"
    )


@probe(
    "esm_report_batch_item_failures",
    "SQS event source mapping with ReportBatchItemFailures (per record)",
    timeout=100,
)
def partial_batch_mapping(ctx: ProbeContext) -> Result:
    """The deployed labeler mapping reports item failures, and a mapping of our own shows
    the per-record behaviour: of a good and a bad record in one batch, the good one is
    deleted and the bad one goes back to the queue."""
    lam, sqs = ctx.client("lambda"), ctx.client("sqs")
    mappings = lam.list_event_source_mappings(FunctionName=ctx.outputs["labeler_function"])[
        "EventSourceMappings"
    ]
    types = mappings[0].get("FunctionResponseTypes", []) if mappings else []
    if "ReportBatchItemFailures" not in types:
        return FAIL, f"the labeler's mapping reports {types or 'nothing'} (deployed with it)"
    name = _probe_function(ctx)
    url = sqs.create_queue(
        QueueName=f"{ctx.settings.name_prefix}-mtx-batch-{ctx.token}",
        Attributes={"VisibilityTimeout": str(BATCH_VISIBILITY_S)},
    )["QueueUrl"]
    sqs.send_message_batch(
        QueueUrl=url,
        Entries=[
            {"Id": "good", "MessageBody": f"good {ctx.token}"},
            {"Id": "bad", "MessageBody": f"bad {ctx.token}"},
        ],
    )
    mapping = lam.create_event_source_mapping(
        EventSourceArn=_queue_arn(sqs, url),
        FunctionName=name,
        BatchSize=10,
        MaximumBatchingWindowInSeconds=1,
        FunctionResponseTypes=["ReportBatchItemFailures"],
    )["UUID"]
    try:
        left = _messages_left_once_one_is_gone(sqs, url)
    finally:
        lam.delete_event_source_mapping(UUID=mapping)
    kinds = [body.split()[0] for body in _drain_bodies(sqs, url)]  # "good" / "bad"
    sqs.delete_queue(QueueUrl=url)
    ok = left == 1 and kinds == ["bad"]
    return (PASS if ok else FAIL), (
        f"labeler mapping {types}; own mapping, good + bad record in one batch: "
        f"{left} left in the queue, then found there {kinds} "
        "(expected: the bad one only, the good one deleted)"
    )


BATCH_VISIBILITY_S = 2


def _queue_depth(sqs: Any, url: str) -> int:
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return sum(int(attributes.get(n, 0)) for n in names)


def _messages_left_once_one_is_gone(sqs: Any, url: str) -> int:
    """The queue's depth a few redeliveries after it first drops below 2 (or 2 when it
    never does within 40 s): 1 when the bad record keeps coming back."""
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline and _queue_depth(sqs, url) >= 2:
        time.sleep(0.5)
    time.sleep(2.5 * BATCH_VISIBILITY_S)  # the bad record is received again meanwhile
    return _queue_depth(sqs, url)


def _drain_bodies(sqs: Any, url: str) -> list[str]:
    """Every message still in the queue once no mapping holds one (after a visibility)."""
    bodies: list[str] = []
    deadline = time.monotonic() + 3 * BATCH_VISIBILITY_S + 4
    while time.monotonic() < deadline:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        bodies += [m["Body"] for m in got.get("Messages", [])]
    return sorted(set(bodies))


@probe("latency_sample", "upload -> result latency sample (10 images)", timeout=150)
def latency_sample(ctx: ProbeContext) -> Result:
    count = int(ctx.found.get("latency_images", 10))
    ingest = ctx.outputs["ingest_prefix"]
    keys = [f"{ingest}mtx-{ctx.token}/lat/{i:03}.jpg" for i in range(count)]
    uploaded: dict[str, float] = {}
    started = time.monotonic()
    for i, key in enumerate(keys):
        ctx.pipeline.upload(key, tiny_jpeg(i))
        uploaded[key] = time.monotonic()
    done: dict[str, float] = {}
    results_prefix = ctx.outputs["results_prefix"] + f"mtx-{ctx.token}/lat/"
    deadline = started + 120
    while len(done) < count and time.monotonic() < deadline:
        present = set(ctx.pipeline.keys(results_prefix))
        now = time.monotonic()
        for key in keys:
            if key not in done and ctx.pipeline.result_key(key) in present:
                done[key] = now
        time.sleep(0.2)
    latencies = sorted(done[k] - uploaded[k] for k in done)
    if not latencies:
        return FAIL, f"0 of {count} results in 120 s"
    span = max(done.values()) - started
    ctx.timings |= {
        "latency_p50_s": round(statistics.median(latencies), 2),
        "latency_p95_s": round(percentile(latencies, 95), 2),
        "latency_p99_s": round(percentile(latencies, 99), 2),
        "latencies_s": [round(x, 3) for x in latencies],
        "images_per_s": round(len(done) / span, 2) if span > 0 else None,
    }
    status = PASS if len(done) == count else FAIL
    return status, (
        f"{len(done)}/{count} results; p50 {ctx.timings['latency_p50_s']} s, "
        f"p95 {ctx.timings['latency_p95_s']} s, {ctx.timings['images_per_s']} images/s"
    )


@probe("redrive_to_dlq", "redrive to the DLQ after maxReceiveCount", timeout=200)
def to_dead_letter_queue(ctx: ProbeContext) -> Result:
    key = f"{ctx.outputs['ingest_prefix']}mtx-{ctx.token}/notes.txt"
    ctx.pipeline.upload(key, b"not an image", content_type="text/plain")
    ctx.found["dlq_sent_at"] = time.time()
    started = time.monotonic()
    depth = wait_for(ctx.pipeline.dlq_depth, 180, "a message in the DLQ", interval=1.0)
    ctx.found["dlq_arrived_at"] = time.time()
    failure = ctx.pipeline.read_json(ctx.pipeline.failure_key(key)) or {}
    return PASS, (
        f"{key!r} in the DLQ after {time.monotonic() - started:.0f} s (maxReceiveCount "
        f"{ctx.outputs['max_receive_count']}; depth {depth}); failure record: "
        f"{failure.get('reason', 'none')!s:.80} receive count {failure.get('receive_count')}"
    )


@probe("sqs_metrics_dlq_alarm", "AWS/SQS metrics and the DLQ alarm firing", timeout=120)
def dlq_alarm(ctx: ProbeContext) -> Result:
    if "dlq_arrived_at" not in ctx.found:
        return NOT_RUN, "no message reached the DLQ (previous probe)"
    cloudwatch = ctx.client("cloudwatch")
    name = ctx.outputs["alarm_name"]

    def firing() -> dict | None:
        alarm = cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]
        return alarm if alarm["StateValue"] == "ALARM" else None

    try:
        alarm = wait_for(firing, 100, f"{name} in ALARM", interval=1.0)
    except WaitTimeout:
        alarm = None
    points = cloudwatch.get_metric_statistics(
        Namespace="AWS/SQS",
        MetricName="ApproximateNumberOfMessagesVisible",
        Dimensions=[{"Name": "QueueName", "Value": ctx.outputs["dlq_name"]}],
        StartTime=time.time() - 900,
        EndTime=time.time() + 60,
        Period=10,
        Statistics=["Maximum"],
    )["Datapoints"]
    if alarm:
        ctx.found["alarm_at"] = alarm["StateUpdatedTimestamp"].timestamp()
    evidence = (
        f"{len(points)} AWS/SQS datapoints for {ctx.outputs['dlq_name']} "
        f"(max {max((p['Maximum'] for p in points), default=None)}); alarm "
        + (
            f"ALARM {ctx.found['alarm_at'] - ctx.found['dlq_arrived_at']:+.0f} s after the DLQ"
            if alarm
            else "never in ALARM within 100 s"
        )
    )
    return (PASS if alarm and points else FAIL), evidence


@probe("alarm_sns_lambda_slack", "alarm -> SNS -> Lambda -> Slack", timeout=100)
def alarm_to_slack(ctx: ProbeContext) -> Result:
    if "alarm_at" not in ctx.found:
        return NOT_RUN, "the alarm did not fire (previous probe)"
    name = ctx.outputs["alarm_name"]

    def posted() -> list[dict]:
        return [m for m in ctx.pipeline.slack.messages() if name in json.dumps(m)]

    try:
        messages = wait_for(posted, 90, f"a Slack post naming {name}", interval=0.5)
    except WaitTimeout:
        return FAIL, f"no Slack post naming {name} within 90 s of the alarm"
    seconds = time.time() - ctx.found["alarm_at"]
    ctx.timings["alarm_to_slack_s"] = round(seconds, 1)
    return PASS, f"{len(messages)} Slack post(s) naming {name}, {seconds:.1f} s after ALARM"


@probe("dlq_redrive_back", "DLQ redrive back (StartMessageMoveTask)", timeout=90)
def redrive_back(ctx: ProbeContext) -> Result:
    if "dlq_arrived_at" not in ctx.found:
        return NOT_RUN, "no message reached the DLQ (previous probe)"
    sqs = ctx.client("sqs")
    source = _queue_arn(sqs, ctx.outputs["dlq_url"])
    handle = sqs.start_message_move_task(SourceArn=source)["TaskHandle"]

    def finished() -> dict | None:
        tasks = sqs.list_message_move_tasks(SourceArn=source)["Results"]
        done = [t for t in tasks if t.get("Status") in ("COMPLETED", "FAILED", "CANCELLED")]
        return done[0] if done else None

    task = wait_for(finished, 60, "the move task to finish", interval=0.5)
    moved = task.get("ApproximateNumberOfMessagesMoved", 0)
    ok = task["Status"] == "COMPLETED" and moved >= 1
    return (PASS if ok else FAIL), f"task {handle[:16]}...: {task['Status']}, {moved} moved"


# --- Lambda semantics, on a probe function of our own ------------------------------

PROBE_CODE = """
import time

def handler(event, context):
    if "Records" in event:
        return report_bad_records(event["Records"])
    time.sleep(float(event.get("sleep", 0)))
    if event.get("fail"):
        raise RuntimeError("probe failure " + str(event.get("token")))
    return {"ok": True}

def report_bad_records(records):
    # A record alone is failed too, so the good one waits for a batch with the bad one.
    failed = [r for r in records if r["body"].startswith("bad") or len(records) < 2]
    return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in failed]}
"""


def _probe_function(ctx: ProbeContext) -> str:
    """A tiny function with its own role (sends to and consumes SQS, writes logs), made
    once."""
    if "function" in ctx.found:
        return str(ctx.found["function"])
    iam, lam = ctx.client("iam"), ctx.client("lambda")
    name = f"{ctx.settings.name_prefix}-mtx-probe-{ctx.token}"
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    iam.put_role_policy(
        RoleName=name,
        PolicyName="probe",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": [
                            "sqs:SendMessage",
                            "sqs:ReceiveMessage",
                            "sqs:DeleteMessage",
                            "sqs:ChangeMessageVisibility",
                            "sqs:GetQueueAttributes",
                            "logs:*",
                        ],
                        "Resource": "*",
                    }
                ],
            }
        ),
    )
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("probe.py", PROBE_CODE)
    lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role["Arn"],
        Handler="probe.handler",
        Code={"ZipFile": archive.getvalue()},
        Timeout=2,
    )
    lam.get_waiter("function_active_v2").wait(FunctionName=name)
    ctx.found["function"] = name
    return name


@probe("lambda_timeout", "the Lambda timeout", timeout=90)
def lambda_timeout(ctx: ProbeContext) -> Result:
    name = _probe_function(ctx)
    started = time.monotonic()
    answer = ctx.client("lambda").invoke(FunctionName=name, Payload=json.dumps({"sleep": 6}))
    seconds = time.monotonic() - started
    payload = answer["Payload"].read().decode(errors="replace")
    timed_out = answer.get("FunctionError") and "timed out" in payload.lower()
    return (PASS if timed_out and seconds < 5.5 else FAIL), (
        f"2 s function sleeping 6 s: FunctionError={answer.get('FunctionError')!r} "
        f"after {seconds:.1f} s, payload {payload[:120]!r}"
    )


@probe("async_retry_on_failure", "async retry and the on-failure destination", timeout=120)
def async_retry_and_destination(ctx: ProbeContext) -> Result:
    name = _probe_function(ctx)
    lam, sqs = ctx.client("lambda"), ctx.client("sqs")
    url = sqs.create_queue(QueueName=f"{ctx.settings.name_prefix}-mtx-onfail-{ctx.token}")[
        "QueueUrl"
    ]
    lam.put_function_event_invoke_config(
        FunctionName=name,
        MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Destination": _queue_arn(sqs, url)}},
    )
    lam.invoke(
        FunctionName=name,
        InvocationType="Event",
        Payload=json.dumps({"fail": True, "token": ctx.token}),
    )

    def record() -> dict | None:
        got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", [])
        return json.loads(got[0]["Body"]) if got else None

    try:
        found = wait_for(record, 100, "the failure record in the on-failure queue", interval=0.2)
    except WaitTimeout:
        return FAIL, "no failure record in the on-failure destination within 100 s"
    attempts = found.get("requestContext", {}).get("approximateInvokeCount")
    condition = found.get("requestContext", {}).get("condition")
    ok = attempts == 2
    return (PASS if ok else FAIL), (
        f"failure record: condition {condition}, approximateInvokeCount {attempts} "
        "(1 retry configured: 2 expected)"
    )


def run_all(
    ctx: ProbeContext,
    only: set[str] | None = None,
    progress: Callable[[str], None] = print,
) -> list[dict]:
    """Every probe (or those named in `only`) in order, each bounded; never raises."""
    rows = []
    for item in PROBES:
        if only is not None and item.name not in only:
            continue
        progress(f"  probe {item.name} ...")
        rows.append(run_probe(item, ctx))
        progress(f"  probe {item.name}: {rows[-1]['status']} ({rows[-1]['seconds']} s)")
    return rows


def pool_bound(function: Callable[[], Any], seconds: float) -> Any:
    """`function()` with a time bound; raises TimeoutError when it does not return."""
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    try:
        return pool.submit(function).result(timeout=seconds)
    finally:
        pool.shutdown(wait=False)
