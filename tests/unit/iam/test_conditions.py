"""Condition operators, matched against IAM's documented semantics."""

from __future__ import annotations

import pytest
from harness_iam.conditions import RequestContext, UnsupportedCondition, evaluate_block
from harness_iam.patterns import action_matches, arn_matches, glob_match


def holds(block, **context) -> bool:
    return evaluate_block(block, RequestContext(context))


def ctx(**values):
    return RequestContext({k.replace("__", ":"): v for k, v in values.items()})


# --- wildcards ------------------------------------------------------------------------------


def test_glob_star_and_question_mark() -> None:
    assert glob_match("ingest/*", "ingest/a/b.jpg")
    assert glob_match("ingest/?.jpg", "ingest/a.jpg")
    assert not glob_match("ingest/?.jpg", "ingest/ab.jpg")
    assert not glob_match("ingest/*", "results/a.json")
    assert glob_match("a.b", "a.b") and not glob_match("a.b", "axb")  # no regex leaks


def test_actions_compare_case_insensitively_with_wildcards() -> None:
    assert action_matches("S3:getobject", "s3:GetObject")
    assert action_matches("s3:Get*", "s3:GetObjectVersion")
    assert action_matches("kms:GenerateDataKey*", "kms:GenerateDataKey")
    assert not action_matches("s3:GetObject", "s3:GetObjectVersion")
    assert action_matches("*", "sqs:SendMessage")


def test_arns_match_part_by_part_and_case_sensitively() -> None:
    assert arn_matches("arn:aws:s3:::bucket/ingest/*", "arn:aws:s3:::bucket/ingest/x/y.jpg")
    assert not arn_matches("arn:aws:s3:::bucket/ingest/*", "arn:aws:s3:::bucket/Ingest/y.jpg")
    assert arn_matches("arn:aws:sqs:*:000000000000:q", "arn:aws:sqs:us-east-1:000000000000:q")
    # A wildcard in one part does not swallow the next part's colon.
    assert not arn_matches("arn:aws:sqs:*", "arn:aws:sqs:us-east-1:000000000000:q")
    assert arn_matches(
        "arn:aws:logs:us-east-1:000000000000:log-group:/aws/lambda/f:*",
        "arn:aws:logs:us-east-1:000000000000:log-group:/aws/lambda/f:log-stream:2026/x",
    )
    assert arn_matches("*", "arn:aws:s3:::b")


# --- string, arn, bool, null --------------------------------------------------------------


def test_string_operators() -> None:
    assert holds(
        {"StringEquals": {"aws:SourceAccount": "000000000000"}},
        **{"aws:SourceAccount": "000000000000"},
    )
    assert not holds(
        {"StringEquals": {"aws:SourceAccount": "1"}}, **{"aws:SourceAccount": "000000000000"}
    )
    assert holds({"StringEqualsIgnoreCase": {"k": "ABC"}}, k="abc")
    assert holds({"StringNotEqualsIgnoreCase": {"k": "ABC"}}, k="abd")
    assert not holds({"StringNotEqualsIgnoreCase": {"k": "ABC"}}, k="abc")
    assert holds(
        {"StringLike": {"s3:prefix": ["ingest/*", "results/*"]}}, **{"s3:prefix": "results/x"}
    )
    assert not holds({"StringNotLike": {"s3:prefix": "ingest/*"}}, **{"s3:prefix": "ingest/x"})


def test_keys_are_case_insensitive_values_are_not() -> None:
    assert holds({"StringEquals": {"AWS:SourceAccount": "A"}}, **{"aws:sourceaccount": "A"})
    assert not holds({"StringEquals": {"aws:SourceAccount": "a"}}, **{"aws:SourceAccount": "A"})


