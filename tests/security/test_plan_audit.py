"""The plan checks catch what they are for: the seed's policies and other mistakes.

Small hand-made plan documents in the shape of `terraform show -json` (no stack, no
Terraform), each with one mistake, and one clean plan that passes every check.
"""

from __future__ import annotations

import json

import pytest

from harness.promote import plan_audit
from harness.promote.plan_audit import Plan

ACCOUNT = "123456789012"
BUCKET = "imgpipe-images"
BUCKET_ARN = f"arn:aws:s3:::{BUCKET}"
TOPIC_ARN = f"arn:aws:sns:eu-west-1:{ACCOUNT}:imgpipe-events"
QUEUE_ARN = f"arn:aws:sqs:eu-west-1:{ACCOUNT}:imgpipe-labeler"
LOG_ARN = f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:/aws/lambda/imgpipe-labeler:*"
SECRET = "https://hooks.slack.com/services/T0/B0/very-secret"
TLS_ONLY = {
    "Sid": "DenyInsecureTransport",
    "Effect": "Deny",
    "Principal": "*",
    "Action": "s3:*",
    "Resource": [BUCKET_ARN, f"{BUCKET_ARN}/*"],
    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
}


def doc(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action, resource, **extra) -> dict:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


LABELER_POLICY = [
    allow(["logs:CreateLogStream", "logs:PutLogEvents"], LOG_ARN, Sid="Logs"),
    allow(["sqs:ReceiveMessage", "sqs:DeleteMessage"], QUEUE_ARN, Sid="Queue"),
    allow("s3:GetObject", f"{BUCKET_ARN}/ingest/*", Sid="Read"),
    # DetectLabels supports no resource-level permissions.
    allow("rekognition:DetectLabels", "*", Sid="Detect"),
]
TOPIC_POLICY = [
    allow(
        "sns:Publish",
        TOPIC_ARN,
        Sid="S3",
        Principal={"Service": "s3.amazonaws.com"},
        Condition={
            "ArnEquals": {"aws:SourceArn": BUCKET_ARN},
            "StringEquals": {"aws:SourceAccount": ACCOUNT},
        },
    ),
]


def resource(rtype: str, name: str, after: dict, module: str = "", **change) -> dict:
    address = f"{module}.{rtype}.{name}" if module else f"{rtype}.{name}"
    return {
        "address": address,
        "module_address": module,
        "mode": "managed",
        "type": rtype,
        "name": name,
        "change": {
            "actions": ["create"],
            "after": after,
            "after_unknown": change.get("unknown", {}),
            "after_sensitive": change.get("sensitive", {}),
        },
    }


