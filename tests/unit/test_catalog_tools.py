"""System B's harness parts that need no stack: schedule evaluator, tick payload,
upload checks, database URL and migration parsing."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from harness.build.fixtures import ImageSpec, render
from harness.systems.catalog import database, schedule
from harness.systems.catalog import folder_upload as catalog_upload
from harness.systems.catalog.pipeline import (
    SCHEDULER_PLACEHOLDERS,
    render_scheduler_input,
    schedule_group_arn,
)
from harness.util.errors import HarnessError

PROJECT = Path(__file__).resolve().parents[2]
SEOUL = ZoneInfo("Asia/Seoul")


# --- the schedule, read from the Terraform ---------------------------------------------


@pytest.fixture(scope="module")
def loader_schedule() -> schedule.LoaderSchedule:
    return schedule.from_terraform(PROJECT)


def test_the_terraform_window_is_0700_to_2100_inclusive_seoul(loader_schedule):
    """The seed's "every minute from 07:00 to 21:00", 21:00 included: two schedules."""
    assert loader_schedule.timezone == "Asia/Seoul"
    assert loader_schedule.names == ("every_minute", "last_run")
    every_minute, last_run = loader_schedule.crons
    assert every_minute.expression == "cron(* 7-20 * * ? *)"
    assert every_minute.hours == frozenset(range(7, 21))
    assert every_minute.minutes == frozenset(range(60))
    assert last_run.expression == "cron(0 21 * * ? *)"
    # The same strings as the catalog module's own test
    # (schedule_every_minute_0700_to_2100_inclusive_seoul).
    assert schedule.window_expressions(7, 21) == ("cron(* 7-20 * * ? *)", "cron(0 21 * * ? *)")


@pytest.mark.parametrize(
    ("hour", "minute", "fires"),
    [
        (7, 0, True),
        (13, 30, True),
        (20, 59, True),
        (21, 0, True),
        (21, 1, False),
        (6, 59, False),
        (0, 0, False),
        (23, 59, False),
    ],
)
def test_fires_from_0700_to_2100_kst(loader_schedule, hour, minute, fires):
    assert loader_schedule.fires_at(datetime(2026, 5, 1, hour, minute, tzinfo=SEOUL)) is fires


def test_which_schedule_fires(loader_schedule):
    assert loader_schedule.firing(datetime(2026, 5, 1, 20, 59, tzinfo=SEOUL)) == ["every_minute"]
    assert loader_schedule.firing(datetime(2026, 5, 1, 21, 0, 30, tzinfo=SEOUL)) == ["last_run"]
    assert loader_schedule.firing(datetime(2026, 5, 1, 21, 1, tzinfo=SEOUL)) == []


def test_the_window_is_in_seoul_time_not_utc(loader_schedule):
    # 22:00 UTC is 07:00 the next day in Seoul (UTC+9, no daylight saving).
    assert loader_schedule.fires_at(datetime(2026, 5, 1, 22, 0, tzinfo=UTC))
    assert loader_schedule.fires_at(datetime(2026, 5, 1, 12, 0, tzinfo=UTC))  # 21:00 KST
    assert not loader_schedule.fires_at(datetime(2026, 5, 1, 12, 1, tzinfo=UTC))  # 21:01 KST


