"""Conditions on alerting: the DLQ alarm's state, Slack posts, functions' log lines."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from harness.build import functions
from harness.scenarios import match, templates
from harness.scenarios.counting import AT_LEAST_ONE, CountSpec, parse_count
from harness.scenarios.model import Condition, ParseContext, Verdict, register_condition
from harness.scenarios.runtime import Runtime
from harness.scenarios.source import Src

ALARM_STATES = ("OK", "ALARM", "INSUFFICIENT_DATA")
# The alarms a scenario may name (`of:`), and the deployment output holding each name.
ALARMS = {
    "labeler_dlq": "alarm_name",  # system A's DLQ (the default)
    "notifier_failures": "notifier_failures_alarm_name",  # notices Slack did not take
}


def alarm_state(rt: Runtime, alarm: str) -> str:
    name = rt.outputs[ALARMS[alarm]]
    alarms = rt.labeling.cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    return alarms[0]["StateValue"]


@register_condition
@dataclass(frozen=True)
class Alarm(Condition):
    kind = "alarm"
    summary = (
        "an alarm's state: `alarm: ALARM` (the DLQ alarm) or "
        "`alarm: {state: ALARM, of: notifier_failures}`"
    )
    quiet_alarm = True

    state: str
    of: str = "labeler_dlq"

    @classmethod
    def parse(cls, src: Src, ctx: ParseContext) -> Alarm:
        if src.is_mapping:
            fields = src.fields(required=("state",), optional=("of",))
            of = fields["of"].choice(tuple(ALARMS)) if "of" in fields else cls.of
            return cls(state=fields["state"].choice(ALARM_STATES), of=of)
        return cls(state=src.choice(ALARM_STATES))

    def check(self, rt: Runtime) -> Verdict:
        state = alarm_state(rt, self.of)
        name = rt.outputs[ALARMS[self.of]]
        return Verdict(state == self.state, f"{name} is {state}, expected {self.state}")


@register_condition
@dataclass(frozen=True)
class SlackPosts(Condition):
    kind = "slack"
    summary = "webhook posts the Slack sink received since the scenario started"
    local_only = True
    quiet_alarm = True

    count: CountSpec
    delivered: str  # "true" | "false" | "any"
    expect: Any

    @classmethod
    def parse(cls, src: Src, ctx: ParseContext) -> SlackPosts:
        fields = src.fields(optional=("count", "delivered", "match"))
        delivered = "true"
        if "delivered" in fields:
            value = fields["delivered"].value
            if value not in (True, False, "any"):
                raise fields["delivered"].fail("must be true, false or any")
            delivered = str(value).lower()
        return cls(
            count=parse_count(fields["count"]) if "count" in fields else AT_LEAST_ONE,
            delivered=delivered,
            expect=match.validate(fields["match"]) if "match" in fields else None,
        )

    def check(self, rt: Runtime) -> Verdict:
        messages = rt.slack_messages(include_failed=self.delivered != "true")
        if self.delivered == "false":
            messages = [m for m in messages if m.get("failed")]
        if self.expect is not None:
            variables = rt.variables()
            messages = [
                m for m in messages if not match.mismatches(self.expect, m["body"], variables)
            ]
        attempts = [
            {"status": m.get("status"), "failed": m.get("failed"), "reason": m.get("reason")}
            for m in rt.slack_messages(include_failed=True)
        ]
        what = {"true": "delivered", "false": "failed", "any": "attempted"}[self.delivered]
        summary = f"{len(messages)} {what} post(s) matching, expected {self.count.describe()}"
        detail = {"attempts": attempts}
        if messages:
            detail["last"] = messages[-1]["body"]
        return Verdict(self.count.ok(len(messages)), summary, detail)


@register_condition
@dataclass(frozen=True)
class LogLines(Condition):
    kind = "log"
    summary = "lines in a function's CloudWatch Logs since the scenario started"

    log_group: str  # a template, or "function:<short name>" (harness.build.functions)
    contains: str | None
    regex: str | None
    expect: Any
    count: CountSpec

    @classmethod
    def parse(cls, src: Src, ctx: ParseContext) -> LogLines:
        fields = src.fields(
            optional=("function", "log_group", "contains", "regex", "match", "count")
        )
        if ("function" in fields) == ("log_group" in fields):
            raise src.fail(f"give function ({', '.join(functions.BY_SHORT)}) or log_group")
        if "function" in fields:
            log_group = "function:" + fields["function"].choice(tuple(functions.BY_SHORT))
        else:
            log_group = templates.check(fields["log_group"])
        if not {"contains", "regex", "match"} & set(fields):
            raise src.fail("give contains, regex or match (JSON log lines)")
        regex = None
        if "regex" in fields:
            regex = fields["regex"].text()
            try:
                re.compile(regex)
            except re.error as exc:
                raise fields["regex"].fail(f"bad regular expression: {exc}") from exc
        return cls(
            log_group=log_group,
            contains=templates.check(fields["contains"]) if "contains" in fields else None,
            regex=regex,
            expect=match.validate(fields["match"]) if "match" in fields else None,
            count=parse_count(fields["count"]) if "count" in fields else AT_LEAST_ONE,
        )

    def _group(self, rt: Runtime) -> str:
        if self.log_group.startswith("function:"):
            function = functions.BY_SHORT[self.log_group.removeprefix("function:")]
            return function.log_group(rt.outputs)
        return rt.render(self.log_group)

    def _matches(self, line: str, rt: Runtime, needle: str | None) -> bool:
        if needle is not None and needle not in line:
            return False
        if self.regex is not None and not re.search(self.regex, line):
            return False
        if self.expect is not None:
            try:
                document = json.loads(line)
            except ValueError:
                return False
            return not match.mismatches(self.expect, document, rt.variables())
        return True

    def check(self, rt: Runtime) -> Verdict:
        group = self._group(rt)
        needle = rt.render(self.contains) if self.contains is not None else None
        lines = [
            line.strip()
            for event in rt.log_events(group)
            for line in str(event.get("message", "")).splitlines()
            if line.strip()
        ]
        found = [line for line in lines if self._matches(line, rt, needle)]
        summary = f"{len(found)} matching line(s) in {group}, expected {self.count.describe()}"
        detail = {"lines_read": len(lines), "matching": found[:5]}
        return Verdict(self.count.ok(len(found)), summary, detail)
