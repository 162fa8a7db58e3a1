"""Policies, caller identities and resource facts, read from LocalStack's own stores.

Runs only inside LocalStack (imports `localstack.*` and `moto.*`). Everything is read at
request time, so a policy changed by Terraform counts from the next request on; parsed
policies are cached by their text.

Where each thing lives in LocalStack 4.13 (community):
- role sessions: moto `sts_backends[account][partition].assumed_roles` (access key ->
  role ARN + session name; LocalStack's Lambda service assumes the function's role for
  every execution environment, session name = function name);
- roles and their inline/attached policies: moto `iam_backends[account][partition]`;
- bucket policy and object encryption: `localstack.services.s3.models.s3_stores`;
- queue policy and KMS key: `localstack.services.sqs.models.sqs_stores` (attributes);
- topic policy and KMS key: moto `sns_backends` (the default SNS provider keeps topics
  there);
- key policy and aliases: `localstack.services.kms.models.kms_stores`;
- function policy: `localstack.services.lambda_.invocation.models.lambda_stores`
  (`Function.permissions[qualifier]`);
- secret policy and key: moto `secretsmanager_backends`; parameters: moto `ssm_backends`.
"""

from __future__ import annotations

import json
import logging
from functools import lru_cache

from .evaluation import Principal, parse_or_deny
from .managed_keys import managed_key_policy, service_of_alias
from .policy import Policy

LOG = logging.getLogger(__name__)


@lru_cache(maxsize=1024)
def _parsed(document: str, name: str, kind: str) -> Policy:
    return parse_or_deny(document, name, kind)


def _text(document: object) -> str:
    return document if isinstance(document, str) else json.dumps(document, sort_keys=True)


def _arn_parts(arn: str) -> list[str]:
    return arn.split(":", 5) if arn.startswith("arn:") else []


class Sessions:
    """Access key -> role session. Keys that are not role sessions are remembered too:
    a key unknown now can never become a session key later (STS makes new ones)."""

    def __init__(self) -> None:
        self._known: dict[str, Principal | None] = {}

    def principal(self, access_key: str, account: str, partition: str = "aws") -> Principal | None:
        if access_key in self._known:
            return self._known[access_key]
        found = self._lookup(access_key, account, partition)
        if found is not None or len(self._known) < 100_000:
            self._known[access_key] = found
        return found

    @staticmethod
    def _lookup(access_key: str, account: str, partition: str) -> Principal | None:
        from moto.iam.models import iam_backends
        from moto.sts.models import sts_backends

        try:
            backend = sts_backends[account][partition]
        except KeyError:
            return None
        session = backend.get_assumed_role_from_access_key(access_key)
        if session is None:
            return None
        role_id = None
        try:
            role_id = (
                iam_backends[session.account_id][partition].get_role_by_arn(session.role_arn).id
            )
        except Exception:  # the role may have been deleted since
            role_id = None
        return Principal.assumed_role(session.role_arn, session.session_name, role_id)


