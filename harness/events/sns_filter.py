"""Evaluating an SNS subscription filter policy against a message, as SNS does.

SNS drops a filtered-out message without a trace (no metric on LocalStack, nothing in
any queue), so `harness replay` reads the deployed subscription's real policy and
evaluates it here to say which events the policy stops. Operators this module does not
know raise `UnsupportedFilter`: a verdict is never guessed.
"""

from __future__ import annotations

import json
from typing import Any

_MISSING = object()


class UnsupportedFilter(ValueError):
    """The policy uses an operator this evaluator does not implement."""


def _leaves(value: Any, path: list[str]) -> list[Any]:
    """Values at `path`; arrays are flattened at every level, as SNS does. Empty: absent."""
    if isinstance(value, list):
        return [leaf for item in value for leaf in _leaves(item, path)]
    if not path:
        return [value]
    if not isinstance(value, dict) or path[0] not in value:
        return []
    return _leaves(value[path[0]], path[1:])


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _equal(value: Any, expected: Any) -> bool:
    """Exact match: strings to strings, numbers to numbers (5 == 5.0), null to null."""
    if _is_number(expected):
        return _is_number(value) and value == expected
    return type(value) is type(expected) and value == expected


def _numeric(value: Any, spec: list) -> bool:
    if not _is_number(value):
        return False
    comparisons = {
        "=": lambda a, b: a == b,
        "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b,
        ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b,
    }
    for operator, bound in zip(spec[::2], spec[1::2], strict=True):
        if operator not in comparisons:
            raise UnsupportedFilter(f"numeric operator {operator!r}")
        if not comparisons[operator](value, bound):
            return False
    return True


def _anything_but(value: Any, spec: Any) -> bool:
    if isinstance(spec, dict):
        if "prefix" in spec:
            return isinstance(value, str) and not value.startswith(spec["prefix"])
        if "suffix" in spec:
            return isinstance(value, str) and not value.endswith(spec["suffix"])
        raise UnsupportedFilter(f"anything-but with {sorted(spec)}")
    excluded = spec if isinstance(spec, list) else [spec]
    return value not in excluded


def _condition(condition: Any, values: list[Any]) -> bool:
    if not isinstance(condition, dict):
        return any(_equal(value, condition) for value in values)
    if len(condition) != 1:
        raise UnsupportedFilter(f"condition with several operators: {sorted(condition)}")
    operator, spec = next(iter(condition.items()))
    if operator == "exists":
        return bool(values) is bool(spec)
    tests = {
        "prefix": lambda v: isinstance(v, str) and v.startswith(spec),
        "suffix": lambda v: isinstance(v, str) and v.endswith(spec),
        "equals-ignore-case": lambda v: isinstance(v, str) and v.lower() == str(spec).lower(),
        "anything-but": lambda v: _anything_but(v, spec),
        "numeric": lambda v: _numeric(v, spec),
    }
    if operator not in tests:
        raise UnsupportedFilter(f"operator {operator!r}")
    return any(tests[operator](value) for value in values)


def _policy(policy: dict, message: Any, path: list[str]) -> bool:
    for key, rule in policy.items():
        if key == "$or":
            if not any(_policy(branch, message, path) for branch in rule):
                return False
            continue
        if isinstance(rule, dict):
            if not _policy(rule, message, [*path, key]):
                return False
            continue
        conditions = rule if isinstance(rule, list) else [rule]
        values = _leaves(message, [*path, key])
        if not any(_condition(condition, values) for condition in conditions):
            return False
    return True


def matches(policy: dict | str | None, message: Any, scope: str = "MessageBody") -> bool:
    """Whether SNS delivers `message` through a subscription with this filter policy.

    With scope `MessageBody`, `message` is the published body (a dict, or a JSON string);
    with `MessageAttributes`, it is `{name: value}` of the message attributes.
    """
    if policy in (None, "", {}):
        return True
    if isinstance(policy, str):
        policy = json.loads(policy)
    if scope == "MessageBody" and isinstance(message, str):
        try:
            message = json.loads(message)
        except json.JSONDecodeError:
            return False  # SNS drops non-JSON bodies under a MessageBody policy
    if not isinstance(policy, dict):
        raise UnsupportedFilter("a filter policy must be a JSON object")
    return _policy(policy, message, [])
