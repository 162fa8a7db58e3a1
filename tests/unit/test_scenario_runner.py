"""The runner's flow without a stack: step statuses, target handling, failure reports.

A stand-in pipeline answers the few calls the conditions used here make; on the
`aws` target the runner neither resets the stack nor touches the stubs, which is
what makes these paths testable offline.
"""

from __future__ import annotations

import json
import textwrap
import time
from pathlib import Path
from types import SimpleNamespace

from harness.observe import denials
from harness.scenarios import runner, schema
from harness.scenarios.pytest_items import describe_failure

OUTPUTS = {
    "bucket": "b",
    "ingest_prefix": "ingest/",
    "results_prefix": "results/",
    "failures_prefix": "failures/",
    "dlq_url": "http://dlq",
    "queue_url": "http://queue",
    "dlq_name": "dlq",
    "queue_name": "queue",
    "alarm_name": "alarm",
    "topic_arn": "arn:aws:sns:us-east-1:0:t",
}


class EmptyQueue:
    def receive_message(self, **_kwargs):
        return {"Messages": []}

    def change_message_visibility_batch(self, **_kwargs):
        return {}


class StandInPipeline:
    """Only what `results` conditions and the final counts read."""

    def __init__(self, documents: dict[str, dict]) -> None:
        self.outputs = OUTPUTS
        self.documents = documents
        self.sqs = EmptyQueue()
        self.s3 = None

    def keys(self, prefix: str) -> list[str]:
        return [k for k in self.documents if k.startswith(prefix)]

    def read_json(self, key: str) -> dict | None:
        return self.documents.get(key)


def scenario(tmp_path: Path, body: str, target: str = "aws") -> schema.Scenario:
    folder = tmp_path / "scenarios"
    folder.mkdir(exist_ok=True)
    path = folder / "s.yaml"
    header = f"version: 1\nname: flow\ndescription: runner flow\ntarget: {target}\nsteps:\n"
    path.write_text(header + textwrap.dedent(body), encoding="utf-8")
    return schema.load(path)


FLOW = """\
  - rekognition: {faults: [{error: ThrottlingException}]}
  - assert:
      - results: {objects: ["ingest/elsewhere.jpg"], exist: false}
      - rekognition_calls: {total: 0}
  - assert:
      - rekognition_calls: {total: 0}
  - name: this one fails
    assert:
      - results: {objects: ["ingest/missing.jpg"]}
  - sleep: 0
"""


def test_aws_target_skips_local_only_parts_and_stops_at_the_first_failure(tmp_path):
    result = runner.run_scenario(scenario(tmp_path, FLOW), StandInPipeline({}), target="aws")
    statuses = [s["status"] for s in result["steps"]]
    assert statuses == ["skipped", "passed", "skipped", "failed", "skipped"]
    rekognition, mixed, only_local, failing, after = result["steps"]
    assert "needs the local stubs" in rekognition["detail"]["reason"]
    assert mixed["detail"]["left_out"] == ["rekognition_calls: needs the local stubs"]
    assert "every condition needs the local stubs" in only_local["detail"]["reason"]
    assert "ingest/missing.jpg" in failing["error"]
    assert after["detail"]["reason"] == "not run: step 4 failed"
    assert result["status"] == "failed"
    assert result["reason"].startswith("step 4 (assert: this one fails) at line 12:")


def test_result_follows_the_run_schema(tmp_path):
    pipeline = StandInPipeline({"results/ok.jpg.json": {"source": {"key": "ingest/ok.jpg"}}})
    body = """\
      - assert:
          - results: {objects: ["ingest/ok.jpg"], match: {source: {key: "{key}"}}}
    """
    run = runner.run_all([scenario(tmp_path, body)], pipeline, target="aws")
    assert run["schema"] == 1 and run["target"] == "aws"
    assert run["finished_at"] >= run["started_at"]
    (result,) = run["scenarios"]
    assert result["status"] == "passed" and result["reason"] is None
    assert set(result) >= {"name", "file", "status", "reason", "duration_s", "steps"}
    assert set(result) >= {"objects", "counts"}
    (step,) = result["steps"]
    assert set(step) >= {"index", "kind", "status", "duration_s", "detail", "error"}
    assert result["key_prefix"].startswith("flow-")


