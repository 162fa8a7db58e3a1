"""Every grant of every function role is needed (issue 12's mutation suite).

For each statement of each role's inline policy (the functions' and the schedules'),
as deployed: take the statement
out of the role's policy, drive the flow that needs it, and wait for the local stack's
IAM to refuse a call with one of the statement's actions to that role. Then the policy
is put back and the flow is finished (nothing is left half-done for the next test).
A statement whose removal changes nothing would be a grant nobody needs; a flow that
passes without its grant would be enforcement that is not there. Both fail here.

The table below names, per statement, the flow that needs it. It is checked against
the deployed policies, so a new statement fails the suite until a flow is named for it.
What no flow can reach here is listed in NOT_REACHABLE with the reason.

The same for every statement of every resource policy (topics, the topic key, queues,
buckets, the functions' Lambda permissions, the roles' trust policies): each Allow is
the grant of a delivery between services or of a service's AssumeRole, and taking it
away must get that delivery refused, naming the statement's principal and one of its
actions on the resource (RESOURCE_MUTATIONS). A Deny takes nothing away when removed,
and some Allows no local flow can need (RESOURCE_NOT_REACHABLE, with the reason).
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import resource_policies

from harness.build import functions
from harness.build.fixtures import ImageSpec, render
from harness.observe import denials
from harness.runtime import aws
from harness.util.waiting import wait_for

pytestmark = pytest.mark.mutations
# Its two long tests (about 190 and 125 s) run on two stack workers: no module fixture
# joins them (harness/testing/parallel.py, `unit_of`).
XDIST_UNITS_PER_TEST = True

JPEG = render(ImageSpec(seed=3, width=320, height=240))
DENIAL_WAIT_S = 90  # a labeler message is received again after its 24 s visibility
RETIRED_POLLER_S = 3  # LocalStack's async poller: a 2 s long poll, joined for up to 3 s


@dataclass(frozen=True)
class Flow:
    """What to do so that the function needs the statement, and how to finish it after
    the grant is back. `cold`: the function reads a secret once per process, so a new
    process must start for the read to happen (a configuration change restarts it)."""

    start: Callable[[Any, str], Any]
    finish: Callable[[Any, Any], None]
    cold: bool = False
    restart: str = ""  # a function whose processes must start anew (it assumes its role then)


def _upload_image(pipelines: Any, token: str) -> str:
    key = f"ingest/mutation-{token}/image.jpg"
    pipelines.labeling.upload(key, JPEG)
    return key


def _labeled(pipelines: Any, key: str) -> None:
    pipelines.labeling.wait_result(key, timeout=120)


def _fire_alarm(pipelines: Any, token: str) -> str:
    alarm = pipelines.labeling.outputs["alarm_name"]
    cloudwatch = pipelines.labeling.cloudwatch
    cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="OK", StateReason=f"mutation {token}")
    cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason=f"mutation {token}")
    return token


def _notice_posted(pipelines: Any, token: str) -> None:
    pipelines.labeling.slack.clear_failures()
    wait_for(
        lambda: pipelines.labeling.slack.messages(containing=token),
        120,
        f"the notice of {token} in Slack",
    )


def _upload_original(pipelines: Any, token: str) -> str:
    vertical = f"mut{token}"
    key = pipelines.catalog.origin_key(vertical, 1, 1)
    pipelines.catalog.upload(key, JPEG)
    return vertical


def _resized(pipelines: Any, vertical: str) -> None:
    wait_for(
        lambda: len(pipelines.catalog.served_keys(vertical)) == len(pipelines.catalog.sizes),
        120,
        f"the renditions of {vertical}",
    )


def _upload_badly_named(pipelines: Any, token: str) -> str:
    key = f"{pipelines.catalog.c['origin_prefix']}mut{token}/not-a-cd-idx.jpg"
    pipelines.catalog.upload(key, JPEG)
    return key


def _rejected(pipelines: Any, key: str) -> None:
    pipelines.catalog.wait_rejection(key, timeout=120)


def _reupload_resized(pipelines: Any, vertical: str) -> None:
    """The failed event is gone (its destination refused it, as AWS would drop it): the
    operator uploads the original again."""
    pipelines.catalog.upload(pipelines.catalog.origin_key(vertical, 1, 1), JPEG)
    _resized(pipelines, vertical)


def _resize_a_missing_original(pipelines: Any, token: str) -> str:
    """The event of an original deleted before resize ran: S3 answers a read of a missing
    key with 404 only to a caller that may list the bucket (403 otherwise)."""
    catalog = pipelines.catalog
    key = catalog.origin_key(f"mut{token}", 1, 1)
    event = {
        "Records": [
            {
                "eventSource": "aws:s3",
                "eventName": "ObjectCreated:Put",
                "s3": {"bucket": {"name": catalog.c["upload_bucket"]}, "object": {"key": key}},
            }
        ]
    }
    name = functions.get("resize").deployed_name(pipelines.labeling.outputs)
    pipelines.labeling.lambda_.invoke(FunctionName=name, Payload=json.dumps(event).encode())
    return key


def _nothing_to_finish(pipelines: Any, handle: Any) -> None:
    """The flow left no work behind."""


def _queue_and_tick(pipelines: Any, token: str) -> str:
    vertical = _upload_original(pipelines, token)
    _resized(pipelines, vertical)
    pipelines.catalog.wait_queued(1, timeout=120)
    pipelines.catalog.tick()
    return vertical


def _loaded(pipelines: Any, vertical: str) -> None:
    def drained() -> bool:
        tick = pipelines.catalog.tick()
        return tick.ok and len(pipelines.catalog.rows(vertical)) == len(pipelines.catalog.sizes)

    wait_for(drained, 120, f"the rows of {vertical}", interval=2)


IMAGE = Flow(_upload_image, _labeled)
ALARM = Flow(_fire_alarm, _notice_posted, cold=True)
ORIGINAL = Flow(_upload_original, _resized)
TICK = Flow(_queue_and_tick, _loaded, cold=True)
SCHEDULED = Flow(_queue_and_tick, _loaded)  # the tick plays Scheduler, with its role

# (function, Sid) -> the flow that needs it, and statements taken out with it to reach
# it (a failure path: the on-failure destinations are used only when the function fails).
MUTATIONS: dict[tuple[str, str], tuple[Flow, tuple[str, ...]]] = {
    ("labeler", "WriteOwnLogs"): (IMAGE, ()),
    ("labeler", "ConsumeQueue"): (IMAGE, ()),
    ("labeler", "ReadIngest"): (IMAGE, ()),
    ("labeler", "ReadWriteResults"): (IMAGE, ()),
    ("labeler", "ManageFailureRecords"): (IMAGE, ()),
    ("labeler", "ListBucketFor404"): (IMAGE, ()),
    ("labeler", "DetectLabels"): (IMAGE, ()),
    ("notifier", "WriteOwnLogs"): (ALARM, ()),
    ("notifier", "ReadWebhookUrl"): (ALARM, ()),
    ("notifier", "DescribeWatchedQueues"): (ALARM, ()),
    ("resize", "WriteOwnLogs"): (ORIGINAL, ()),
    ("resize", "ReadOriginals"): (ORIGINAL, ()),
    ("resize", "ListUploadBucketFor404"): (
        Flow(_resize_a_missing_original, _nothing_to_finish),
        (),
    ),
    ("resize", "WriteRenditions"): (ORIGINAL, ()),
    ("resize", "SendWork"): (ORIGINAL, ()),
    ("resize", "ManageRejectionRecords"): (Flow(_upload_badly_named, _rejected), ()),
    ("resize", "ReportFailedInvocations"): (
        Flow(_upload_original, _reupload_resized),
        ("WriteRenditions",),
    ),
    ("loader", "WriteOwnLogs"): (TICK, ()),
    ("loader", "ConsumeWork"): (TICK, ()),
    ("loader", "ReadDatabaseSecret"): (TICK, ()),
    ("scheduler", "InvokeLoader"): (SCHEDULED, ()),
}

# Statements no local flow can need, with the reason.
NOT_REACHABLE: dict[tuple[str, str], str] = {
    ("notifier", "ReportFailedNotices"): (
        "the notifier-failures queue's own policy allows the notifier role by name, and for "
        "a same-account send either grant suffices, so the send goes through without this "
        "statement (as it would on AWS); AWS needs the statement when the destination is "
        "configured (PutFunctionEventInvokeConfig checks the role's policy), which LocalStack "
        "does not check (infra/envs/differences.yaml)"
    ),
}


# --- resource policies -------------------------------------------------------------


def _fire(alarm_output: str) -> Callable[[Any, str], str]:
    """Set an alarm to ALARM (from OK): its actions publish to its topics."""

    def start(pipelines: Any, token: str) -> str:
        alarm = pipelines.labeling.outputs[alarm_output]
        cloudwatch = pipelines.labeling.cloudwatch
        cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="OK", StateReason=token)
        cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason=token)
        return alarm

    return start


def _alarm_back_to_ok(pipelines: Any, alarm: str) -> None:
    pipelines.labeling.cloudwatch.set_alarm_state(
        AlarmName=alarm, StateValue="OK", StateReason="restored by a test"
    )


UPLOAD = Flow(_upload_image, _nothing_to_finish)  # the refused event is dropped, as on AWS
DLQ_ALARM = Flow(_fire("alarm_name"), _alarm_back_to_ok)
FAILURES_ALARM = Flow(_fire("notifier_failures_alarm_name"), _alarm_back_to_ok)
ORIGINAL_UPLOAD = Flow(_upload_original, _nothing_to_finish)

# (policy, Sid) -> the flow whose delivery needs the statement.
RESOURCE_MUTATIONS: dict[tuple[str, str], Flow] = {
    ("events topic", "AllowS3EventNotifications"): UPLOAD,
    ("events topic", "AllowCloudWatchAlarms"): DLQ_ALARM,
    ("events topic key", "AllowS3EventNotifications"): UPLOAD,
    ("events topic key", "AllowCloudWatchAlarms"): DLQ_ALARM,
    ("alerts fallback topic", "AllowNotifierFailuresAlarm"): FAILURES_ALARM,
    ("labeler queue", "AllowTopicDelivery"): UPLOAD,
    ("notifier permissions", "AllowInvokeFromAlarmTopic"): DLQ_ALARM,
    ("resize permissions", "AllowInvokeFromUploadBucket"): ORIGINAL_UPLOAD,
    # Lambda assumes a function's role when it starts a process for the function.
    ("notifier trust", "AssumedByLambda"): Flow(_fire_alarm, _notice_posted, restart="notifier"),
    ("labeler trust", "AssumedByLambda"): Flow(_upload_image, _labeled, restart="labeler"),
    ("resize trust", "AssumedByLambda"): Flow(
        _upload_original, _reupload_resized, restart="resize"
    ),
    ("loader trust", "AssumedByLambda"): Flow(_queue_and_tick, _loaded, restart="loader"),
    ("scheduler trust", "AssumedBySchedulerOfThisAccount"): SCHEDULED,
}

SAME_ACCOUNT = (
    "a same-account principal is allowed by its own identity policy or by the resource "
    "policy, either suffices (as on AWS): "
)
RESOURCE_NOT_REACHABLE: dict[tuple[str, str], str] = {
    ("events topic key", "AccountAdministration"): (
        "the key's administration by the account's principals: Terraform and the operator "
        "sign with the shared test keys, which the local stack does not check (and no "
        "function uses the key; SNS is never refused its own topic's key)"
    ),
    ("labeler DLQ", "OwnerAccountOnly"): (
        SAME_ACCOUNT + "the notifier's DescribeWatchedQueues grant covers its reads, and "
        "SQS's own redrive into the DLQ is no request"
    ),
    ("notifier failures queue", "AllowNotifierOnFailureDestination"): (
        SAME_ACCOUNT + "the notifier role's ReportFailedNotices grant covers Lambda's "
        "send of a failed notice (see NOT_REACHABLE for the converse)"
    ),
}


def _resource_statements(pipelines: Pipelines) -> dict[tuple[str, str], str]:
    """(policy, Sid) -> Effect of every statement of every resource policy deployed."""
    return {
        (policy.name, statement.get("Sid", "")): statement["Effect"]
        for policy in resource_policies.deployed(pipelines.labeling.outputs, pipelines.client)
        for statement in policy.statements()
    }


class Pipelines:
    """Both systems, emptied before each test, and the IAM API of their stack."""

    def __init__(self, labeling: Any, catalog: Any) -> None:
        self.labeling, self.catalog = labeling, catalog
        self.iam = aws.client("iam", labeling.settings)

    def client(self, service: str):
        return aws.client(service, self.labeling.settings)


@pytest.fixture
def pipelines(labeling, catalog) -> Pipelines:
    return Pipelines(labeling, catalog)


def role_arn(pipelines: Pipelines, owner: str) -> str:
    """The role of a function (by its short name) or of the schedules (`scheduler`)."""
    if owner == "scheduler":
        return resource_policies.scheduler_role_arn(
            pipelines.labeling.outputs, pipelines.client("scheduler")
        )
    name = functions.get(owner).deployed_name(pipelines.labeling.outputs)
    return pipelines.labeling.lambda_.get_function_configuration(FunctionName=name)["Role"]


def role_policy(pipelines: Pipelines, owner: str) -> tuple[str, str, dict]:
    """(role name, policy name, document) of the role's one inline policy."""
    role = role_arn(pipelines, owner).rsplit("/", 1)[1]
    iam = pipelines.iam
    (policy,) = iam.list_role_policies(RoleName=role)["PolicyNames"]
    return role, policy, iam.get_role_policy(RoleName=role, PolicyName=policy)["PolicyDocument"]