def make_plan(
    changes: dict[str, dict] | None = None, *, drop: tuple[str, ...] = (), **extra
) -> Plan:
    """A clean plan of a bucket, topic, queue and labeler; `changes` replaces `after`
    values by address, `drop` removes resources, `extra` adds document keys."""
    resources = [
        resource("aws_s3_bucket", "this", {"bucket": BUCKET}),
        resource(
            "aws_s3_bucket_public_access_block",
            "this",
            dict.fromkeys(
                [
                    "block_public_acls",
                    "block_public_policy",
                    "ignore_public_acls",
                    "restrict_public_buckets",
                ],
                True,
            ),
            unknown={"bucket": True},
        ),
        resource(
            "aws_s3_bucket_server_side_encryption_configuration",
            "this",
            {"rule": [{"apply_server_side_encryption_by_default": [{"sse_algorithm": "AES256"}]}]},
            unknown={"bucket": True},
        ),
        resource(
            "aws_s3_bucket_policy", "this", {"policy": doc(TLS_ONLY)}, unknown={"bucket": True}
        ),
        resource(
            "aws_sns_topic",
            "this",
            {
                "name": "imgpipe-events",
                "policy": doc(*TOPIC_POLICY),
                "kms_master_key_id": "alias/x",
            },
        ),
        resource(
            "aws_sqs_queue",
            "main",
            {"name": "imgpipe-labeler", "sqs_managed_sse_enabled": True, "policy": ""},
        ),
        resource("aws_cloudwatch_log_group", "this", {"name": "/aws/lambda/imgpipe-labeler"}),
        resource(
            "aws_iam_role",
            "this",
            {
                "assume_role_policy": doc(
                    allow("sts:AssumeRole", None, Principal={"Service": "lambda.amazonaws.com"})
                )
            },
        ),
        resource("aws_iam_role_policy", "this", {"policy": doc(*LABELER_POLICY)}),
        resource(
            "aws_lambda_function",
            "this",
            {"function_name": "imgpipe-labeler", "environment": [{"variables": {"A": "1"}}]},
        ),
    ]
    for item in resources:
        if item["address"] in (changes or {}):
            item["change"]["after"] = changes[item["address"]]
    resources = [r for r in resources if r["address"] not in drop]
    refs = {
        "aws_s3_bucket_public_access_block.this": {"bucket": ["aws_s3_bucket.this.id"]},
        "aws_s3_bucket_server_side_encryption_configuration.this": {
            "bucket": ["aws_s3_bucket.this.id"]
        },
        "aws_s3_bucket_policy.this": {"bucket": ["aws_s3_bucket.this.id"]},
        "aws_iam_role_policy.this": {"role": ["aws_iam_role.this.id", "aws_iam_role.this"]},
        "aws_lambda_function.this": {"role": ["aws_iam_role.this.arn", "aws_iam_role.this"]},
    }
    configuration = {
        "root_module": {
            "resources": [
                {
                    "address": address,
                    "expressions": {k: {"references": v} for k, v in exprs.items()},
                }
                for address, exprs in refs.items()
            ],
            "variables": {"slack_webhook_url": {"sensitive": True}},
        }
    }
    document = {
        "resource_changes": resources + extra.pop("more", []),
        "configuration": configuration,
        "prior_state": {
            "values": {
                "root_module": {
                    "resources": [
                        {"type": "aws_caller_identity", "values": {"account_id": ACCOUNT}}
                    ]
                }
            }
        },
        "variables": {"slack_webhook_url": {"value": SECRET}},
        "planned_values": {"outputs": {}},
    }
    document.update(extra)
    return Plan(document)


def test_a_clean_plan_passes_every_check():
    findings = plan_audit.all_findings(make_plan())
    assert findings == {area: [] for area in findings}


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        # The seed's labeler role.
        (allow("s3:*", "*"), ["wildcard action 's3:*'", "Resource '*' for ['s3:*']"]),
        (allow("sqs:*", "*"), ["wildcard action 'sqs:*'", "Resource '*' for ['sqs:*']"]),
        (allow("rekognition:*", "*"), ["wildcard action", "Resource '*' for ['rekognition:*']"]),
        (allow("textract:AnalyzeDocument", "*"), ["Resource '*' for ['textract:AnalyzeDocument']"]),
        (allow("s3:GetObject", "arn:aws:s3:::someone-elses-bucket/*"), ["names no bucket"]),
        (
            allow("sqs:SendMessage", "arn:aws:sqs:eu-west-1:999999999999:imgpipe-labeler"),
            ["is not in account"],
        ),
        (allow("sqs:SendMessage", f"arn:aws:sqs:*:{ACCOUNT}:imgpipe-labeler"), ["spans regions"]),
        (allow("s3:GetObject", f"{BUCKET_ARN}/*/secret/*"), ["wildcard inside the object path"]),
        (
            {"Effect": "Allow", "NotAction": "iam:*", "Resource": QUEUE_ARN},
            ["NotAction/NotResource"],
        ),
    ],
)
def test_broad_grants_are_found(statement, expected):
    policy = doc(*LABELER_POLICY, {"Sid": "Bad", **statement})
    findings = plan_audit.iam_findings(make_plan({"aws_iam_role_policy.this": {"policy": policy}}))
    assert len(findings) == len(expected), findings
    for finding, text in zip(findings, expected, strict=True):
        assert text in finding and "[Bad]" in finding


def test_detect_labels_on_star_is_the_one_accepted_wildcard():
    assert "rekognition:DetectLabels" in plan_audit.NO_RESOURCE_LEVEL_ACTIONS
    assert plan_audit.iam_findings(make_plan()) == []


