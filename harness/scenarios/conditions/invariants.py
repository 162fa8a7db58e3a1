"""`nothing_lost`: every object ends somewhere visible, once.

For each object of the set: it has exactly one result, or (with `allow_dlq`) it sits in
the DLQ with a failure record saying why; never both, never twice, never nowhere. On
the local target it also checks that Rekognition labeled no object twice (a duplicate
delivery that slipped past the ETag check shows up there). The numbers go into the
scenario's `counts` under `record` (default `nothing_lost`), also when the check fails.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from harness.scenarios.conditions.common import (
    document_keys,
    names,
    objects_field,
    present_keys,
)
from harness.scenarios.model import (
    Condition,
    ObjectsRef,
    ParseContext,
    Verdict,
    register_condition,
)
from harness.scenarios.runtime import Runtime
from harness.scenarios.source import Src


@register_condition
@dataclass(frozen=True)
class NothingLost(Condition):
    kind = "nothing_lost"
    summary = "each object has exactly one result or sits in the DLQ with a reason; no duplicates"

    objects: ObjectsRef | None
    allow_dlq: bool
    record: str

    @classmethod
    def parse(cls, src: Src, ctx: ParseContext) -> NothingLost:
        fields = src.fields(optional=("objects", "allow_dlq", "record"))
        record = fields["record"].text() if "record" in fields else "nothing_lost"
        if not record.isidentifier():
            raise fields["record"].fail("must be a simple name (letters, digits, _)")
        return cls(
            objects=objects_field(fields, ctx),
            allow_dlq=fields["allow_dlq"].boolean() if "allow_dlq" in fields else True,
            record=record,
        )

    def check(self, rt: Runtime) -> Verdict:
        keys = rt.objects(self.objects)
        if not keys:
            return Verdict(False, "no objects to check (was anything uploaded?)")
        result_keys = document_keys(rt, keys, "results_prefix")
        present = present_keys(rt, "results_prefix")
        with_result = {k for k in keys if result_keys[k] in present}

        wanted = set(keys)
        in_dlq: Counter[str] = Counter()
        with_reason: set[str] = set()
        for letter in rt.dead_letters():
            for key in wanted.intersection(letter.objects):
                in_dlq[key] += 1
                if any((r.get("source") or {}).get("key") == key for r in letter.reasons):
                    with_reason.add(key)

        calls = rt.rekognition_calls() if rt.local else []
        labeled = Counter(c.get("key") for c in calls if c.get("outcome") == "labels")
        missing = [k for k in keys if k not in with_result and k not in in_dlq]
        both = [k for k in keys if k in with_result and k in in_dlq]
        twice_in_dlq = [k for k, n in in_dlq.items() if n > 1]
        no_reason = [k for k in in_dlq if k not in with_reason]
        labeled_twice = [k for k in keys if labeled.get(k, 0) > 1]
        counts: dict[str, Any] = {
            "objects": len(keys),
            "results": len(with_result),
            "dlq": len(in_dlq),
            "dlq_with_reason": len(with_reason),
            "missing": len(missing),
            "result_and_dlq": len(both),
            "in_dlq_twice": len(twice_in_dlq),
            "labeled_more_than_once": len(labeled_twice) if rt.local else None,
            "rekognition_calls": len(calls) if rt.local else None,
            "faults_injected": sum(1 for c in calls if c.get("fault") is not None)
            if rt.local
            else None,
        }
        rt.counts[self.record] = counts
        problems = []
        if missing:
            problems.append(
                f"{len(missing)} object(s) neither labeled nor in the DLQ: {names(missing)}"
            )
        if not self.allow_dlq and in_dlq:
            problems.append(f"{len(in_dlq)} object(s) in the DLQ: {names(sorted(in_dlq))}")
        for label, found in (
            ("have a result and sit in the DLQ", both),
            ("sit in the DLQ twice", twice_in_dlq),
            ("sit in the DLQ without a failure record", no_reason),
            ("were labeled more than once", labeled_twice),
        ):
            if found:
                problems.append(f"{len(found)} object(s) {label}: {names(found)}")
        if not problems:
            wrong = self._wrong_sources(rt, sorted(with_result), result_keys)
            if wrong:
                problems.append(f"{len(wrong)} result(s) name another source: {names(wrong)}")
        summary = (
            f"{counts['results']} labeled, {counts['dlq']} in the DLQ "
            f"({counts['dlq_with_reason']} with a reason), {counts['missing']} missing "
            f"of {counts['objects']}"
        )
        if problems:
            return Verdict(False, summary + ": " + "; ".join(problems), counts)
        return Verdict(True, summary, counts)

    @staticmethod
    def _wrong_sources(rt: Runtime, keys: list[str], result_keys: dict) -> list[str]:
        """Results whose `source.key` is not their object (read only once all are in)."""
        wrong = []
        for key in keys:
            document = rt.labeling.read_json(result_keys[key]) or {}
            if (document.get("source") or {}).get("key") != key:
                wrong.append(key)
        return wrong
