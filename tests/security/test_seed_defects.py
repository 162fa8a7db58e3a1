"""One test per defect of the seed's repository (/work/shared/SEEDS.md, "Its defects,
which this project must not repeat"), each quoting the defect it proves absent.

Code defects are checked on the functions' own modules with the seed's inputs;
infrastructure defects on the real plans of every environment
(tests/security/conftest.py), so they hold for whatever the environments wire.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType

import pytest
from security_plans import ENVS

from harness.events import sns_filter
from harness.promote import plan_audit

PROJECT = Path(__file__).resolve().parents[2]
LAMBDAS = PROJECT / "lambdas"


def function_module(function: str, module: str) -> ModuleType:
    """`lambdas/<function>/<module>.py`, imported the way the Lambda runtime does."""
    directory = str(LAMBDAS / function)
    if directory not in sys.path:
        sys.path.insert(0, directory)
    return __import__(module)


def unit_fakes() -> ModuleType:
    """The fake boto3 clients of tests/unit/conftest.py (no need to write them twice)."""
    spec = importlib.util.spec_from_file_location(
        "seed_defects_unit_fakes", PROJECT / "tests" / "unit" / "conftest.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def s3_event(*keys: str, bucket: str = "imgpipe-images") -> str:
    """An SQS body as the labeler gets it: SNS envelope, Message = S3 event (a string)."""
    records = [
        {
            "eventName": "ObjectCreated:Put",
            "s3": {"bucket": {"name": bucket}, "object": {"key": key, "eTag": f"e{i}", "size": 3}},
        }
        for i, key in enumerate(keys)
    ]
    return json.dumps({"Type": "Notification", "Message": json.dumps({"Records": records})})


# --- the Slack Lambda ---------------------------------------------------------


def test_notifier_decodes_the_sns_message_string():
    """Defect: "The Slack Lambda indexes event['Records'][0]['Sns']['Message']['AlarmName']
    without json.loads; real SNS delivers Message as a string, so it crashes."""
    alarm = function_module("slack_notifier", "alarm")
    message = json.dumps(
        {
            "AlarmName": "imgpipe-labeler-dlq-not-empty",
            "AlarmArn": "arn:aws:cloudwatch:ap-northeast-2:123456789012:alarm:"
            "imgpipe-labeler-dlq-not-empty",
            "NewStateValue": "ALARM",
            "NewStateReason": "Threshold Crossed: 2 datapoints [3.0 (23/11/26 10:00:00)]",
            "Trigger": {"Dimensions": [{"name": "QueueName", "value": "imgpipe-labeler-dlq"}]},
        }
    )
    assert isinstance(message, str)
    parsed = alarm.parse_alarm(message)
    assert (parsed.name, parsed.new_state, parsed.queue_name) == (
        "imgpipe-labeler-dlq-not-empty",
        "ALARM",
        "imgpipe-labeler-dlq",
    )


def test_notifier_raises_on_http_errors():
    """Defect: "HTTP errors are logged, never raised." (SNS then never retries.)"""
    webhook = function_module("slack_notifier", "webhook")

    class Failing(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(500)
            self.end_headers()
            self.wfile.write(b"no_service")

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Failing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/services/T/B/X"
        with pytest.raises(webhook.WebhookError, match="HTTP 500"):
            webhook.post_json(url, {"text": "DLQ alarm"}, timeout=5)
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.e2e
@pytest.mark.parametrize("env", ENVS)
def test_notifier_is_in_terraform_with_a_permission_for_sns(plans, env):
    """Defect: "The Slack Lambda is not in Terraform (a data source), and there is no
    aws_lambda_permission for SNS to invoke it." """
    plan = plans[env]
    subscriptions = [
        s for s in plan.of_type("aws_sns_topic_subscription") if s.values["protocol"] == "lambda"
    ]
    assert subscriptions
    for subscription in subscriptions:
        function = plan.referenced(subscription, "endpoint", "aws_lambda_function")
        assert function is not None, f"{subscription.address} targets no function of this stack"
        permissions = [
            p
            for p in plan.of_type("aws_lambda_permission")
            if plan.referenced(p, "function_name", "aws_lambda_function") is function
            and p.values["principal"] == "sns.amazonaws.com"
        ]
        assert len(permissions) == 1, function.address
        topic_refs = plan.references(subscription, "topic_arn")
        assert plan.references(permissions[0], "source_arn") == topic_refs or (
            permissions[0].values.get("source_arn") == subscription.values.get("topic_arn")
        )


