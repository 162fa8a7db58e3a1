"""`rekognition` and `slack`: drive the stubs' control APIs (local target only).

- rekognition:
    heal: true                 # remove every fault first (rules stay)
    clear_rules: true          # remove every rule first
    rules:                     # replace the label rules (format: harness/stubs/rules.py)
      - {key_glob: "ingest/{scenario}/cats/*", labels: [Cat]}
    faults:                    # add faults (format: harness/stubs/faults.py), plus
      - error: ThrottlingException     # (null: latency only)
        rate: 0.3              # probability per eligible call
        first_n: 10            # only the first N eligible calls
        for_seconds: 5         # only for this long from now (a time window)
        latency_ms: 200
        key_glob: "ingest/{scenario}/*"
        seed: 7
- slack:
    fail_next: 2               # the next N webhook posts fail ...
    status: 500                # ... with this status and body (defaults 500 rollup_error)
    body: rollup_error
    delay_ms: 0                # hold each failing post this long first
- slack: {delay_next: 1, delay_ms: 7000}   # hold the next post, then answer 200
- slack: {heal: true}          # cancel the failure switch
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from harness.scenarios import templates
from harness.scenarios.model import ParseContext, Step, register_step
from harness.scenarios.runtime import Runtime
from harness.scenarios.source import Src
from harness.stubs.rekognition.faults import parse_fault
from harness.stubs.rekognition.rules import parse_rule

_FAULT_FIELDS = ("error", "message", "rate", "first_n", "latency_ms", "for_seconds", "key_glob")
_TEMPLATED = ("key_glob", "key_regex", "bucket", "name")


def _templated(src: Src) -> dict[str, Any]:
    """The mapping's value, with its templated strings checked (filled at run time)."""
    fields = src.mapping()
    for name in _TEMPLATED:
        if name in fields:
            templates.check(fields[name])
    return dict(src.value)


def _samples(raw: dict[str, Any]) -> dict[str, Any]:
    return {
        k: templates.render(v, templates.SAMPLES) if k in _TEMPLATED else v for k, v in raw.items()
    }


def _parse_rule(src: Src, index: int) -> dict[str, Any]:
    raw = _templated(src)
    try:
        parse_rule(_samples(raw), index)
    except ValueError as exc:
        raise src.fail(str(exc)) from exc
    return raw


def _parse_fault(src: Src, index: int) -> dict[str, Any]:
    fields = src.fields(optional=(*_FAULT_FIELDS, "seed"))
    raw = _templated(src)
    if "for_seconds" in fields:
        fields["for_seconds"].number(minimum=0.1, maximum=3600)
    stub_form = {k: v for k, v in _samples(raw).items() if k != "for_seconds"}
    try:
        parse_fault(stub_form, index)
    except ValueError as exc:
        raise src.fail(str(exc)) from exc
    return raw


@register_step
@dataclass(frozen=True)
class Rekognition(Step):
    kind = "rekognition"
    summary = "set Rekognition stub rules and faults (rate, first N, time window, latency); heal"
    local_only = True

    heal: bool = False
    clear_rules: bool = False
    rules: tuple[dict, ...] | None = None
    faults: tuple[dict, ...] = ()

    @classmethod
    def parse(cls, src: Src, ctx: ParseContext) -> Rekognition:
        fields = src.fields(optional=("heal", "clear_rules", "rules", "faults"))
        if not fields:
            raise src.fail("give heal, clear_rules, rules or faults")
        rules = None
        if "rules" in fields:
            rules = tuple(_parse_rule(r, i) for i, r in enumerate(fields["rules"].items()))
        faults = ()
        if "faults" in fields:
            faults = tuple(_parse_fault(f, i) for i, f in enumerate(fields["faults"].items()))
        return cls(
            heal=fields["heal"].boolean() if "heal" in fields else False,
            clear_rules=fields["clear_rules"].boolean() if "clear_rules" in fields else False,
            rules=rules,
            faults=faults,
        )

    def _fill(self, raw: dict[str, Any], rt: Runtime) -> dict[str, Any]:
        return {k: rt.render(v) if k in _TEMPLATED else v for k, v in raw.items()}

    def run(self, rt: Runtime) -> dict[str, Any]:
        stub = rt.labeling.rekognition
        detail: dict[str, Any] = {}
        if self.heal:
            before = stub.faults()
            fired = sum(int(f.get("fired", 0)) for f in before)
            rt.counts["faults_fired_before_heal"] = (
                rt.counts.get("faults_fired_before_heal", 0) + fired
            )
            stub.clear_faults()
            detail["healed"] = {"faults_removed": len(before), "they_fired": fired}
        if self.clear_rules:
            stub.clear_rules()
            detail["rules_cleared"] = True
        if self.rules is not None:
            detail["rules"] = stub.set_rules([self._fill(r, rt) for r in self.rules])
        for raw in self.faults:
            fault = self._fill(raw, rt)
            for_seconds = fault.pop("for_seconds", None)
            if for_seconds is not None:
                fault["until"] = time.time() + float(for_seconds)
            error = fault.pop("error", None)
            installed = stub.add_fault(error, **fault)
            detail.setdefault("faults", []).append(installed[-1])
        return detail


@register_step
@dataclass(frozen=True)
class Slack(Step):
    kind = "slack"
    summary = "make the Slack sink fail or hold the next N posts; heal"
    local_only = True

    heal: bool = False
    fail_next: int = 0
    delay_next: int = 0
    status: int = 500
    body: str = "rollup_error"
    delay_ms: int = 0

    @classmethod
    def parse(cls, src: Src, ctx: ParseContext) -> Slack:
        fields = src.fields(
            optional=("heal", "fail_next", "delay_next", "status", "body", "delay_ms")
        )
        modes = [m for m in ("heal", "fail_next", "delay_next") if m in fields]
        if len(modes) != 1:
            raise src.fail(f"give exactly one of heal, fail_next, delay_next; got {modes}")
        mode = modes[0]
        if mode == "heal":
            if not fields["heal"].boolean():
                raise fields["heal"].fail("heal: false does nothing; drop the step")
            for extra in ("status", "body", "delay_ms"):
                if extra in fields:
                    raise fields[extra].fail("not used with heal")
            return cls(heal=True)
        if mode == "delay_next":
            if "delay_ms" not in fields:
                raise src.fail("delay_next needs delay_ms")
            for extra in ("status", "body"):
                if extra in fields:
                    raise fields[extra].fail("delay_next answers normally; use fail_next")
        return cls(
            fail_next=fields["fail_next"].integer(1, 1000) if mode == "fail_next" else 0,
            delay_next=fields["delay_next"].integer(1, 1000) if mode == "delay_next" else 0,
            status=fields["status"].integer(100, 599) if "status" in fields else 500,
            body=fields["body"].text() if "body" in fields else "rollup_error",
            delay_ms=fields["delay_ms"].integer(0, 600_000) if "delay_ms" in fields else 0,
        )

    def run(self, rt: Runtime) -> dict[str, Any]:
        sink = rt.labeling.slack
        if self.heal:
            sink.clear_failures()
            # From here the report measures the recovery: the last notice delivered after it.
            rt.counts["slack_healed_at"] = time.time()
            return {"healed": True}
        if self.delay_next:
            return {"switch": sink.delay_next(self.delay_next, self.delay_ms)}
        return {"switch": sink.fail_next(self.fail_next, self.status, self.body, self.delay_ms)}
