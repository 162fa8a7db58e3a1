"""System B's clock and database: `tick` runs the scheduled loader, `database` takes the
catalog's database away and gives it back.

    - tick                                 # the loader now, as `harness clock tick`
    - tick:
        at: "2026-05-01T21:01:00+09:00"    # the scheduled time to simulate (ISO, with offset)
        respect_window: true               # do not run when the deployed schedule would
                                           # not fire at `at` (default false: run anyway)
        expect: skipped                    # ran (default) | failed | skipped
        match: {result: {rows: 8}}         # partial match on {would_fire, payload,
                                           #   result, error} of the run
    - database: down                       # the loader cannot connect from here on ...
    - database: killed-mid-tick            # or: a tick runs and the database is killed
                                           # while its transaction is inside (SIGKILL;
                                           # the harness's own MariaDB only)
    - tick: {expect: failed, match: {error: {$contains: cannot connect}}}
    - database: up                         # ... until here (the runner brings it back
                                           # if the scenario ends before)

LocalStack stores the loader's schedule but never fires it: a tick invokes the schedule's
own target with its own input, the placeholders filled as EventBridge Scheduler fills them
(`CatalogPipeline.tick`). Whether the schedule would fire at `at` is read from the
deployed schedule (expression and time zone), never restated here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from harness.scenarios import match
from harness.scenarios.model import ParseContext, Step, StepFailed, register_step
from harness.scenarios.runtime import CATALOG, Runtime
from harness.scenarios.source import Src

CATALOG_ONLY = frozenset({CATALOG})
OUTCOMES = ("ran", "failed", "skipped")


def parse_at(src: Src) -> datetime:
    """An aware time: an ISO string with an offset (YAML may read it as a timestamp)."""
    value = src.value
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError as exc:
            raise src.fail(
                f"{value!r} is not an ISO time such as 2026-05-01T07:00:00+09:00"
            ) from exc
    if not isinstance(value, datetime):
        raise src.fail(f"must be an ISO time such as 2026-05-01T07:00:00+09:00, got {value!r}")
    if value.tzinfo is None:
        raise src.fail("needs a time zone offset, e.g. 2026-05-01T07:00:00+09:00")
    return value


def _outcome_error(expected: str, outcome: str, local: str, document: dict[str, Any]) -> str:
    schedule = document["schedule"]
    if outcome == "skipped":
        return f"the schedule ({schedule}) does not run at {local}: the loader did not run"
    if expected == "skipped":
        ran = "ran" if outcome == "ran" else "ran and failed"
        return f"the schedule ({schedule}) runs at {local}: the loader {ran}"
    if outcome == "failed":
        return f"the loader run failed: {document['error']}"
    return f"the loader ran without an error (expected it to fail): {document['result']}"


@register_step
@dataclass(frozen=True)
class Tick(Step):
    kind = "tick"
    summary = "run the catalog's loader as its schedule would (now, or at a given time)"

    at: datetime | None = None
    respect_window: bool = False
    expect: str = "ran"
    expect_match: Any = None

    @classmethod
    def parse(cls, src: Src, ctx: ParseContext) -> Tick:
        if src.is_null:
            return cls()
        fields = src.fields(optional=("at", "respect_window", "expect", "match"))
        at = parse_at(fields["at"]) if "at" in fields else None
        respect = fields["respect_window"].boolean() if "respect_window" in fields else False
        expect = fields["expect"].choice(OUTCOMES) if "expect" in fields else "ran"
        if expect == "skipped" and not respect:
            raise fields["expect"].fail(
                "only a tick with respect_window: true is ever skipped (the schedule decides)"
            )
        if expect == "skipped" and at is None:
            raise fields["expect"].fail(
                "give `at`: whether now is inside the schedule depends on when the scenario runs"
            )
        expect_match = match.validate(fields["match"]) if "match" in fields else None
        if expect_match is not None and expect == "skipped":
            raise fields["match"].fail("a skipped tick has no run to match")
        return cls(at=at, respect_window=respect, expect=expect, expect_match=expect_match)

    def systems(self) -> frozenset[str]:
        return CATALOG_ONLY

    def run(self, rt: Runtime) -> dict[str, Any]:
        catalog = rt.catalog
        at = self.at or datetime.now(UTC)
        cron = catalog.cron()
        fires = cron.fires_at(at)
        local = f"{at.astimezone(cron.zone):%Y-%m-%d %H:%M %Z}"
        document: dict[str, Any] = {
            "at": local,
            "schedule": f"{cron.expression} in {cron.timezone}",
            "would_fire": fires,
        }
        if self.respect_window and not fires:
            outcome = "skipped"
        else:
            tick = catalog.tick(at)
            outcome = "ran" if tick.ok else "failed"
            document |= {
                "payload": tick.payload,
                "result": tick.result,
                "error": tick.error,
                "seconds": tick.seconds,
            }
            rt.counts["loader_runs"] = rt.counts.get("loader_runs", 0) + 1
        document["outcome"] = outcome
        document["pending"] = catalog.pending()
        if outcome != self.expect:
            raise StepFailed(_outcome_error(self.expect, outcome, local, document), document)
        if self.expect_match is not None:
            problems = match.mismatches(self.expect_match, document, rt.variables())
            if problems:
                raise StepFailed("the loader run does not match: " + "; ".join(problems), document)
        return document


@register_step
@dataclass(frozen=True)
class DatabaseState(Step):
    kind = "database"
    summary = (
        "take the catalog's database down (the loader cannot connect), kill it while a "
        "tick's transaction is inside it, or bring it up"
    )

    state: str

    @classmethod
    def parse(cls, src: Src, ctx: ParseContext) -> DatabaseState:
        state = src.choice(("down", "killed-mid-tick", "up"))
        if (state != "up") == ctx.database_down:
            already = "down already" if ctx.database_down else "not down (no `database: down`)"
            raise src.fail(f"the database is {already} at this step")
        ctx.database_down = state != "up"
        return cls(state=state)

    def systems(self) -> frozenset[str]:
        return CATALOG_ONLY

    def run(self, rt: Runtime) -> dict[str, Any]:
        if self.state == "killed-mid-tick":
            tick = rt.kill_database_mid_tick()
            if tick.ok:
                raise StepFailed(f"the tick succeeded although its database died: {tick.result}")
            return {
                "database": "down",
                "how": f"the {rt.catalog.database.kind} got SIGKILL while the loader's "
                "transaction waited on a table lock",
                "tick": {"error": tick.error, "seconds": tick.seconds},
            }
        if self.state == "down":
            rt.take_database_down()
        else:
            rt.bring_database_up()
        served = rt.catalog.database
        how = {
            ("down", True): f"the {served.kind} stopped",
            ("down", False): "the loader's secret points at a closed port (a warm loader "
            "that still reaches its known server does not notice)",
            ("up", True): f"the {served.kind} started again",
            ("up", False): "the loader's secret restored",
        }[self.state, served.stoppable]
        return {"database": self.state, "how": how}
