"""System B end to end: Terraform on the embedded LocalStack, a real MariaDB.

Upload -> S3 notification -> resize Lambda -> served bucket + work queue ->
`tick` (the schedule's own target and payload) -> loader Lambda -> MySQL rows.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import uuid
from datetime import datetime
from pathlib import Path
from urllib.parse import quote
from zoneinfo import ZoneInfo

import psutil
import pymysql
import pytest
from click.testing import CliRunner

from harness.build import fixtures
from harness.build.fixtures import ImageSpec, render
from harness.cli import main
from harness.runtime import aws, backends, database_gate, mariadb
from harness.systems.catalog import database, schedule
from harness.systems.catalog import folder_upload as catalog_upload
from harness.systems.catalog.database import Served
from harness.systems.catalog.pipeline import CatalogPipeline
from harness.systems.catalog.verify import verify
from harness.util.net import free_ports
from harness.util.processes import ProcessRecords
from harness.util.waiting import wait_for

PROJECT = Path(__file__).resolve().parents[2]
SEOUL = ZoneInfo("Asia/Seoul")


def vertical() -> str:
    """A fresh vertical per test, so a leftover of another test can never match."""
    return f"t{uuid.uuid4().hex[:8]}"


def write_originals(folder: Path, count: int, first_cd_idx: int = 1000) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"{first_cd_idx + i}_1.jpg"
        path.write_bytes(render(ImageSpec(width=640, height=480, seed=i, scene="portrait")))
        paths.append(path)
    return paths


def upload_folder(catalog, folder: Path, name: str) -> catalog_upload.UploadPlan:
    """What `harness upload FOLDER --vertical NAME` does."""
    plan = catalog_upload.scan(folder, name, catalog.c["origin_prefix"])
    existing = catalog.keys(catalog.c["upload_bucket"], f"{catalog.c['origin_prefix']}{name}/")
    catalog_upload.compare_with_bucket(plan, existing)
    result = catalog_upload.upload(catalog.s3, catalog.c["upload_bucket"], plan.to_upload)
    assert result.failed == {}
    return plan


def queue_originals(catalog, folder: Path, name: str, count: int, first_cd_idx: int) -> None:
    """`count` originals uploaded to vertical `name`, resized, and their messages queued
    for the loader."""
    write_originals(folder, count, first_cd_idx)
    upload_folder(catalog, folder, name)
    catalog.wait_queued(count)


def test_fifty_entities_give_200_rows_and_200_served_objects_after_one_tick(catalog, tmp_path):
    name = vertical()
    write_originals(tmp_path, 50)
    plan = upload_folder(catalog, tmp_path, name)
    assert (len(plan.to_upload), len(plan.rejected)) == (50, 0)
    catalog.wait_queued(50)
    assert catalog.rows(name) == []  # nothing is catalogued before the schedule runs

    tick = catalog.tick()
    assert tick.ok, tick.error
    assert tick.result["loaded_messages"] == 50 and tick.result["rows"] == 200

    rows = catalog.rows(name)
    assert len(rows) == 200
    assert {(r["cd_idx"], r["image_size"]) for r in rows} == {
        (cd, size) for cd in range(1000, 1050) for size in ("large", "medium", "small", "thumb")
    }
    sample = next(r for r in rows if r["cd_idx"] == 1007 and r["image_size"] == "medium")
    assert sample["url"] == f"https://{catalog.c['cdn_host']}/{name}/medium/1007_medium_1.jpg"
    assert (sample["width"], sample["height"]) == (640, 480)  # never upscaled
    thumb = next(r for r in rows if r["cd_idx"] == 1007 and r["image_size"] == "thumb")
    assert (thumb["width"], thumb["height"]) == (160, 120)
    served = catalog.served_keys(name)
    assert len(served) == 200
    assert f"{name}/large/1049_large_1.jpg" in served
    assert catalog.pending() == {"work_queue": 0, "dlq": 0, "resize_failures": 0}

    report = verify(catalog, name)
    assert report.ok, report.problems
    assert len(report.entities) == 50
    assert all((e.rows_found, e.objects_found) == (4, 4) for e in report.entities)


def test_bad_names_and_non_jpegs_are_rejected_with_reasons(catalog):
    name = vertical()
    origin = f"{catalog.c['origin_prefix']}{name}/"
    bad = {
        f"{origin}photo.jpg": (render(ImageSpec(seed=1)), "BadName"),
        f"{origin}21_1.JPG": (render(ImageSpec(seed=2)), "BadName"),
        f"{origin}022_1.jpg": (render(ImageSpec(seed=3)), "BadName"),
        f"{origin}notes.txt": (b"meeting notes\n", "BadName"),
        f"{origin}23_1.jpg": (render(ImageSpec(format="png", seed=4)), "NotJpeg"),
        f"{origin}24_1.jpg": (render(ImageSpec(damage="text")), "NotJpeg"),
        f"{origin}25_1.jpg": (
            render(ImageSpec(damage="truncated", width=800, height=600)),
            "Unreadable",
        ),
    }
    good = f"{origin}20_1.jpg"
    # The seed's `aws s3 cp` would upload all of these: the function must catch them.
    for key, (data, _) in bad.items():
        catalog.upload(key, data)
    catalog.upload(good, render(ImageSpec(seed=5, mode="CMYK")))

    for key, (_, code) in bad.items():
        record = catalog.wait_rejection(key)
        assert record["code"] == code, record
        assert record["reason"] and record["source"]["key"] == key
    catalog.wait_queued(1)
    assert catalog.tick().ok
    assert {r["cd_idx"] for r in catalog.rows(name)} == {20}
    assert len(catalog.served_keys(name)) == 4  # the good one only
    assert len(catalog.rejections(name)) == len(bad)

    # verify fails the entities whose upload was rejected, with the reason.
    report = verify(catalog, name)
    assert not report.ok
    assert {r["source"]["key"] for r in report.rejections} == set(bad)
    problems = {e.cd_idx: e.problems for e in report.entities if not e.ok}
    assert sorted(problems) == [23, 24, 25]
    assert all(len(p) == 1 and "image 1 was rejected" in p[0] for p in problems.values())
    assert "(NotJpeg): the content is not JPEG" in problems[23][0]
    assert verify(catalog, name, [20]).ok

    # A fixed re-upload under the same key clears its rejection record.
    fixed = f"{origin}23_1.jpg"
    catalog.upload(fixed, render(ImageSpec(seed=6)))
    wait_for(lambda: catalog.rejection(fixed) is None, 30, "the rejection record of the fix gone")
    assert catalog.wait_queued(1) == 1


def _load_catalog_db():
    """lambdas/catalog_loader/catalog_db.py, as the loader runs it (its zip root on sys.path)."""
    folder = PROJECT / "lambdas" / "catalog_loader"
    sys.path.insert(0, str(folder))
    try:
        spec = importlib.util.spec_from_file_location("_e2e_catalog_db", folder / "catalog_db.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up while defined
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(folder))


def test_reupload_is_idempotent(catalog, tmp_path):
    name = vertical()
    paths = write_originals(tmp_path, 3, first_cd_idx=300)
    upload_folder(catalog, tmp_path, name)
    catalog.wait_queued(3)
    assert catalog.tick().ok
    before = {(r["cd_idx"], r["image_size"]): r for r in catalog.rows(name)}
    assert len(before) == 12

    # `harness upload` again: everything is already there (same size and ETag).
    again = upload_folder(catalog, tmp_path, name)
    assert (len(again.to_upload), len(again.already_uploaded)) == (0, 3)

    # The same objects uploaded again (the seed's `aws s3 cp` would), one of them
    # with new content: S3 notifies again, the resize runs again, the loader upserts.
    for path in paths[:2]:
        catalog.upload(catalog.origin_key(name, int(path.stem.split("_")[0]), 1), path.read_bytes())
    changed = render(ImageSpec(width=900, height=600, seed=99))
    catalog.upload(catalog.origin_key(name, 302, 1), changed)
    catalog.wait_queued(3)
    tick = catalog.tick()
    assert tick.ok and tick.result["rows"] == 12

    after = {(r["cd_idx"], r["image_size"]): r for r in catalog.rows(name)}
    assert len(after) == 12  # no duplicates
    assert {k: r["id"] for k, r in after.items()} == {k: r["id"] for k, r in before.items()}
    assert after[(302, "large")]["width"] == 900 != before[(302, "large")]["width"]
    assert after[(302, "large")]["source_etag"] != before[(302, "large")]["source_etag"]
    assert after[(300, "large")]["url"] == before[(300, "large")]["url"]
    assert verify(catalog, name).ok

    # The unique key makes a duplicate row impossible, whoever writes it.
    row = after[(300, "small")]
    connection = catalog.database.admin.connect("celeb")
    try:
        with connection.cursor() as cursor, pytest.raises(pymysql.err.IntegrityError) as caught:
            cursor.execute(
                "INSERT INTO celeb_image_url (vertical, cd_idx, image_size, sequence, url, width,"
                " height, bytes, resized_at) VALUES (%s, %s, %s, %s, %s, 1, 1, 1, NOW())",
                (name, 300, "small", 1, row["url"]),
            )
    finally:
        connection.close()
    assert caught.value.args[0] == 1062  # ER_DUP_ENTRY


def test_an_older_message_never_overwrites_a_newer_row(catalog):
    """Redelivery out of order: the upsert keeps the newest rendition's values."""
    catalog_db = _load_catalog_db()
    name = vertical()
    key = f"{name}/large/7_large_1.jpg"
    older = catalog_db.Row(
        name, 7, "large", 1, "https://h/a", "served", key, 100, 100, 1, "old", datetime(2026, 1, 1)
    )
    newer = catalog_db.Row(
        name, 7, "large", 1, "https://h/a", "served", key, 200, 200, 2, "new", datetime(2026, 1, 2)
    )
    loader = catalog.database.loader
    credentials = catalog_db.Credentials(loader.host, loader.port, loader.username, loader.password)
    connection = catalog_db.connect(credentials)
    try:
        catalog_db.upsert(connection, [newer])
        catalog_db.upsert(connection, [older])
        catalog_db.upsert(connection, [newer])
    finally:
        connection.close()
    (row,) = catalog.rows(name)
    assert (row["width"], row["source_etag"]) == (200, "new")


