"""Scenario files: validation with file, line and field; the shipped scenarios load."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from harness.scenarios import schema
from harness.scenarios.model import CONDITION_KINDS, STEP_KINDS
from harness.scenarios.source import ScenarioError

PROJECT = Path(__file__).resolve().parents[2]
SHIPPED = sorted((PROJECT / "scenarios").glob("*.yaml"))

VALID = """\
version: 1
name: tiny
description: one upload and its result
steps:
  - upload:
      as: pics
      items:
        - {key: "ingest/{scenario}/{i:02}{ext}", image: {width: 100, height: 100}, count: 2}
  - wait:
      timeout: 10
      until:
        - results: {objects: pics, match: {source: {key: "{key}"}}}
"""


def write(tmp_path: Path, text: str, name: str = "case.yaml") -> Path:
    folder = tmp_path / "scenarios"
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def error_of(tmp_path: Path, text: str) -> ScenarioError:
    with pytest.raises(ScenarioError) as caught:
        schema.load(write(tmp_path, text))
    return caught.value


def test_every_shipped_scenario_is_valid_and_names_are_unique():
    scenarios = schema.load_dir(PROJECT / "scenarios")
    assert len(scenarios) >= 12
    assert len({s.name for s in scenarios}) == len(scenarios)
    for scenario in scenarios:
        assert scenario.description and scenario.steps


def test_valid_file_loads_with_steps_lines_and_sets(tmp_path):
    scenario = schema.load(write(tmp_path, VALID))
    assert scenario.name == "tiny" and scenario.target == "local"
    assert [s.kind for s in scenario.steps] == ["upload", "wait"]
    assert [s.line for s in scenario.steps] == [5, 9]
    assert scenario.steps[0].action.set_name == "pics"


@pytest.mark.parametrize(
    ("text", "line", "field", "words"),
    [
        (VALID.replace("version: 1", "version: 2"), 1, "version", "unsupported version 2"),
        (VALID.replace("name: tiny", "name: Tiny Scenario"), 2, "name", "lower-case"),
        (VALID.replace("count: 2", "count: two"), 8, "steps[0].upload.items[0].count", "whole"),
        (VALID.replace("count: 2", "count: 2, colour: red"), 8, "colour", "unknown field"),
        (VALID.replace("{i:02}", "{index}"), 8, "steps[0].upload.items[0].key", "{index}"),
        (VALID.replace("objects: pics", "objects: pictures"), 12, "objects", "no object set"),
        (VALID.replace("- wait:", "- wiat:"), 9, "steps[1].wiat", "unknown step kind"),
        (VALID.replace("results:", "result:"), 12, "until[0]", "unknown condition"),
        (VALID.replace("timeout: 10", "timeout: -1"), 10, "timeout", "at least"),
        (VALID.replace('key: "{key}"', "key: {$regexp: x}"), 12, "$regexp", "unknown operator"),
        (VALID.replace("width: 100", "width: 0"), 8, "image", "at least 1 pixel"),
        (VALID + "  - sleep: 1\n    upload: {items: []}\n", 13, "steps[2]", "one `<kind>"),
        (VALID.replace("description: one", "descripton: one"), 3, "descripton", "unknown"),
    ],
)
def test_errors_name_file_line_and_field(tmp_path, text, line, field, words):
    error = error_of(tmp_path, text)
    assert error.file.endswith("case.yaml")
    assert error.line == line, str(error)
    assert field in error.field, str(error)
    assert words in str(error)


def test_yaml_syntax_error_names_its_line(tmp_path):
    error = error_of(tmp_path, VALID.replace("  - wait:", "  - wait: [unclosed"))
    assert error.line >= 9 and "YAML syntax" in str(error)


def test_duplicate_keys_are_refused(tmp_path):
    error = error_of(tmp_path, VALID.replace("name: tiny\n", "name: tiny\nname: again\n"))
    assert error.line == 3 and "duplicate key 'name'" in str(error)


def test_stub_rule_and_fault_errors_come_from_the_stubs_own_validation(tmp_path):
    rule = VALID.replace(
        "steps:\n", 'steps:\n  - rekognition: {rules: [{key_glob: "x", labels: [A], error: B}]}\n'
    )
    assert "exactly one of 'labels' or 'error'" in str(error_of(tmp_path, rule))
    fault = VALID.replace("steps:\n", "steps:\n  - rekognition: {faults: [{error: Throttle}]}\n")
    error = error_of(tmp_path, fault)
    assert error.line == 5 and "unknown error type 'Throttle'" in str(error)


def test_slack_step_needs_exactly_one_mode(tmp_path):
    text = VALID.replace("steps:\n", "steps:\n  - slack: {fail_next: 1, heal: true}\n")
    assert "exactly one of heal, fail_next, delay_next" in str(error_of(tmp_path, text))


def test_unknown_fixture_name_is_an_error_with_its_line(tmp_path):
    text = VALID.replace("image: {width: 100, height: 100}", "fixture: no-such-image")
    error = error_of(tmp_path, text)
    assert error.line == 8 and "no-such-image" in str(error)


def test_replay_is_validated_and_reported_unavailable(tmp_path):
    (tmp_path / "scenarios" / "events").mkdir(parents=True)
    scenario = schema.load(
        write(tmp_path, VALID.replace("steps:\n", "steps:\n  - replay: {events: events}\n"))
    )
    assert "not available yet" in scenario.unavailable
    missing = VALID.replace("steps:\n", "steps:\n  - replay: {events: nowhere}\n")
    assert "no file or folder" in str(error_of(tmp_path, missing))


def test_folder_items_and_per_item_sets(tmp_path):
    photos = tmp_path / "scenarios" / "photos"
    photos.mkdir(parents=True)
    (photos / "a.jpg").write_bytes(b"x")
    text = VALID.replace(
        "        - {key:",
        "        - {folder: photos, glob: '*.jpg', as: mine}\n        - {key:",
    )
    scenario = schema.load(write(tmp_path, text))
    items = scenario.steps[0].action.items
    assert items[0].source == "folder" and items[0].set_name == "mine"
    assert items[0].key == "ingest/{scenario}/{relpath}"


def test_duplicate_scenario_names_in_a_folder_are_refused(tmp_path):
    write(tmp_path, VALID, "a.yaml")
    write(tmp_path, VALID, "b.yaml")
    with pytest.raises(ScenarioError, match="also the name of"):
        schema.load_dir(tmp_path / "scenarios")


def test_registries_cover_what_the_docs_promise():
    assert {"upload", "rekognition", "slack", "wait", "assert", "redrive", "sleep"} <= set(
        STEP_KINDS
    )
    assert {"replay", "redeliver", "send_message"} <= set(STEP_KINDS)
    assert {
        "results",
        "failure_records",
        "dlq",
        "dlq_depth",
        "queue_depth",
        "alarm",
        "slack",
        "log",
        "rekognition_calls",
        "nothing_lost",
        "s3_keys",
    } <= set(CONDITION_KINDS)
    docs = (PROJECT / "docs" / "scenarios.md").read_text(encoding="utf-8")
    for kind in [*STEP_KINDS, *CONDITION_KINDS]:
        assert f"`{kind}`" in docs, f"docs/scenarios.md does not document {kind}"