def _next(loader_schedule, after: datetime, count: int) -> list[str]:
    return [f"{r.at:%d %H:%M} {r.schedule}" for r in loader_schedule.next_runs(after, count)]


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        # At 20:58:30 the next runs are 20:59 (every minute), then 21:00 (the last run).
        ((20, 58, 30), ["01 20:59 every_minute", "01 21:00 last_run", "02 07:00 every_minute"]),
        # During 20:59 the next is 21:00, then the next morning.
        ((20, 59, 0), ["01 21:00 last_run", "02 07:00 every_minute", "02 07:01 every_minute"]),
        ((20, 59, 30), ["01 21:00 last_run", "02 07:00 every_minute", "02 07:01 every_minute"]),
        # At 21:00 (and after it) the next run is 07:00 the next day.
        ((21, 0, 0), ["02 07:00 every_minute", "02 07:01 every_minute", "02 07:02 every_minute"]),
        ((21, 1, 0), ["02 07:00 every_minute", "02 07:01 every_minute", "02 07:02 every_minute"]),
        # Midnight: the same morning's 07:00.
        ((0, 0, 0), ["01 07:00 every_minute", "01 07:01 every_minute", "01 07:02 every_minute"]),
        ((23, 59, 59), ["02 07:00 every_minute", "02 07:01 every_minute", "02 07:02 every_minute"]),
    ],
)
def test_next_runs_around_the_end_of_the_window_and_midnight(loader_schedule, after, expected):
    moment = datetime(2026, 5, 1, *after, tzinfo=SEOUL)
    assert _next(loader_schedule, moment, 3) == expected


def test_next_runs_across_midnight_count_the_whole_next_window(loader_schedule):
    runs = loader_schedule.next_runs(datetime(2026, 5, 1, 21, 0, tzinfo=SEOUL), 14 * 60 + 1)
    assert f"{runs[0].at:%d %H:%M}" == "02 07:00"
    assert f"{runs[-2].at:%d %H:%M}" == "02 20:59"
    assert f"{runs[-1].at:%d %H:%M} {runs[-1].schedule}" == "02 21:00 last_run"
    assert len({r.at for r in runs}) == len(runs) == 14 * 60 + 1  # 07:00-21:00 inclusive


def test_next_runs_from_utc_are_shown_in_seoul(loader_schedule):
    # 11:59:30 UTC is 20:59:30 KST.
    lines = schedule.describe_runs(loader_schedule, datetime(2026, 5, 1, 11, 59, 30, tzinfo=UTC), 2)
    assert lines == [
        "2026-05-01 21:00 KST (12:00 UTC) last_run",
        "2026-05-02 07:00 KST (22:00 UTC) every_minute",
    ]


@pytest.mark.parametrize(
    ("first", "last", "expected"),
    [
        (7, 21, ("cron(* 7-20 * * ? *)", "cron(0 21 * * ? *)")),
        (9, 10, ("cron(* 9 * * ? *)", "cron(0 10 * * ? *)")),
        (0, 23, ("cron(* 0-22 * * ? *)", "cron(0 23 * * ? *)")),
    ],
)
def test_window_expressions_match_the_module(first, last, expected):
    assert schedule.window_expressions(first, last) == expected


@pytest.mark.parametrize(("first", "last"), [(7, 24), (-1, 21), (21, 7), (9, 9)])
def test_bad_windows_are_refused(first, last):
    with pytest.raises(HarnessError, match="hour"):
        schedule.window_expressions(first, last)


def test_schedules_in_two_zones_are_refused():
    with pytest.raises(HarnessError, match="time zones"):
        schedule.LoaderSchedule.of(
            [
                ("a", schedule.CronSchedule.parse("cron(0 1 * * ? *)", "UTC")),
                ("b", schedule.CronSchedule.parse("cron(0 1 * * ? *)", "Asia/Seoul")),
            ]
        )


def test_day_of_week_ranges_and_names():
    weekdays = schedule.CronSchedule.parse("cron(0/15 9 ? * MON-FRI *)", "UTC")
    assert weekdays.fires_at(datetime(2026, 5, 1, 9, 45, tzinfo=UTC))  # a Friday
    assert not weekdays.fires_at(datetime(2026, 5, 2, 9, 45, tzinfo=UTC))  # Saturday
    assert not weekdays.fires_at(datetime(2026, 5, 1, 9, 46, tzinfo=UTC))
    sunday = schedule.CronSchedule.parse("cron(0 0 ? JAN,DEC 1 2026)", "UTC")
    assert sunday.fires_at(datetime(2026, 12, 6, 0, 0, tzinfo=UTC))
    assert not sunday.fires_at(datetime(2027, 1, 3, 0, 0, tzinfo=UTC))


