"""`harness run` against the session's stack: a failing scenario is reported as such.

The shipped scenarios (scenarios/*.yaml) are collected as tests of their own; this
checks what only the command line does: exit code, summary, report files, and a
failure that names the step, its line and what it saw.
"""

from __future__ import annotations

import json

from click.testing import CliRunner

from harness.cli import main

WRONG_LABEL = """\
version: 1
name: cli-wrong-label
description: expects a label the stub never gives, so it must fail at the assert
steps:
  - upload:
      as: pics
      items:
        - {key: "ingest/{scenario}/sky.jpg", fixture: scene-sky}
  - wait:
      timeout: 30
      until:
        - results: {objects: pics}
  - assert:
      - results: {objects: pics, match: {Labels: [{Name: Giraffe}]}}
  - sleep: 0
"""


def test_harness_run_exits_1_and_reports_the_failing_step(local_deployment, tmp_path):
    scenario = tmp_path / "scenarios" / "wrong.yaml"
    scenario.parent.mkdir()
    scenario.write_text(WRONG_LABEL, encoding="utf-8")
    reports = tmp_path / "reports"

    result = CliRunner().invoke(main, ["run", str(scenario), "--report-dir", str(reports)])

    assert result.exit_code == 1, result.output
    assert "cli-wrong-label" in result.output and "0 passed, 1 failed" in result.output
    run = json.loads((reports / "report.json").read_text(encoding="utf-8"))
    (outcome,) = run["scenarios"]
    assert outcome["status"] == "failed"
    assert outcome["reason"].startswith("step 3 (assert) at line 13:")
    assert [s["status"] for s in outcome["steps"]] == ["passed", "passed", "failed", "skipped"]
    failed = outcome["steps"][2]
    assert 'no element matches {"Name": "Giraffe"}' in failed["error"]
    assert failed["detail"]["conditions"][0]["ok"] is False
    assert outcome["counts"]["results"] == 1 and outcome["counts"]["rekognition_calls"] == 1
    assert (reports / "report.html").is_file()
