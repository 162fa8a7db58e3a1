"""The resource policies of a deployed stack, read, taken apart and put back.

Shared by the IAM tests that mutate them (test_iam_deliveries.py, test_iam_mutations.py,
test_iam_enforcement.py, which also takes one action out of a role's policy):
a topic, key, queue, bucket or function policy, or a role's trust policy, behind one
interface, a statement taken out for the length of a `with` block and the policy
restored whatever happens, and the match of a denial against the statement that was
taken away.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any


@contextmanager
def mutated(apply: Callable[[dict], None], original: dict, change: dict) -> Iterator[None]:
    """`change` in force for the block, `original` back afterwards whatever happens."""
    apply(change)
    try:
        yield
    finally:
        apply(original)


# IAM refuses a policy without statements (MalformedPolicyDocument, locally as on AWS):
# when the last one is taken out, one that grants nothing a flow needs stands in for it.
HARMLESS_IDENTITY_STATEMENT = {
    "Sid": "StandInForTheRemovedStatement",
    "Effect": "Allow",
    "Action": "sts:GetCallerIdentity",  # needs no permission anyway
    "Resource": "*",
}


def harmless_trust_statement(role_arn: str) -> dict:
    """The trust AWS's console gives a new role: the account itself, no service."""
    account = role_arn.split(":")[4]
    return {
        "Sid": "StandInForTheRemovedStatement",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
        "Action": "sts:AssumeRole",
    }


def without_statement(document: dict, sid: str | set[str], stand_in: dict | None = None) -> dict:
    """The document without the statement(s) `sid`; `stand_in`, if given, when none would
    be left (resource policies may be empty, identity and trust policies not)."""
    removed = {sid} if isinstance(sid, str) else sid
    kept = [s for s in document["Statement"] if s.get("Sid") not in removed]
    assert len(kept) < len(document["Statement"]), f"no statement {sid}: infra/ changed?"
    return document | {"Statement": kept or ([stand_in] if stand_in else [])}


def without_action(document: dict, action: str) -> dict:
    """The (identity) policy with `action` taken out of every statement, an emptied
    statement dropped."""
    statements = []
    for statement in document["Statement"]:
        kept = [a for a in _listed(statement["Action"]) if a != action]
        if kept:
            statements.append(statement | {"Action": kept})
    assert statements != document["Statement"], f"no statement grants {action}: infra/ changed?"
    return document | {"Statement": statements}


def _listed(value: Any) -> list:
    return [value] if isinstance(value, str) else list(value)


@dataclass(frozen=True)
class ResourcePolicy:
    """One resource policy: `resource` is the ARN denials name, `read` and `write` the
    document as the service's API takes it."""

    name: str
    resource: str
    read: Callable[[], dict]
    write: Callable[[dict], None]
    stand_in: dict | None = None  # for the last statement (None: an empty list is valid)

    def statements(self) -> list[dict]:
        return self.read()["Statement"]

    @contextmanager
    def without(self, sid: str) -> Iterator[dict]:
        """The policy without statement `sid` for the block (which gets the statement),
        then the policy as it was."""
        original = self.read()
        (statement,) = [s for s in original["Statement"] if s.get("Sid") == sid]
        change = without_statement(original, sid, self.stand_in)
        with mutated(self.write, original, change):
            yield statement

    def denies(self, statement: dict) -> Callable[[dict], bool]:
        """Whether a denial is the one the missing `statement` causes: the statement's
        service principal refused one of its actions on this resource."""
        principals = set(_listed(statement.get("Principal", {}).get("Service", [])))
        actions = _listed(statement["Action"])

        def match(denial: dict) -> bool:
            action, resource = str(denial.get("action", "")), str(denial.get("resource", ""))
            return (
                denial.get("principal") in principals
                and any(fnmatch.fnmatchcase(action, pattern) for pattern in actions)
                and (resource == self.resource or resource.startswith(self.resource + ":"))
            )

        return match


def topic(sns, arn: str, name: str) -> ResourcePolicy:
    def read() -> dict:
        return json.loads(sns.get_topic_attributes(TopicArn=arn)["Attributes"]["Policy"])

    def write(document: dict) -> None:
        sns.set_topic_attributes(
            TopicArn=arn, AttributeName="Policy", AttributeValue=json.dumps(document)
        )

    return ResourcePolicy(name, arn, read, write)


def topic_key(sns, kms, topic_arn: str, name: str) -> ResourcePolicy:
    """The KMS key that encrypts the topic, by its key policy."""
    key = sns.get_topic_attributes(TopicArn=topic_arn)["Attributes"]["KmsMasterKeyId"]
    arn = kms.describe_key(KeyId=key)["KeyMetadata"]["Arn"]

    def read() -> dict:
        return json.loads(kms.get_key_policy(KeyId=arn, PolicyName="default")["Policy"])

    def write(document: dict) -> None:
        kms.put_key_policy(KeyId=arn, PolicyName="default", Policy=json.dumps(document))

    return ResourcePolicy(name, arn, read, write)


