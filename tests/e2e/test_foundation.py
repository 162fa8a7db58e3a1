"""The foundation, against the real embedded LocalStack: services, Lambda without Docker."""

from __future__ import annotations

import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from harness.build.packaging import zip_dirs
from harness.observe import denials
from harness.util.waiting import wait_for

PROBE = Path(__file__).parent / "functions" / "probe"
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


def probe_policy(marker_bucket: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "Logs",
                    "Effect": "Allow",
                    "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                    "Resource": "*",
                },
                {
                    "Sid": "ConsumeProbeQueues",
                    "Effect": "Allow",
                    "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
                    "Resource": "arn:aws:sqs:*:*:probe-*",
                },
                {
                    "Sid": "Markers",
                    "Effect": "Allow",
                    "Action": "s3:PutObject",
                    "Resource": f"arn:aws:s3:::{marker_bucket}/*",
                },
            ],
        }
    )


@pytest.fixture(scope="module")
def probe_zip(tmp_path_factory) -> bytes:
    return zip_dirs(tmp_path_factory.mktemp("probe") / "probe.zip", PROBE).read_bytes()


@pytest.fixture(scope="module")
def marker_bucket(aws_client) -> str:
    name = f"probe-markers-{uuid.uuid4().hex[:8]}"
    aws_client("s3").create_bucket(Bucket=name)
    return name


@pytest.fixture(scope="module")
def make_function(aws_client, probe_zip, marker_bucket):
    lam = aws_client("lambda")
    iam = aws_client("iam")
    role_name = f"probe-{uuid.uuid4().hex[:8]}"
    role = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    # IAM is enforced in the local stack as on AWS: the probe's role needs what
    # AWSLambdaBasicExecutionRole and AWSLambdaSQSQueueExecutionRole grant, and its marker writes.
    iam.put_role_policy(
        RoleName=role_name, PolicyName="probe", PolicyDocument=probe_policy(marker_bucket)
    )
    created = []

    def make(timeout: int = 3, runtime: str = "python3.12", handler: str = "app.handler") -> str:
        name = f"probe-{uuid.uuid4().hex[:8]}"
        lam.create_function(
            FunctionName=name,
            Runtime=runtime,
            Handler=handler,
            Role=role,
            Code={"ZipFile": probe_zip},
            Timeout=timeout,
            Environment={"Variables": {"MARKER_BUCKET": marker_bucket}},
        )
        lam.get_waiter("function_active_v2").wait(FunctionName=name)
        created.append(name)
        return name

    yield make
    for name in created:
        lam.delete_function(FunctionName=name)


def invoke(aws_client, name: str, payload: dict) -> tuple[dict, str | None]:
    response = aws_client("lambda").invoke(FunctionName=name, Payload=json.dumps(payload))
    return json.loads(response["Payload"].read()), response.get("FunctionError")


def log_text(aws_client, name: str, expected: str) -> str:
    """The function's log so far, once it holds `expected` ("" until then)."""
    logs = aws_client("logs")
    try:
        events = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
    except logs.exceptions.ResourceNotFoundException:
        return ""
    text = "".join(e["message"] for e in events)
    return text if expected in text else ""


@pytest.mark.parametrize(
    "service, call",
    [
        ("s3", lambda c: c.list_buckets()),
        ("sns", lambda c: c.list_topics()),
        ("sqs", lambda c: c.list_queues()),
        ("lambda", lambda c: c.list_functions()),
        ("cloudwatch", lambda c: c.describe_alarms()),
        ("logs", lambda c: c.describe_log_groups()),
        ("iam", lambda c: c.list_roles()),
        ("sts", lambda c: c.get_caller_identity()),
        ("events", lambda c: c.list_rules()),
        ("secretsmanager", lambda c: c.list_secrets()),
        ("ssm", lambda c: c.describe_parameters()),
    ],
)
def test_service_answers(aws_client, service, call):
    response = call(aws_client(service))
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_zipped_function_runs_and_logs_reach_cloudwatch(aws_client, make_function):
    name = make_function()
    state = aws_client("lambda").get_function(FunctionName=name)["Configuration"]["State"]
    assert state == "Active"
    result, error = invoke(aws_client, name, {"hello": "world"})
    assert error is None
    assert result["echo"] == {"hello": "world"}
    assert result["function"] == name
    # The bundled dependency is imported from the code root, as on Lambda.
    assert result["dep"] == "bundled"
    assert result["dep_file"].startswith(result["task_root"])
    assert 0 < result["remaining_ms"] <= 3000
    # A clean environment: nothing of the host's AWS settings leaks into the function.
    assert result["home_aws_profile"] is None

    text = wait_for(lambda: log_text(aws_client, name, "REPORT RequestId"))
    assert "START RequestId" in text
    assert 'probe invoked: {"hello": "world"}' in text
    assert "END RequestId" in text


