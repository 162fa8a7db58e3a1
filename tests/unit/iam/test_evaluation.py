"""AWS's same-account evaluation logic: deny beats allow, identity + resource policies,
delegation to IAM through the account root, KMS key policies, failing closed."""

from __future__ import annotations

import pytest
from harness_iam import (
    AccessRequest,
    Decision,
    Policy,
    Principal,
    RequestContext,
    evaluate,
    parse_or_deny,
)

from .conftest import ACCOUNT

ROOT = f"arn:aws:iam::{ACCOUNT}:root"
BUCKET = "arn:aws:s3:::imgpipe-images"


def identity(*statements, name="role policy") -> Policy:
    return Policy.parse({"Version": "2012-10-17", "Statement": list(statements)}, name, "identity")


def resource(*statements, name="resource policy") -> Policy:
    return Policy.parse({"Version": "2012-10-17", "Statement": list(statements)}, name, "resource")


def request(principal, action, arn, **context) -> AccessRequest:
    return AccessRequest(principal, action, arn, RequestContext(context))


ALLOW_GET = {"Sid": "Read", "Effect": "Allow", "Action": "s3:GetObject", "Resource": f"{BUCKET}/*"}


def test_allowed_by_an_identity_policy(labeler) -> None:
    result = evaluate(request(labeler, "s3:GetObject", f"{BUCKET}/a"), [identity(ALLOW_GET)])
    assert result.decision is Decision.ALLOW
    assert [m.statement for m in result.matched] == ["Read"]
    assert "Read" in result.reason


def test_nothing_allows_is_an_implicit_deny_with_aws_text(labeler) -> None:
    result = evaluate(request(labeler, "s3:PutObject", f"{BUCKET}/a"), [identity(ALLOW_GET)])
    assert result.decision is Decision.IMPLICIT_DENY
    assert result.aws_message() == (
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/imgpipe-labeler/imgpipe-labeler is not "
        f"authorized to perform: s3:PutObject on resource: {BUCKET}/a because no "
        "identity-based policy allows the s3:PutObject action"
    )


def test_explicit_deny_beats_allow_in_any_policy(labeler) -> None:
    deny = {"Sid": "NoTmp", "Effect": "Deny", "Action": "s3:*", "Resource": f"{BUCKET}/tmp/*"}
    result = evaluate(
        request(labeler, "s3:GetObject", f"{BUCKET}/tmp/x"), [identity(ALLOW_GET, deny)]
    )
    assert result.decision is Decision.EXPLICIT_DENY
    assert "NoTmp" in result.reason
    assert result.aws_message().endswith("with an explicit deny in an identity-based policy")