def test_managed_policies_and_unknown_policies_are_findings():
    attachment = resource(
        "aws_iam_role_policy_attachment",
        "basic",
        {"policy_arn": "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"},
    )
    plan = make_plan(more=[attachment])
    plan.document["configuration"]["root_module"]["resources"].append(
        {
            "address": "aws_iam_role_policy_attachment.basic",
            "expressions": {"role": {"references": ["aws_iam_role.this.name"]}},
        }
    )
    plan = Plan(plan.document)
    assert any("managed policy" in f for f in plan_audit.iam_findings(plan))
    unknown = make_plan()
    unknown.document["resource_changes"][8]["change"]["after_unknown"] = {"policy": True}
    assert any("unknown at plan time" in f for f in plan_audit.iam_findings(Plan(unknown.document)))


CLOUDWATCH_WITHOUT_CONDITION = allow(
    "sns:Publish", TOPIC_ARN, Sid="CW", Principal={"Service": "cloudwatch.amazonaws.com"}
)


@pytest.mark.parametrize(
    ("address", "after", "expected"),
    [
        # The seed's topic policy: CloudWatch may publish without any condition.
        (
            "aws_sns_topic.this",
            {
                "name": "imgpipe-events",
                "kms_master_key_id": "k",
                "policy": doc(*TOPIC_POLICY, CLOUDWATCH_WITHOUT_CONDITION),
            },
            "[CW]: no aws:SourceArn / aws:SourceAccount condition",
        ),
        # The seed's DLQ policy: a statement without Principal.
        (
            "aws_sqs_queue.main",
            {
                "name": "imgpipe-labeler",
                "sqs_managed_sse_enabled": True,
                "policy": doc(allow("sqs:*", QUEUE_ARN, Sid="NoPrincipal")),
            },
            "[NoPrincipal]: statement has no Principal",
        ),
        (
            "aws_sqs_queue.main",
            {
                "name": "imgpipe-labeler",
                "sqs_managed_sse_enabled": True,
                "policy": doc(allow("sqs:SendMessage", QUEUE_ARN, Sid="Any", Principal="*")),
            },
            "[Any]: allows any principal",
        ),
        (
            "aws_sqs_queue.main",
            {
                "name": "imgpipe-labeler",
                "sqs_managed_sse_enabled": True,
                "policy": doc(
                    allow(
                        "sqs:SendMessage",
                        QUEUE_ARN,
                        Sid="Two",
                        Principal={"Service": ["sns.amazonaws.com", "s3.amazonaws.com"]},
                        Condition={"ArnEquals": {"aws:SourceArn": TOPIC_ARN}},
                    )
                ),
            },
            "[Two]: names 2 principals, not one",
        ),
        (
            "aws_sns_topic.this",
            {
                "name": "imgpipe-events",
                "kms_master_key_id": "k",
                "policy": doc(
                    allow(
                        "sns:Publish",
                        TOPIC_ARN,
                        Sid="S3",
                        Principal={"Service": "s3.amazonaws.com"},
                        Condition={"ArnLike": {"aws:SourceArn": "arn:aws:s3:::*"}},
                    )
                ),
            },
            "[S3]: source ARN 'arn:aws:s3:::*' is not one resource",
        ),
        (
            "aws_sns_topic.this",
            {
                "name": "imgpipe-events",
                "kms_master_key_id": "k",
                "policy": doc(
                    allow(
                        "sns:Publish",
                        TOPIC_ARN,
                        Sid="X",
                        Principal={"AWS": "arn:aws:iam::999999999999:root"},
                    )
                ),
            },
            "[X]: principal arn:aws:iam::999999999999:root is outside account",
        ),
    ],
)
def test_loose_resource_policies_are_found(address, after, expected):
    findings = plan_audit.resource_policy_findings(make_plan({address: after}))
    assert [f for f in findings if expected in f], findings


def test_lambda_permission_needs_a_source():
    permission = resource(
        "aws_lambda_permission",
        "sns",
        {"principal": "sns.amazonaws.com", "source_arn": None, "action": "lambda:InvokeFunction"},
    )
    findings = plan_audit.resource_policy_findings(make_plan(more=[permission]))
    assert findings == [
        "aws_lambda_permission.sns: sns.amazonaws.com may invoke from any source (no source_arn)"
    ]