def _actions(statement: dict) -> set[str]:
    action = statement["Action"]
    return {action} if isinstance(action, str) else set(action)


@contextlib.contextmanager
def restarted(
    pipelines: Pipelines,
    short: str,
    change: contextlib.AbstractContextManager[Any] | None = None,
) -> Iterator[Any]:
    """New processes for the function inside the block (a configuration change retires
    the old ones), so a secret it reads once per process is read again; the deployed
    configuration is put back afterwards.

    `change` (a statement taken away; the block gets what it yields) is made before the
    new processes start, or one started in between would assume the role and keep its
    credentials, and it is undone before the deployed configuration comes back, so the
    function's next processes start as deployed."""
    name = functions.get(short).deployed_name(pipelines.labeling.outputs)
    lambda_client = pipelines.labeling.lambda_
    deployed = lambda_client.get_function_configuration(FunctionName=name)["Description"]
    try:
        with change or contextlib.nullcontext() as made:
            aws.restart_function(lambda_client, name, f"{deployed} (restarted by a test)")
            # The retired version's poller of LocalStack's async-invoke queue may still be
            # in its long poll: an event it takes then is dropped unseen until its
            # visibility ends.
            time.sleep(RETIRED_POLLER_S)
            yield made
    finally:
        aws.restart_function(lambda_client, name, deployed)