def assert_the_next_tick_loads_everything(catalog, name: str, messages: int, rows: int) -> None:
    """After a fault: the next tick loads every message that waited, each row once, and
    nothing is left on a queue or missing from the catalog."""
    tick = catalog.tick()
    assert tick.ok, tick.error
    assert tick.result["loaded_messages"] == messages
    assert len(catalog.rows(name)) == rows
    assert catalog.pending() == {"work_queue": 0, "dlq": 0, "resize_failures": 0}
    assert verify(catalog, name).ok


def test_database_down_during_a_tick_loses_nothing(catalog, tmp_path):
    name = vertical()
    queue_originals(catalog, tmp_path, name, 10, first_cd_idx=500)

    with catalog.database_outage():
        tick = catalog.tick()
        assert not tick.ok
        assert "cannot connect" in tick.error
        assert catalog.queue_depth() == 10  # every message still queued
        assert catalog.depth(catalog.c["dlq_url"]) == 0

    assert_the_next_tick_loads_everything(catalog, name, messages=10, rows=40)


def lambda_processes(settings) -> set[int]:
    """The PIDs of the functions' processes now (the executor records each one)."""
    return {
        r["pid"]
        for r in ProcessRecords(settings.state_dir).all()
        if r["name"].startswith("lambda-")
    }


