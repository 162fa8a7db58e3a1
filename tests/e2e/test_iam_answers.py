"""What a refused caller gets back from the enforced local stack (issue 12, items 2 and 4).

A role of the test's own is assumed with STS, as a function's process assumes its
execution role; its calls are then checked by the stack's IAM.

- Each protocol answers a refusal in its own shape, as AWS does: S3 (rest-xml)
  `AccessDenied` 403 in XML; SNS (query) `AuthorizationError` 403 and IAM (query)
  `AccessDenied` 403, both in XML; Secrets Manager (json) `AccessDeniedException` 400
  and Lambda (rest-json) `AccessDeniedException` 403, both in JSON. The raw body is
  looked at, not only what boto3 parsed out of it.
- A policy with a condition operator the evaluator does not know fails closed, and the
  denial names the statement, the operator and the key. IAM refuses such an operator
  in an identity policy (as AWS does), so it sits in a queue policy, which is not
  validated when it is set.
"""

from __future__ import annotations

import json
import time
import uuid

import pytest
from botocore.exceptions import ClientError

from harness.observe import denials
from harness.runtime import aws
from harness.util.waiting import wait_for

UNKNOWN_OPERATOR = "StringMatchesRegex"


@pytest.fixture(scope="module")
def probe_queue(aws_client):
    """A queue whose policy denies sends unless an operator nobody knows says so."""
    sqs = aws_client("sqs")
    url = sqs.create_queue(QueueName=f"iam-answers-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "OnlyThroughOurEndpoint",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "sqs:SendMessage",
                "Resource": arn,
                "Condition": {UNKNOWN_OPERATOR: {"aws:SourceVpce": "vpce-.*"}},
            }
        ],
    }
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    yield url, arn
    sqs.delete_queue(QueueUrl=url)


@pytest.fixture(scope="module")
def session(aws_client, harness_settings, probe_queue):
    """Credentials of a role that may send to the probe queue and do nothing else."""
    iam = aws_client("iam")
    account = aws_client("sts").get_caller_identity()["Account"]
    name = f"iam-answers-{uuid.uuid4().hex[:8]}"
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    send = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Send",
                "Effect": "Allow",
                "Action": "sqs:SendMessage",
                "Resource": probe_queue[1],
            }
        ],
    }
    iam.put_role_policy(RoleName=name, PolicyName="send", PolicyDocument=json.dumps(send))
    credentials = aws_client("sts").assume_role(RoleArn=role["Arn"], RoleSessionName="answers")
    yield name, credentials["Credentials"]
    iam.delete_role_policy(RoleName=name, PolicyName="send")
    iam.delete_role(RoleName=name)


def refused(client, call) -> tuple[dict, bytes]:
    """The parsed error and the raw body of a call that must be refused."""
    bodies: list[bytes] = []
    client.meta.events.register(
        "before-parse", lambda response_dict, **_: bodies.append(response_dict["body"])
    )
    with pytest.raises(ClientError) as caught:
        call(client)
    return caught.value.response, bodies[-1]


# service -> (a call its session is refused, AWS's error code, HTTP status, body format);
# a call gets the deployment's outputs and the probe role's name.
REFUSALS = {
    "s3": (
        lambda c, out, role: c.get_object(Bucket=out["bucket"], Key="ingest/a.jpg"),
        ("AccessDenied", 403, "xml"),
    ),
    "sns": (
        lambda c, out, role: c.publish(TopicArn=out["topic_arn"], Message="x"),
        ("AuthorizationError", 403, "xml"),
    ),
    "iam": (lambda c, out, role: c.get_role(RoleName=role), ("AccessDenied", 403, "xml")),
    "secretsmanager": (
        lambda c, out, role: c.list_secrets(),
        ("AccessDeniedException", 400, "json"),
    ),
    "lambda": (
        lambda c, out, role: c.get_function(FunctionName=out["labeler_function"]),
        ("AccessDeniedException", 403, "json"),
    ),
}


@pytest.mark.parametrize("service", sorted(REFUSALS))
def test_a_refusal_comes_in_the_protocols_own_shape(
    harness_settings, local_deployment, session, service
):
    assert harness_settings.iam == "enforce", "run the e2e tests with IAM enforced"
    role, credentials = session
    call, (code, status, body) = REFUSALS[service]
    client = aws.client(service, harness_settings, credentials=credentials)
    error, raw = refused(client, lambda c: call(c, local_deployment, role))
    assert error["Error"]["Code"] == code
    assert error["ResponseMetadata"]["HTTPStatusCode"] == status
    if body == "xml":
        assert raw.lstrip().startswith(b"<"), raw[:200]
        assert f"<Code>{code}</Code>".encode() in raw, raw[:400]
    else:
        assert json.loads(raw)["__type"].rsplit("#", 1)[-1] == code, raw[:400]
    assert "is not authorized to perform" in error["Error"]["Message"]


def test_an_operator_the_evaluator_does_not_know_fails_closed_and_is_named(
    harness_settings, session, probe_queue
):
    assert harness_settings.iam == "enforce", "run the e2e tests with IAM enforced"
    _, credentials = session
    url, arn = probe_queue
    since = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
    sqs = aws.client("sqs", harness_settings, credentials=credentials)
    with pytest.raises(ClientError):
        sqs.send_message(QueueUrl=url, MessageBody="never delivered")

    def denial() -> dict | None:
        return next(
            (
                d
                for d in denials.read(harness_settings.iam_denials, since)
                if d.get("action") == "sqs:SendMessage" and d.get("resource") == arn
            ),
            None,
        )

    found = wait_for(denial, timeout=10, what=f"the denial of sqs:SendMessage on {arn}")
    for named in ("OnlyThroughOurEndpoint", UNKNOWN_OPERATOR, "aws:SourceVpce"):
        assert named in found["reason"], found["reason"]
    assert found["unsupported"], found
    assert found["enforced"] is True
    attributes = aws.client("sqs", harness_settings).get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
    )
    assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "0"
