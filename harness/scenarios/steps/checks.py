"""`wait` and `assert`: conditions (harness/scenarios/conditions/) polled or checked once.

    - wait:
        timeout: 60                # seconds (required)
        interval: 0.5              # between polls (default 0.5)
        until:                     # every condition must hold at the same time
          - results: {objects: batch}
          - dlq_depth: 0
    - assert:
        - rekognition_calls: {objects: batch, per_object: 1}

On the aws target, local-only conditions (stub calls, Slack payloads) are left out and
listed in the step's detail; a step left with none is skipped.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from harness.scenarios import conditions as _conditions  # noqa: F401  (registers them)
from harness.scenarios.model import (
    CONDITION_KINDS,
    Condition,
    ParseContext,
    SkipStep,
    Step,
    StepFailed,
    Verdict,
    register_step,
)
from harness.scenarios.runtime import Runtime
from harness.scenarios.source import Src


def parse_conditions(src: Src, ctx: ParseContext) -> tuple[Condition, ...]:
    found = []
    for item in src.items():
        kind, params = item.one_key()
        if kind not in CONDITION_KINDS:
            known = ", ".join(sorted(CONDITION_KINDS))
            raise item.fail(f"unknown condition {kind!r}; conditions: {known}")
        found.append(CONDITION_KINDS[kind].parse(params, ctx))
    if not found:
        raise src.fail("list at least one condition")
    return tuple(found)


def _for_target(conditions: tuple[Condition, ...], rt: Runtime) -> tuple[list, list[str]]:
    if rt.local:
        return list(conditions), []
    kept = [c for c in conditions if not c.local_only]
    dropped = [f"{c.kind}: needs the local stubs" for c in conditions if c.local_only]
    if not kept:
        raise SkipStep("every condition needs the local stubs: " + "; ".join(dropped))
    return kept, dropped


def _report(verdicts: list[tuple[Condition, Verdict]]) -> list[dict[str, Any]]:
    return [
        {
            "condition": c.kind,
            "ok": v.ok,
            "summary": v.summary,
            **({"detail": v.detail} if v.detail else {}),
        }
        for c, v in verdicts
    ]


def _failure(verdicts: list[tuple[Condition, Verdict]]) -> str:
    return "; ".join(f"{c.kind}: {v.summary}" for c, v in verdicts if not v.ok)


class ConditionStep(Step):
    """A step whose work is checking conditions (wait, assert): what it observes and
    whether it needs a quiet alarm follow from its conditions, the same way for both."""

    def checked(self) -> tuple[Condition, ...]:
        """The step's conditions, whatever the YAML calls them (`until`, the list)."""
        raise NotImplementedError

    def needs_quiet_alarm(self) -> bool:
        return any(c.quiet_alarm for c in self.checked())

    def systems(self) -> frozenset[str]:
        return frozenset().union(*(c.systems() for c in self.checked()))


@register_step
@dataclass(frozen=True)
class Wait(ConditionStep):
    kind = "wait"
    summary = "poll conditions until all hold at once, or fail after a timeout"

    until: tuple[Condition, ...]
    timeout: float
    interval: float = 0.5

    @classmethod
    def parse(cls, src: Src, ctx: ParseContext) -> Wait:
        fields = src.fields(required=("until", "timeout"), optional=("interval",))
        return cls(
            until=parse_conditions(fields["until"], ctx),
            timeout=fields["timeout"].number(minimum=0.1, maximum=1800),
            interval=fields["interval"].number(0.05, 30) if "interval" in fields else 0.5,
        )

    def checked(self) -> tuple[Condition, ...]:
        return self.until

    def run(self, rt: Runtime) -> dict[str, Any]:
        conditions, dropped = _for_target(self.until, rt)
        started = time.monotonic()
        deadline = started + self.timeout
        polls = 0
        while True:
            polls += 1
            verdicts = [(c, c.check(rt)) for c in conditions]
            waited = round(time.monotonic() - started, 3)
            if all(v.ok for _, v in verdicts):
                return {
                    "waited_s": waited,
                    "polls": polls,
                    "conditions": _report(verdicts),
                    **({"left_out": dropped} if dropped else {}),
                }
            if time.monotonic() >= deadline:
                raise StepFailed(
                    f"not met within {self.timeout:g} s: {_failure(verdicts)}",
                    {"waited_s": waited, "polls": polls, "conditions": _report(verdicts)},
                )
            time.sleep(self.interval)


@register_step
@dataclass(frozen=True)
class Assert(ConditionStep):
    kind = "assert"
    summary = "check conditions once, now"

    that: tuple[Condition, ...]

    @classmethod
    def parse(cls, src: Src, ctx: ParseContext) -> Assert:
        return cls(that=parse_conditions(src, ctx))

    def checked(self) -> tuple[Condition, ...]:
        return self.that

    def run(self, rt: Runtime) -> dict[str, Any]:
        conditions, dropped = _for_target(self.that, rt)
        verdicts = [(c, c.check(rt)) for c in conditions]
        report = {"conditions": _report(verdicts), **({"left_out": dropped} if dropped else {})}
        if not all(v.ok for _, v in verdicts):
            raise StepFailed(_failure(verdicts), report)
        return report