def queue(sqs, url: str, name: str) -> ResourcePolicy:
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]

    def read() -> dict:
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])
        return json.loads(attributes["Attributes"].get("Policy") or '{"Statement": []}')

    def write(document: dict) -> None:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(document)})

    return ResourcePolicy(name, arn, read, write)


def function(lambda_client, function_name: str, name: str) -> ResourcePolicy:
    """A function's Lambda permissions: written as RemovePermission and AddPermission of
    the statements that differ (Lambda has no PutPolicy)."""
    arn = lambda_client.get_function_configuration(FunctionName=function_name)["FunctionArn"]

    def read() -> dict:
        try:
            return json.loads(lambda_client.get_policy(FunctionName=function_name)["Policy"])
        except lambda_client.exceptions.ResourceNotFoundException:
            return {"Statement": []}

    def write(document: dict) -> None:
        current = {s["Sid"]: s for s in read()["Statement"]}
        wanted = {s["Sid"]: s for s in document["Statement"]}
        for sid in current.keys() - wanted.keys():
            lambda_client.remove_permission(FunctionName=function_name, StatementId=sid)
        for sid in wanted.keys() - current.keys():
            lambda_client.add_permission(FunctionName=function_name, **_permission(wanted[sid]))

    return ResourcePolicy(name, arn, read, write)


def _permission(statement: dict) -> dict[str, str]:
    """AddPermission's arguments that give back a statement of GetPolicy."""
    condition = statement.get("Condition", {})
    source_arn = condition.get("ArnLike", {}).get("AWS:SourceArn")
    source_account = condition.get("StringEquals", {}).get("AWS:SourceAccount")
    return {
        "StatementId": statement["Sid"],
        "Action": _listed(statement["Action"])[0],
        "Principal": statement["Principal"]["Service"],
        **({"SourceArn": source_arn} if source_arn else {}),
        **({"SourceAccount": source_account} if source_account else {}),
    }


def role_trust(iam, role_arn: str, name: str) -> ResourcePolicy:
    """A role's trust policy: the resource policy of the role, which the service that
    assumes it (Lambda, Scheduler) must be allowed by."""
    role = role_arn.rsplit("/", 1)[1]

    def read() -> dict:
        return iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]

    def write(document: dict) -> None:
        iam.update_assume_role_policy(RoleName=role, PolicyDocument=json.dumps(document))

    return ResourcePolicy(name, role_arn, read, write, harmless_trust_statement(role_arn))


def scheduler_role_arn(outputs: dict, scheduler) -> str:
    """The role the loader's schedules run with (every schedule shares it)."""
    first = outputs["catalog"]["schedules"][0]
    schedule = scheduler.get_schedule(Name=first["name"], GroupName=first["group"])
    return schedule["Target"]["RoleArn"]


def deployed(outputs: dict, client: Callable[[str], Any]) -> list[ResourcePolicy]:
    """Every resource policy of the stack the outputs describe (envs/* share them): the
    topics and the topic key, every queue, the buckets, the functions' permissions, and
    the trust policies of the functions' roles and of the schedules' role."""
    sns, sqs = client("sns"), client("sqs")
    catalog = outputs["catalog"]
    policies = [
        topic(sns, outputs["topic_arn"], "events topic"),
        topic_key(sns, client("kms"), outputs["topic_arn"], "events topic key"),
        topic(sns, outputs["alerts_fallback_topic_arn"], "alerts fallback topic"),
        queue(sqs, outputs["queue_url"], "labeler queue"),
        queue(sqs, outputs["dlq_url"], "labeler DLQ"),
        queue(sqs, outputs["notifier_failures_queue_url"], "notifier failures queue"),
        queue(sqs, catalog["queue_url"], "catalog work queue"),
        queue(sqs, catalog["dlq_url"], "catalog DLQ"),
        queue(sqs, catalog["resize_failures_queue_url"], "resize failures queue"),
    ]
    s3 = client("s3")
    for name, bucket in (
        ("images bucket", outputs["bucket"]),
        ("upload bucket", catalog["upload_bucket"]),
        ("served bucket", catalog["served_bucket"]),
    ):
        policies.append(bucket_policy(s3, bucket, name))
    lambda_client = client("lambda")
    for name, function_name in (
        ("labeler permissions", outputs["labeler_function"]),
        ("notifier permissions", outputs["notifier_function"]),
        ("resize permissions", catalog["resize_function"]),
        ("loader permissions", catalog["loader_function"]),
    ):
        policies.append(function(lambda_client, function_name, name))
        role = lambda_client.get_function_configuration(FunctionName=function_name)["Role"]
        policies.append(role_trust(client("iam"), role, name.replace("permissions", "trust")))
    scheduler_role = scheduler_role_arn(outputs, client("scheduler"))
    policies.append(role_trust(client("iam"), scheduler_role, "scheduler trust"))
    return policies


def bucket_policy(s3, bucket: str, name: str) -> ResourcePolicy:
    def read() -> dict:
        try:
            return json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
        except s3.exceptions.ClientError as exc:
            if exc.response["Error"]["Code"] == "NoSuchBucketPolicy":
                return {"Statement": []}
            raise

    def write(document: dict) -> None:
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(document))

    return ResourcePolicy(name, f"arn:aws:s3:::{bucket}", read, write)
