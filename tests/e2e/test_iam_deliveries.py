"""Deliveries between services are checked too (issue 12, part 3).

On AWS an S3 notification, an SNS fan-out and an alarm action are deliveries by a service
principal (`s3.amazonaws.com`, `sns.amazonaws.com`, `cloudwatch.amazonaws.com`) with
`aws:SourceArn` naming the bucket, topic or alarm: the topic, queue and key policies must
allow them, or the event is silently dropped. The local stack checks them the same way
(harness_iam, `HARNESS_IAM_DELIVERIES`, on by default).

Each denied delivery below mutates one policy of the deployed stack, as a mistake in
infra/ would, and restores it in `finally`: the event must stay undelivered, and the
denial must be listed by `harness iam denials` with the service principal, the action,
the resource and the source ARN. The event source mapping is no service principal: it
polls with the function's role session, whose sqs:ReceiveMessage is checked like any call
of the function. The last test is the control: a plain labeling run with deliveries
checked logs no denial at all.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import resource_policies
from click.testing import CliRunner
from resource_policies import mutated
from samples import unique_folder

from harness.build.fixtures import ImageSpec, render
from harness.cli.app import main
from harness.observe import denials
from harness.util.waiting import wait_for

JPEG = render(ImageSpec(seed=3))
# Long enough for S3 -> SNS -> SQS -> labeler -> result on a loaded machine (a normal
# run takes 1-3 s), so that "no result yet" means "never delivered".
QUIET_SECONDS = 12


def listed_denials(since: str) -> list[dict[str, Any]]:
    """What `harness iam denials --json` lists from `since` on: the user's view."""
    shown = CliRunner().invoke(main, ["iam", "denials", "--json", "--since", since])
    assert shown.exit_code == 0, shown.output
    return json.loads(shown.output)


def wait_for_denial(since: str, what: str, match: Callable[[dict[str, Any]], bool]) -> dict:
    found = wait_for(
        lambda: [d for d in listed_denials(since) if match(d)],
        timeout=60,
        what=f"the denial of {what} in `harness iam denials`",
        interval=1,
    )
    return found[0]


def assert_undelivered(labeling, key: str) -> None:
    """Nothing reached the queue, the labeler, the DLQ or the results."""
    time.sleep(QUIET_SECONDS)
    assert labeling.result(key) is None, f"{key} was labeled: the event was delivered"
    assert labeling.queue_depth() == 0
    assert not [ls for ls in labeling.dead_letters() if key in ls.objects]
    assert labeling.read_json(labeling.failure_key(key)) is None


def new_key() -> str:
    return unique_folder() + "delivery.jpg"


def test_deliveries_are_checked_in_this_stack(harness_settings):
    assert harness_settings.iam == "enforce", "run the e2e tests with IAM enforced"
    assert harness_settings.iam_deliveries, "run the e2e tests with HARNESS_IAM_DELIVERIES=1"


def test_s3_without_topic_permission_leaves_the_upload_undelivered(labeling, aws_client):
    topic = labeling.outputs["topic_arn"]
    policy = resource_policies.topic(aws_client("sns"), topic, "events topic")
    since = denials.iso(time.time() - 1)
    key = new_key()
    with policy.without("AllowS3EventNotifications") as statement:
        labeling.upload(key, JPEG)
        denial = wait_for_denial(since, "S3's publish", policy.denies(statement))
        assert_undelivered(labeling, key)

    assert denial["action"] == "sns:Publish" and denial["principal"] == "s3.amazonaws.com"
    assert denial["enforced"] is True and denial["decision"] == "implicit_deny"
    assert denial["context"]["aws:SourceArn"] == f"arn:aws:s3:::{labeling.bucket}"
    assert "topic policy" in " ".join(denial["policies"])


def test_queue_policy_without_the_topics_source_arn_leaves_the_message_undelivered(
    labeling, aws_client
):
    sqs = aws_client("sqs")
    url = labeling.outputs["queue_url"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy", "QueueArn"])
    queue_arn = attributes["Attributes"]["QueueArn"]
    original = json.loads(attributes["Attributes"]["Policy"])
    topic = labeling.outputs["topic_arn"]
    other_topic = topic.rsplit(":", 1)[0] + ":someone-elses-topic"
    change = json.loads(json.dumps(original).replace(json.dumps(topic), json.dumps(other_topic)))
    assert change != original, "the queue policy does not name the topic: infra/ changed?"

    def apply(document: dict) -> None:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(document)})

    since = denials.iso(time.time() - 1)
    key = new_key()
    with mutated(apply, original, change):
        labeling.upload(key, JPEG)
        denial = wait_for_denial(
            since,
            "SNS's delivery to the queue",
            lambda d: d.get("principal") == "sns.amazonaws.com" and d.get("resource") == queue_arn,
        )
        assert_undelivered(labeling, key)

    assert denial["action"] == "sqs:SendMessage"
    assert denial["enforced"] is True
    assert denial["context"]["aws:SourceArn"] == topic


