"""Conditions on the catalog (system B): served renditions and rejection records.

    - upload:
        system: catalog
        as: originals
        items: [{key: "origin/{scenario}/1{i}_1.jpg", count: 3, fixture: jpeg-baseline}]
    - wait:
        timeout: 60
        until:
          - served: {objects: originals}            # every size of each, in the served bucket
          - rejections: {objects: originals, exist: false}

Both look only at the objects uploaded with `system: catalog`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.scenarios.conditions.common import names, objects_field
from harness.scenarios.model import (
    Condition,
    ObjectsRef,
    ParseContext,
    Verdict,
    register_condition,
)
from harness.scenarios.runtime import CATALOG, Runtime
from harness.scenarios.source import Src
from harness.systems.catalog import lambda_rules

# The resize function's rejection codes (docs/architecture.md, resize).
REJECTION_CODES = ("BadName", "NotJpeg", "Empty", "Unreadable", "TooLarge", "TooManyPixels")
CATALOG_ONLY = frozenset({CATALOG})


def _catalog_keys(rt: Runtime, ref: ObjectsRef | None) -> list[str]:
    return rt.system_objects(rt.objects(ref), CATALOG)


NO_OBJECTS = Verdict(False, "no catalog objects to check (upload them with system: catalog)")


@register_condition
@dataclass(frozen=True)
class Served(Condition):
    kind = "served"
    summary = "each original has (or has not) every size's rendition in the served bucket"

    objects: ObjectsRef | None
    exist: bool

    @classmethod
    def parse(cls, src: Src, ctx: ParseContext) -> Served:
        fields = src.fields(optional=("objects", "exist"))
        exist = fields["exist"].boolean() if "exist" in fields else True
        return cls(objects=objects_field(fields, ctx), exist=exist)

    def systems(self) -> frozenset[str]:
        return CATALOG_ONLY

    def check(self, rt: Runtime) -> Verdict:
        keys = _catalog_keys(rt, self.objects)
        if not keys:
            return NO_OBJECTS
        catalog = rt.catalog
        naming = lambda_rules.naming()
        served_by_vertical: dict[str, set[str]] = {}
        missing: dict[str, list[str]] = {}  # key -> renditions not served
        present: dict[str, list[str]] = {}  # key -> renditions served
        for key in keys:
            try:
                image = naming.parse_origin_key(key, catalog.c["origin_prefix"])
            except naming.NameRejected:
                missing[key] = ["(not a catalog name: never served)"]
                continue
            if image.vertical not in served_by_vertical:
                served_by_vertical[image.vertical] = set(
                    catalog.keys(catalog.c["served_bucket"], f"{image.vertical}/")
                )
            served = served_by_vertical[image.vertical]
            wanted = [image.served_key(size) for size in catalog.sizes]
            missing[key] = [k for k in wanted if k not in served]
            present[key] = [k for k in wanted if k in served]
        detail: dict[str, Any] = {"sizes": list(catalog.sizes)}
        if not self.exist:
            have = [k for k in keys if present.get(k)]
            if have:
                detail["served"] = {k: present[k] for k in have[:20]}
                return Verdict(False, f"{len(have)} original(s) are served: {names(have)}", detail)
            return Verdict(True, f"none of {len(keys)} original(s) is served", detail)
        lacking = [k for k in keys if missing[k]]
        if lacking:
            detail["missing"] = {k: missing[k] for k in lacking[:20]}
            summary = f"{len(lacking)} of {len(keys)} original(s) are not fully served: "
            return Verdict(False, summary + names(lacking), detail)
        return Verdict(True, f"every size of {len(keys)} original(s) is served", detail)


@register_condition
@dataclass(frozen=True)
class Rejections(Condition):
    kind = "rejections"
    summary = "each original has (or has not) a rejection record, optionally with this code"

    objects: ObjectsRef | None
    exist: bool
    code: str | None

    @classmethod
    def parse(cls, src: Src, ctx: ParseContext) -> Rejections:
        fields = src.fields(optional=("objects", "exist", "code"))
        exist = fields["exist"].boolean() if "exist" in fields else True
        code = fields["code"].choice(REJECTION_CODES) if "code" in fields else None
        if code is not None and not exist:
            raise fields["code"].fail("code needs exist: true")
        return cls(objects=objects_field(fields, ctx), exist=exist, code=code)

    def systems(self) -> frozenset[str]:
        return CATALOG_ONLY

    def check(self, rt: Runtime) -> Verdict:
        keys = _catalog_keys(rt, self.objects)
        if not keys:
            return NO_OBJECTS
        records = {key: rt.catalog.rejection(key) for key in keys}
        rejected = [k for k in keys if records[k] is not None]
        if not self.exist:
            if rejected:
                detail = {"rejections": {k: records[k] for k in rejected[:20]}}
                summary = f"{len(rejected)} original(s) were rejected: {names(rejected)}"
                return Verdict(False, summary, detail)
            return Verdict(True, f"none of {len(keys)} original(s) was rejected")
        lacking = [k for k in keys if records[k] is None]
        if lacking:
            summary = f"{len(lacking)} of {len(keys)} original(s) have no rejection record yet: "
            return Verdict(False, summary + names(lacking), {"missing": lacking[:50]})
        if self.code is not None:
            wrong = {k: (records[k] or {}).get("code") for k in keys}
            wrong = {k: c for k, c in wrong.items() if c != self.code}
            if wrong:
                first = next(iter(wrong))
                summary = (
                    f"{len(wrong)} of {len(keys)} rejection(s) are not {self.code}, "
                    f"e.g. {first}: {wrong[first]}"
                )
                return Verdict(False, summary, {"codes": dict(list(wrong.items())[:50])})
        what = f" ({self.code})" if self.code else ""
        return Verdict(True, f"all {len(keys)} original(s) were rejected{what}")