# --- the labeler --------------------------------------------------------------


def test_keys_are_url_decoded():
    """Defect: "Object keys are not URL-decoded (keys with spaces or Korean fail)"."""
    notification = function_module("labeler", "s3_notification")
    raw = {
        "eventName": "ObjectCreated:Put",
        "s3": {
            "bucket": {"name": "b"},
            "object": {"key": "ingest/summer+trip/%EA%B3%A0%EC%96%91%EC%9D%B4+1%2B2.jpg"},
        },
    }
    assert notification.parse_s3_record(raw, 0).key == "ingest/summer trip/고양이 1+2.jpg"


def test_every_record_of_a_notification_is_processed():
    """Defect: "only Records[0] is processed"."""
    labeling = function_module("labeler", "labeling")
    fakes = unit_fakes()
    s3 = fakes.FakeS3()
    keys = ["ingest/a.jpg", "ingest/b.png", "ingest/c.JPG"]
    for key in keys:
        s3.add("imgpipe-images", key)
    rekognition = fakes.FakeRekognition({"Labels": [], "LabelModelVersion": "3.0"})
    labeled = labeling.process_message(
        s3_event(*keys),
        message_id="m1",
        receive_count=1,
        s3=s3,
        rekognition=rekognition,
        config=labeling.Config(),
    )
    assert labeled == 3 and rekognition.names() == keys
    assert s3.keys("results/") == [f"results/{k.removeprefix('ingest/')}.json" for k in keys]


def test_same_file_name_in_two_folders_gives_two_results():
    """Defect: "results for the same file name in different folders overwrite each other"."""
    labeling = function_module("labeler", "labeling")
    config = labeling.Config()
    first = labeling.result_key("ingest/alice/photo.jpg", config)
    second = labeling.result_key("ingest/bob/photo.jpg", config)
    assert first != second and first.startswith("results/alice/")


@pytest.mark.e2e
@pytest.mark.parametrize("env", ENVS)
def test_jpeg_png_and_upper_case_extensions_trigger(plans, env):
    """Defect: "`.jpeg`, `.png`, `.JPG` never trigger" (notification suffix `.jpg`)."""
    plan = plans[env]
    notifications = plan.of_type("aws_s3_bucket_notification")
    labeling = [
        n for n in notifications if any(t["filter_prefix"] == "ingest/" for t in n.values["topic"])
    ]
    assert labeling, "the images bucket notifies the topic for ingest/"
    for notification in labeling:
        for topic in notification.values["topic"]:
            assert not topic.get("filter_suffix"), notification.address
    queue_subscriptions = [
        s for s in plan.of_type("aws_sns_topic_subscription") if s.values["protocol"] == "sqs"
    ]
    labeler_policies = [
        json.loads(s.values["filter_policy"])
        for s in queue_subscriptions
        if s.values.get("filter_policy") and "ingest/" in s.values["filter_policy"]
    ]
    assert labeler_policies
    for key in ("ingest/a.jpeg", "ingest/b.png", "ingest/C.JPG", "ingest/d.jpg"):
        message = json.loads(json.loads(s3_event(key))["Message"])
        assert all(sns_filter.matches(p, message) for p in labeler_policies), key
    alarm = {"AlarmName": "x", "NewStateValue": "ALARM", "AlarmArn": "arn:aws:cloudwatch:..."}
    assert not any(sns_filter.matches(p, alarm) for p in labeler_policies)


def test_labeler_never_deletes_messages_itself():
    """Defect: "The Lambda deletes SQS messages itself inside an event source mapping"."""
    code = "\n".join(p.read_text() for p in (LAMBDAS / "labeler").glob("*.py"))
    assert not re.search(r"delete_message|client\(\s*[\"']sqs", code)


