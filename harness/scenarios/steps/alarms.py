"""`set_alarm`: put the DLQ alarm into a state, as `aws cloudwatch set-alarm-state` does.

    - set_alarm: {state: ALARM, reason: "testing the notification path"}

AWS documents this as the way to test an alarm's actions: the transition runs them
(here: SNS -> notifier -> Slack) without filling the DLQ. The next evaluation sets
the state back from the real metric.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.scenarios.conditions.alerts import ALARM_STATES
from harness.scenarios.model import ParseContext, Step, register_step
from harness.scenarios.runtime import Runtime
from harness.scenarios.source import Src


@register_step
@dataclass(frozen=True)
class SetAlarm(Step):
    kind = "set_alarm"
    summary = "set the DLQ alarm's state (runs its actions, e.g. the Slack notice)"

    state: str
    reason: str = "set by a harness scenario"

    @classmethod
    def parse(cls, src: Src, ctx: ParseContext) -> SetAlarm:
        fields = src.fields(required=("state",), optional=("reason",))
        reason = fields["reason"].text() if "reason" in fields else cls.reason
        return cls(state=fields["state"].choice(ALARM_STATES), reason=reason)

    def needs_quiet_alarm(self) -> bool:
        return True

    def run(self, rt: Runtime) -> dict[str, Any]:
        before = rt.labeling.alarm_state()
        rt.labeling.cloudwatch.set_alarm_state(
            AlarmName=rt.outputs["alarm_name"], StateValue=self.state, StateReason=self.reason
        )
        return {"alarm": rt.outputs["alarm_name"], "from": before, "to": self.state}
