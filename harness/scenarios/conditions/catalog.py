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

    - tick: {}
    - assert:
        - catalog_rows: {objects: originals, per_image: 4, remember: first}
        - catalog_pending: {work_queue: 0, dlq: 0}

They look only at the objects uploaded with `system: catalog`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from harness.scenarios import match
from harness.scenarios.conditions.common import names, objects_field
from harness.scenarios.counting import CountSpec, parse_count
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
    expect: Any = None  # `match`: each record matches

    @classmethod
    def parse(cls, src: Src, ctx: ParseContext) -> Rejections:
        fields = src.fields(optional=("objects", "exist", "code", "match"))
        exist = fields["exist"].boolean() if "exist" in fields else True
        code = fields["code"].choice(REJECTION_CODES) if "code" in fields else None
        if code is not None and not exist:
            raise fields["code"].fail("code needs exist: true")
        expect = match.validate(fields["match"], ("key",)) if "match" in fields else None
        if expect is not None and not exist:
            raise fields["match"].fail("match needs exist: true")
        return cls(objects=objects_field(fields, ctx), exist=exist, code=code, expect=expect)

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
        if self.expect is not None:
            failed = {}
            for key in keys:
                problems = match.mismatches(self.expect, records[key], rt.variables(key=key))
                if problems:
                    failed[key] = problems
            if failed:
                first = next(iter(failed))
                summary = (
                    f"{len(failed)} of {len(keys)} rejection record(s) do not match, "
                    f"e.g. {first}: " + "; ".join(failed[first])
                )
                return Verdict(False, summary, {"mismatches": dict(list(failed.items())[:20])})
        what = f" ({self.code})" if self.code else ""
        return Verdict(True, f"all {len(keys)} original(s) were rejected{what}")


