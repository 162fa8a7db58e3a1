"""The shape every configuration document of the stub shares (rules, faults).

A document comes from a file, an environment variable or an admin POST, so it may be a
list of entries, `{"<kind>": [...]}` or one entry on its own; each entry is parsed with
its index, which its errors name (`rule 3: ...`). One reader of that shape, so rules and
faults cannot drift apart in what they accept.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

Entry = TypeVar("Entry")


def parse_entries(
    raw: Any, kind: str, parse_one: Callable[[Any, int], Entry], start: int = 0
) -> list[Entry]:
    """Accept a list of entries, ``{kind: [...]}`` or a single entry object; entries are
    numbered from `start` (after the ones already loaded)."""
    if isinstance(raw, dict) and kind in raw:
        raw = raw[kind]
    if isinstance(raw, dict):
        raw = [raw]
    if not isinstance(raw, list):
        raise ValueError(f"expected a list of {kind} or {{'{kind}': [...]}}")
    return [parse_one(item, start + i) for i, item in enumerate(raw)]