def test_daylight_saving_gaps_are_skipped():
    berlin = schedule.CronSchedule.parse("cron(30 2 * * ? *)", "Europe/Berlin")
    runs = berlin.next_fires(datetime(2026, 3, 28, 12, 0, tzinfo=UTC), 2)
    assert [f"{t:%m-%d %H:%M}" for t in runs] == ["03-30 02:30", "03-31 02:30"]  # 29th has no 02:30


@pytest.mark.parametrize(
    ("expression", "zone", "fragment"),
    [
        ("rate(1 minute)", "UTC", "not a cron"),
        ("cron(* 7-20 * * *)", "UTC", "has 5 fields"),
        ("cron(* 7-20 * * * *)", "UTC", "exactly one of day-of-month and day-of-week"),
        ("cron(* 25 * * ? *)", "UTC", "not in 0-23"),
        ("cron(* 20-7 * * ? *)", "UTC", "runs backwards"),
        ("cron(0 0 L * ? *)", "UTC", "not supported"),
        ("cron(* 7-20 * * ? *)", "Mars/Olympus", "unknown"),
    ],
)
def test_bad_expressions_are_refused(expression, zone, fragment):
    with pytest.raises(HarnessError, match=fragment):
        schedule.CronSchedule.parse(expression, zone)


def test_variable_default_reads_only_that_variable(tmp_path):
    tf = tmp_path / "variables.tf"
    tf.write_text(
        'variable "a" {\n  default = "x"\n}\n\nvariable "schedule_timezone" {\n'
        '  description = "d"\n  default     = "Asia/Seoul"\n}\n\n'
        'variable "schedule_last_hour" {\n  type    = number\n  default = 21\n}\n'
    )
    assert schedule.variable_default(tf, "schedule_timezone") == "Asia/Seoul"
    assert schedule.variable_number_default(tf, "schedule_last_hour") == 21
    with pytest.raises(HarnessError, match="no string default"):
        schedule.variable_default(tf, "missing")
    with pytest.raises(HarnessError, match="no number default"):
        schedule.variable_number_default(tf, "a")


# --- the tick's payload ---------------------------------------------------------------


def test_the_tick_fills_in_schedulers_context_attributes():
    template = json.dumps(
        {
            "source": "aws.scheduler",
            "schedule_arn": "<aws.scheduler.schedule-arn>",
            "scheduled_time": "<aws.scheduler.scheduled-time>",
            "execution_id": "<aws.scheduler.execution-id>",
            "attempt_number": "<aws.scheduler.attempt-number>",
        }
    )
    at = datetime(2026, 5, 1, 7, 0, 30, tzinfo=SEOUL)
    payload = render_scheduler_input(template, "arn:aws:scheduler:r:1:schedule/default/x", at)
    assert not any(p in payload for p in SCHEDULER_PLACEHOLDERS)
    document = json.loads(payload)
    assert document["scheduled_time"] == "2026-04-30T22:00:30Z"
    assert document["schedule_arn"] == "arn:aws:scheduler:r:1:schedule/default/x"
    assert document["attempt_number"] == "1" and len(document["execution_id"]) == 36


def test_scheduler_assumes_the_role_for_the_schedule_group():
    """AWS's documented aws:SourceArn of Scheduler's AssumeRole is the schedule group."""
    arn = "arn:aws:scheduler:ap-northeast-2:000000000000:schedule/imgpipe-catalog/every-minute"
    assert schedule_group_arn(arn) == (
        "arn:aws:scheduler:ap-northeast-2:000000000000:schedule-group/imgpipe-catalog"
    )


# --- upload checks ----------------------------------------------------------------------


