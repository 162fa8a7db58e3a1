"""`set_alarm`: put an alarm into a state, as `aws cloudwatch set-alarm-state` does.

    - set_alarm: {state: ALARM, reason: "testing the notification path"}
    - set_alarm: {state: OK, of: notifier_failures}   # the notifier-failures alarm

AWS documents this as the way to test an alarm's actions: the transition runs them
(here: SNS -> notifier -> Slack) without filling the DLQ. The next evaluation sets
the state back from the real metric.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.scenarios.conditions.alerts import ALARM_STATES, ALARMS, alarm_state
from harness.scenarios.model import ParseContext, Step, register_step
from harness.scenarios.runtime import Runtime
from harness.scenarios.source import Src


@register_step
@dataclass(frozen=True)
class SetAlarm(Step):
    kind = "set_alarm"
    summary = "set an alarm's state, the DLQ alarm's by default (runs its actions: the notice)"

    state: str
    reason: str = "set by a harness scenario"
    of: str = "labeler_dlq"

    @classmethod
    def parse(cls, src: Src, ctx: ParseContext) -> SetAlarm:
        fields = src.fields(required=("state",), optional=("reason", "of"))
        reason = fields["reason"].text() if "reason" in fields else cls.reason
        of = fields["of"].choice(tuple(ALARMS)) if "of" in fields else cls.of
        return cls(state=fields["state"].choice(ALARM_STATES), reason=reason, of=of)

    def needs_quiet_alarm(self) -> bool:
        return True

    def run(self, rt: Runtime) -> dict[str, Any]:
        name = rt.outputs[ALARMS[self.of]]
        before = alarm_state(rt, self.of)
        rt.labeling.cloudwatch.set_alarm_state(
            AlarmName=name, StateValue=self.state, StateReason=self.reason
        )
        return {"alarm": name, "from": before, "to": self.state}