def test_logs_come_back_once_lambda_may_assume_the_role_again(
    aws_client, make_function, harness_settings
):
    """LocalStack ships a version's logs with its role, assumed once when the version
    starts, and ships none of them again if that is refused; harness_iam assumes it again
    for the next batch (log_shipping.py), as AWS writes the logs again once the trust is
    mended."""
    assert harness_settings.iam == "enforce" and harness_settings.iam_deliveries, (
        "Lambda's AssumeRole is checked only with IAM enforced and deliveries on"
    )
    lam, iam = aws_client("lambda"), aws_client("iam")
    name = make_function()
    role_arn = lam.get_function_configuration(FunctionName=name)["Role"]
    role_name = role_arn.rsplit("/", 1)[1]
    since = denials.iso(time.time())
    iam.update_assume_role_policy(
        RoleName=role_name,
        PolicyDocument=TRUST.replace("lambda.amazonaws.com", "ec2.amazonaws.com"),
    )
    try:
        # A new version starts while Lambda may not assume the role, and events for it
        # wait until one is refused (the retired version's poller may still take the
        # first ones: LocalStack's async poller is in a 2 s long poll).
        lam.update_function_configuration(FunctionName=name, Description="trust taken away")
        lam.get_waiter("function_updated_v2").wait(FunctionName=name)

        def refused() -> list[dict]:
            lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"while": "refused"}')
            return [
                d
                for d in denials.read(harness_settings.iam_denials, since)
                if d.get("action") == "sts:AssumeRole" and d.get("resource") == role_arn
            ]

        wait_for(refused, 60, f"the refused AssumeRole of {role_name}", interval=3)
    finally:
        iam.update_assume_role_policy(RoleName=role_name, PolicyDocument=TRUST)
    result, error = invoke(aws_client, name, {"after": "trust mended"})
    assert error is None and result["echo"] == {"after": "trust mended"}
    wait_for(lambda: log_text(aws_client, name, 'probe invoked: {"after": "trust mended"}'))


def test_handler_exception_is_a_function_error(aws_client, make_function):
    name = make_function()
    result, error = invoke(aws_client, name, {"fail": "on purpose"})
    assert error == "Unhandled"
    assert result["errorType"] == "ValueError"
    assert result["errorMessage"] == "asked to fail: on purpose"


def test_timeout_kills_the_function_and_reports_it(aws_client, make_function):
    name = make_function(timeout=1)
    result, error = invoke(aws_client, name, {"sleep": 5})
    assert error == "Unhandled"
    assert result["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in result["errorMessage"]
    # The environment is usable again after the kill (init runs again).
    result, error = invoke(aws_client, name, {"after": "timeout"})
    assert error is None and result["echo"] == {"after": "timeout"}


def test_two_concurrent_invokes_run_in_separate_environments(aws_client, make_function):
    name = make_function()
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda i: invoke(aws_client, name, {"sleep": 1, "i": i}), [1, 2]))
    assert [error for _, error in results] == [None, None]
    assert {r["echo"]["i"] for r, _ in results} == {1, 2}
    assert results[0][0]["pid"] != results[1][0]["pid"]


def test_import_error_is_reported_like_aws(aws_client, make_function):
    name = make_function(handler="missing_module.handler")
    result, error = invoke(aws_client, name, {})
    assert error == "Unhandled"
    assert result["errorType"] == "Runtime.ImportModuleError"


def test_runtime_without_interpreter_falls_back_with_a_warning(aws_client, make_function):
    name = make_function(runtime="python3.13")
    result, error = invoke(aws_client, name, {"x": 1})
    assert error is None and result["echo"] == {"x": 1}
    logs = aws_client("logs")

    def warning():
        try:
            events = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
        except logs.exceptions.ResourceNotFoundException:
            return None
        return [e for e in events if "no python3.13 interpreter" in e["message"]]

    assert wait_for(warning)


def _marker_keys(aws_client, bucket: str, prefix: str) -> list[str]:
    listing = aws_client("s3").list_objects_v2(Bucket=bucket, Prefix=prefix)
    return [o["Key"] for o in listing.get("Contents", [])]


def test_sqs_event_source_mapping_invokes_the_function(aws_client, make_function, marker_bucket):
    name = make_function()
    sqs = aws_client("sqs")
    queue_url = sqs.create_queue(QueueName=f"probe-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    aws_client("lambda").create_event_source_mapping(
        EventSourceArn=queue_arn, FunctionName=name, BatchSize=10
    )
    body = f"sqs-{uuid.uuid4().hex}"
    sqs.send_message(QueueUrl=queue_url, MessageBody=body)
    assert wait_for(lambda: _marker_keys(aws_client, marker_bucket, f"aws:sqs/{body}"), 60)


def test_sns_subscription_invokes_the_function(aws_client, make_function, marker_bucket):
    name = make_function()
    sns = aws_client("sns")
    topic = sns.create_topic(Name=f"probe-{uuid.uuid4().hex[:8]}")["TopicArn"]
    function_arn = aws_client("lambda").get_function(FunctionName=name)["Configuration"][
        "FunctionArn"
    ]
    aws_client("lambda").add_permission(
        FunctionName=name,
        StatementId="sns",
        Action="lambda:InvokeFunction",
        Principal="sns.amazonaws.com",
        SourceArn=topic,
    )
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=function_arn)
    message = f"sns-{uuid.uuid4().hex}"
    sns.publish(TopicArn=topic, Message=message)
    assert wait_for(lambda: _marker_keys(aws_client, marker_bucket, f"aws:sns/{message}"), 30)
