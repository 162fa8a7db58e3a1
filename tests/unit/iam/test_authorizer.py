"""Whole calls against our own policies (as infra/ writes them): the versioned-bucket
defect of issue 12, deliveries between services, KMS, the denial record and error shapes."""

from __future__ import annotations

import json

import pytest
from harness_iam import (
    Call,
    DenialLog,
    Principal,
    authorize,
    error_for,
    managed_key_policy,
)
from harness_iam.denial_log import read

from .conftest import ACCOUNT, REGION
from .sources import BUCKET, BUCKET_ARN, KEY_ARN, QUEUE_ARN, TOPIC_ARN, Facts, Source

ALARM_ARN = f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:imgpipe-labeler-dlq-not-empty"
LOG_GROUP_ARN = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/imgpipe-labeler"

# infra/modules/labeling/main.tf, aws_iam_role_policy.this (rendered for these names)
LABELER_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "WriteOwnLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": f"{LOG_GROUP_ARN}:*",
        },
        {
            "Sid": "ConsumeQueue",
            "Effect": "Allow",
            "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
            "Resource": QUEUE_ARN,
        },
        {
            "Sid": "ReadIngest",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": f"{BUCKET_ARN}/ingest/*",
        },
        {
            "Sid": "ReadWriteResults",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject"],
            "Resource": f"{BUCKET_ARN}/results/*",
        },
        {
            "Sid": "ManageFailureRecords",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
            "Resource": f"{BUCKET_ARN}/failures/*",
        },
        {
            "Sid": "ListBucketFor404",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": BUCKET_ARN,
        },
        {
            "Sid": "DetectLabels",
            "Effect": "Allow",
            "Action": "rekognition:DetectLabels",
            "Resource": "*",
        },
    ],
}

BUCKET_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [BUCKET_ARN, f"{BUCKET_ARN}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    ],
}

TOPIC_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "AllowS3EventNotifications",
            "Effect": "Allow",
            "Principal": {"Service": "s3.amazonaws.com"},
            "Action": "sns:Publish",
            "Resource": TOPIC_ARN,
            "Condition": {
                "ArnEquals": {"aws:SourceArn": BUCKET_ARN},
                "StringEquals": {"aws:SourceAccount": ACCOUNT},
            },
        },
        {
            "Sid": "AllowCloudWatchAlarms",
            "Effect": "Allow",
            "Principal": {"Service": "cloudwatch.amazonaws.com"},
            "Action": "sns:Publish",
            "Resource": TOPIC_ARN,
            "Condition": {
                "ArnLike": {"aws:SourceArn": [ALARM_ARN]},
                "StringEquals": {"aws:SourceAccount": ACCOUNT},
            },
        },
    ],
}

KEY_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "AccountAdministration",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
            "Action": "kms:*",
            "Resource": "*",
        },
        {
            "Sid": "AllowS3EventNotifications",
            "Effect": "Allow",
            "Principal": {"Service": "s3.amazonaws.com"},
            "Action": ["kms:GenerateDataKey*", "kms:Decrypt"],
            "Resource": "*",
            "Condition": {
                "StringEquals": {"aws:SourceAccount": ACCOUNT},
                "ArnEquals": {"aws:SourceArn": BUCKET_ARN},
            },
        },
        {
            "Sid": "AllowCloudWatchAlarms",
            "Effect": "Allow",
            "Principal": {"Service": "cloudwatch.amazonaws.com"},
            "Action": ["kms:GenerateDataKey*", "kms:Decrypt"],
            "Resource": "*",
            "Condition": {
                "StringEquals": {"aws:SourceAccount": ACCOUNT},
                "ArnLike": {"aws:SourceArn": [ALARM_ARN]},
            },
        },
    ],
}

QUEUE_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "AllowTopicDelivery",
            "Effect": "Allow",
            "Principal": {"Service": "sns.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": QUEUE_ARN,
            "Condition": {"ArnEquals": {"aws:SourceArn": TOPIC_ARN}},
        }
    ],
}


def source(labeler_policy=LABELER_POLICY, resources=None):
    return Source(
        roles={f"arn:aws:iam::{ACCOUNT}:role/imgpipe-labeler": {"labeler": labeler_policy}},
        resources={
            ("s3", BUCKET): BUCKET_POLICY,
            ("sns", TOPIC_ARN): TOPIC_POLICY,
            ("kms", KEY_ARN): KEY_POLICY,
            ("sqs", QUEUE_ARN): QUEUE_POLICY,
            **(resources or {}),
        },
    )


TLS = {"aws:SecureTransport": True}


def s3_call(operation, **params):
    return Call("s3", operation, {"Bucket": BUCKET, **params}, REGION, ACCOUNT)


# --- the defect of issue 12 -------------------------------------------------------------------


def test_labeler_reads_the_current_object(labeler) -> None:
    decision = authorize(s3_call("GetObject", Key="ingest/a.jpg"), labeler, source(), Facts(), TLS)
    assert decision.allowed


def test_labeler_policy_cannot_read_a_version_as_rekognition_would_on_aws(labeler) -> None:
    decision = authorize(
        s3_call("GetObject", Key="ingest/a.jpg", VersionId="3HL4kqtJlcpXroDTDmJ"),
        labeler,
        source(),
        Facts(),
        TLS,
    )
    assert not decision.allowed
    assert decision.action == "s3:GetObjectVersion"
    assert decision.aws_message() == (
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/imgpipe-labeler/imgpipe-labeler is not "
        f"authorized to perform: s3:GetObjectVersion on resource: {BUCKET_ARN}/ingest/a.jpg "
        "because no identity-based policy allows the s3:GetObjectVersion action"
    )


def test_granting_get_object_version_fixes_it(labeler) -> None:
    fixed = json.loads(json.dumps(LABELER_POLICY))
    fixed["Statement"][2]["Action"] = ["s3:GetObject", "s3:GetObjectVersion"]
    decision = authorize(
        s3_call("GetObject", Key="ingest/a.jpg", VersionId="v"),
        labeler,
        source(fixed),
        Facts(),
        TLS,
    )
    assert decision.allowed


def test_labeler_cannot_write_outside_its_prefixes_or_delete_results(labeler) -> None:
    assert not authorize(
        s3_call("PutObject", Key="ingest/x.json"), labeler, source(), Facts(), TLS
    ).allowed
    assert not authorize(
        s3_call("DeleteObject", Key="results/x.json"), labeler, source(), Facts(), TLS
    ).allowed
    assert authorize(
        s3_call("DeleteObject", Key="failures/x.json"), labeler, source(), Facts(), TLS
    ).allowed


def test_plain_http_is_denied_by_the_bucket_policy(labeler) -> None:
    decision = authorize(
        s3_call("GetObject", Key="ingest/a.jpg"),
        labeler,
        source(),
        Facts(),
        {"aws:SecureTransport": False},
    )
    assert decision.denial.decision.value == "explicit_deny"
    assert "DenyInsecureTransport" in decision.reason()


def test_an_sse_kms_object_needs_the_key_policy_too(labeler) -> None:
    facts = Facts(object_encryption=("aws:kms", "k1"))
    decision = authorize(s3_call("GetObject", Key="ingest/a.jpg"), labeler, source(), facts, TLS)
    assert not decision.allowed
    assert decision.action == "kms:Decrypt" and decision.resource == KEY_ARN
    assert "no identity-based policy allows the kms:Decrypt action" in decision.aws_message()


# --- deliveries between services ----------------------------------------------------------------


def s3_to_sns(bucket_arn=BUCKET_ARN):
    s3 = Principal.service_principal("s3.amazonaws.com")
    call = Call("sns", "Publish", {"TopicArn": TOPIC_ARN, "Message": "{}"}, REGION, ACCOUNT)
    return call, s3, {**TLS, "aws:SourceArn": bucket_arn, "aws:SourceAccount": ACCOUNT}


def test_s3_may_publish_to_the_encrypted_topic() -> None:
    call, s3, context = s3_to_sns()
    decision = authorize(call, s3, source(), Facts(topic_key="alias/imgpipe-events"), context)
    assert decision.allowed, decision.reason()
    assert [r.request.action for r in decision.results] == [
        "sns:Publish",
        "kms:GenerateDataKey",
        "kms:Decrypt",
    ]


def test_another_bucket_may_not_publish() -> None:
    call, s3, context = s3_to_sns("arn:aws:s3:::someone-elses")
    decision = authorize(call, s3, source(), Facts(topic_key="alias/imgpipe-events"), context)
    assert not decision.allowed and decision.action == "sns:Publish"


def test_s3_without_topic_permission_is_refused() -> None:
    call, s3, context = s3_to_sns()
    without = {**TOPIC_POLICY, "Statement": TOPIC_POLICY["Statement"][1:]}
    decision = authorize(
        call, s3, source(resources={("sns", TOPIC_ARN): without}), Facts(), context
    )
    assert not decision.allowed
    assert "no resource-based policy allows the sns:Publish action" in decision.aws_message()


def test_key_policy_without_the_cloudwatch_principal_refuses_the_alarm() -> None:
    cloudwatch = Principal.service_principal("cloudwatch.amazonaws.com")
    call = Call("sns", "Publish", {"TopicArn": TOPIC_ARN, "Message": "{}"}, REGION, ACCOUNT)
    context = {**TLS, "aws:SourceArn": ALARM_ARN, "aws:SourceAccount": ACCOUNT}
    facts = Facts(topic_key="alias/imgpipe-events")
    assert authorize(call, cloudwatch, source(), facts, context).allowed
    without = {**KEY_POLICY, "Statement": KEY_POLICY["Statement"][:2]}
    decision = authorize(
        call, cloudwatch, source(resources={("kms", KEY_ARN): without}), facts, context
    )
    assert not decision.allowed
    assert decision.action == "kms:GenerateDataKey"


def test_queue_policy_without_the_topics_source_arn_refuses_sns() -> None:
    sns = Principal.service_principal("sns.amazonaws.com")
    call = Call(
        "sqs",
        "SendMessage",
        {"QueueUrl": f"http://127.0.0.1:4566/{ACCOUNT}/imgpipe-labeler", "MessageBody": "x"},
        REGION,
        ACCOUNT,
    )
    context = {**TLS, "aws:SourceArn": TOPIC_ARN}
    assert authorize(call, sns, source(), Facts(), context).allowed
    other_topic = {**context, "aws:SourceArn": f"arn:aws:sns:{REGION}:{ACCOUNT}:other"}
    assert not authorize(call, sns, source(), Facts(), other_topic).allowed


def test_aws_managed_keys_work_through_their_service_only(labeler) -> None:
    ssm_key = f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/aws/ssm"
    src = source(resources={("kms", ssm_key): managed_key_policy("ssm", ACCOUNT, REGION)})
    via = Call("ssm", "GetParameter", {"Name": "/p", "WithDecryption": True}, REGION, ACCOUNT)

    class SecureString(Facts):
        def parameter(self, *a):
            return ("SecureString", None)

    allow_param = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "ssm:GetParameter", "Resource": "*"}],
    }
    src.roles[labeler.role_arn] = {"p": allow_param}
    assert authorize(via, labeler, src, SecureString(), TLS).allowed
    direct = Call("kms", "Decrypt", {"KeyId": ssm_key, "CiphertextBlob": b"x"}, REGION, ACCOUNT)
    assert not authorize(direct, labeler, src, SecureString(), TLS).allowed
    s3 = Principal.service_principal("s3.amazonaws.com")
    sns_key = f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/aws/sns"
    src.resources[("kms", sns_key)] = managed_key_policy("sns", ACCOUNT, REGION)

    class AwsSnsTopic(Facts):
        def topic_kms_key(self, arn):
            return "alias/aws/sns"

        def kms_key_arn(self, key, region, account):
            return sns_key

    call, _, context = s3_to_sns()
    assert not authorize(call, s3, src, AwsSnsTopic(), context).allowed


def test_unmapped_operations_fail_closed(labeler) -> None:
    decision = authorize(
        Call("kms", "Decrypt", {"CiphertextBlob": b"x"}, REGION, ACCOUNT),
        labeler,
        source(),
        Facts(),
        TLS,
    )
    assert not decision.allowed
    assert "KeyId" in decision.reason()


# --- the denial record and the error shapes ------------------------------------------------------


def test_denial_record_and_log(tmp_path, labeler) -> None:
    decision = authorize(
        s3_call("GetObject", Key="ingest/a.jpg", VersionId="v"), labeler, source(), Facts(), TLS
    )
    log = DenialLog(tmp_path / "denials.jsonl")
    log.append(decision.record("enforce"))
    log.append(decision.record("audit"))
    records = list(read(tmp_path / "denials.jsonl"))
    assert [r["mode"] for r in records] == ["enforce", "audit"]
    first = records[0]
    assert first["principal"] == labeler.arn
    assert first["action"] == "s3:GetObjectVersion"
    assert first["resource"] == f"{BUCKET_ARN}/ingest/a.jpg"
    assert first["policies"] == [
        f"arn:aws:iam::{ACCOUNT}:role/imgpipe-labeler policy labeler",
        f"s3 policy of {BUCKET}",
    ]
    assert "no identity-based policy allows" in first["reason"]
    assert first["time"].endswith("Z")
    assert list(read(tmp_path / "denials.jsonl", since="2999")) == []


def test_denial_log_without_a_path_writes_nothing(tmp_path) -> None:
    DenialLog(None).append({"x": 1})


@pytest.mark.parametrize(
    "service, protocol, expected",
    [
        ("s3", "rest-xml", ("AccessDenied", 403)),
        ("sqs", "json", ("AccessDeniedException", 400)),
        ("sqs", "query", ("AccessDenied", 403)),
        ("sns", "query", ("AuthorizationError", 403)),
        ("kms", "json", ("AccessDeniedException", 400)),
        ("lambda", "rest-json", ("AccessDeniedException", 403)),
        ("sts", "query", ("AccessDenied", 403)),
        ("cloudwatch", "smithy-rpc-v2-cbor", ("AccessDeniedException", 400)),
    ],
)
def test_error_shapes_per_protocol(service, protocol, expected) -> None:
    assert error_for(service, protocol) == expected


class Missing(Facts):
    def object_exists(self, bucket, key, version_id):
        return False


def test_a_missing_object_is_404_only_for_callers_that_may_list(labeler) -> None:
    call = s3_call("GetObject", Key="results/none.json")
    assert authorize(call, labeler, source(), Missing(), TLS).allowed  # ListBucketFor404
    without = {**LABELER_POLICY, "Statement": LABELER_POLICY["Statement"][:5]}
    decision = authorize(call, labeler, source(without), Missing(), TLS)
    assert not decision.allowed
    assert decision.action == "s3:ListBucket" and decision.resource == BUCKET_ARN
    assert "s3:ListBucket" in decision.denial.request.action