def test_several_values_or_several_keys_and_several_operators_and() -> None:
    block = {
        "ArnEquals": {"aws:SourceArn": "arn:aws:s3:::b"},
        "StringEquals": {"aws:SourceAccount": ["1", "000000000000"]},
    }
    good = {"aws:SourceArn": "arn:aws:s3:::b", "aws:SourceAccount": "000000000000"}
    assert holds(block, **good)
    assert not holds(block, **{**good, "aws:SourceArn": "arn:aws:s3:::other"})
    assert not holds(block, **{**good, "aws:SourceAccount": "2"})


def test_negated_operators_nor_their_values() -> None:
    block = {"StringNotEquals": {"k": ["a", "b"]}}
    assert holds(block, k="c")
    assert not holds(block, k="a")
    assert not holds(block, k="b")


def test_arn_operators() -> None:
    arn = "arn:aws:cloudwatch:us-east-1:000000000000:alarm:imgpipe-labeler-dlq-not-empty"
    assert holds(
        {"ArnLike": {"aws:SourceArn": "arn:aws:cloudwatch:*:*:alarm:imgpipe-*"}},
        **{"aws:SourceArn": arn},
    )
    assert holds({"ArnEquals": {"aws:SourceArn": arn}}, **{"aws:SourceArn": arn})
    assert holds({"ArnNotEquals": {"aws:SourceArn": "arn:aws:s3:::b"}}, **{"aws:SourceArn": arn})
    assert not holds(
        {"ArnNotLike": {"aws:SourceArn": "arn:aws:cloudwatch:*:*:alarm:*"}},
        **{"aws:SourceArn": arn},
    )
    assert holds({"ArnNotLike": {"aws:SourceArn": "arn:aws:s3:::*"}}, **{"aws:SourceArn": arn})


def test_bool_compares_the_text_of_booleans() -> None:
    block = {"Bool": {"aws:SecureTransport": "false"}}
    assert holds(block, **{"aws:SecureTransport": False})
    assert not holds(block, **{"aws:SecureTransport": True})
    assert holds({"Bool": {"aws:SecureTransport": True}}, **{"aws:SecureTransport": "TRUE"})


def test_null_tests_presence() -> None:
    assert holds({"Null": {"s3:x-amz-server-side-encryption": "true"}})
    assert not holds({"Null": {"k": "true"}}, k="v")
    assert holds({"Null": {"k": "false"}}, k="v")
    assert not holds({"Null": {"k": "false"}})


def test_missing_key_is_false_but_true_for_negated_and_if_exists() -> None:
    assert not holds({"StringEquals": {"aws:SourceArn": "x"}})
    assert not holds({"Bool": {"aws:SecureTransport": "false"}})
    assert holds({"StringNotEquals": {"aws:SourceArn": "x"}})
    assert holds({"ArnNotLike": {"aws:SourceArn": "x"}})
    assert holds({"StringEqualsIfExists": {"aws:SourceArn": "x"}})
    assert not holds({"StringEqualsIfExists": {"aws:SourceArn": "x"}}, **{"aws:SourceArn": "y"})
    assert holds(
        {"ArnLikeIfExists": {"aws:SourceArn": "arn:aws:s3:::*"}},
        **{"aws:SourceArn": "arn:aws:s3:::b"},
    )


# --- numeric, date, ip, binary -------------------------------------------------------------


def test_numeric_operators() -> None:
    assert holds({"NumericLessThanEquals": {"s3:max-keys": "10"}}, **{"s3:max-keys": 10})
    assert not holds({"NumericLessThan": {"s3:max-keys": "10"}}, **{"s3:max-keys": "10"})
    assert holds({"NumericGreaterThan": {"k": 1.5}}, k="2")
    assert holds({"NumericGreaterThanEquals": {"k": "2"}}, k="2.0")
    assert holds({"NumericEquals": {"k": "3"}}, k="3")
    assert holds({"NumericNotEquals": {"k": "3"}}, k="4")
    assert not holds({"NumericEquals": {"k": "3"}}, k="three")


