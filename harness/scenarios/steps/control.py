"""`sleep` (when nothing observable says "done", e.g. letting a retry window pass) and
`replay` (reserved for recorded-event replay, validated but not runnable yet)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from harness.scenarios.model import ParseContext, Step, register_step
from harness.scenarios.source import Src


@register_step
@dataclass(frozen=True)
class Sleep(Step):
    kind = "sleep"
    summary = "pause N seconds; prefer wait, which ends as soon as its conditions hold"

    seconds: float

    @classmethod
    def parse(cls, src: Src, ctx: ParseContext) -> Sleep:
        return cls(seconds=src.number(minimum=0, maximum=600))

    def run(self, rt: Any) -> dict[str, Any]:
        time.sleep(self.seconds)
        return {"slept_s": self.seconds}


@register_step
@dataclass(frozen=True)
class Replay(Step):
    kind = "replay"
    summary = "replay recorded S3 events (reserved: arrives with the replay issue)"
    available = False
    unavailable_reason = "replaying recorded events is not available yet (the replay issue)"

    events: str
    to: str = "topic"

    @classmethod
    def parse(cls, src: Src, ctx: ParseContext) -> Replay:
        fields = src.fields(required=("events",), optional=("to",))
        events = fields["events"].text()
        if not (ctx.base_dir / events).exists():
            raise fields["events"].fail(f"no file or folder {ctx.base_dir / events}")
        to = fields["to"].choice(("topic", "queue")) if "to" in fields else "topic"
        return cls(events=events, to=to)

    def run(self, rt: Any) -> dict[str, Any]:
        raise NotImplementedError(self.unavailable_reason)