def loader_sessions(catalog) -> int:
    """Open transactions of the loader's account on the server."""
    connection = catalog.database.admin.connect()
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT COUNT(*) AS open FROM information_schema.innodb_trx t "
                "JOIN information_schema.processlist p ON p.id = t.trx_mysql_thread_id "
                "WHERE p.user = %s",
                (catalog.database.loader.username,),
            )
            return cursor.fetchone()["open"]
    finally:
        connection.close()


@pytest.fixture
def catalog_through_url(catalog, monkeypatch):
    """The deployed catalog with its database given by HARNESS_DATABASE_URL: the
    session's MariaDB, taken as a server the harness may not stop, which the loader
    reaches through the database gate. The loader starts new processes, as after a
    deploy, so that it reads the gate from its secret; afterwards it gets the session's
    database back the same way."""
    if catalog.database.kind is not Served.MANAGED:
        pytest.skip("needs the harness's own MariaDB to stand as the server of the URL")
    if backends.resolve(catalog.settings).backend != "embedded":
        pytest.skip("the database gate runs where the functions run on this host: embedded")
    admin = catalog.database.admin
    user, password = quote(admin.username, safe=""), quote(admin.password, safe="")
    monkeypatch.setenv(
        "HARNESS_DATABASE_URL", f"mysql://{user}:{password}@{admin.host}:{admin.port}"
    )
    monkeypatch.setenv("HARNESS_DB_PORT", str(free_ports(1, steady=True)[0]))  # the gate's port
    loader = catalog.c["loader_function_arn"]
    deployed = catalog.lambda_.get_function_configuration(FunctionName=loader)["Description"]
    try:
        through_url = CatalogPipeline.open(catalog.settings, catalog.outputs, lambda _: None)
        aws.restart_function(catalog.lambda_, loader, f"{deployed} (through the gate)")
        yield through_url
    finally:
        database_gate.stop(catalog.settings)
        catalog.publish_credentials()
        aws.restart_function(catalog.lambda_, loader, deployed)