def test_deny_insecure_transport_in_a_bucket_policy_applies_to_everybody(labeler) -> None:
    bucket_policy = resource(
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [BUCKET, f"{BUCKET}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
        name="bucket policy",
    )
    plain = request(labeler, "s3:GetObject", f"{BUCKET}/a", **{"aws:SecureTransport": False})
    tls = request(labeler, "s3:GetObject", f"{BUCKET}/a", **{"aws:SecureTransport": True})
    denied = evaluate(plain, [identity(ALLOW_GET)], bucket_policy)
    assert denied.decision is Decision.EXPLICIT_DENY
    assert denied.aws_message().endswith("with an explicit deny in a resource-based policy")
    assert evaluate(tls, [identity(ALLOW_GET)], bucket_policy).allowed


def test_a_resource_policy_naming_the_role_allows_without_identity_policy(labeler) -> None:
    grant = resource(
        {
            "Effect": "Allow",
            "Principal": {"AWS": labeler.role_arn},
            "Action": "s3:GetObject",
            "Resource": f"{BUCKET}/*",
        }
    )
    assert evaluate(request(labeler, "s3:GetObject", f"{BUCKET}/a"), [], grant).allowed


def test_a_resource_policy_naming_the_session_or_everyone_allows(labeler) -> None:
    for principal in (labeler.arn, "*"):
        grant = resource(
            {
                "Effect": "Allow",
                "Principal": {"AWS": principal},
                "Action": "s3:GetObject",
                "Resource": f"{BUCKET}/*",
            }
        )
        assert evaluate(request(labeler, "s3:GetObject", f"{BUCKET}/a"), [], grant).allowed


def test_a_resource_policy_naming_the_account_only_delegates_to_iam(labeler) -> None:
    owner = resource(
        {
            "Sid": "OwnerAccountOnly",
            "Effect": "Allow",
            "Principal": {"AWS": ROOT},
            "Action": "sqs:*",
            "Resource": "*",
        }
    )
    arn = f"arn:aws:sqs:us-east-1:{ACCOUNT}:dlq"
    assert not evaluate(request(labeler, "sqs:ReceiveMessage", arn), [], owner).allowed
    allow = identity({"Effect": "Allow", "Action": "sqs:ReceiveMessage", "Resource": arn})
    assert evaluate(request(labeler, "sqs:ReceiveMessage", arn), [allow], owner).allowed


def test_a_deny_naming_the_account_denies_its_roles(labeler) -> None:
    deny = resource(
        {"Effect": "Deny", "Principal": {"AWS": ACCOUNT}, "Action": "*", "Resource": "*"}
    )
    result = evaluate(request(labeler, "s3:GetObject", f"{BUCKET}/a"), [identity(ALLOW_GET)], deny)
    assert result.decision is Decision.EXPLICIT_DENY


def test_not_action_and_not_resource(labeler) -> None:
    policy = identity(
        {"Effect": "Allow", "NotAction": "s3:Delete*", "Resource": f"{BUCKET}/*"},
        {
            "Effect": "Deny",
            "Action": "s3:*",
            "NotResource": [f"{BUCKET}/ingest/*", f"{BUCKET}/results/*"],
        },
    )
    assert evaluate(request(labeler, "s3:GetObject", f"{BUCKET}/ingest/a"), [policy]).allowed
    assert not evaluate(request(labeler, "s3:DeleteObject", f"{BUCKET}/ingest/a"), [policy]).allowed
    outside = evaluate(request(labeler, "s3:GetObject", f"{BUCKET}/other/a"), [policy])
    assert outside.decision is Decision.EXPLICIT_DENY


def test_not_principal(labeler) -> None:
    other = Principal.assumed_role(f"arn:aws:iam::{ACCOUNT}:role/other", "s")
    policy = resource(
        {
            "Effect": "Deny",
            "NotPrincipal": {"AWS": labeler.role_arn},
            "Action": "s3:*",
            "Resource": f"{BUCKET}/*",
        }
    )
    assert evaluate(
        request(labeler, "s3:GetObject", f"{BUCKET}/a"), [identity(ALLOW_GET)], policy
    ).allowed
    result = evaluate(request(other, "s3:GetObject", f"{BUCKET}/a"), [identity(ALLOW_GET)], policy)
    assert result.decision is Decision.EXPLICIT_DENY


def test_role_arn_with_a_path_matches_its_sessions() -> None:
    role = f"arn:aws:iam::{ACCOUNT}:role/service-role/fn"
    session = Principal.assumed_role(role, "fn")
    assert session.arn == f"arn:aws:sts::{ACCOUNT}:assumed-role/fn/fn"
    grant = resource(
        {"Effect": "Allow", "Principal": {"AWS": role}, "Action": "s3:GetObject", "Resource": "*"}
    )
    assert evaluate(request(session, "s3:GetObject", f"{BUCKET}/a"), [], grant).allowed


# --- service principals (deliveries between services) -----------------------------------------

TOPIC = f"arn:aws:sns:us-east-1:{ACCOUNT}:imgpipe-events"
TOPIC_POLICY = {
    "Sid": "AllowS3EventNotifications",
    "Effect": "Allow",
    "Principal": {"Service": "s3.amazonaws.com"},
    "Action": "sns:Publish",
    "Resource": TOPIC,
    "Condition": {
        "ArnEquals": {"aws:SourceArn": BUCKET},
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
    },
}


def test_service_principal_needs_the_resource_policy_and_its_conditions() -> None:
    s3 = Principal.service_principal("s3.amazonaws.com")
    policy = resource(TOPIC_POLICY, name="topic policy")
    ok = request(
        s3, "sns:Publish", TOPIC, **{"aws:SourceArn": BUCKET, "aws:SourceAccount": ACCOUNT}
    )
    assert evaluate(ok, [], policy).allowed
    wrong_bucket = request(
        s3,
        "sns:Publish",
        TOPIC,
        **{"aws:SourceArn": "arn:aws:s3:::other", "aws:SourceAccount": ACCOUNT},
    )
    assert not evaluate(wrong_bucket, [], policy).allowed
    cloudwatch = Principal.service_principal("cloudwatch.amazonaws.com")
    result = evaluate(
        request(cloudwatch, "sns:Publish", TOPIC, **{"aws:SourceArn": BUCKET}), [], policy
    )
    assert result.decision is Decision.IMPLICIT_DENY
    assert "no resource-based policy allows the sns:Publish action" in result.aws_message()


def test_service_principal_ignores_identity_policies() -> None:
    s3 = Principal.service_principal("s3.amazonaws.com")
    everything = identity({"Effect": "Allow", "Action": "*", "Resource": "*"})
    assert not evaluate(request(s3, "sns:Publish", TOPIC), [everything]).allowed


# --- KMS: the key policy must allow ---------------------------------------------------------------

KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234"
ADMIN = {
    "Sid": "AccountAdministration",
    "Effect": "Allow",
    "Principal": {"AWS": ROOT},
    "Action": "kms:*",
    "Resource": "*",
}


def test_kms_key_policy_delegating_to_iam_needs_an_identity_allow(labeler) -> None:
    key_policy = resource(ADMIN, name="key policy")
    call = request(labeler, "kms:Decrypt", KEY)
    denied = evaluate(call, [], key_policy, key_policy_required=True)
    assert denied.decision is Decision.IMPLICIT_DENY
    assert "no identity-based policy allows the kms:Decrypt action" in denied.aws_message()
    allow = identity({"Effect": "Allow", "Action": "kms:Decrypt", "Resource": KEY})
    assert evaluate(call, [allow], key_policy, key_policy_required=True).allowed


def test_kms_identity_allow_is_not_enough_without_the_key_policy(labeler) -> None:
    allow = identity({"Effect": "Allow", "Action": "kms:*", "Resource": "*"})
    key_policy = resource(
        {
            "Effect": "Allow",
            "Principal": {"Service": "s3.amazonaws.com"},
            "Action": "kms:Decrypt",
            "Resource": "*",
        }
    )
    result = evaluate(
        request(labeler, "kms:Decrypt", KEY), [allow], key_policy, key_policy_required=True
    )
    assert result.decision is Decision.IMPLICIT_DENY
    assert "no resource-based policy allows the kms:Decrypt action" in result.aws_message()
    assert not evaluate(
        request(labeler, "kms:Decrypt", KEY), [allow], None, key_policy_required=True
    ).allowed


def test_kms_key_policy_naming_the_role_allows_alone(labeler) -> None:
    key_policy = resource(
        {
            "Effect": "Allow",
            "Principal": {"AWS": labeler.role_arn},
            "Action": "kms:Decrypt",
            "Resource": "*",
        }
    )
    assert evaluate(
        request(labeler, "kms:Decrypt", KEY), [], key_policy, key_policy_required=True
    ).allowed


def test_kms_via_service_condition(labeler) -> None:
    allow = identity(
        {
            "Sid": "DecryptWebhookUrl",
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": KEY,
            "Condition": {"StringEquals": {"kms:ViaService": "ssm.us-east-1.amazonaws.com"}},
        }
    )
    key_policy = resource(ADMIN)
    via_ssm = request(
        labeler, "kms:Decrypt", KEY, **{"kms:ViaService": "ssm.us-east-1.amazonaws.com"}
    )
    direct = request(labeler, "kms:Decrypt", KEY)
    assert evaluate(via_ssm, [allow], key_policy, key_policy_required=True).allowed
    assert not evaluate(direct, [allow], key_policy, key_policy_required=True).allowed


# --- failing closed ------------------------------------------------------------------------------


def test_unsupported_operator_fails_closed_naming_statement_and_key(labeler) -> None:
    policy = identity(
        ALLOW_GET,
        {
            "Sid": "Weird",
            "Effect": "Deny",
            "Action": "s3:GetObject",
            "Resource": "*",
            "Condition": {"StringMatchesRegex": {"aws:SourceVpce": "vpce-.*"}},
        },
    )
    result = evaluate(request(labeler, "s3:GetObject", f"{BUCKET}/a"), [policy])
    assert not result.allowed
    assert "Weird" in result.reason and "aws:SourceVpce" in result.reason
    assert "StringMatchesRegex" in result.reason


def test_unsupported_operator_without_sid_is_named_by_position(labeler) -> None:
    policy = identity(
        {
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": "*",
            "Condition": {"StringEqualsAnyCase": {"s3:prefix": "a"}},
        }
    )
    result = evaluate(request(labeler, "s3:GetObject", f"{BUCKET}/a"), [policy])
    assert not result.allowed
    assert "statement #0" in result.reason and "s3:prefix" in result.reason


def test_unsupported_operator_in_a_statement_that_does_not_apply_is_harmless(labeler) -> None:
    policy = identity(
        ALLOW_GET,
        {"Effect": "Deny", "Action": "sqs:*", "Resource": "*", "Condition": {"Weird": {"k": "v"}}},
    )
    assert evaluate(request(labeler, "s3:GetObject", f"{BUCKET}/a"), [policy]).allowed


def test_an_unreadable_policy_denies_everything_visibly(labeler) -> None:
    broken = parse_or_deny(
        '{"Statement": [{"Effect": "Allow", "Principal": }', "queue policy", "resource"
    )
    result = evaluate(
        request(labeler, "sqs:SendMessage", "arn:aws:sqs:us-east-1:0:q"),
        [identity({"Effect": "Allow", "Action": "*", "Resource": "*"})],
        broken,
    )
    assert result.decision is Decision.EXPLICIT_DENY
    assert "unreadable policy" in result.reason


def test_statement_without_effect_is_a_policy_error() -> None:
    from harness_iam import PolicyError

    with pytest.raises(PolicyError, match="Effect"):
        identity({"Action": "s3:*", "Resource": "*"})


# --- policy variables -------------------------------------------------------------------------


def test_policy_variables_in_resource(labeler) -> None:
    policy = identity(
        {
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": f"{BUCKET}/home/${{aws:PrincipalAccount}}/*",
        }
    )
    allowed = request(
        labeler, "s3:GetObject", f"{BUCKET}/home/{ACCOUNT}/x", **{"aws:PrincipalAccount": ACCOUNT}
    )
    assert evaluate(allowed, [policy]).allowed
    # Without the key the variable matches nothing.
    assert not evaluate(
        request(labeler, "s3:GetObject", f"{BUCKET}/home/{ACCOUNT}/x"), [policy]
    ).allowed


def test_old_policy_version_takes_variables_literally(labeler) -> None:
    policy = Policy.parse(
        {
            "Version": "2008-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "s3:GetObject",
                    "Resource": f"{BUCKET}/${{aws:PrincipalAccount}}",
                }
            ],
        },
        "old",
        "identity",
    )
    r = request(
        labeler,
        "s3:GetObject",
        f"{BUCKET}/${{aws:PrincipalAccount}}",
        **{"aws:PrincipalAccount": ACCOUNT},
    )
    assert evaluate(r, [policy]).allowed


def test_url_encoded_documents_as_iam_returns_them(labeler) -> None:
    import json
    import urllib.parse

    text = urllib.parse.quote(json.dumps({"Version": "2012-10-17", "Statement": [ALLOW_GET]}))
    policy = Policy.parse(text, "inline", "identity")
    assert evaluate(request(labeler, "s3:GetObject", f"{BUCKET}/a"), [policy]).allowed
