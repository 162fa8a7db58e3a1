"""pytest collects scenario files as items named after their scenarios (no stack needed)."""

from __future__ import annotations

pytest_plugins = ["pytester"]

SCENARIO = """\
version: 1
name: {name}
description: collected by pytest
tags: [{tag}]
steps:
  - sleep: 0
"""


def test_one_item_per_scenario_named_after_it_and_k_and_m_select(pytester):
    folder = pytester.mkdir("scenarios")
    (folder / "a.yaml").write_text(SCENARIO.format(name="alpha-path", tag="smoke"))
    (folder / "b.yaml").write_text(SCENARIO.format(name="beta-storm", tag="load"))
    (folder / "notes.txt").write_text("not a scenario")

    everything = pytester.runpytest("--collect-only", "-q", "scenarios")
    everything.stdout.fnmatch_lines(
        ["scenarios/a.yaml::alpha-path", "scenarios/b.yaml::beta-storm", "2 tests collected*"]
    )
    by_name = pytester.runpytest("--collect-only", "-q", "-k", "storm", "scenarios")
    by_name.stdout.fnmatch_lines(["scenarios/b.yaml::beta-storm", "1/2 tests collected*"])
    by_tag = pytester.runpytest("--collect-only", "-q", "-m", "smoke", "scenarios")
    by_tag.stdout.fnmatch_lines(["scenarios/a.yaml::alpha-path", "1/2 tests collected*"])


def test_an_invalid_scenario_is_a_collection_error_naming_line_and_field(pytester):
    folder = pytester.mkdir("scenarios")
    text = SCENARIO.format(name="broken", tag="smoke").replace("sleep: 0", "sleep: soon")
    (folder / "broken.yaml").write_text(text)
    result = pytester.runpytest("--collect-only", "-q", "scenarios")
    result.stdout.fnmatch_lines(["*invalid scenario: *broken.yaml:6: steps[[]0[]].sleep: *number*"])
    assert result.ret != 0
