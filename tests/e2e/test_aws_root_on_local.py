"""Issue #12, item 7: the AWS root on the local stack.

`infra/envs/aws` itself (versioning, the topic's KMS key, the alarms, the retries, only
the provider pointed at the local stack: harness.promote.aws_on_local) is applied onto
the session's stack, under its enforced IAM, with a name prefix of its own beside
envs/local's; `harness promote smoke` (workflow.run_smoke, as `harness promote smoke`
runs it on AWS) passes against it with no IAM denial; then everything is destroyed.
The closest this machine gets to the first real deploy.
"""

from __future__ import annotations

import json
import time

from harness.observe import denials
from harness.promote import aws_on_local, workflow
from harness.runtime import aws


def _progress(message: str) -> None:
    print(f"[aws-on-local] {message}")


def _envs_aws_settings_deployed(settings, outputs: dict) -> None:
    """What makes it envs/aws and not envs/local: the production values are live."""
    s3 = aws.client("s3", settings)
    sqs = aws.client("sqs", settings)
    sns = aws.client("sns", settings)
    cloudwatch = aws.client("cloudwatch", settings)
    assert outputs["bucket"].endswith(f"-{outputs['account_id']}-{outputs['region']}")
    assert s3.get_bucket_versioning(Bucket=outputs["bucket"]).get("Status") == "Enabled"
    queue = sqs.get_queue_attributes(QueueUrl=outputs["queue_url"], AttributeNames=["All"])
    attributes = queue["Attributes"]
    assert json.loads(attributes["RedrivePolicy"])["maxReceiveCount"] == 5
    assert attributes["VisibilityTimeout"] == "365"  # 6 x 60 s + the 5 s batching window
    assert attributes["ReceiveMessageWaitTimeSeconds"] == "15"
    topic = sns.get_topic_attributes(TopicArn=outputs["topic_arn"])["Attributes"]
    assert topic.get("KmsMasterKeyId"), "the events topic is not encrypted"
    (alarm,) = cloudwatch.describe_alarms(AlarmNames=[outputs["alarm_name"]])["MetricAlarms"]
    assert alarm["Period"] == 300 and alarm["EvaluationPeriods"] == 2


def _left_behind(settings) -> list[str]:
    prefix = settings.name_prefix
    s3 = aws.client("s3", settings)
    lam = aws.client("lambda", settings)
    sqs = aws.client("sqs", settings)
    left = [b["Name"] for b in s3.list_buckets()["Buckets"] if b["Name"].startswith(prefix)]
    left += [
        f["FunctionName"]
        for page in lam.get_paginator("list_functions").paginate()
        for f in page["Functions"]
        if f["FunctionName"].startswith(prefix)
    ]
    left += sqs.list_queues(QueueNamePrefix=prefix).get("QueueUrls", [])
    return left


def test_envs_aws_deploys_and_smoke_passes_with_no_denial(harness_stack, harness_settings):
    assert harness_settings.iam == "enforce" and harness_settings.iam_deliveries
    settings = aws_on_local.beside(harness_settings)
    started = time.time()
    try:
        outputs = aws_on_local.apply(settings, progress=_progress)
        applied = time.time()
        _envs_aws_settings_deployed(settings, outputs)

        report = workflow.run_smoke(
            aws.client("s3", settings),
            aws.client("lambda", settings),
            outputs,
            timeout=180,
            progress=_progress,
        )

        prefix = outputs["ingest_prefix"]
        names = {key.removeprefix(prefix).split("/", 1)[1] for key in report.labels}
        assert names == set(workflow.SMOKE_IMAGES)
        assert all(report.labels.values()), report.labels
        assert report.deleted >= 2 * len(workflow.SMOKE_IMAGES)
        found = aws_on_local.denials_since(settings, started)
        assert [(denials.who(d), d.get("action"), d.get("resource")) for d in found] == []
        _progress(
            f"apply {applied - started:.0f} s, smoke {time.time() - applied:.0f} s, no denial"
        )
    finally:
        aws_on_local.destroy(settings, progress=_progress)
    assert _left_behind(settings) == []
    assert aws_on_local.outputs(settings) is None