class StorePolicies:
    """The `PolicySource` of the extension."""

    def __init__(self, partition: str = "aws") -> None:
        self.partition = partition

    # --- identity -------------------------------------------------------------------------

    def identity_policies(self, principal: Principal) -> list[Policy]:
        from moto.iam.models import iam_backends

        if not principal.role_arn or not principal.account:
            return []
        try:
            role = iam_backends[principal.account][self.partition].get_role_by_arn(
                principal.role_arn
            )
        except Exception:
            return []
        role_name = role.name
        policies = [
            _parsed(_text(doc), f"role {role_name} inline policy {name}", "identity")
            for name, doc in sorted(role.policies.items())
        ]
        for arn, managed in sorted(role.managed_policies.items()):
            version = next((v for v in managed.versions if v.is_default), None)
            if version is not None:
                policies.append(
                    _parsed(_text(version.document), f"role {role_name} policy {arn}", "identity")
                )
        return policies

    # --- resources ------------------------------------------------------------------------

    def resource_policy(self, kind: str, identifier: str) -> Policy | None:
        reader = getattr(self, f"_policy_{kind.replace('-', '_')}", None)
        if reader is None:
            return None
        try:
            return reader(identifier)
        except Exception:
            LOG.exception("harness_iam: cannot read the %s policy of %s", kind, identifier)
            raise

    def _policy_s3(self, bucket_name: str) -> Policy | None:
        bucket = _bucket(bucket_name)
        if bucket is None or not bucket.policy:
            return None
        return _parsed(_text(bucket.policy), f"bucket policy of {bucket_name}", "resource")

    def _policy_sqs(self, queue_arn: str) -> Policy | None:
        queue = _queue(queue_arn)
        policy = queue.attributes.get("Policy") if queue else None
        if not policy:
            return None
        return _parsed(_text(policy), f"queue policy of {queue_arn}", "resource")

    def _policy_sns(self, topic_arn: str) -> Policy | None:
        topic = _topic(topic_arn)
        if topic is None or not topic.policy:
            return None
        return _parsed(_text(topic.policy), f"topic policy of {topic_arn}", "resource")

    def _policy_kms(self, key_arn: str) -> Policy | None:
        parts = _arn_parts(key_arn)
        if not parts:
            return None
        account, region = parts[4], parts[3]
        resource = parts[5]
        if resource.startswith("alias/"):
            service = service_of_alias(resource)
            if service:
                return managed_key_policy(service, account, region, parts[1])
            return None
        key = _kms_key(account, region, resource.removeprefix("key/"))
        if key is None:
            return None
        if key.metadata.get("KeyManager") == "AWS":
            service = _managed_key_service(account, region, key.metadata.get("KeyId"))
            if service:
                return managed_key_policy(service, account, region, parts[1])
        return _parsed(_text(key.policy), f"key policy of {key_arn}", "resource")

    def _policy_lambda(self, function_arn: str) -> Policy | None:
        from localstack.services.lambda_.invocation.models import lambda_stores

        parts = function_arn.split(":")
        if len(parts) < 7:
            return None
        account, region, name = parts[4], parts[3], parts[6]
        qualifier = parts[7] if len(parts) > 7 else "$LATEST"
        function = lambda_stores[account][region].functions.get(name)
        if function is None:
            return None
        permission = function.permissions.get(qualifier)
        if permission is None or not permission.policy.Statement:
            return None
        document = {
            "Version": permission.policy.Version or "2012-10-17",
            "Statement": permission.policy.Statement,
        }
        return _parsed(_text(document), f"function policy of {function_arn}", "resource")

    def _policy_secretsmanager(self, secret_arn: str) -> Policy | None:
        secret = _secret(secret_arn)
        if secret is None or not getattr(secret, "policy", None):
            return None
        return _parsed(_text(secret.policy), f"secret policy of {secret_arn}", "resource")

    def _policy_iam_role(self, role_arn: str) -> Policy | None:
        from moto.iam.models import iam_backends

        parts = _arn_parts(role_arn)
        if not parts:
            return None
        try:
            role = iam_backends[parts[4]][parts[1]].get_role_by_arn(role_arn)
        except Exception:
            return None
        return _parsed(
            _text(role.assume_role_policy_document), f"trust policy of {role_arn}", "resource"
        )