def _plain(value: Any) -> Any:
    """A database value as JSON has it: times as ISO strings, decimals as numbers."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def _time(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def _rows_by_image(rt: Runtime, keys: list[str]) -> tuple[dict[str, list[dict]], list[str]]:
    """key -> the catalog rows of that original; and the keys that are not catalog names."""
    catalog = rt.catalog
    naming = lambda_rules.naming()
    by_vertical: dict[str, dict[tuple[int, int], list[dict]]] = {}
    found: dict[str, list[dict]] = {}
    unnamed: list[str] = []
    for key in keys:
        try:
            image = naming.parse_origin_key(key, catalog.c["origin_prefix"])
        except naming.NameRejected:
            unnamed.append(key)
            continue
        if image.vertical not in by_vertical:
            grouped: dict[tuple[int, int], list[dict]] = {}
            for row in catalog.rows(image.vertical):
                plain = {name: _plain(value) for name, value in row.items()}
                grouped.setdefault((plain["cd_idx"], plain["sequence"]), []).append(plain)
            by_vertical[image.vertical] = grouped
        found[key] = by_vertical[image.vertical].get((image.cd_idx, image.sequence), [])
    return found, unnamed


@register_condition
@dataclass(frozen=True)
class CatalogRows(Condition):
    kind = "catalog_rows"
    summary = "each original has its rows in celeb_image_url (one per size), or none"

    objects: ObjectsRef | None
    exist: bool = True
    per_image: CountSpec | None = None  # default: exactly one row per configured size
    expect: Any = None  # `match`: each row matches
    remember: str | None = None
    newer_than: str | None = None

    @classmethod
    def parse(cls, src: Src, ctx: ParseContext) -> CatalogRows:
        fields = src.fields(
            optional=("objects", "exist", "per_image", "match", "remember", "newer_than")
        )
        exist = fields["exist"].boolean() if "exist" in fields else True
        if not exist:
            for name in ("per_image", "match", "remember", "newer_than"):
                if name in fields:
                    raise fields[name].fail(f"{name} needs exist: true")
        per_image = parse_count(fields["per_image"]) if "per_image" in fields else None
        expect = match.validate(fields["match"], ("key",)) if "match" in fields else None
        newer_than = None
        if "newer_than" in fields:
            newer_than = fields["newer_than"].text()
            if newer_than not in ctx.snapshots:
                known = ", ".join(sorted(ctx.snapshots)) or "none"
                raise fields["newer_than"].fail(
                    f"no rows were remembered as {newer_than!r} before this step (known: {known})"
                )
        remember = None
        if "remember" in fields:
            remember = fields["remember"].text()
            if not remember.isidentifier():
                raise fields["remember"].fail("must be a simple name (letters, digits, _)")
            ctx.snapshots.add(remember)
        return cls(
            objects=objects_field(fields, ctx),
            exist=exist,
            per_image=per_image,
            expect=expect,
            remember=remember,
            newer_than=newer_than,
        )

    def systems(self) -> frozenset[str]:
        return CATALOG_ONLY

    def check(self, rt: Runtime) -> Verdict:
        keys = _catalog_keys(rt, self.objects)
        if not keys:
            return NO_OBJECTS
        rows, unnamed = _rows_by_image(rt, keys)
        counts = {key: len(found) for key, found in rows.items()}
        detail: dict[str, Any] = {"rows": sum(counts.values())}
        if not self.exist:
            have = [k for k in keys if counts.get(k)]
            if have:
                detail["rows_of"] = {k: counts[k] for k in have[:20]}
                return Verdict(False, f"{len(have)} original(s) have rows: {names(have)}", detail)
            return Verdict(True, f"none of {len(keys)} original(s) has a row", detail)
        if unnamed:
            detail["not_catalog_names"] = unnamed[:20]
            summary = f"{len(unnamed)} key(s) break the naming rule, so never get rows: "
            return Verdict(False, summary + names(unnamed), detail)
        sizes = set(rt.catalog.sizes)
        wanted = self.per_image or CountSpec(equals=len(sizes))
        wrong = {k: n for k, n in counts.items() if not wanted.ok(n)}
        if wrong:
            missing_sizes = {
                k: sorted(sizes - {r["image_size"] for r in rows[k]}) for k in list(wrong)[:20]
            }
            detail |= {"rows_of": dict(list(wrong.items())[:20]), "sizes_missing": missing_sizes}
            summary = (
                f"{len(wrong)} of {len(keys)} original(s) do not have {wanted.describe()} "
                f"row(s): {names(list(wrong))}"
            )
            return Verdict(False, summary, detail)
        if self.expect is not None:
            failed = {}
            for key in keys:
                for row in rows[key]:
                    problems = match.mismatches(self.expect, row, rt.variables(key=key))
                    if problems:
                        failed[f"{key} ({row['image_size']})"] = problems
            if failed:
                first = next(iter(failed))
                detail["mismatches"] = dict(list(failed.items())[:20])
                summary = f"{len(failed)} row(s) do not match, e.g. {first}: " + "; ".join(
                    failed[first]
                )
                return Verdict(False, summary, detail)
        if self.newer_than is not None:
            verdict = self._compare(rt.snapshots.get(self.newer_than, {}), rows, detail)
            if verdict is not None:
                return verdict
        if self.remember is not None:
            rt.snapshots[self.remember] = {
                (key, row["image_size"]): {"id": row["id"], "resized_at": row["resized_at"]}
                for key in keys
                for row in rows[key]
            }
        summary = f"{len(keys)} original(s) have {wanted.describe()} row(s) each"
        if self.expect is not None:
            summary += ", every row matching"
        if self.newer_than is not None:
            summary += f", updated in place since {self.newer_than!r}"
        return Verdict(True, summary, detail)

    def _compare(
        self, before: dict, rows: dict[str, list[dict]], detail: dict[str, Any]
    ) -> Verdict | None:
        """None when every row remembered as `newer_than` was updated in place, later."""
        now = {(key, row["image_size"]): row for key, found in rows.items() for row in found}
        problems = []
        for (key, size), old in before.items():
            if key not in rows:
                continue  # not among this condition's objects
            row = now.get((key, size))
            if row is None:
                problems.append(f"{key} ({size}): the row is gone")
            elif row["id"] != old["id"]:
                problems.append(f"{key} ({size}): a new row (id {old['id']} -> {row['id']})")
            elif not _time(row["resized_at"]) > _time(old["resized_at"]):
                problems.append(
                    f"{key} ({size}): resized_at {row['resized_at']} is not later than "
                    f"{old['resized_at']}"
                )
        compared = sum(1 for key, _ in before if key in rows)
        if not compared:
            summary = f"no rows of these originals were remembered as {self.newer_than!r}"
            return Verdict(False, summary)
        detail["compared_with"] = {"snapshot": self.newer_than, "rows": compared}
        if problems:
            detail["not_updated"] = problems[:20]
            summary = f"{len(problems)} of {compared} row(s) were not updated in place: "
            return Verdict(False, summary + "; ".join(problems[:3]), detail)
        return None


@register_condition
@dataclass(frozen=True)
class CatalogPending(Condition):
    kind = "catalog_pending"
    summary = "messages waiting in the catalog's work queue, its DLQ and resize failures"

    counts: tuple[tuple[str, CountSpec], ...]

    QUEUES = ("work_queue", "dlq", "resize_failures")

    @classmethod
    def parse(cls, src: Src, ctx: ParseContext) -> CatalogPending:
        fields = src.fields(optional=cls.QUEUES)
        if not fields:
            raise src.fail(f"give at least one of {', '.join(cls.QUEUES)}")
        return cls(counts=tuple((name, parse_count(fields[name])) for name in fields))

    def systems(self) -> frozenset[str]:
        return CATALOG_ONLY

    def check(self, rt: Runtime) -> Verdict:
        pending = rt.catalog.pending()
        wrong = [
            f"{name} holds {pending[name]}, expected {spec.describe()}"
            for name, spec in self.counts
            if not spec.ok(pending[name])
        ]
        if wrong:
            return Verdict(False, "; ".join(wrong), {"pending": pending})
        summary = ", ".join(f"{name} {pending[name]}" for name, _ in self.counts)
        return Verdict(True, summary, {"pending": pending})