@pytest.mark.faults
def test_an_outage_of_a_server_given_by_url_reaches_a_warm_loader(catalog_through_url, tmp_path):
    """The server of HARNESS_DATABASE_URL is not the harness's to stop: the gate in
    front of it is closed. Before the gate, the secret pointed at a closed port, which a
    warm loader never read (its known server still answered) and loaded on."""
    catalog = catalog_through_url
    assert catalog.database.kind is Served.GATED
    assert catalog.database.loader_secret["port"] == database.port() != catalog.database.admin.port
    gate = psutil.Process(database_gate.running(catalog.settings)["pid"])
    listening = {
        (c.laddr.ip, c.laddr.port) for c in gate.net_connections() if c.status == psutil.CONN_LISTEN
    }
    assert listening == {("127.0.0.1", database.port())}  # loopback only
    name = vertical()
    queue_originals(catalog, tmp_path / "warm", name, 2, first_cd_idx=700)
    warm = catalog.tick()  # the loader, warm now, connected through the gate
    assert warm.ok, warm.error
    assert warm.result["loaded_messages"] == 2
    before = lambda_processes(catalog.settings)

    queue_originals(catalog, tmp_path / "down", name, 3, first_cd_idx=710)
    with catalog.database_outage():
        assert mariadb.is_up(catalog.database.admin.port)  # the server itself runs on
        tick = catalog.tick()
        assert not tick.ok, tick.result
        assert "cannot connect" in tick.error
        assert catalog.queue_depth() == 3
        assert catalog.depth(catalog.c["dlq_url"]) == 0
        assert lambda_processes(catalog.settings) <= before, "the loader was not warm"

    assert_the_next_tick_loads_everything(catalog, name, messages=3, rows=20)


@pytest.mark.faults
def test_the_gate_killed_mid_transaction_loses_nothing(catalog_through_url, tmp_path):
    """In front of a server the harness may not kill, the gate dies instead, with the
    loader's transaction inside the server: the loader sees its connection lost, the
    server rolls the transaction back, and the next tick loads every row once."""
    catalog = catalog_through_url
    name = vertical()
    queue_originals(catalog, tmp_path, name, 4, first_cd_idx=720)
    with catalog.database_killed_mid_tick() as failed:
        assert not failed.ok, failed.result
        assert "Lost connection" in failed.error, failed.error
        assert database_gate.running(catalog.settings) is None
        assert mariadb.is_up(catalog.database.admin.port)
        # The server notices its client gone and rolls the transaction back.
        wait_for(lambda: loader_sessions(catalog) == 0, 30, "the cut transaction rolled back")
        assert catalog.rows(name) == []
    assert_the_next_tick_loads_everything(catalog, name, messages=4, rows=16)