def test_scan_accepts_exactly_what_the_function_accepts(tmp_path):
    (tmp_path / "12_1.jpg").write_bytes(render(ImageSpec(seed=1)))
    (tmp_path / "12_2.jpg").write_bytes(render(ImageSpec(seed=2, mode="CMYK")))
    (tmp_path / "13_1.jpg").write_bytes(render(ImageSpec(format="png")))
    (tmp_path / "14_1.jpg").write_bytes(render(ImageSpec(damage="truncated", width=800)))
    (tmp_path / "15_1.JPG").write_bytes(render(ImageSpec(seed=3)))
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "more").mkdir()
    (tmp_path / "more" / "16_1.jpg").write_bytes(render(ImageSpec(seed=4)))
    plan = catalog_upload.scan(tmp_path, "actor", "origin/")
    assert [item.key for item in plan.accepted] == [
        "origin/actor/12_1.jpg",
        "origin/actor/12_2.jpg",
    ]
    reasons = {item.relative: item.reason for item in plan.rejected}
    assert set(reasons) == {"13_1.jpg", "14_1.jpg", "15_1.JPG", "notes.txt", "more/16_1.jpg"}
    assert "not JPEG" in reasons["13_1.jpg"]
    assert "cannot be decoded" in reasons["14_1.jpg"]
    assert ".jpg (lowercase)" in reasons["15_1.JPG"]
    assert "subfolder" in reasons["more/16_1.jpg"]


def test_scan_refuses_a_bad_vertical(tmp_path):
    with pytest.raises(HarnessError, match="vertical 'Actors'"):
        catalog_upload.scan(tmp_path, "Actors", "origin/")


def test_local_etags_match_s3s_single_and_multipart_forms(tmp_path):
    small = tmp_path / "small.jpg"
    small.write_bytes(b"a" * 1000)
    assert catalog_upload.s3_etag(small) == hashlib.md5(b"a" * 1000).hexdigest()
    big = tmp_path / "big.jpg"
    big.write_bytes(b"x" * 10 + b"y" * 10)
    parts = [hashlib.md5(b"x" * 8).digest(), hashlib.md5(b"x" * 2 + b"y" * 6).digest()]
    parts.append(hashlib.md5(b"y" * 4).digest())
    expected = hashlib.md5(b"".join(parts)).hexdigest() + "-3"
    assert catalog_upload.s3_etag(big, part_size=8) == expected


def test_resume_skips_objects_with_the_same_size_and_etag(tmp_path):
    for name in ("1_1.jpg", "2_1.jpg", "3_1.jpg"):
        (tmp_path / name).write_bytes(render(ImageSpec(seed=len(name) + ord(name[0]))))
    plan = catalog_upload.scan(tmp_path, "actor", "origin/")
    same = plan.accepted[0]
    changed = plan.accepted[1]
    existing = {
        same.key: {"size": same.size, "etag": catalog_upload.s3_etag(same.path)},
        changed.key: {"size": changed.size, "etag": "0" * 32},
    }
    catalog_upload.compare_with_bucket(plan, existing)
    assert [i.key for i in plan.already_uploaded] == [same.key]
    assert [i.key for i in plan.to_upload] == [changed.key, plan.accepted[2].key]


# --- database settings and migrations ------------------------------------------------------


def test_database_url_parsing():
    endpoint = database.parse_url("mysql://loader:p%40ss@db.example:3307")
    assert endpoint == database.Endpoint("db.example", 3307, "loader", "p@ss")
    assert database.parse_url("mariadb://root@127.0.0.1").port == 3306
    with pytest.raises(HarnessError, match="mysql://user:password@host:port"):
        database.parse_url("postgres://u:secret@h:5432")


def test_migrations_split_into_statements_without_comments():
    sql = "-- a comment; with a semicolon\nCREATE TABLE a (x INT);\n\nINSERT INTO a VALUES (1);\n"
    assert database._statements(sql) == ["CREATE TABLE a (x INT)", "INSERT INTO a VALUES (1)"]
    shipped = sorted(database.MIGRATIONS.glob("*.sql"))
    assert shipped and shipped[0].name.startswith("0001_")
    first = database._statements(shipped[0].read_text())
    assert len(first) == 1 and "UNIQUE KEY `uq_celeb_image_url_image`" in first[0]


