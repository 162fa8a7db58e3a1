"""Policies and resource facts as plain data, standing in for LocalStack's stores (the
`PolicySource` and `ResourceFacts` the authorizer reads), for the evaluator's tests."""

from __future__ import annotations

from harness_iam import Policy, parse_or_deny

from .conftest import ACCOUNT, REGION

BUCKET = "imgpipe-images"
BUCKET_ARN = f"arn:aws:s3:::{BUCKET}"
QUEUE_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT}:imgpipe-labeler"
TOPIC_ARN = f"arn:aws:sns:{REGION}:{ACCOUNT}:imgpipe-events"
KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/k1"


class Source:
    """Policies as dicts: identity policies per role ARN, resource policies per (kind, id)."""

    def __init__(self, roles=None, resources=None):
        self.roles = roles or {}
        self.resources = resources or {}

    def identity_policies(self, principal):
        return [
            parse_or_deny(doc, f"{principal.role_arn} policy {name}", "identity")
            for name, doc in self.roles.get(principal.role_arn, {}).items()
        ]

    def resource_policy(self, kind, identifier):
        doc = self.resources.get((kind, identifier))
        if doc is None:
            return None
        if isinstance(doc, Policy):
            return doc
        return parse_or_deny(doc, f"{kind} policy of {identifier}", "resource")


class Facts:
    def __init__(self, topic_key=None, object_encryption=None):
        self.topic_key = topic_key
        self.encryption = object_encryption

    def object_encryption(self, bucket, key, version_id):
        return self.encryption

    def bucket_encryption(self, bucket):
        return None

    def bucket_exists(self, bucket):
        return None

    def object_exists(self, bucket, key, version_id):
        return None

    def queue_kms_key(self, arn):
        return None

    def topic_kms_key(self, arn):
        return self.topic_key

    def kms_key_arn(self, key, region, account):
        return KEY_ARN if key in ("k1", "alias/imgpipe-events", KEY_ARN) else None

    def secret_arn(self, *a):
        return None

    def secret_kms_key(self, arn):
        return None

    def parameter(self, *a):
        return None