@pytest.mark.faults
def test_database_killed_mid_transaction_loses_nothing(catalog, tmp_path):
    """SIGKILL MariaDB while the loader's transaction waits inside it: the loader sees a
    lost connection, releases its batch, and the next tick loads every row once. (The
    scenario catalog-db-outage does the same among uploads during the outage.)"""
    if catalog.database.kind is not Served.MANAGED:
        pytest.skip(
            "only the harness's own MariaDB process can be killed, not the docker backend's "
            "container (in front of a HARNESS_DATABASE_URL server the gate is killed: "
            "test_the_gate_killed_mid_transaction_loses_nothing)"
        )
    name = vertical()
    queue_originals(catalog, tmp_path, name, 4, first_cd_idx=600)
    with catalog.database_killed_mid_tick() as failed:
        assert not failed.ok, failed.result
        assert not mariadb.is_up(database.port())
        assert catalog.depth(catalog.c["dlq_url"]) == 0
    # Four sizes each, none twice.
    assert_the_next_tick_loads_everything(catalog, name, messages=4, rows=16)


def test_the_deployed_schedules_run_every_minute_from_seven_to_nine_inclusive_seoul(catalog):
    """The seed's "every minute from 07:00 to 21:00", 21:00 included: two schedules with
    the same target, as the catalog module defines them."""
    deployed = catalog.schedules()
    defined = schedule.from_terraform(PROJECT)
    assert [d["Name"] for d in deployed] == [s["name"] for s in catalog.c["schedules"]]
    assert [d["ScheduleExpression"] for d in deployed] == [c.expression for c in defined.crons]
    assert [d["ScheduleExpression"] for d in deployed] == [
        "cron(* 7-20 * * ? *)",
        "cron(0 21 * * ? *)",
    ]
    assert deployed[0]["ScheduleExpression"] == catalog.c["schedule_expression"]
    for item in deployed:
        assert item["ScheduleExpressionTimezone"] == defined.timezone == "Asia/Seoul"
        assert item["State"] == "ENABLED"
        assert item["FlexibleTimeWindow"] == {"Mode": "OFF"}
        assert item["Target"]["Arn"] == catalog.c["loader_function_arn"]
        assert item["Target"]["Input"] == deployed[0]["Target"]["Input"]

    cron = catalog.cron()
    for hour, minute, fires in (
        (7, 0, True),
        (20, 59, True),
        (21, 0, True),
        (21, 1, False),
        (6, 59, False),
    ):
        at = datetime(2026, 5, 1, hour, minute, tzinfo=SEOUL)
        assert cron.fires_at(at) is fires, f"{hour:02}:{minute:02} KST"

    at = datetime(2026, 5, 1, 7, 0, tzinfo=SEOUL)
    tick = catalog.tick(at)
    assert tick.ok and tick.would_fire
    assert tick.payload["source"] == "aws.scheduler"
    assert tick.payload["scheduled_time"] == "2026-04-30T22:00:00Z"
    assert tick.payload["schedule_arn"] == deployed[0]["Arn"]
    last = catalog.tick(datetime(2026, 5, 1, 21, 0, tzinfo=SEOUL))
    assert last.would_fire and last.payload["schedule_arn"] == deployed[1]["Arn"]
    assert not catalog.tick(datetime(2026, 5, 1, 21, 1, tzinfo=SEOUL)).would_fire


