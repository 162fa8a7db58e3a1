"""Helpers shared by the condition kinds: object sets and their derived S3 keys."""

from __future__ import annotations

from harness.scenarios.model import ObjectsRef, ParseContext, parse_objects
from harness.scenarios.runtime import Runtime
from harness.scenarios.source import Src

SHOW = 5  # objects named in a summary at most


def names(keys: list[str]) -> str:
    more = f" (+{len(keys) - SHOW} more)" if len(keys) > SHOW else ""
    return ", ".join(keys[:SHOW]) + more


def objects_field(fields: dict[str, Src], ctx: ParseContext) -> ObjectsRef | None:
    return parse_objects(fields["objects"], ctx) if "objects" in fields else None


def document_keys(rt: Runtime, keys: list[str], prefix_output: str) -> dict[str, str | None]:
    """object key -> its result / failure record key (None outside the ingest prefix)."""
    ingest = rt.outputs["ingest_prefix"]
    prefix = rt.outputs[prefix_output]
    return {
        k: prefix + k.removeprefix(ingest) + ".json" if k.startswith(ingest) else None for k in keys
    }


def present_keys(rt: Runtime, prefix_output: str) -> set[str]:
    return set(rt.labeling.keys(rt.outputs[prefix_output]))