@pytest.mark.parametrize(
    ("drop", "expected"),
    [
        ("aws_s3_bucket_public_access_block.this", "public access is not fully blocked"),
        ("aws_s3_bucket_server_side_encryption_configuration.this", "no default encryption"),
        ("aws_s3_bucket_policy.this", "no policy denying requests without TLS"),
    ],
)
def test_bucket_protections_are_required(drop, expected):
    assert plan_audit.s3_findings(make_plan(drop=(drop,))) == [f"aws_s3_bucket.this: {expected}"]


def test_unencrypted_queue_topic_and_plain_secret_parameter_are_found():
    plan = make_plan(
        {
            "aws_sqs_queue.main": {"name": "imgpipe-labeler", "sqs_managed_sse_enabled": False},
            "aws_sns_topic.this": {"name": "imgpipe-events", "policy": doc(*TOPIC_POLICY)},
        },
        more=[
            resource(
                "aws_ssm_parameter",
                "hook",
                {"type": "String", "value": SECRET},
                sensitive={"value": True},
            )
        ],
    )
    assert plan_audit.encryption_findings(plan) == [
        "aws_sqs_queue.main: neither SSE-SQS nor a KMS key",
        "aws_sns_topic.this: not encrypted (kms_master_key_id)",
        "aws_ssm_parameter.hook: holds a secret but is not a SecureString",
    ]


def test_secrets_outside_securestrings_are_found():
    plan = make_plan(
        {
            "aws_lambda_function.this": {
                "function_name": "f",
                "environment": [{"variables": {"HOOK": SECRET}}],
            }
        },
        more=[
            resource(
                "aws_ssm_parameter",
                "ok",
                {"type": "SecureString", "value": SECRET},
                sensitive={"value": True},
            )
        ],
        planned_values={"outputs": {"hook": {"value": SECRET, "sensitive": False}}},
    )
    plan.document["configuration"]["root_module"]["variables"]["api_token"] = {}
    plan.document["configuration"]["root_module"]["outputs"] = {"hook": {"sensitive": True}}
    assert sorted(plan_audit.secret_findings(Plan(plan.document))) == [
        "aws_lambda_function.this.environment[0].variables.HOOK holds a secret value",
        "output hook contains a secret value",
        "output hook is sensitive: secrets are not outputs",
        "variable api_token looks secret but is not sensitive",
    ]


def test_references_are_followed_through_module_outputs_and_inputs():
    """A trigger in one module names a function built by a child module (`module.f.arn`),
    whose role a grant in that child reaches through an input (`var.role_arn`)."""
    child = "module.alerting.module.notifier"

    def config(name: str, refs: dict[str, list[str]]) -> dict:
        expressions = {k: {"references": v} for k, v in refs.items()}
        return {"address": name, "expressions": expressions}

    document = {
        "resource_changes": [
            resource("aws_sns_topic_subscription", "notifier", {}, "module.alerting"),
            resource("aws_iam_role", "this", {}, "module.alerting"),
            resource("aws_lambda_function", "this", {}, child),
        ],
        "configuration": {
            "root_module": {
                "module_calls": {
                    "alerting": {
                        "module": {
                            "resources": [
                                config(
                                    "aws_sns_topic_subscription.notifier",
                                    {"endpoint": ["module.notifier.arn", "module.notifier"]},
                                ),
                                config("aws_iam_role.this", {}),
                            ],
                            "module_calls": {
                                "notifier": {
                                    "expressions": {
                                        "role_arn": {
                                            "references": [
                                                "aws_iam_role.this.arn",
                                                "aws_iam_role.this",
                                            ]
                                        }
                                    },
                                    "module": {
                                        "resources": [
                                            config(
                                                "aws_lambda_function.this",
                                                {"role": ["var.role_arn"]},
                                            )
                                        ],
                                        "outputs": {
                                            "arn": {
                                                "expression": {
                                                    "references": [
                                                        "aws_lambda_function.this.arn",
                                                        "aws_lambda_function.this",
                                                    ]
                                                }
                                            }
                                        },
                                    },
                                }
                            },
                        }
                    }
                }
            }
        },
    }
    plan = Plan(document)
    subscription, role, function = plan.resources
    assert plan.referenced(subscription, "endpoint", "aws_lambda_function") is function
    assert plan.references(subscription, "endpoint") == [f"{child}.aws_lambda_function.this"]
    assert plan.referenced(function, "role", "aws_iam_role") is role
    assert plan.referenced(subscription, "endpoint", "aws_iam_role") is None