def test_date_operators() -> None:
    now = {"aws:CurrentTime": "2026-12-02T10:00:00Z"}
    assert holds({"DateLessThan": {"aws:CurrentTime": "2027-01-01T00:00:00Z"}}, **now)
    assert holds({"DateGreaterThan": {"aws:CurrentTime": "2026-12-01"}}, **now)
    assert holds({"DateGreaterThanEquals": {"aws:CurrentTime": "2026-12-02T10:00:00+00:00"}}, **now)
    assert holds({"DateLessThanEquals": {"aws:CurrentTime": "1796205600"}}, **now)  # epoch seconds
    assert holds({"DateEquals": {"aws:CurrentTime": "2026-12-02T10:00:00.000Z"}}, **now)
    assert holds({"DateNotEquals": {"aws:CurrentTime": "2026-12-02T10:00:01Z"}}, **now)


def test_ip_address_operators() -> None:
    assert holds(
        {"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "127.0.0.0/8"]}},
        **{"aws:SourceIp": "127.0.0.1"},
    )
    assert holds({"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, **{"aws:SourceIp": "127.0.0.1"})
    assert not holds({"IpAddress": {"aws:SourceIp": "10.0.0.1"}}, **{"aws:SourceIp": "127.0.0.1"})


def test_binary_equals() -> None:
    assert holds({"BinaryEquals": {"k": "QmluYXJ5"}}, k="QmluYXJ5")


# --- set operators ----------------------------------------------------------------------------


def test_for_all_values() -> None:
    block = {"ForAllValues:StringEquals": {"aws:TagKeys": ["team", "env"]}}
    assert holds(block, **{"aws:TagKeys": ["team"]})
    assert holds(block, **{"aws:TagKeys": ["team", "env"]})
    assert not holds(block, **{"aws:TagKeys": ["team", "cost"]})
    assert holds(block)  # vacuously true without the key


def test_for_any_value() -> None:
    block = {"ForAnyValue:StringLike": {"aws:TagKeys": "t*"}}
    assert holds(block, **{"aws:TagKeys": ["x", "team"]})
    assert not holds(block, **{"aws:TagKeys": ["x"]})
    assert not holds(block)


def test_for_any_value_with_negated_operator() -> None:
    block = {"ForAnyValue:StringNotEquals": {"aws:TagKeys": ["a"]}}
    assert holds(block, **{"aws:TagKeys": ["a", "b"]})
    assert not holds(block, **{"aws:TagKeys": ["a"]})


# --- policy variables and unsupported operators ------------------------------------------------


def test_policy_variables_in_values() -> None:
    from harness_iam.policy import substitute_variables

    context = RequestContext({"aws:PrincipalAccount": "000000000000"})

    def sub(text):
        return substitute_variables(text, lambda k: (context.get(k) or [None])[0])

    block = {"StringEquals": {"aws:SourceAccount": "${aws:PrincipalAccount}"}}
    context["aws:SourceAccount"] = "000000000000"
    assert evaluate_block(block, context, sub)
    context["aws:SourceAccount"] = "1"
    assert not evaluate_block(block, context, sub)
    assert sub("${aws:username, 'nobody'}") == "nobody"
    assert sub("a${*}b${?}") == "a*b?"
    assert sub("${aws:username}") is None


@pytest.mark.parametrize(
    "block, key",
    [
        ({"StringMatchesRegex": {"aws:SourceArn": "x"}}, "aws:SourceArn"),
        ({"ForSomeValues:StringEquals": {"k": "x"}}, ""),
        ({"StringEquals": {"k": {"nested": "x"}}}, "k"),
        ({"NullIfExists": {"k": "true"}}, "k"),
    ],
)
def test_unsupported_operators_raise_with_the_key(block, key) -> None:
    with pytest.raises(UnsupportedCondition) as raised:
        evaluate_block(block, RequestContext({"k": "x", "aws:SourceArn": "x"}))
    assert raised.value.key == key
