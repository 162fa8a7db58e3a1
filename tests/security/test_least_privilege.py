"""Least privilege, resource policies, S3, encryption and secrets, over real plans.

The plans are those of `infra/envs/*` (tests/security/conftest.py), so every
function, role, queue and bucket an environment wires, now or later, is reviewed;
the checks themselves are harness/plan_audit.py (tests/security/test_plan_audit.py
proves they catch the seed's mistakes).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from security_plans import ENVS, WEBHOOK_SENTINEL

from harness.promote import plan_audit

pytestmark = pytest.mark.e2e  # the plans are made against the local stack
LAMBDAS = Path(__file__).resolve().parents[2] / "lambdas"
AREAS = ("least privilege", "resource policies", "s3", "encryption", "secrets")


@pytest.mark.parametrize("area", AREAS)
@pytest.mark.parametrize("env", ENVS)
def test_plan_has_no_findings(plans, env, area):
    assert plan_audit.all_findings(plans[env])[area] == []


@pytest.mark.parametrize("env", ENVS)
def test_every_function_has_a_reviewed_role(plans, env):
    roles = plan_audit.lambda_roles(plans[env])
    functions = {Path(r.function.values["filename"]).stem for r in roles}
    assert {"labeler", "slack_notifier"} <= functions
    for role in roles:
        assert role.role is not None and role.statements, role.function.address


# --- granted actions == what the code calls + what the platform needs ----------

SERVICES = r"(s3|sqs|sns|ssm|rekognition|dynamodb|secretsmanager|kms|cloudwatch|lambda)"
# `s3.get_object(`, `sqs_client.receive_message(`, `client("ssm").get_parameter(`
CALL = re.compile(
    rf"(?:\b{SERVICES}(?:_client)?|client\(\s*[\"']{SERVICES}[\"']\s*\))\.([a-z][a-z0-9_]*)\("
)
# Names that are not AWS operations: dict methods (event sections are often called
# `s3` too) and client helpers.
NOT_OPERATIONS = {"get", "items", "keys", "values", "pop", "setdefault", "update", "copy"}
NOT_OPERATIONS |= {"get_paginator", "get_waiter", "can_paginate", "close"}
# boto3 operations authorised by another IAM action.
AUTHORISED_BY = {
    "s3:HeadObject": "s3:GetObject",
    "s3:ListObjectsV2": "s3:ListBucket",
    "s3:ListObjects": "s3:ListBucket",
    "s3:HeadBucket": "s3:ListBucket",
    "sqs:DeleteMessageBatch": "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
    "sqs:SendMessageBatch": "sqs:SendMessage",
}
# Granted for the runtime or the event source mapping, not called by the code.
LOGS = {"logs:CreateLogStream", "logs:PutLogEvents"}
SQS_EVENT_SOURCE = {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"}
SQS_DESTINATION = {"sqs:SendMessage"}
# Actions that a request parameter adds (AWS checks another action than the call's):
# (pattern in the code, the call it changes, the action it needs).
REQUEST_DEPENDENT = [
    # DetectLabels with S3Object.Version: Rekognition reads that version with the
    # caller's permissions, which takes s3:GetObjectVersion (issue 12).
    (
        re.compile(r"""\[\s*["']Version["']\s*\]\s*=|["']Version["']\s*:"""),
        "rekognition:DetectLabels",
        "s3:GetObjectVersion",
    ),
    # GetObject/HeadObject of a given version.
    (re.compile(r"\bVersionId\s*="), "s3:GetObject", "s3:GetObjectVersion"),
]
# s3:ListBucket lets a missing object answer 404 instead of 403 (see the labeling
# module): granted along with s3:GetObject, never alone.
COMPANIONS = {"s3:GetObject": {"s3:ListBucket"}}


def code_actions(function_dir: Path) -> set[str]:
    """IAM actions for the AWS calls in a function's code (`s3.get_object(` ...)."""
    actions = set()
    for path in function_dir.glob("*.py"):
        text = path.read_text()
        found = set()
        for name, called, method in CALL.findall(text):
            service = name or called
            if method in NOT_OPERATIONS:
                continue
            action = f"{service}:{''.join(p.capitalize() for p in method.split('_'))}"
            found.add(AUTHORISED_BY.get(action, action))
        found |= {
            extra
            for pattern, call, extra in REQUEST_DEPENDENT
            if call in found and pattern.search(text)
        }
        actions |= found
    return actions