@pytest.mark.e2e
@pytest.mark.parametrize("env", ENVS)
def test_queue_triggers_report_partial_batch_failures(plans, env):
    """Defect: "... and has no partial batch failure reporting: one bad image fails the
    whole batch." """
    mappings = plans[env].of_type("aws_lambda_event_source_mapping")
    assert mappings
    for mapping in mappings:
        assert mapping.values["function_response_types"] == ["ReportBatchItemFailures"], (
            mapping.address
        )


@pytest.mark.e2e
@pytest.mark.parametrize("env", ENVS)
def test_poison_messages_reach_the_dlq_soon_and_visibility_is_sane(plans, env):
    """Defect: "With maxReceiveCount 100 and visibility 300 s a poison message reaches the
    DLQ after about 8 hours; visibility is less than 6x the Lambda timeout." """
    plan = plans[env]
    checked = 0
    for mapping in plan.of_type("aws_lambda_event_source_mapping"):
        queue = plan.referenced(mapping, "event_source_arn", "aws_sqs_queue")
        function = plan.referenced(mapping, "function_name", "aws_lambda_function")
        if queue is None or function is None:
            continue
        checked += 1
        visibility = queue.values["visibility_timeout_seconds"]
        timeout = function.values["timeout"]
        redrive = json.loads(queue.values["redrive_policy"])
        window = mapping.values.get("maximum_batching_window_in_seconds") or 0
        # AWS's rule in every env: envs/local keeps tests fast with a short timeout.
        assert visibility >= 6 * timeout + window, queue.address
        assert redrive["maxReceiveCount"] <= 10, queue.address
        assert redrive["maxReceiveCount"] * visibility <= 3600, queue.address
    assert checked


@pytest.mark.e2e
@pytest.mark.parametrize("env", ENVS)
def test_no_wildcard_iam(plans, env):
    """Defect: "IAM: `s3:*`, `sqs:*`, `rekognition:*`, `textract:*` on `*`"."""
    for role in plan_audit.lambda_roles(plans[env]):
        for statement in role.statements:
            actions = plan_audit._as_list(statement.get("Action"))
            assert not [a for a in actions if "*" in a or a.startswith("textract:")], statement
            if "*" in plan_audit._as_list(statement.get("Resource")):
                assert set(actions) <= set(plan_audit.NO_RESOURCE_LEVEL_ACTIONS), statement


@pytest.mark.e2e
@pytest.mark.parametrize("env", ENVS)
def test_cloudwatch_may_publish_only_for_our_alarms(plans, env):
    """Defect: "the CloudWatch statement of the topic policy has no condition"."""
    plan = plans[env]
    alarms = {a.values["alarm_name"] for a in plan.of_type("aws_cloudwatch_metric_alarm")}
    checked = 0
    for topic in plan.of_type("aws_sns_topic"):
        for statement in plan_audit.statements(topic.values.get("policy") or '{"Statement":[]}'):
            if plan_audit.principals(statement) != [("Service", "cloudwatch.amazonaws.com")]:
                continue
            checked += 1
            arns = plan_audit.condition_values(statement, "aws:SourceArn")
            assert arns and {a.rsplit(":alarm:", 1)[1] for a in arns} <= alarms, arns
            assert plan_audit.condition_values(statement, "aws:SourceAccount") == [plan.account_id]
    assert checked


@pytest.mark.e2e
@pytest.mark.parametrize("env", ENVS)
def test_queue_policies_are_valid_with_principals(plans, env):
    """Seed: "The DLQ policy in the seed is malformed (no Principal, broken JSON)." """
    for queue in plans[env].of_type("aws_sqs_queue", "aws_sqs_queue_policy"):
        policy = queue.values.get("policy")
        if policy:
            for statement in plan_audit.statements(json.loads(policy)):
                assert "Principal" in statement, queue.address


def test_tests_and_ci_exist():
    """Defect: "No tests, no CI." """
    ci = PROJECT / ".ci" / "run"
    assert ci.is_file() and "make test" in ci.read_text()
    makefile = (PROJECT / "Makefile").read_text()
    recipe = re.search(r"^test:.*\n((?:\t.*\n)+)", makefile, re.M)
    assert recipe and "pytest" in recipe[1] and "ruff check" in recipe[1]
    for function in ("labeler", "slack_notifier"):
        assert list((PROJECT / "tests" / "unit").glob(f"test_{function}*.py")), function
