"""Conditions on what happened to the scenario's objects: results, failure records,
Rekognition calls, keys under a prefix."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, ClassVar

from harness.scenarios import match, templates
from harness.scenarios.conditions.common import (
    document_keys,
    names,
    objects_field,
    present_keys,
)
from harness.scenarios.counting import CountSpec, parse_count
from harness.scenarios.model import (
    Condition,
    ObjectsRef,
    ParseContext,
    Verdict,
    register_condition,
)
from harness.scenarios.runtime import Runtime
from harness.scenarios.source import Src


@dataclass(frozen=True)
class _DocumentsCondition(Condition):
    """Shared by `results` and `failure_records`: per object, a JSON document in S3."""

    objects: ObjectsRef | None
    exist: bool
    expect: Any
    prefix_output: ClassVar[str]  # the deployment output naming the documents' prefix
    noun: ClassVar[str]

    @classmethod
    def parse(cls, src: Src, ctx: ParseContext) -> Condition:
        fields = src.fields(optional=("objects", "exist", "match"))
        exist = fields["exist"].boolean() if "exist" in fields else True
        expect = match.validate(fields["match"], ("key",)) if "match" in fields else None
        if expect is not None and not exist:
            raise fields["match"].fail("match needs exist: true")
        return cls(objects=objects_field(fields, ctx), exist=exist, expect=expect)

    def check(self, rt: Runtime) -> Verdict:
        keys = rt.objects(self.objects)
        if not keys:
            return Verdict(False, "no objects to check (was anything uploaded?)")
        documents = document_keys(rt, keys, self.prefix_output)
        present = present_keys(rt, self.prefix_output)
        have = [k for k, d in documents.items() if d in present]
        lacking = [k for k in keys if k not in have]
        if not self.exist:
            if have:
                return Verdict(False, f"{len(have)} object(s) have a {self.noun}: {names(have)}")
            return Verdict(True, f"none of {len(keys)} object(s) has a {self.noun}")
        if lacking:
            summary = f"{len(lacking)} of {len(keys)} object(s) have no {self.noun} yet: "
            return Verdict(False, summary + names(lacking), {"missing": lacking[:50]})
        if self.expect is None:
            return Verdict(True, f"all {len(keys)} object(s) have a {self.noun}")
        failed: dict[str, list[str]] = {}
        for key in keys:
            document_key = documents[key]
            assert document_key is not None
            document = rt.labeling.read_json(document_key)
            problems = match.mismatches(self.expect, document, rt.variables(key=key))
            if problems:
                failed[key] = problems[:3]
        if failed:
            first = next(iter(failed))
            summary = f"{len(failed)} of {len(keys)} {self.noun}(s) do not match, e.g. {first}: "
            return Verdict(False, summary + "; ".join(failed[first]), {"mismatches": failed})
        return Verdict(True, f"all {len(keys)} {self.noun}(s) match")


@register_condition
@dataclass(frozen=True)
class Results(_DocumentsCondition):
    kind = "results"
    summary = "each object has (or has not) a result JSON, optionally matching a pattern"
    prefix_output = "results_prefix"
    noun = "result"


@register_condition
@dataclass(frozen=True)
class FailureRecords(_DocumentsCondition):
    kind = "failure_records"
    summary = "each object has (or has not) a failure record, optionally matching a pattern"
    prefix_output = "failures_prefix"
    noun = "failure record"


@register_condition
@dataclass(frozen=True)
class S3Keys(Condition):
    kind = "s3_keys"
    summary = "how many objects the bucket holds under a prefix"

    prefix: str
    count: CountSpec

    @classmethod
    def parse(cls, src: Src, ctx: ParseContext) -> S3Keys:
        fields = src.fields(required=("prefix", "count"))
        return cls(prefix=templates.check(fields["prefix"]), count=parse_count(fields["count"]))

    def check(self, rt: Runtime) -> Verdict:
        prefix = rt.render(self.prefix)
        keys = rt.labeling.keys(prefix)
        summary = f"{len(keys)} object(s) under {prefix}, expected {self.count.describe()}"
        return Verdict(self.count.ok(len(keys)), summary, {"keys": keys[:20]})


@register_condition
@dataclass(frozen=True)
class RekognitionCalls(Condition):
    kind = "rekognition_calls"
    summary = "DetectLabels calls the stub received: per object, in total, answered by a fault"
    local_only = True

    objects: ObjectsRef | None
    per_object: CountSpec | None
    total: CountSpec | None
    faulted: CountSpec | None
    outcome: str = "any"
    min_fault_share: float | None = None  # faulted calls / all calls, at least this

    @classmethod
    def parse(cls, src: Src, ctx: ParseContext) -> RekognitionCalls:
        fields = src.fields(
            optional=("objects", "per_object", "total", "faulted", "outcome", "min_fault_share")
        )
        counts = {
            n: parse_count(fields[n]) for n in ("per_object", "total", "faulted") if n in fields
        }
        share = fields["min_fault_share"].number(0, 1) if "min_fault_share" in fields else None
        if not counts and share is None:
            raise src.fail("give per_object, total, faulted or min_fault_share")
        if "per_object" in counts and "objects" not in fields:
            raise src.fail("per_object needs objects")
        return cls(
            objects=objects_field(fields, ctx),
            per_object=counts.get("per_object"),
            total=counts.get("total"),
            faulted=counts.get("faulted"),
            min_fault_share=share,
            outcome=fields["outcome"].choice(("any", "labels", "error"))
            if "outcome" in fields
            else "any",
        )

    def check(self, rt: Runtime) -> Verdict:
        calls = rt.rekognition_calls()
        faulted = sum(1 for c in calls if c.get("fault") is not None)
        share = faulted / len(calls) if calls else 0.0
        if self.outcome != "any":
            calls = [c for c in calls if c.get("outcome") == self.outcome]
        keys = rt.objects(self.objects) if self.objects is not None else None
        if keys is not None:
            wanted = set(keys)
            calls = [c for c in calls if c.get("key") in wanted]
        per_key = Counter(c.get("key") for c in calls)
        detail: dict[str, Any] = {
            "calls": len(calls),
            "faulted": faulted,
            "fault_share": round(share, 3),
            "outcome": self.outcome,
        }
        problems = []
        if self.per_object is not None and keys is not None:
            wrong = {
                k: per_key.get(k, 0) for k in keys if not self.per_object.ok(per_key.get(k, 0))
            }
            if wrong:
                first = next(iter(wrong))
                problems.append(
                    f"{len(wrong)} object(s) not called {self.per_object.describe()} time(s), "
                    f"e.g. {first}: {wrong[first]}"
                )
                detail["wrong_per_object"] = dict(list(wrong.items())[:50])
        if self.total is not None and not self.total.ok(len(calls)):
            problems.append(f"{len(calls)} call(s), expected {self.total.describe()}")
        if self.faulted is not None and not self.faulted.ok(faulted):
            problems.append(f"{faulted} faulted call(s), expected {self.faulted.describe()}")
        if self.min_fault_share is not None and share < self.min_fault_share:
            wanted = f"{self.min_fault_share:.0%}"
            problems.append(f"{share:.0%} of all calls faulted, expected at least {wanted}")
        if problems:
            return Verdict(False, "; ".join(problems), detail)
        summary = f"{len(calls)} call(s) ({self.outcome}); {share:.0%} of all calls faulted"
        return Verdict(True, summary, detail)
