"""System B in the scenario engine: `system: catalog` uploads, `served` and `rejections`
conditions, log lines of every function, and the runner opening the catalog only for
scenarios that drive it."""

from __future__ import annotations

import contextlib
import textwrap
from pathlib import Path

import pytest
from test_scenario_runner import StandInPipeline

from harness.scenarios import runner, schema
from harness.scenarios.source import ScenarioError
from harness.systems.catalog.database import Database, Endpoint, Served

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


def test_the_shipped_scenarios_drive_the_system_their_name_says():
    """`catalog-*` scenarios drive system B alone (at least the issue's five); the
    others system A alone, so a run of those never starts the catalog's database."""
    catalog = []
    for scenario in schema.load_dir(PROJECT / "scenarios"):
        system = "catalog" if scenario.name.startswith("catalog-") else "labeling"
        assert scenario.systems == {system}, scenario.name
        for step in scenario.steps:
            if step.kind == "upload":
                assert step.action.system == system, scenario.name
        if system == "catalog":
            catalog.append(scenario)
    assert len(catalog) >= 5
    kinds = {step.kind for scenario in catalog for step in scenario.steps}
    assert {"upload", "tick", "database", "wait", "assert"} <= kinds


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


# --- tick, database, catalog_rows, catalog_pending, fixture folders -------------------

HEAD = CATALOG.split("steps:\n")[0] + "steps:\n"
UPLOAD = """\
  - upload:
      system: catalog
      as: originals
      items:
        - {key: "origin/{scenario}/1{i}_1.jpg", count: 2, image: {width: 64, height: 48}}
"""


def steps_of(tmp_path, body: str):
    return [step.action for step in schema.load(write(tmp_path, HEAD + body)).steps]


def test_tick_parses_the_time_the_window_and_the_expected_outcome(tmp_path):
    from datetime import UTC, datetime, timedelta, timezone

    plain, now, later, utc, skipped = steps_of(
        tmp_path,
        """\
  - tick:
  - tick: {}
  - tick: {at: "2026-05-01T21:01:00+09:00", match: {result: {rows: 8}}}
  - tick: {at: 2026-05-01T12:01:00Z, expect: failed}
  - tick: {at: "2026-05-01T06:59+09:00", respect_window: true, expect: skipped}
""",
    )
    assert (plain.at, plain.respect_window, plain.expect) == (None, False, "ran")
    assert now == plain and plain.systems() == {"catalog"}
    seoul = timezone(timedelta(hours=9))
    assert later.at == datetime(2026, 5, 1, 21, 1, tzinfo=seoul)
    assert later.expect_match == {"result": {"rows": 8}}
    assert utc.at == datetime(2026, 5, 1, 12, 1, tzinfo=UTC) and utc.expect == "failed"
    assert skipped.respect_window and skipped.expect == "skipped"


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ('  - tick: {at: "2026-05-01T07:00"}\n', "needs a time zone offset"),
        ('  - tick: {at: "tomorrow at seven"}\n', "is not an ISO time"),
        ("  - tick: {at: 7}\n", "must be an ISO time"),
        ("  - tick: {expect: loaded}\n", "ran, failed, skipped"),
        ('  - tick: {at: "2026-05-01T21:01+09:00", expect: skipped}\n', "respect_window: true"),
        ("  - tick: {respect_window: true, expect: skipped}\n", "give `at`"),
        (
            '  - tick: {at: "2026-05-01T21:01+09:00", respect_window: true, expect: skipped,'
            " match: {result: {}}}\n",
            "no run to match",
        ),
        ("  - tick: {when: now}\n", "unknown field"),
    ],
)
def test_tick_errors_name_the_field(tmp_path, body, words):
    assert words in error_of(tmp_path, HEAD + body)


