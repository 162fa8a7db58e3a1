"""`counts.slack_recovery_s` as a scenario's result carries it: run on the local target
with stand-ins for the stubs, a `slack: {heal: true}` step starts the clock, and the
last post Slack accepted after it stops it. Failed posts, and posts before the heal, do
not count; a scenario that never heals Slack has no such count."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from test_scenario_runner import StandInPipeline, scenario

from harness.scenarios import runner


class SlackSink:
    """The Slack sink's client: down while failing; healing it delivers the notices that
    waited, `late` seconds after the heal (what a redrive does on the real stack)."""

    def __init__(self, late: list[float]) -> None:
        self.late = late
        self.posts: list[dict] = []

    def fail_next(self, count: int, status: int, body: str, delay_ms: int) -> dict:
        now = time.time()
        self.posts += [{"received_at": now, "failed": True, "status": status}] * 2
        self.posts.append({"received_at": now})  # delivered before the outage: not counted
        return {"count": count}

    def clear_failures(self) -> None:
        healed = time.time()
        self.posts += [{"received_at": healed + s} for s in self.late]
        self.posts.append({"received_at": healed + 99.0, "failed": True})  # refused again

    def messages(self, include_failed: bool = False) -> list[dict]:
        return [p for p in self.posts if include_failed or not p.get("failed")]


class Rekognition:
    def calls(self) -> list[dict]:
        return []


class LocalPipeline(StandInPipeline):
    """The runner tests' stand-in, with what a local run also reads: its reset and the
    stubs' clients."""

    def __init__(self, late: list[float]) -> None:
        super().__init__({})
        self.slack = SlackSink(late)
        self.rekognition = Rekognition()

    def reset(self) -> float:
        return 0.0


def run(tmp_path: Path, late: list[float], heal: bool = True) -> dict:
    steps = "  - slack: {fail_next: 5}\n" + ("  - slack: {heal: true}\n" if heal else "")
    local = scenario(tmp_path, steps, target="local")
    result = runner.run_scenario(local, LocalPipeline(late), target="local")
    assert [s["status"] for s in result["steps"]] == ["passed"] * (2 if heal else 1)
    return result["counts"]


def test_recovery_runs_from_the_heal_to_the_last_post_slack_accepted(tmp_path):
    counts = run(tmp_path, late=[0.5, 2.25, 1.0])
    # The clock starts when the heal step returns, a moment after the sink was healed.
    assert counts["slack_recovery_s"] == pytest.approx(2.25, abs=0.1)
    assert counts["slack_posts_delivered"] == 4 and counts["slack_posts_failed"] == 3


def test_nothing_delivered_after_the_heal_is_no_recovery_time(tmp_path):
    counts = run(tmp_path, late=[])
    assert "slack_recovery_s" in counts and counts["slack_recovery_s"] is None


def test_without_a_heal_there_is_no_recovery_count(tmp_path):
    counts = run(tmp_path, late=[1.0], heal=False)
    assert "slack_posts_delivered" in counts  # counted, only not this
    assert "slack_recovery_s" not in counts