def test_failed_work_ends_in_alarmed_queues_and_posts_to_slack(catalog):
    """A resize that keeps failing (here the bucket the event names is gone, not a bad
    file): Lambda retries the asynchronous invocation, then its on-failure destination
    keeps the event and the error, where `harness rejects` shows them; nothing
    half-done reaches the work queue. That queue and the DLQ are alarmed through system
    A's alerting module: both alarms post to Slack (one test: the waits overlap)."""
    alarms = {
        catalog.c["resize_failures_alarm_name"]: catalog.c["resize_failures_queue_name"],
        catalog.c["dlq_alarm_name"]: catalog.c["dlq_name"],
    }
    for alarm in alarms:
        wait_for(lambda a=alarm: catalog.alarm_state(a) != "ALARM", 60, f"{alarm} not in ALARM", 1)
    key = f"{catalog.c['origin_prefix']}{vertical()}/1_1.jpg"
    event = {
        "Records": [
            {
                "eventSource": "aws:s3",
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "bucket": {"name": f"{catalog.c['upload_bucket']}-gone"},
                    "object": {"key": key, "size": 1000, "eTag": "0123abcd"},
                },
            }
        ]
    }
    catalog.lambda_.invoke(
        FunctionName=catalog.c["resize_function"],
        InvocationType="Event",  # as S3 invokes it
        Payload=json.dumps(event).encode(),
    )
    # What the loader cannot load ends in the DLQ (SQS moves it after maxReceiveCount).
    catalog.sqs.send_message(QueueUrl=catalog.c["dlq_url"], MessageBody='{"not": "loadable"}')

    failures = wait_for(
        lambda: [f for f in catalog.resize_failures() if key in f["objects"]],
        60,
        f"the failed resize of {key} in the resize-failures queue",
        interval=0.5,
    )
    assert failures[0]["condition"] == "RetriesExhausted"
    assert failures[0]["attempts"] == 2  # the first try and the local env's one retry
    assert "NoSuchBucket" in failures[0]["error"] and key in failures[0]["error"]
    assert catalog.queue_depth() == 0

    for alarm, queue in alarms.items():
        texts = wait_for(
            lambda a=alarm: [t for t in catalog.slack.texts() if a in t],
            60,
            f"a Slack notice of {alarm}",
        )
        assert queue in texts[0]


def test_operator_commands_exit_non_zero_and_name_what_is_missing(catalog, tmp_path):
    """`harness upload`, `clock tick` and `verify` as an operator runs them."""
    name = vertical()
    write_originals(tmp_path, 2, first_cd_idx=70)
    (tmp_path / "71_2.jpg").write_bytes(render(ImageSpec(format="png")))
    # A 12-megapixel original over the multipart threshold: resuming must compare
    # against S3's multipart ETag.
    big = tmp_path / "72_1.jpg"
    big.write_bytes(render(ImageSpec(width=4000, height=3000, scene="noise", quality=90)))
    assert big.stat().st_size > catalog_upload.PART_SIZE
    runner = CliRunner()

    uploaded = runner.invoke(main, ["upload", str(tmp_path), "--vertical", name])
    assert uploaded.exit_code == 1  # one file was rejected (the others are uploaded)
    assert "71_2.jpg" in uploaded.output and "not JPEG" in uploaded.output
    catalog.wait_queued(3)

    missing = runner.invoke(
        main, ["verify", "--vertical", name, "--cd-idx", "70", "--cd-idx", "99", "--json"]
    )
    assert missing.exit_code == 1
    document = json.loads(missing.stdout)
    problems = {e["cd_idx"]: e["problems"] for e in document["entities"]}
    assert "no row for size large of image 1" in problems[70]
    assert problems[99] == ["no original uploaded and no rows in the catalog"]
    assert document["pending"]["work_queue"] == 3

    ticked = runner.invoke(main, ["clock", "tick", "--json"])
    assert ticked.exit_code == 0, ticked.output
    assert json.loads(ticked.stdout)["result"]["rows"] == 12

    complete = runner.invoke(
        main, ["verify", "--vertical", name, "--cd-idx", "70", "--cd-idx", "72"]
    )
    assert complete.exit_code == 0, complete.output
    large = next(r for r in catalog.rows(name, [72]) if r["image_size"] == "large")
    assert (large["width"], large["height"]) == (1280, 960)
    again = runner.invoke(main, ["upload", str(tmp_path), "--vertical", name, "--dry-run"])
    assert "0 to upload, 3 already uploaded" in again.output