def test_database_goes_down_then_up_in_that_order(tmp_path):
    down, _tick, up = steps_of(
        tmp_path, "  - database: down\n  - tick: {expect: failed}\n  - database: up\n"
    )
    assert (down.state, up.state) == ("down", "up") and down.systems() == {"catalog"}
    assert "not down" in error_of(tmp_path, HEAD + "  - database: up\n")
    twice = "  - database: down\n  - database: down\n"
    assert "down already" in error_of(tmp_path, HEAD + twice)
    assert "down, killed-mid-tick, up" in error_of(tmp_path, HEAD + "  - database: away\n")
    killed = "  - database: killed-mid-tick\n  - database: down\n"
    assert "down already" in error_of(tmp_path, HEAD + killed)


def test_catalog_rows_and_pending_parse(tmp_path):
    (check,) = steps_of(
        tmp_path,
        UPLOAD
        + """\
  - assert:
      - catalog_rows: {objects: originals, per_image: 4, remember: first,
                       match: {s3_bucket: "{served_bucket}", url: {$regex: "^https://"}}}
      - catalog_rows: {objects: originals, per_image: {at_least: 1}, newer_than: first}
      - catalog_rows: {exist: false}
      - catalog_pending: {work_queue: 2, dlq: {at_most: 0}}
""",
    )[1:]
    first, second, none, pending = check.that
    assert first.per_image.equals == 4 and first.remember == "first"
    assert first.expect["s3_bucket"] == "{served_bucket}"
    assert second.newer_than == "first" and second.per_image.at_least == 1
    assert none.exist is False and none.objects is None
    assert dict(pending.counts)["work_queue"].equals == 2
    assert check.systems() == {"catalog"}


@pytest.mark.parametrize(
    ("condition", "words"),
    [
        ("catalog_rows: {exist: false, per_image: 4}", "per_image needs exist: true"),
        ("catalog_rows: {exist: false, remember: x}", "remember needs exist: true"),
        ("catalog_rows: {newer_than: before}", "no rows were remembered as 'before'"),
        ("catalog_rows: {remember: two words}", "simple name"),
        ("catalog_rows: {per_image: many}", "whole number"),
        ("catalog_pending: {}", "give at least one of work_queue, dlq, resize_failures"),
        ("catalog_pending: {outbox: 0}", "unknown field"),
        ("rejections: {exist: false, match: {code: BadName}}", "match needs exist: true"),
    ],
)
def test_catalog_condition_errors_name_the_field(tmp_path, condition, words):
    assert words in error_of(tmp_path, HEAD + UPLOAD + f"  - assert:\n      - {condition}\n")


def test_a_fixture_folder_item_uploads_every_file_of_the_folder(tmp_path):
    body = (
        "  - upload:\n      system: catalog\n      items:\n        - {fixture_folder: ssgdfm_eye}\n"
    )
    (upload,) = steps_of(tmp_path, body)
    item = upload.items[0]
    assert item.key == "origin/{scenario}/{name}" and item.folder.name == "ssgdfm_eye"
    assert "notes.txt" in {f.name for f in item.folder.files}
    bad = body.replace("ssgdfm_eye}", "nowhere}")
    assert "no fixture folder 'nowhere'" in error_of(tmp_path, HEAD + bad)
    counted = body.replace("ssgdfm_eye}", "ssgdfm_eye, count: 2}")
    assert "drop count" in error_of(tmp_path, HEAD + counted)