ROLE_OWNERS = (*(function.short for function in functions.FUNCTIONS), "scheduler")


def test_every_statement_of_every_role_has_a_flow(pipelines):
    deployed = set()
    for owner in ROLE_OWNERS:
        _, _, document = role_policy(pipelines, owner)
        deployed |= {(owner, s["Sid"]) for s in document["Statement"]}
    _assert_each_has_a_flow(deployed, MUTATIONS, NOT_REACHABLE)


def _assert_each_has_a_flow(deployed: set, flows: dict, not_reachable: dict) -> None:
    assert deployed == set(flows) | set(not_reachable), (
        f"without a flow: {sorted(deployed - set(flows) - set(not_reachable))}; "
        f"no longer deployed: {sorted(set(flows) - deployed)}"
    )


@pytest.mark.parametrize(("short", "sid"), sorted(MUTATIONS), ids=lambda v: v)
def test_taking_the_statement_away_gets_a_call_of_the_flow_denied(
    pipelines, harness_settings, short, sid
):
    flow, also = MUTATIONS[short, sid]
    role, policy, original = role_policy(pipelines, short)
    (statement,) = [s for s in original["Statement"] if s["Sid"] == sid]
    mutated = resource_policies.without_statement(
        original, {sid, *also}, resource_policies.HARMLESS_IDENTITY_STATEMENT
    )
    iam = pipelines.iam
    token = uuid.uuid4().hex[:8]
    since = denials.iso(time.time())
    started = time.monotonic()
    iam.put_role_policy(RoleName=role, PolicyName=policy, PolicyDocument=json.dumps(mutated))
    try:
        with restarted(pipelines, short) if flow.cold else contextlib.nullcontext():
            handle = flow.start(pipelines, token)

            def denied() -> list[dict]:
                return [
                    d
                    for d in denials.read(harness_settings.iam_denials, since)
                    if str(d.get("role", "")).endswith(f":role/{role}")
                    and d.get("action") in _actions(statement)
                ]

            found = wait_for(denied, DENIAL_WAIT_S, f"a denial of {sorted(_actions(statement))}")
            seconds = time.monotonic() - started
    finally:
        iam.put_role_policy(RoleName=role, PolicyName=policy, PolicyDocument=json.dumps(original))
    print(f"[mutation] {short}/{sid}: {found[0]['action']} denied after {seconds:.1f} s")
    assert found[0]["enforced"] is True
    flow.finish(pipelines, handle)  # with the grant back, the work completes


