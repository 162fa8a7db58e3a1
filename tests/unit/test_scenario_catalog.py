"""System B in the scenario engine: `system: catalog` uploads, `served` and `rejections`
conditions, log lines of every function, and the runner opening the catalog only for
scenarios that drive it."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from test_scenario_runner import StandInPipeline

from harness.scenarios import runner, schema
from harness.scenarios.source import ScenarioError

PROJECT = Path(__file__).resolve().parents[2]

CATALOG = """\
version: 1
name: resize-one
description: one original, every size served, nothing rejected
steps:
  - upload:
      system: catalog
      as: originals
      items:
        - {key: "origin/{scenario}/1{i}_1.jpg", count: 2, image: {width: 64, height: 48}}
        - {key: "origin/{scenario}/notes.txt", text: "not a picture", as: bad}
  - wait:
      timeout: 5
      until:
        - served: {objects: originals}
        - rejections: {objects: originals, exist: false}
  - assert:
      - rejections: {objects: bad, code: BadName}
      - served: {objects: bad, exist: false}
"""


def write(tmp_path: Path, text: str) -> Path:
    folder = tmp_path / "scenarios"
    folder.mkdir(exist_ok=True)
    path = folder / "case.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def error_of(tmp_path: Path, text: str) -> str:
    with pytest.raises(ScenarioError) as caught:
        schema.load(write(tmp_path, text))
    return str(caught.value)


def test_catalog_steps_and_conditions_parse_and_say_which_system_they_drive(tmp_path):
    scenario = schema.load(write(tmp_path, CATALOG))
    upload, wait, check = (step.action for step in scenario.steps)
    assert upload.system == "catalog" and upload.systems() == {"catalog"}
    assert [c.kind for c in wait.until] == ["served", "rejections"]
    assert wait.systems() == {"catalog"} and check.systems() == {"catalog"}
    assert check.that[0].code == "BadName" and check.that[1].exist is False
    assert scenario.systems == {"catalog"}


def test_the_shipped_scenarios_still_drive_system_a_only():
    for scenario in schema.load_dir(PROJECT / "scenarios"):
        assert scenario.systems == {"labeling"}, scenario.name
        for step in scenario.steps:
            if step.kind == "upload":
                assert step.action.system == "labeling"


@pytest.mark.parametrize(
    ("old", "new", "words"),
    [
        ("system: catalog", "system: billing", "labeling, catalog"),
        ("code: BadName", "code: Blurry", "NotJpeg"),
        ("{objects: bad, code: BadName}", "{objects: bad, exist: false, code: NotJpeg}", "exist"),
        ("served: {objects: originals}", "served: {objects: originals, sizes: 2}", "sizes"),
    ],
)
def test_catalog_errors_name_the_field(tmp_path, old, new, words):
    assert old in CATALOG
    assert words in error_of(tmp_path, CATALOG.replace(old, new))


def test_catalog_folder_items_default_to_the_origin_prefix(tmp_path):
    (tmp_path / "scenarios" / "photos").mkdir(parents=True)
    text = CATALOG.replace(
        '        - {key: "origin/{scenario}/notes.txt", text: "not a picture", as: bad}\n',
        "        - {folder: photos, as: bad}\n",
    )
    item = schema.load(write(tmp_path, text)).steps[0].action.items[1]
    assert item.key == "origin/{scenario}/{name}"
    keyless = CATALOG.replace('key: "origin/{scenario}/1{i}_1.jpg", ', "")
    assert "e.g. origin/{scenario}/1{i}_1.jpg" in error_of(tmp_path, keyless)


def test_log_lines_of_every_function_by_its_short_name(tmp_path):
    body = "  - assert:\n      - log: {function: %s, contains: x}\n"
    head = CATALOG.split("steps:\n")[0] + "steps:\n"
    for short in ("labeler", "notifier", "resize", "loader"):
        scenario = schema.load(write(tmp_path, head + body % short))
        assert scenario.steps[0].action.that[0].log_group == f"function:{short}"
    assert "labeler, notifier, resize, loader" in error_of(tmp_path, head + body % "slack_notifier")


class StandInCatalog:
    """What `upload` (system: catalog), `served` and `rejections` use."""

    def __init__(self) -> None:
        self.c = {"origin_prefix": "origin/", "served_bucket": "served", "upload_bucket": "up"}
        self.sizes = {"large": 1280, "thumb": 160}
        self.uploaded: dict[str, bytes] = {}

    def upload(self, key: str, data: bytes, content_type: str = "image/jpeg") -> None:
        self.uploaded[key] = data

    def keys(self, bucket: str, prefix: str = "") -> dict[str, dict]:
        served = {}
        for key in self.uploaded:  # "resized" at once: every size of every good name
            vertical, _, name = key.removeprefix("origin/").partition("/")
            stem = name.removesuffix(".jpg")
            if name.endswith(".jpg"):
                cd_idx, sequence = stem.split("_")
                for size in self.sizes:
                    served[f"{vertical}/{size}/{cd_idx}_{size}_{sequence}.jpg"] = {}
        return {k: v for k, v in served.items() if k.startswith(prefix)}

    def rejection(self, key: str) -> dict | None:
        return None if key.endswith(".jpg") else {"code": "BadName"}


def test_the_runner_opens_the_catalog_once_for_a_scenario_that_drives_it(tmp_path):
    scenario = schema.load(
        write(tmp_path, CATALOG.replace("description:", "target: aws\ndescription:"))
    )
    catalog = StandInCatalog()
    opened = []

    def open_catalog():
        opened.append(1)
        return catalog

    result = runner.run_scenario(scenario, StandInPipeline({}), "aws", catalog=open_catalog)
    assert [s["status"] for s in result["steps"]] == ["passed"] * 3, result
    assert len(opened) == 1
    assert len(catalog.uploaded) == 3
    assert all(key.startswith(f"origin/{result['key_prefix']}/") for key in catalog.uploaded)
    assert result["steps"][0]["detail"]["system"] == "catalog"
    assert result["objects"] == {}  # timelines follow system A's objects only


def test_without_a_catalog_a_scenario_driving_it_fails_before_any_step(tmp_path):
    scenario = schema.load(
        write(tmp_path, CATALOG.replace("description:", "target: aws\ndescription:"))
    )
    result = runner.run_scenario(scenario, StandInPipeline({}), "aws")
    assert result["status"] == "failed"
    assert "system B (catalog) unavailable" in result["reason"]
    assert {s["status"] for s in result["steps"]} == {"skipped"}


def test_a_labeling_scenario_never_opens_the_catalog(tmp_path):
    text = """\
    version: 1
    name: a-only
    description: system A only
    target: aws
    steps:
      - assert:
          - results: {objects: ["ingest/x.jpg"], exist: false}
    """
    scenario = schema.load(write(tmp_path, text))

    def refuse():
        raise AssertionError("the catalog was opened")

    result = runner.run_scenario(scenario, StandInPipeline({}), "aws", catalog=refuse)
    assert result["status"] == "passed", result
