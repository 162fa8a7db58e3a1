"""Policy documents: parsed once into statements the evaluator can match quickly.

A document that cannot be read (not JSON, no Statement, an Effect other than Allow/Deny,
both Action and NotAction, ...) raises `PolicyError`; callers fail closed on it.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from .conditions import UnsupportedCondition, check_block

PolicyKind = Literal["identity", "resource"]


class PolicyError(ValueError):
    """A policy document that is not a valid IAM policy."""


def _strings(value: object, element: str, where: str) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(i, str) for i in items):
        raise PolicyError(f"{where}: {element} must be a string or a list of strings")
    return tuple(items)


def _principals(value: object, element: str, where: str) -> Mapping[str, tuple[str, ...]]:
    """`"*"` becomes {"AWS": ("*",)}; every kind's values become a tuple."""
    if value == "*":
        return {"AWS": ("*",)}
    if not isinstance(value, Mapping) or not value:
        raise PolicyError(f'{where}: {element} must be "*" or an object')
    return {kind: _strings(ids, f"{element}.{kind}", where) for kind, ids in value.items()}


@dataclass(frozen=True)
class Statement:
    """One statement. Exactly one of each pair (Action/NotAction, ...) is set."""

    policy: str
    index: int
    sid: str | None
    effect: Literal["Allow", "Deny"]
    actions: tuple[str, ...] | None = None
    not_actions: tuple[str, ...] | None = None
    resources: tuple[str, ...] | None = None
    not_resources: tuple[str, ...] | None = None
    principals: Mapping[str, tuple[str, ...]] | None = None
    not_principals: Mapping[str, tuple[str, ...]] | None = None
    condition: Mapping[str, Mapping[str, object]] | None = None
    unsupported: UnsupportedCondition | None = field(default=None, compare=False)

    @property
    def label(self) -> str:
        """The Sid, or the position (`#0` is the first statement)."""
        return self.sid if self.sid else f"#{self.index}"

    def describe(self) -> str:
        return f"{self.policy} statement {self.label}"


@dataclass(frozen=True)
class Policy:
    name: str
    kind: PolicyKind
    version: str
    statements: tuple[Statement, ...]
    document: Mapping[str, object] = field(compare=False, repr=False, default_factory=dict)

    @property
    def supports_variables(self) -> bool:
        return self.version == "2012-10-17"

    @classmethod
    def parse(cls, document: str | bytes | Mapping[str, object], name: str, kind: PolicyKind):
        """Parse a policy document (JSON text, URL-encoded JSON as IAM returns it, or a dict)."""
        doc = _load(document, name)
        version = doc.get("Version", "2008-10-17")
        raw = doc.get("Statement")
        if raw is None:
            raise PolicyError(f"{name}: no Statement")
        raw_statements = raw if isinstance(raw, list) else [raw]
        statements = tuple(
            _statement(item, index, name, kind) for index, item in enumerate(raw_statements)
        )
        return cls(name=name, kind=kind, version=str(version), statements=statements, document=doc)


def _load(document: str | bytes | Mapping[str, object], name: str) -> Mapping[str, object]:
    if isinstance(document, Mapping):
        return document
    text = document.decode() if isinstance(document, bytes) else document
    text = text.strip()
    if text.startswith("%7B") or text.startswith("%7b"):
        text = urllib.parse.unquote(text)
    try:
        loaded = json.loads(text)
    except ValueError as exc:
        raise PolicyError(f"{name}: not JSON ({exc})") from exc
    if not isinstance(loaded, Mapping):
        raise PolicyError(f"{name}: a policy document is a JSON object")
    return loaded


def _statement(item: object, index: int, policy: str, kind: PolicyKind) -> Statement:
    where = f"{policy} statement #{index}"
    if not isinstance(item, Mapping):
        raise PolicyError(f"{where}: a statement is an object")
    sid = item.get("Sid")
    if sid is not None and not isinstance(sid, str):
        raise PolicyError(f"{where}: Sid must be a string")
    if sid:
        where = f"{policy} statement {sid}"
    effect = item.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise PolicyError(f"{where}: Effect must be Allow or Deny, not {effect!r}")

    def pair(positive: str, negative: str, required: bool) -> tuple[object, object]:
        a, b = item.get(positive), item.get(negative)
        if a is not None and b is not None:
            raise PolicyError(f"{where}: both {positive} and {negative}")
        if required and a is None and b is None:
            raise PolicyError(f"{where}: neither {positive} nor {negative}")
        return a, b

    action, not_action = pair("Action", "NotAction", True)
    # KMS key policies and trust policies may omit Resource; it means "this resource".
    resource, not_resource = pair("Resource", "NotResource", kind == "identity")
    principal, not_principal = pair("Principal", "NotPrincipal", False)
    if kind == "identity" and (principal is not None or not_principal is not None):
        raise PolicyError(f"{where}: an identity-based policy has no Principal")
    if kind == "resource" and principal is None and not_principal is None:
        raise PolicyError(f"{where}: a resource-based policy statement needs a Principal")

    condition = item.get("Condition")
    unsupported = None
    if condition is not None:
        try:
            check_block(condition)  # type: ignore[arg-type]
        except UnsupportedCondition as exc:
            # Kept, not raised: the statement fails closed only when it applies.
            unsupported = exc
    return Statement(
        policy=policy,
        index=index,
        sid=sid or None,
        effect=effect,
        actions=None if action is None else _strings(action, "Action", where),
        not_actions=None if not_action is None else _strings(not_action, "NotAction", where),
        resources=None if resource is None else _strings(resource, "Resource", where),
        not_resources=None
        if not_resource is None
        else _strings(not_resource, "NotResource", where),
        principals=None if principal is None else _principals(principal, "Principal", where),
        not_principals=None
        if not_principal is None
        else _principals(not_principal, "NotPrincipal", where),
        condition=condition,  # type: ignore[arg-type]
        unsupported=unsupported,
    )


_VARIABLE = re.compile(r"\$\{([^}]*)\}")


def substitute_variables(text: str, lookup) -> str | None:
    """Replace `${key}` / `${key, 'default'}` / `${*}` `${?}` `${$}` in a policy value.

    `lookup(key)` returns the single value of a request key or None. A variable without a
    value and without a default makes the whole value unusable: None (it matches nothing).
    """
    missing = False

    def replace(match: re.Match[str]) -> str:
        nonlocal missing
        inner = match.group(1).strip()
        if inner in ("*", "?", "$"):
            return inner
        default = None
        if "," in inner:
            inner, _, rest = inner.partition(",")
            inner = inner.strip()
            rest = rest.strip()
            if len(rest) >= 2 and rest[0] == rest[-1] == "'":
                default = rest[1:-1]
        value = lookup(inner)
        if value is None:
            if default is None:
                missing = True
                return ""
            return default
        return value

    result = _VARIABLE.sub(replace, text)
    return None if missing else result


__all__ = ["Policy", "PolicyError", "PolicyKind", "Statement", "substitute_variables"]