def test_every_allow_of_every_resource_policy_has_a_flow(pipelines):
    deployed = _resource_statements(pipelines)
    allows = {key for key, effect in deployed.items() if effect == "Allow"}
    assert all(sid for _, sid in deployed), f"a statement without a Sid: {sorted(deployed)}"
    _assert_each_has_a_flow(allows, RESOURCE_MUTATIONS, RESOURCE_NOT_REACHABLE)


@pytest.mark.parametrize(("policy_name", "sid"), sorted(RESOURCE_MUTATIONS), ids=lambda v: v)
def test_taking_a_resource_statement_away_gets_its_delivery_denied(
    pipelines, harness_settings, policy_name, sid
):
    flow = RESOURCE_MUTATIONS[policy_name, sid]
    (policy,) = [
        p
        for p in resource_policies.deployed(pipelines.labeling.outputs, pipelines.client)
        if p.name == policy_name
    ]
    since = denials.iso(time.time())
    started = time.monotonic()
    change = policy.without(sid)
    scope = restarted(pipelines, flow.restart, change) if flow.restart else change
    with scope as statement:
        handle = flow.start(pipelines, uuid.uuid4().hex[:8])
        match = policy.denies(statement)
        found = wait_for(
            lambda: [d for d in denials.read(harness_settings.iam_denials, since) if match(d)],
            DENIAL_WAIT_S,
            f"a denial of {statement['Action']} for {statement['Principal']} on {policy.resource}",
        )
        seconds = time.monotonic() - started
    print(f"[mutation] {policy_name}/{sid}: {found[0]['action']} denied after {seconds:.1f} s")
    assert found[0]["enforced"] is True
    flow.finish(pipelines, handle)
