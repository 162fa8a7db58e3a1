"""Partial JSON matching: the expectation lists only what matters.

Rules (see docs/scenarios.md, "Matching"):

- mapping: every key given must be in the actual object and match; other keys are ignored;
- list: every element given must match some element of the actual list (order-free);
- string: equal after filling `{placeholders}`;
- number, true/false, null: equal;
- a mapping whose keys all start with `$` is an operator test: `$regex`, `$contains`,
  `$gt`, `$gte`, `$lt`, `$lte`, `$len`, `$exists`, `$in`, `$each`, `$not`.

`mismatches` returns readable reasons with the JSON path of each, empty when it matches.
"""

from __future__ import annotations

import json
import re
from typing import Any

from harness.scenarios import templates
from harness.scenarios.source import Src

OPERATORS = (
    "$regex",
    "$contains",
    "$gt",
    "$gte",
    "$lt",
    "$lte",
    "$len",
    "$exists",
    "$in",
    "$each",
    "$not",
)


def is_operator(value: Any) -> bool:
    return isinstance(value, dict) and bool(value) and all(str(k).startswith("$") for k in value)


def validate(src: Src, extra: tuple[str, ...] = ()) -> Any:
    """Check an expectation when the file is loaded; returns its plain value."""
    if src.is_mapping:
        fields = src.mapping()
        dollar = [k for k in fields if k.startswith("$")]
        if dollar and len(dollar) != len(fields):
            raise src.fail("mix of operators ($...) and fields; nest the fields instead")
        for key, child in fields.items():
            if key.startswith("$"):
                _validate_operator(key, child, extra)
            else:
                validate(child, extra)
    elif src.is_sequence:
        for child in src.items():
            validate(child, extra)
    elif isinstance(src.value, str):
        templates.check_text(src, src.value, extra)
    return src.value


def _validate_operator(op: str, src: Src, extra: tuple[str, ...]) -> None:
    if op not in OPERATORS:
        raise src.fail(f"unknown operator {op}; known: {', '.join(OPERATORS)}")
    if op == "$regex":
        try:
            re.compile(src.text())
        except re.error as exc:
            raise src.fail(f"bad regular expression: {exc}") from exc
    elif op in ("$gt", "$gte", "$lt", "$lte"):
        src.number()
    elif op == "$len":
        if src.is_mapping:
            validate(src, extra)
        else:
            src.integer(minimum=0)
    elif op == "$exists":
        src.boolean()
    elif op == "$in":
        for child in src.items():
            validate(child, extra)
    else:  # $contains, $each, $not take an expectation
        validate(src, extra)


def _fill(expected: str, variables: dict[str, Any]) -> str:
    return templates.render(expected, variables) if "{" in expected else expected


def _short(value: Any, limit: int = 120) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def mismatches(expected: Any, actual: Any, variables: dict[str, Any], path: str = "$") -> list[str]:
    if is_operator(expected):
        return _operators(expected, actual, variables, path)
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{path}: expected an object, got {_short(actual)}"]
        found: list[str] = []
        for key, value in expected.items():
            child = f"{path}.{key}"
            if key not in actual:
                if is_operator(value) and value.get("$exists") is False:
                    continue
                found.append(f"{child}: missing")
                continue
            found += mismatches(value, actual[key], variables, child)
        return found
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return [f"{path}: expected a list, got {_short(actual)}"]
        found = []
        for index, item in enumerate(expected):
            if not any(not mismatches(item, candidate, variables) for candidate in actual):
                found.append(f"{path}[{index}]: no element matches {_short(item)}")
        return found
    if isinstance(expected, str):
        want = _fill(expected, variables)
        return [] if actual == want else [f"{path}: expected {_short(want)}, got {_short(actual)}"]
    if isinstance(expected, bool) or expected is None:
        ok = actual is expected
    elif isinstance(expected, int | float):
        ok = not isinstance(actual, bool) and isinstance(actual, int | float) and actual == expected
    else:
        ok = actual == expected
    return [] if ok else [f"{path}: expected {_short(expected)}, got {_short(actual)}"]


def _operators(expected: dict, actual: Any, variables: dict[str, Any], path: str) -> list[str]:
    found: list[str] = []
    for op, arg in expected.items():
        problem = _operator(op, arg, actual, variables, path)
        if problem:
            found.append(problem)
    return found


def _operator(op: str, arg: Any, actual: Any, variables: dict[str, Any], path: str) -> str | None:
    got = _short(actual)
    if op == "$exists":
        return None if arg else f"{path}: expected to be absent, got {got}"
    if op == "$regex":
        ok = isinstance(actual, str) and re.search(arg, actual) is not None
        return None if ok else f"{path}: {got} does not match /{arg}/"
    if op == "$contains":
        if isinstance(actual, str) and isinstance(arg, str):
            want = _fill(arg, variables)
            return None if want in actual else f"{path}: {got} does not contain {_short(want)}"
        if isinstance(actual, list):
            if any(not mismatches(arg, item, variables) for item in actual):
                return None
            return f"{path}: no element matches {_short(arg)}"
        return f"{path}: $contains needs a string or a list, got {got}"
    if op in ("$gt", "$gte", "$lt", "$lte"):
        if isinstance(actual, bool) or not isinstance(actual, int | float):
            return f"{path}: expected a number, got {got}"
        ok = {
            "$gt": actual > arg,
            "$gte": actual >= arg,
            "$lt": actual < arg,
            "$lte": actual <= arg,
        }[op]
        return None if ok else f"{path}: {got} is not {op[1:]} {arg}"
    if op == "$len":
        if not isinstance(actual, list | str | dict):
            return f"{path}: expected something with a length, got {got}"
        problems = mismatches(arg, len(actual), variables, f"len({path})")
        return "; ".join(problems) or None
    if op == "$in":
        if any(not mismatches(option, actual, variables) for option in arg):
            return None
        return f"{path}: {got} is none of {_short(arg)}"
    if op == "$each":
        if not isinstance(actual, list):
            return f"{path}: expected a list, got {got}"
        for index, item in enumerate(actual):
            problems = mismatches(arg, item, variables, f"{path}[{index}]")
            if problems:
                return problems[0]
        return None
    if op == "$not":
        return None if mismatches(arg, actual, variables) else f"{path}: {got} should not match"
    return f"{path}: unknown operator {op}"  # validated at load; kept for safety
