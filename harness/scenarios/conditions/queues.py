"""Conditions on the queues: depths, and which objects sit in the DLQ and why."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from harness.scenarios import match
from harness.scenarios.conditions.common import (
    names,
    objects_field,
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
class _Depth(Condition):
    """Messages in a queue, visible or in flight (ApproximateNumberOfMessages + NotVisible)."""

    queue: ClassVar[str]  # "queue" (the labeler queue), "dlq" or "notifier_failures_queue"
    count: CountSpec

    @classmethod
    def parse(cls, src: Src, ctx: ParseContext) -> Condition:
        return cls(count=parse_count(src))

    def check(self, rt: Runtime) -> Verdict:
        name = rt.outputs[f"{self.queue}_name"]
        depth = {
            "dlq": rt.labeling.dlq_depth,
            "queue": rt.labeling.queue_depth,
            "notifier_failures_queue": rt.labeling.notifier_failures_depth,
        }[self.queue]()
        summary = f"{name} holds {depth}, expected {self.count.describe()}"
        return Verdict(self.count.ok(depth), summary, {"depth": depth})


@register_condition
@dataclass(frozen=True)
class QueueDepth(_Depth):
    kind = "queue_depth"
    summary = "messages in the labeler queue (visible + in flight)"
    queue = "queue"


@register_condition
@dataclass(frozen=True)
class DlqDepth(_Depth):
    kind = "dlq_depth"
    summary = "messages in the dead-letter queue"
    queue = "dlq"


@register_condition
@dataclass(frozen=True)
class NotifierFailuresDepth(_Depth):
    kind = "notifier_failures_depth"
    summary = "Slack notices waiting in the notifier-failures queue (failed after the retries)"
    queue = "notifier_failures_queue"


@register_condition
@dataclass(frozen=True)
class DeadLetters(Condition):
    kind = "dlq"
    summary = "these objects sit in the DLQ with a failure record (matching a pattern); counts"

    objects: ObjectsRef | None
    expect: Any
    count: CountSpec | None

    @classmethod
    def parse(cls, src: Src, ctx: ParseContext) -> DeadLetters:
        fields = src.fields(optional=("objects", "match", "count"))
        if "objects" not in fields and "count" not in fields:
            raise src.fail("give objects (each must be in the DLQ) or count")
        if "match" in fields and "objects" not in fields:
            raise fields["match"].fail("match needs objects")
        return cls(
            objects=objects_field(fields, ctx),
            expect=match.validate(fields["match"], ("key",)) if "match" in fields else None,
            count=parse_count(fields["count"]) if "count" in fields else None,
        )

    def check(self, rt: Runtime) -> Verdict:
        wanted = rt.objects(self.objects)
        wanted_set = set(wanted)
        letters = [
            letter for letter in rt.dead_letters() if wanted_set.intersection(letter.objects)
        ]
        records: dict[str, dict | None] = {}
        for letter in letters:
            for key in letter.objects:
                record = next(
                    (r for r in letter.reasons if (r.get("source") or {}).get("key") == key), None
                )
                records.setdefault(key, record)
        detail: dict[str, Any] = {
            "messages": len(letters),
            "reasons": {k: (r or {}).get("reason") for k, r in list(records.items())[:50]},
        }
        problems = []
        if self.objects is not None:
            absent = [k for k in wanted if k not in records]
            if absent:
                problems.append(f"{len(absent)} object(s) not in the DLQ: {names(absent)}")
            no_reason = [k for k in wanted if k in records and records[k] is None]
            if no_reason:
                problems.append(f"in the DLQ without a failure record: {names(no_reason)}")
            if self.expect is not None:
                for key in wanted:
                    record = records.get(key)
                    if record is None:
                        continue
                    mismatches = match.mismatches(self.expect, record, rt.variables(key=key))
                    if mismatches:
                        problems.append(f"failure record of {key}: " + "; ".join(mismatches[:3]))
                        break
        if self.count is not None and not self.count.ok(len(letters)):
            problems.append(f"{len(letters)} DLQ message(s), expected {self.count.describe()}")
        if problems:
            return Verdict(False, "; ".join(problems), detail)
        return Verdict(True, f"{len(letters)} DLQ message(s) with their reasons", detail)