def granted_actions(role: plan_audit.LambdaRole) -> set[str]:
    return {
        action
        for statement in role.statements
        if statement.get("Effect") == "Allow"
        for action in plan_audit._as_list(statement.get("Action"))
    }


def _on_failure_destinations(config: plan_audit.Resource) -> list[str]:
    return [
        str(on_failure.get("destination"))
        for block in config.values.get("destination_config") or []
        for on_failure in block.get("on_failure") or []
    ]


def platform_actions(plan: plan_audit.Plan, role: plan_audit.LambdaRole) -> set[str]:
    needed = set(LOGS)
    for mapping in plan.of_type("aws_lambda_event_source_mapping"):
        target = plan.referenced(mapping, "function_name", "aws_lambda_function")
        from_sqs = ":sqs:" in str(mapping.values.get("event_source_arn")) or plan.referenced(
            mapping, "event_source_arn", "aws_sqs_queue"
        )
        if target is role.function and from_sqs:
            needed |= SQS_EVENT_SOURCE
    # Lambda delivers an on-failure destination with the function's role (the notifier's
    # notifier-failures queue): sqs:SendMessage that the code never calls.
    for config in plan.of_type("aws_lambda_function_event_invoke_config"):
        target = plan.referenced(config, "function_name", "aws_lambda_function")
        if target is role.function and any(":sqs:" in d for d in _on_failure_destinations(config)):
            needed |= SQS_DESTINATION
    return needed


@pytest.mark.parametrize("env", ENVS)
def test_each_role_grants_exactly_what_its_function_uses(plans, env):
    plan = plans[env]
    problems = []
    for role in plan_audit.lambda_roles(plan):
        folder = LAMBDAS / Path(role.function.values["filename"]).stem
        assert (folder / "app.py").is_file(), f"{role.function.address}: no code in {folder}"
        used = code_actions(folder)
        allowed = used | platform_actions(plan, role)
        allowed |= {c for a in used for c in COMPANIONS.get(a, set())}
        granted = granted_actions(role)
        if used - granted:
            problems.append(f"{folder.name}: calls without a grant {sorted(used - granted)}")
        if granted - allowed:
            problems.append(f"{folder.name}: grants it never uses {sorted(granted - allowed)}")
    assert problems == []


def test_code_scan_sees_the_calls_of_system_a():
    assert code_actions(LAMBDAS / "labeler") == {
        "s3:GetObject",
        "s3:GetObjectVersion",  # DetectLabels with S3Object.Version
        "s3:PutObject",
        "s3:DeleteObject",
        "rekognition:DetectLabels",
    }
    assert code_actions(LAMBDAS / "slack_notifier") == {
        "ssm:GetParameter",
        "sqs:GetQueueUrl",
        "sqs:GetQueueAttributes",
    }


# --- secrets, schedule --------------------------------------------------------


@pytest.mark.parametrize("env", ENVS)
def test_webhook_url_is_only_in_a_securestring(plans, env):
    holders = [
        r
        for r in plans[env].resources
        for _, text, _ in plan_audit._strings(r.values, r.sensitive)
        if WEBHOOK_SENTINEL in text
    ]
    assert [(r.type, r.values.get("type")) for r in holders] == [
        ("aws_ssm_parameter", "SecureString")
    ]


CRON_HOURS = re.compile(r"^cron\(\S+ (\S+) ")


@pytest.mark.parametrize("env", ENVS)
def test_schedules_run_in_the_teams_time_zone(plans, env):
    """System B's loader runs every minute 07:00-21:00 Korean time (seed runbook).

    EventBridge rules only know UTC, so a schedule must be a Scheduler schedule with
    its time zone; hours outside the window would load the catalog at night.
    """
    plan = plans[env]
    rules = [
        r.address
        for r in plan.of_type("aws_cloudwatch_event_rule")
        if str(r.values.get("schedule_expression") or "").startswith("cron(")
    ]
    assert rules == [], "use aws_scheduler_schedule with schedule_expression_timezone"
    for schedule in plan.of_type("aws_scheduler_schedule"):
        expression = schedule.values["schedule_expression"]
        assert schedule.values.get("schedule_expression_timezone") == "Asia/Seoul", expression
        hours = CRON_HOURS.match(expression)
        assert hours, f"{schedule.address}: {expression} is not a cron expression"
        first, _, last = hours[1].partition("-")
        assert int(first) >= 7 and int(last or first) <= 21, expression
