"""The Condition element: operators, `...IfExists`, `ForAllValues:`/`ForAnyValue:`, `Null`.

Semantics (IAM User Guide, "Condition operators" and "Conditions with multiple context
keys or values"):
- operators of one block, and keys of one operator, are ANDed; the values of one key
  are ORed (NORed for a negated operator such as `StringNotEquals`);
- a key missing from the request makes a condition false, except for negated
  operators (true), `...IfExists` (true) and `Null` (which tests for presence);
- `ForAllValues:` is true when every request value matches (vacuously true when the
  key is missing); `ForAnyValue:` when at least one does (false when missing).

An operator this module does not know raises `UnsupportedCondition`; the evaluator turns
that into a denial that names the statement and the key. It never guesses.
"""

from __future__ import annotations

import base64
import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from .patterns import arn_matches, glob_match

Substitute = Callable[[str], "str | None"]


class UnsupportedCondition(Exception):
    """A condition operator (or operator/value shape) that is not implemented."""

    def __init__(self, operator: str, key: str, why: str = "") -> None:
        self.operator = operator
        self.key = key
        self.why = why or f"condition operator {operator!r} is not supported"
        super().__init__(f"{self.why} (key {key!r})")


class RequestContext:
    """Condition keys of one request: case-insensitive names, each with a list of values.

    Values are strings as IAM sees them (`True` becomes "true", numbers their decimal
    text); a key holding a list is multivalued (e.g. `aws:TagKeys`).
    """

    def __init__(self, values: Mapping[str, object] | None = None) -> None:
        self._values: dict[str, tuple[str, list[str]]] = {}
        for key, value in (values or {}).items():
            self[key] = value

    def __setitem__(self, key: str, value: object) -> None:
        if value is None:
            self._values.pop(key.lower(), None)
            return
        items = value if isinstance(value, list | tuple | set | frozenset) else [value]
        self._values[key.lower()] = (key, [_as_text(v) for v in items])

    def get(self, key: str) -> list[str] | None:
        entry = self._values.get(key.lower())
        return None if entry is None else entry[1]

    def __contains__(self, key: str) -> bool:
        return key.lower() in self._values

    def as_dict(self) -> dict[str, object]:
        return {name: vals[0] if len(vals) == 1 else vals for name, vals in self._values.values()}

    def copy(self) -> RequestContext:
        clone = RequestContext()
        clone._values = dict(self._values)
        return clone


def _as_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value)


# --- value comparisons ---------------------------------------------------------------


def _number(text: str) -> Decimal | None:
    try:
        return Decimal(text.strip())
    except (InvalidOperation, AttributeError):
        return None


_ISO_FORMATS = ("%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M%z", "%Y-%m-%d%z")


def _date(text: str) -> datetime | None:
    text = text.strip()
    number = _number(text)
    if number is not None:
        return datetime.fromtimestamp(float(number), UTC)
    normalized = text.replace("Z", "+0000").replace("z", "+0000")
    normalized = re.sub(r"([+-]\d\d):(\d\d)$", r"\1\2", normalized)
    if re.fullmatch(r"\d{4}-\d\d-\d\d", normalized) or re.fullmatch(
        r"\d{4}-\d\d-\d\dT[\d:.]+", normalized
    ):
        normalized += "+0000"
    for fmt in _ISO_FORMATS:
        try:
            return datetime.strptime(normalized, fmt)
        except ValueError:
            continue
    return None


def _compare_ordered(parse: Callable[[str], object], test: Callable[[object, object], bool]):
    def compare(request_value: str, policy_value: str) -> bool:
        left, right = parse(request_value), parse(policy_value)
        if left is None or right is None:
            return False
        return test(left, right)

    return compare


def _ip_in(request_value: str, policy_value: str) -> bool:
    try:
        address = ipaddress.ip_address(request_value.strip())
        network = ipaddress.ip_network(policy_value.strip(), strict=False)
    except ValueError:
        return False
    return address.version == network.version and address in network


def _binary_equals(request_value: str, policy_value: str) -> bool:
    try:
        return base64.b64decode(request_value) == base64.b64decode(policy_value)
    except ValueError:
        return False


# (compare, negated, supports policy variables)
_BASE_OPERATORS: dict[str, tuple[Callable[[str, str], bool], bool, bool]] = {
    "stringequals": (lambda r, p: r == p, False, True),
    "stringnotequals": (lambda r, p: r == p, True, True),
    "stringequalsignorecase": (lambda r, p: r.lower() == p.lower(), False, True),
    "stringnotequalsignorecase": (lambda r, p: r.lower() == p.lower(), True, True),
    "stringlike": (lambda r, p: glob_match(p, r), False, True),
    "stringnotlike": (lambda r, p: glob_match(p, r), True, True),
    "arnequals": (lambda r, p: arn_matches(p, r), False, True),
    "arnlike": (lambda r, p: arn_matches(p, r), False, True),
    "arnnotequals": (lambda r, p: arn_matches(p, r), True, True),
    "arnnotlike": (lambda r, p: arn_matches(p, r), True, True),
    "numericequals": (_compare_ordered(_number, lambda a, b: a == b), False, False),
    "numericnotequals": (_compare_ordered(_number, lambda a, b: a == b), True, False),
    "numericlessthan": (_compare_ordered(_number, lambda a, b: a < b), False, False),
    "numericlessthanequals": (_compare_ordered(_number, lambda a, b: a <= b), False, False),
    "numericgreaterthan": (_compare_ordered(_number, lambda a, b: a > b), False, False),
    "numericgreaterthanequals": (_compare_ordered(_number, lambda a, b: a >= b), False, False),
    "dateequals": (_compare_ordered(_date, lambda a, b: a == b), False, False),
    "datenotequals": (_compare_ordered(_date, lambda a, b: a == b), True, False),
    "datelessthan": (_compare_ordered(_date, lambda a, b: a < b), False, False),
    "datelessthanequals": (_compare_ordered(_date, lambda a, b: a <= b), False, False),
    "dategreaterthan": (_compare_ordered(_date, lambda a, b: a > b), False, False),
    "dategreaterthanequals": (_compare_ordered(_date, lambda a, b: a >= b), False, False),
    "bool": (lambda r, p: r.strip().lower() == p.strip().lower(), False, True),
    "binaryequals": (_binary_equals, False, False),
    "ipaddress": (_ip_in, False, False),
    "notipaddress": (_ip_in, True, False),
}