# --- MariaDB lifecycle helpers ------------------------------------------------------------


def test_without_root_or_apt_the_user_is_told_what_to_install(tmp_path, monkeypatch):
    from harness import config
    from harness.runtime import mariadb

    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(mariadb, "binaries", lambda: None)
    monkeypatch.setattr(mariadb.os, "geteuid", lambda: 1000)
    with pytest.raises(HarnessError, match="sudo apt-get install mariadb-server") as caught:
        mariadb.ensure_installed(config.load(), progress=lambda _: None)
    assert "HARNESS_DATABASE_URL" in str(caught.value)


def test_a_closed_port_is_not_a_database():
    import socket

    from harness.runtime import mariadb

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert mariadb.is_up(port, timeout=0.5) is False


def test_long_state_dirs_get_a_short_socket_path(tmp_path, monkeypatch):
    from harness import config
    from harness.runtime import mariadb

    monkeypatch.setenv("HARNESS_STATE_DIR", str(tmp_path / ("x" * 120)))
    path = mariadb._socket_path(config.load())
    assert len(str(path)) < 100 and path.name.startswith("harness-mariadb-")
    assert mariadb._socket_path(config.load()) == path  # stable for the same state dir


# --- the resize benchmark (its report, not its speed) -------------------------------------


def test_bench_resize_reports_both_methods_and_quality(tmp_path):
    from harness.systems.catalog import bench as bench_resize

    out = tmp_path / "bench.json"
    report = bench_resize.run(
        out, images=1, rounds=1, width=800, height=600, progress=lambda _: None
    )
    assert json.loads(out.read_text()) == report
    assert set(report["results"]) == {"naive", "optimised"}
    for result in report["results"].values():
        assert result["images_per_s_wall"] > 0 and result["images_per_s_cpu"] > 0
        assert set(result["psnr_db"]) == {"large", "medium", "small", "thumb"}
        assert all(value > 25 for value in result["psnr_db"].values())
    assert report["speedup_cpu"] > 0 and set(report["psnr_delta_db"]) == set(report["sizes"])


def test_clock_show_prints_the_deployed_schedules_and_the_next_runs_in_seoul(
    loader_schedule, monkeypatch
):
    from types import SimpleNamespace

    from click.testing import CliRunner

    from harness.cli import catalog as catalog_cli
    from harness.cli import main

    deployed = [
        {
            "Name": f"imgpipe-catalog-loader{suffix}",
            "ScheduleExpression": cron.expression,
            "ScheduleExpressionTimezone": "Asia/Seoul",
            "State": "ENABLED",
            "Target": {"Arn": "arn:aws:lambda:us-east-1:000000000000:function:loader"},
        }
        for suffix, cron in zip(("", "-last-run"), loader_schedule.crons, strict=True)
    ]
    pipeline = SimpleNamespace(schedules=lambda: deployed, cron=lambda _deployed: loader_schedule)
    monkeypatch.setattr(catalog_cli, "_pipeline", lambda: pipeline)
    result = CliRunner().invoke(main, ["clock", "show", "--count", "3"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "imgpipe-catalog-loader: cron(* 7-20 * * ? *) in Asia/Seoul (ENABLED)" in result.output
    assert "imgpipe-catalog-loader-last-run: cron(0 21 * * ? *) in Asia/Seoul" in result.output
    upcoming = [line for line in result.output.splitlines() if "next:" in line]
    assert len(upcoming) == 3
    assert all(
        re.search(r"next: \d{4}-\d\d-\d\d \d\d:\d\d KST \(\d\d:\d\d UTC\)", u) for u in upcoming
    )
    assert "harness clock tick" in result.output