def test_local_scenarios_and_unavailable_steps_are_skipped_with_a_reason(tmp_path):
    local = scenario(tmp_path, "  - sleep: 0\n", target="local")
    result = runner.run_scenario(local, StandInPipeline({}), target="aws")
    assert result["status"] == "skipped" and "targets the local stack" in result["reason"]
    (tmp_path / "scenarios" / "events.json").write_text("[]")
    replaying = scenario(tmp_path, "  - replay: {events: events.json}\n")
    result = runner.run_scenario(replaying, StandInPipeline({}), target="aws")
    assert result["status"] == "skipped" and "not available yet" in result["reason"]


def test_unexpected_errors_fail_the_step_with_the_error(tmp_path):
    class Broken(StandInPipeline):
        def keys(self, prefix: str) -> list[str]:
            raise ConnectionError("stack went away")

    body = "  - assert:\n      - results: {objects: [ingest/a.jpg]}\n"
    result = runner.run_scenario(scenario(tmp_path, body), Broken({}), target="aws")
    (step,) = result["steps"]
    assert step["status"] == "failed"
    assert step["error"] == "ConnectionError: stack went away"
    assert any("final counts failed" in n for n in result["notes"])


def test_failure_description_shows_the_step_line_and_what_it_saw(tmp_path):
    result = runner.run_scenario(scenario(tmp_path, FLOW), StandInPipeline({}), target="aws")
    text = describe_failure(result)
    assert "scenario flow (" in text and "failed after" in text
    assert "step 4 (assert: this one fails) at line 12" in text
    assert "what it saw:" in text and "ingest/missing.jpg" in text
    assert " 4. assert         failed" in text


def test_the_calls_iam_denied_during_the_scenario_are_in_its_result(tmp_path):
    """Denials logged before the scenario started belong to someone else; those during it
    are reported, in the short form the report shows."""
    log = tmp_path / "iam-denials.jsonl"
    record = {
        "principal": "arn:aws:sts::000000000000:assumed-role/imgpipe-labeler/s-1",
        "action": "s3:GetObjectVersion",
        "resource": "arn:aws:s3:::images/ingest/a.jpg",
        "reason": "no Allow statement matched",
        "via": "rekognition",
        "enforced": True,
    }
    before = record | {"time": denials.iso(time.time() - 60), "action": "s3:PutObject"}
    during = record | {"time": denials.iso(time.time() + 1)}
    log.write_text(json.dumps(before) + "\n" + json.dumps(during) + "\n", encoding="utf-8")
    pipeline = StandInPipeline({})
    pipeline.settings = SimpleNamespace(iam_denials=log)
    result = runner.run_scenario(scenario(tmp_path, "  - sleep: 0\n"), pipeline, target="aws")
    assert result["iam_denials"] == [
        {
            "time": during["time"],
            "who": "imgpipe-labeler/s-1",
            "action": "s3:GetObjectVersion",
            "resource": "arn:aws:s3:::images/ingest/a.jpg",
            "why": "no Allow statement matched (via rekognition)",
            "enforced": True,
        }
    ]


def test_recovery_is_measured_from_slack_answering_to_the_last_post_it_accepted():
    posts = [
        {"received_at": 100.0, "failed": True},  # during the outage
        {"received_at": 95.0},  # before it
        {"received_at": 112.5},
        {"received_at": 130.25},
        {"received_at": 131.0, "failed": True},  # refused again: not a delivery
    ]
    assert runner._recovery_seconds(posts, healed_at=110.0) == 20.25
    assert runner._recovery_seconds(posts[:2], healed_at=110.0) is None