SUPPORTED_OPERATORS = frozenset(_BASE_OPERATORS) | {"null"}


def _policy_values(raw: object, operator: str, key: str) -> list[str]:
    items = raw if isinstance(raw, list) else [raw]
    values = []
    for item in items:
        if isinstance(item, dict | list) or item is None:
            raise UnsupportedCondition(
                operator, key, f"{operator} value {item!r} is not a string, number or boolean"
            )
        values.append(_as_text(item))
    return values


def _split_operator(operator: str) -> tuple[str | None, str, bool]:
    """('forallvalues'|'foranyvalue'|None, base operator lower-case, if_exists)."""
    name = operator.strip()
    qualifier = None
    if ":" in name:
        prefix, name = name.split(":", 1)
        qualifier = prefix.lower()
        if qualifier not in ("forallvalues", "foranyvalue"):
            raise UnsupportedCondition(operator, "", f"set operator {prefix!r} does not exist")
    base = name.lower()
    if_exists = base.endswith("ifexists") and base != "ifexists"
    if if_exists:
        base = base[: -len("ifexists")]
    return qualifier, base, if_exists


def check_block(block: Mapping[str, object]) -> None:
    """Raise UnsupportedCondition for the first operator or value shape not supported."""
    if not isinstance(block, Mapping):
        raise UnsupportedCondition("Condition", "", "Condition is not an object")
    for operator, keys in block.items():
        qualifier, base, if_exists = _split_operator(operator)
        if not isinstance(keys, Mapping) or not keys:
            raise UnsupportedCondition(operator, "", f"{operator} does not map keys to values")
        for key, raw in keys.items():
            if base not in SUPPORTED_OPERATORS:
                raise UnsupportedCondition(operator, key)
            if base == "null" and (qualifier or if_exists):
                raise UnsupportedCondition(operator, key, f"{operator} is not a valid operator")
            _policy_values(raw, operator, key)


def evaluate_block(
    block: Mapping[str, object],
    context: RequestContext,
    substitute: Callable[[str], str | None] | None = None,
    *,
    validate: bool = True,
) -> bool:
    """True if every operator of the Condition block holds for the request context.

    `substitute(text)` replaces policy variables in a value (None: the value names a
    variable the request lacks, and never matches). `validate=False` skips the shape
    check for blocks already checked (statements are checked when parsed).
    """
    if validate:
        check_block(block)
    for operator, keys in block.items():
        qualifier, base, if_exists = _split_operator(operator)
        for key, raw in keys.items():  # type: ignore[union-attr]
            policy_values = _policy_values(raw, operator, key)
            if not _evaluate_one(
                qualifier, base, if_exists, key, policy_values, context, substitute
            ):
                return False
    return True


def _evaluate_one(
    qualifier: str | None,
    base: str,
    if_exists: bool,
    key: str,
    policy_values: list[str],
    context: RequestContext,
    substitute: Callable[[str], str | None] | None,
) -> bool:
    request_values = context.get(key)
    if base == "null":
        wanted_absent = [v.strip().lower() == "true" for v in policy_values]
        absent = not request_values
        return any(absent == want for want in wanted_absent)

    compare, negated, variables = _BASE_OPERATORS[base]
    if variables and substitute is not None and any("${" in v for v in policy_values):
        substituted = [substitute(v) for v in policy_values]
        policy_values = [v for v in substituted if v is not None]

    def matches_any(request_value: str) -> bool:
        return any(compare(request_value, p) for p in policy_values)

    def holds(request_value: str) -> bool:
        return not matches_any(request_value) if negated else matches_any(request_value)

    if qualifier == "forallvalues":
        if not request_values:
            return True
        return all(holds(v) for v in request_values)
    if qualifier == "foranyvalue":
        if not request_values:
            return False
        return any(holds(v) for v in request_values)
    if request_values is None:
        return True if if_exists else negated
    # A single-valued key (or a multivalued one without a set operator): a positive
    # operator needs one request value to match, a negated one needs none to match.
    return any(matches_any(v) for v in request_values) != negated


def keys_in(blocks: Iterable[Mapping[str, object]]) -> set[str]:
    """Every condition key named in the given blocks (for reports)."""
    found: set[str] = set()
    for block in blocks:
        for keys in block.values():
            if isinstance(keys, Mapping):
                found.update(keys)
    return found


__all__ = [
    "SUPPORTED_OPERATORS",
    "RequestContext",
    "UnsupportedCondition",
    "check_block",
    "evaluate_block",
    "keys_in",
]