def test_key_policy_without_the_cloudwatch_principal_leaves_the_alarm_undelivered(
    labeling, aws_client
):
    topic = labeling.outputs["topic_arn"]
    policy = resource_policies.topic_key(aws_client("sns"), aws_client("kms"), topic, "topic key")

    reason = f"key policy test {uuid.uuid4().hex[:8]}"  # this test's posts, no other's

    def alarm(state: str) -> None:
        labeling.cloudwatch.set_alarm_state(
            AlarmName=labeling.outputs["alarm_name"], StateValue=state, StateReason=reason
        )

    since = denials.iso(time.time() - 1)
    with policy.without("AllowCloudWatchAlarms") as statement:
        alarm("ALARM")
        denial = wait_for_denial(since, "the alarm's publish", policy.denies(statement))
        time.sleep(QUIET_SECONDS)
        reached = labeling.slack.messages(include_failed=True, containing=reason)
        assert reached == [], "the alarm reached Slack"

    assert denial["action"] == "kms:GenerateDataKey" and denial["resource"] == policy.resource
    assert (denial["service"], denial["operation"]) == ("sns", "Publish")
    assert denial["context"]["aws:SourceArn"] == labeling.outputs["alarm_arn"]
    assert "key policy" in " ".join(denial["policies"])

    # Key policy restored: the same transition reaches Slack (CloudWatch -> SNS with its
    # key -> the notifier through its Lambda permission), with no denial on the way.
    restored = denials.iso(time.time())
    alarm("OK")
    alarm("ALARM")
    try:
        messages = labeling.slack.wait_for_messages(1, timeout=120, containing=reason)
        assert labeling.outputs["alarm_name"] in json.dumps(messages)
        assert listed_denials(restored) == []
    finally:
        alarm("OK")


def wait_for_role_denial(since: str, action: str, role: str) -> dict:
    return wait_for_denial(
        since,
        f"{action} by {role}",
        lambda d: d.get("action") == action and str(d.get("role")).endswith(f":role/{role}"),
    )


@contextmanager
def labeler_role_without(aws_client, labeling, action: str) -> Iterator[str]:
    """The labeler's role without `action` for the block (its name yielded), as deployed
    afterwards whatever happens."""
    iam = aws_client("iam")
    function = labeling.outputs["labeler_function"]
    role_arn = aws_client("lambda").get_function_configuration(FunctionName=function)["Role"]
    role = role_arn.rsplit("/", 1)[1]
    original = iam.get_role_policy(RoleName=role, PolicyName="labeler")["PolicyDocument"]

    def apply(document: dict) -> None:
        iam.put_role_policy(
            RoleName=role, PolicyName="labeler", PolicyDocument=json.dumps(document)
        )

    with mutated(apply, original, resource_policies.without_action(original, action)):
        yield role


def test_the_mapping_polls_with_the_function_role_and_needs_receive_message(labeling, aws_client):
    """Not a service principal: the event source mapping polls the queue with the
    labeler's role session (LocalStack assumes the role, as Lambda does), so the role's
    sqs:ReceiveMessage is what lets the message out of the queue."""
    since = denials.iso(time.time() - 1)
    key = new_key()
    with labeler_role_without(aws_client, labeling, "sqs:ReceiveMessage") as role:
        # The mapping long-polls (2 s here, 20 s on AWS, where a policy change also takes
        # a while to reach every service): a receive already waiting when the grant went
        # may still take a message. The first refused receive shows the change holds.
        denial = wait_for_role_denial(since, "sqs:ReceiveMessage", role)
        labeling.upload(key, JPEG)
        time.sleep(QUIET_SECONDS)
        assert labeling.result(key) is None, f"{key} was labeled without sqs:ReceiveMessage"
        assert labeling.queue_depth() == 1, "the message must wait in the queue"
    assert denial["resource"].endswith(":" + labeling.outputs["queue_name"])

    # Restored: the mapping's next poll (it backs off at most 5 s after errors) gets it.
    assert labeling.wait_result(key, timeout=90)["source"]["key"] == key


def test_the_mapping_deletes_with_the_function_role_and_needs_delete_message(labeling, aws_client):
    """The mapping deletes a batch the function handled with the same role session: without
    sqs:DeleteMessage the image is labeled, yet its message stays on the queue, to be
    delivered again once its visibility ends (as on AWS), until the role may delete it."""
    since = denials.iso(time.time() - 1)
    key = new_key()
    with labeler_role_without(aws_client, labeling, "sqs:DeleteMessage") as role:
        labeling.upload(key, JPEG)
        denial = wait_for_role_denial(since, "sqs:DeleteMessage", role)
        assert labeling.result(key)["source"]["key"] == key, "handled before the delete"
        assert labeling.queue_depth() == 1, "the message must stay (visible or in flight)"
    assert denial["resource"].endswith(":" + labeling.outputs["queue_name"])

    # Restored: the next delivery (after the visibility timeout) is deleted for good.
    wait_for(
        lambda: labeling.queue_depth() == 0,
        timeout=120,
        what=f"the message of {key} deleted",
        interval=2,
    )
    assert not [ls for ls in labeling.dead_letters() if key in ls.objects]


def test_a_labeling_run_with_deliveries_checked_logs_no_denial(labeling):
    since = denials.iso(time.time() - 1)
    key = new_key()
    labeling.upload(key, JPEG)
    result = labeling.wait_result(key, timeout=90)
    assert result["source"]["key"] == key
    assert listed_denials(since) == []