class StandInLoaderCatalog(StandInCatalog):
    """The catalog with a work queue, a table, a schedule and a database to take away."""

    KILLED = "Lost connection to server during query; the batch was released"

    def __init__(self) -> None:
        super().__init__()
        from datetime import datetime

        self.queue: list[str] = []
        self.table: dict[tuple, dict] = {}
        here = Endpoint("127.0.0.1", 4582, "loader", "pw")
        self.database = Database(admin=here, loader=here, kind=Served.MANAGED)
        self.db_up = True
        self.outages = 0
        self.loader_runs = 0
        self.clock = datetime(2026, 5, 1, 1, 0)

    def upload(self, key: str, data: bytes, content_type: str = "image/jpeg") -> None:
        super().upload(key, data, content_type)
        if key.endswith(".jpg"):
            self.queue.append(key)

    def cron(self):
        from harness.systems.catalog.schedule import CronSchedule

        return CronSchedule.parse("cron(* 7-20 * * ? *)", "Asia/Seoul")

    def pending(self) -> dict[str, int]:
        return {"work_queue": len(self.queue), "dlq": 0, "resize_failures": 0}

    def tick(self, at):
        from datetime import timedelta

        from harness.systems.catalog.pipeline import Tick

        self.loader_runs += 1
        payload = {"source": "aws.scheduler", "scheduled_time": f"{at:%Y-%m-%dT%H:%M}"}
        fires = self.cron().fires_at(at)
        if not self.db_up:
            error = "cannot connect to catalog_loader@127.0.0.1:4582: refused"
            return Tick(at, payload, fires, None, error, 0.0)
        loaded, self.queue = self.queue, []
        for key in loaded:
            vertical, _, name = key.removeprefix("origin/").partition("/")
            cd_idx, sequence = (int(part) for part in name.removesuffix(".jpg").split("_"))
            self.clock += timedelta(seconds=1)
            for size in self.sizes:
                old = self.table.get((vertical, cd_idx, sequence, size))
                self.table[(vertical, cd_idx, sequence, size)] = {
                    "id": old["id"] if old else len(self.table) + 1,
                    "vertical": vertical,
                    "cd_idx": cd_idx,
                    "sequence": sequence,
                    "image_size": size,
                    "resized_at": self.clock,
                }
        result = {"loaded_messages": len(loaded), "rows": len(loaded) * len(self.sizes)}
        return Tick(at, payload, fires, result, None, 0.0)

    def rows(self, vertical: str | None = None, cd_idxs=None) -> list[dict]:
        if not self.db_up:
            raise ConnectionError("the database is down")
        return [dict(r) for r in self.table.values() if vertical in (None, r["vertical"])]

    @contextlib.contextmanager
    def database_outage(self):
        self.db_up = False
        self.outages += 1
        try:
            yield
        finally:
            self.db_up = True

    @contextlib.contextmanager
    def database_killed_mid_tick(self):
        """The tick's transaction dies with the database: its batch goes back to the queue."""
        from datetime import datetime

        from harness.systems.catalog.pipeline import Tick

        with self.database_outage():
            self.loader_runs += 1
            yield Tick(datetime(2026, 5, 1, 7), {}, True, None, self.KILLED, 0.4)


def run_with(tmp_path, body: str, catalog: StandInLoaderCatalog) -> dict:
    text = (HEAD + body).replace("description:", "target: aws\ndescription:")
    return runner.run_scenario(
        schema.load(write(tmp_path, text)), StandInPipeline({}), "aws", catalog=lambda: catalog
    )


def statuses(result: dict) -> list[str]:
    return [step["status"] for step in result["steps"]]


def test_ticks_rows_and_an_outage_drive_the_catalog(tmp_path):
    catalog = StandInLoaderCatalog()
    body = (
        UPLOAD
        + """\
  - assert:
      - catalog_pending: {work_queue: 2}
      - catalog_rows: {exist: false}
  - tick: {at: "2026-05-01T21:01:00+09:00", respect_window: true, expect: skipped}
  - tick: {at: "2026-05-01T07:00:00+09:00", match: {would_fire: true, result: {rows: 4}}}
  - assert:
      - catalog_rows: {objects: originals, remember: first, match: {vertical: "{scenario}"}}
      - catalog_pending: {work_queue: 0}
  - upload:
      system: catalog
      as: again
      items:
        - {key: "origin/{scenario}/1{i}_1.jpg", count: 2, image: {width: 80, height: 60}}
  - database: down
  - tick: {expect: failed, match: {error: {$contains: cannot connect}}}
  - assert:
      - catalog_pending: {work_queue: 2}
  - database: up
  - tick: {}
  - assert:
      - catalog_rows: {objects: again, per_image: 2, newer_than: first}
"""
    )
    result = run_with(tmp_path, body, catalog)
    assert result["status"] == "passed", result
    assert catalog.loader_runs == 3  # the skipped tick never ran the loader
    assert catalog.outages == 1 and catalog.db_up
    skipped, ran = result["steps"][2]["detail"], result["steps"][3]["detail"]
    assert skipped["outcome"] == "skipped" and skipped["would_fire"] is False
    assert skipped["at"] == "2026-05-01 21:01 KST"
    assert ran["outcome"] == "ran" and ran["result"] == {"loaded_messages": 2, "rows": 4}
    rows = result["steps"][-1]["detail"]["conditions"][0]
    assert rows["detail"]["compared_with"] == {"snapshot": "first", "rows": 4}
    assert result["counts"]["loader_runs"] == 3