def test_the_seed_folder_ssgdfm_eye_goes_through_upload_tick_and_verify(catalog, tmp_path):
    """The seed runbook's own example, vertical `ssgdfm_eye` (an underscore), from the
    fixture folder fixtures/catalog/ssgdfm_eye through `harness upload`, `harness clock
    tick` and `harness verify`, as an operator runs them."""
    manifest = fixtures.load_folder("ssgdfm_eye")
    folder = fixtures.folder("ssgdfm_eye", tmp_path / "ssgdfm_eye")
    served = manifest.expected("served")
    refused = [entry.name for entry in manifest.files if entry.expect != "served"]
    runner = CliRunner()

    uploaded = runner.invoke(main, ["upload", str(folder), "--vertical", "ssgdfm_eye"])
    assert uploaded.exit_code == 1, uploaded.output  # files were refused (listed first)
    assert all(name in uploaded.output for name in refused), uploaded.output
    assert f"{len(served)} valid: {len(served)} to upload" in uploaded.output
    catalog.wait_queued(len(served))
    origin = f"{catalog.c['origin_prefix']}ssgdfm_eye/"
    assert sorted(catalog.keys(catalog.c["upload_bucket"], origin)) == sorted(
        origin + name for name in served
    )
    assert catalog.rows("ssgdfm_eye") == []

    ticked = runner.invoke(
        main, ["clock", "tick", "--at", "2026-05-01T10:00:00+09:00", "--respect-window", "--json"]
    )
    assert ticked.exit_code == 0, ticked.output
    document = json.loads(ticked.stdout)
    assert document["would_fire"] is True
    assert document["result"]["loaded_messages"] == len(served)
    assert document["result"]["rows"] == 4 * len(served)

    verified = runner.invoke(main, ["verify", "--vertical", "ssgdfm_eye", "--json"])
    assert verified.exit_code == 0, verified.output
    report = json.loads(verified.stdout)
    assert report["ok"] and report["rejections"] == []
    entities = {e["cd_idx"]: e for e in report["entities"]}
    images = {int(n.split("_")[0]) for n in served}
    assert set(entities) == images
    assert entities[1001]["sequences"] == [1, 2] and entities[1001]["rows_found"] == 8
    assert all(e["ok"] and e["rows_found"] == 4 * len(e["sequences"]) for e in entities.values())

    rows = catalog.rows("ssgdfm_eye")
    assert len(rows) == 4 * len(served)
    for row in rows:  # where each rendition lives, as well as its URL
        assert row["s3_bucket"] == catalog.c["served_bucket"]
        assert row["url"] == f"https://{catalog.c['cdn_host']}/{row['s3_key']}"
        assert row["s3_key"].startswith(f"ssgdfm_eye/{row['image_size']}/")
    assert len(catalog.served_keys("ssgdfm_eye")) == 4 * len(served)
    assert catalog.pending() == {"work_queue": 0, "dlq": 0, "resize_failures": 0}

    again = runner.invoke(main, ["upload", str(folder), "--vertical", "ssgdfm_eye", "--dry-run"])
    assert f"0 to upload, {len(served)} already uploaded" in again.output


def test_migrations_apply_once_and_an_edited_one_is_refused(catalog, tmp_path):
    from harness.systems.catalog import database
    from harness.util.errors import HarnessError

    name = f"9999_e2e_{uuid.uuid4().hex[:8]}.sql"
    table = name.removesuffix(".sql")
    (tmp_path / name).write_text(f"-- a test migration\nCREATE TABLE `{table}` (x INT);\n")
    admin = catalog.database.admin
    try:
        assert database.migrate(admin, tmp_path) == [name]
        assert database.migrate(admin, tmp_path) == []  # recorded: not applied twice
        (tmp_path / name).write_text(f"CREATE TABLE `{table}` (x INT, y INT);\n")
        with pytest.raises(HarnessError, match=f"migration {name} was changed after it was"):
            database.migrate(admin, tmp_path)
    finally:
        connection = admin.connect("celeb")
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS `{table}`")
            cursor.execute("DELETE FROM schema_migrations WHERE version = %s", (name,))
        connection.close()