class StoreFacts:
    """The `ResourceFacts` of the extension."""

    def object_encryption(self, bucket_name, key, version_id):
        obj = _object(bucket_name, key, version_id)
        if not obj or not getattr(obj, "encryption", None):
            return None
        return (obj.encryption, obj.kms_key_id)

    def object_exists(self, bucket_name, key, version_id):
        obj = _object(bucket_name, key, version_id)
        return None if obj is None else obj is not False

    def bucket_encryption(self, bucket_name):
        bucket = _bucket(bucket_name)
        rule = getattr(bucket, "encryption_rule", None) if bucket else None
        default = (rule or {}).get("ApplyServerSideEncryptionByDefault") or {}
        if not default.get("SSEAlgorithm"):
            return None
        return (default["SSEAlgorithm"], default.get("KMSMasterKeyID"))

    def bucket_exists(self, bucket_name):
        return _bucket(bucket_name) is not None

    def queue_kms_key(self, queue_arn):
        queue = _queue(queue_arn)
        return queue.attributes.get("KmsMasterKeyId") or None if queue else None

    def topic_kms_key(self, topic_arn):
        topic = _topic(topic_arn)
        return (topic.kms_master_key_id or None) if topic else None

    def kms_key_arn(self, key, region, account):
        from localstack.services.kms.models import kms_stores

        partition = "aws"
        if key.startswith("arn:"):
            parts = _arn_parts(key)
            partition, region, account, resource = parts[1], parts[3], parts[4], parts[5]
        else:
            resource = key if key.startswith("alias/") else f"key/{key}"
        store = kms_stores[account][region]
        if resource.startswith("alias/"):
            alias = store.aliases.get(resource)
            if alias is None:
                # AWS-managed aliases exist before LocalStack creates their key.
                return f"arn:{partition}:kms:{region}:{account}:{resource}"
            resource = "key/" + alias.metadata["TargetKeyId"]
        return f"arn:{partition}:kms:{region}:{account}:{resource}"

    def secret_arn(self, secret_id, region, account):
        secret = _secret(secret_id, region, account)
        return secret.arn if secret is not None else None

    def secret_kms_key(self, secret_arn):
        secret = _secret(secret_arn)
        key = getattr(secret, "kms_key_id", None) if secret is not None else None
        return key or None

    def parameter(self, name, region, account):
        from moto.ssm.models import ssm_backends

        try:
            found = ssm_backends[account][region].get_parameter(name)
        except Exception:
            return None
        return None if found is None else (found.parameter_type, found.keyid)


# --- store lookups -----------------------------------------------------------------------


def _bucket(name: str):
    from localstack.constants import AWS_REGION_US_EAST_1, DEFAULT_AWS_ACCOUNT_ID
    from localstack.services.s3.models import s3_stores

    # The bucket-name -> account map is shared by all accounts; buckets by all regions.
    owners = s3_stores[DEFAULT_AWS_ACCOUNT_ID][AWS_REGION_US_EAST_1].global_bucket_map
    account = owners.get(name)
    if account is None:
        return None
    return s3_stores[account][AWS_REGION_US_EAST_1].buckets.get(name)


def _object(bucket_name: str, key: str, version_id: str | None):
    """The stored object (version); False if the bucket has no such object or the current
    version is a delete marker; None if the bucket is unknown."""
    bucket = _bucket(bucket_name)
    if bucket is None:
        return None
    try:
        obj = bucket.objects.get(key, version_id) if version_id else bucket.objects.get(key)
    except TypeError:  # an unversioned key store takes no version id
        obj = bucket.objects.get(key)
    except Exception:
        return None
    if obj is None or type(obj).__name__ == "S3DeleteMarker":
        return False
    return obj


def _queue(queue_arn: str):
    from localstack.services.sqs.models import sqs_stores

    parts = _arn_parts(queue_arn)
    if not parts:
        return None
    return sqs_stores[parts[4]][parts[3]].queues.get(parts[5])


def _topic(topic_arn: str):
    from moto.sns.models import sns_backends

    parts = _arn_parts(topic_arn)
    if not parts:
        return None
    return sns_backends[parts[4]][parts[3]].topics.get(topic_arn)


def _kms_key(account: str, region: str, key_id: str):
    from localstack.services.kms.models import kms_stores

    return kms_stores[account][region].keys.get(key_id)


def _managed_key_service(account: str, region: str, key_id: str | None) -> str | None:
    from localstack.services.kms.models import kms_stores

    for name, alias in kms_stores[account][region].aliases.items():
        if alias.metadata.get("TargetKeyId") == key_id:
            return service_of_alias(name)
    return None


def _secret(secret_id: str, region: str | None = None, account: str | None = None):
    from moto.secretsmanager.models import secretsmanager_backends

    parts = _arn_parts(secret_id)
    if parts:
        region, account = parts[3], parts[4]
    if not region or not account:
        return None
    return secretsmanager_backends[account][region].secrets.get(secret_id)


__all__ = ["Sessions", "StoreFacts", "StorePolicies"]