def test_a_database_killed_mid_tick_stays_down_until_brought_up(tmp_path):
    catalog = StandInLoaderCatalog()
    body = (
        UPLOAD
        + """\
  - database: killed-mid-tick
  - assert:
      - catalog_pending: {work_queue: 2}
  - database: up
  - tick: {match: {result: {loaded_messages: 2}}}
"""
    )
    result = run_with(tmp_path, body, catalog)
    assert result["status"] == "passed", result
    killed = result["steps"][1]["detail"]
    assert killed["database"] == "down" and "SIGKILL" in killed["how"]
    assert killed["tick"] == {"error": catalog.KILLED, "seconds": 0.4}
    assert catalog.outages == 1 and catalog.db_up and catalog.loader_runs == 2


def test_a_tick_that_survives_its_database_kill_fails_the_step(tmp_path, monkeypatch):
    from harness.systems.catalog.pipeline import Tick

    catalog = StandInLoaderCatalog()

    @contextlib.contextmanager
    def survived():
        yield Tick(None, {}, True, {"loaded_messages": 2}, None, 0.1)

    monkeypatch.setattr(catalog, "database_killed_mid_tick", survived)
    result = run_with(tmp_path, UPLOAD + "  - database: killed-mid-tick\n", catalog)
    assert statuses(result) == ["passed", "failed"]
    assert "the tick succeeded although its database died" in result["reason"]


def test_rows_not_updated_since_remembered_fail_newer_than(tmp_path):
    body = (
        UPLOAD
        + """\
  - tick: {}
  - assert:
      - catalog_rows: {remember: first}
  - tick: {}
  - assert:
      - catalog_rows: {newer_than: first}
"""
    )
    result = run_with(tmp_path, body, StandInLoaderCatalog())
    assert statuses(result) == ["passed"] * 4 + ["failed"]
    assert "were not updated in place" in result["reason"]
    assert "is not later than" in result["reason"]


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (
            '  - tick: {at: "2026-05-01T07:00:00+09:00", respect_window: true, expect: skipped}\n',
            "runs at 2026-05-01 07:00 KST: the loader ran",
        ),
        (
            '  - tick: {at: "2026-05-01T21:00:00+09:00", respect_window: true}\n',
            "does not run at 2026-05-01 21:00 KST",
        ),
        ("  - tick: {expect: failed}\n", "ran without an error (expected it to fail)"),
        ("  - tick: {match: {result: {rows: 99}}}\n", "$.result.rows: expected 99, got 0"),
        ("  - assert:\n      - catalog_rows: {per_image: 3}\n", "do not have exactly 3 row(s)"),
        ("  - assert:\n      - catalog_rows: {exist: false}\n", "have rows"),
        ("  - assert:\n      - catalog_pending: {work_queue: 1}\n", "work_queue holds 0"),
    ],
)
def test_catalog_steps_and_conditions_fail_with_what_they_saw(tmp_path, body, words):
    result = run_with(tmp_path, UPLOAD + "  - tick: {}\n" + body, StandInLoaderCatalog())
    assert result["status"] == "failed"
    assert words in result["reason"], result["reason"]


def test_a_scenario_ending_with_the_database_down_gets_it_back(tmp_path):
    catalog = StandInLoaderCatalog()
    body = (
        UPLOAD
        + """\
  - database: down
  - assert:
      - catalog_pending: {work_queue: 99}
  - database: up
"""
    )
    result = run_with(tmp_path, body, catalog)
    assert statuses(result) == ["passed", "passed", "failed", "skipped"]
    assert catalog.db_up and catalog.outages == 1
    assert any("still down" in note for note in result["notes"])
