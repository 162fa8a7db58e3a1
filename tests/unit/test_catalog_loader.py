"""The catalog loader (lambdas/catalog_loader): messages -> rows, the drain loop, the handler.

The queue and the database are fakes here; tests/e2e/test_catalog_pipeline.py runs
the same code against LocalStack's SQS and a real MariaDB.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

CDN = "image.example.com"


def message_body(cd_idx: int = 1234, sequence: int = 1, **changes: Any) -> str:
    document = {
        "version": 1,
        "vertical": "actor",
        "cd_idx": cd_idx,
        "sequence": sequence,
        "source": {"bucket": "up", "key": f"origin/actor/{cd_idx}_{sequence}.jpg", "etag": "e1"},
        "images": [
            {
                "size": size,
                "bucket": "served",
                "key": f"actor/{size}/{cd_idx}_{size}_{sequence}.jpg",
                "width": edge,
                "height": edge * 3 // 4,
                "bytes": 1000 + edge,
            }
            for size, edge in (("large", 1280), ("medium", 800), ("small", 400), ("thumb", 160))
        ],
        "resized_at": "2026-05-01T07:00:00.123Z",
    }
    document.update(changes)
    return json.dumps(document)


@pytest.fixture
def rows_module(load_lambda):
    return load_lambda("catalog_loader", "catalog_rows")


@pytest.fixture
def loading(load_lambda):
    return load_lambda("catalog_loader", "loading")


@pytest.fixture
def catalog_db(load_lambda):
    return load_lambda("catalog_loader", "catalog_db")


# --- message -> rows --------------------------------------------------------------


def test_a_message_becomes_one_row_per_size_with_the_cdn_url(rows_module):
    rows = rows_module.rows_from_message(message_body(), CDN)
    assert [(r.image_size, r.url) for r in rows] == [
        ("large", "https://image.example.com/actor/large/1234_large_1.jpg"),
        ("medium", "https://image.example.com/actor/medium/1234_medium_1.jpg"),
        ("small", "https://image.example.com/actor/small/1234_small_1.jpg"),
        ("thumb", "https://image.example.com/actor/thumb/1234_thumb_1.jpg"),
    ]
    first = rows[0]
    assert (first.vertical, first.cd_idx, first.sequence, first.width, first.height) == (
        "actor",
        1234,
        1,
        1280,
        960,
    )
    assert first.source_etag == "e1"
    assert first.resized_at.isoformat() == "2026-05-01T07:00:00.123000"  # naive UTC


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("not json", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        (message_body(version=2), "version 2"),
        (message_body(vertical="Actor"), "vertical 'Actor'"),
        (message_body(cd_idx=True), "cd_idx"),
        (message_body(cd_idx=0), "cd_idx"),
        (message_body(sequence="1"), "sequence"),
        (message_body(images=[]), "non-empty"),
        (message_body(resized_at="2026-05-01T07:00:00"), "no time zone"),
        (message_body(resized_at="yesterday"), "not an ISO-8601"),
        (
            message_body(images=[{"size": "large", "key": "actor/large/1_large_1.jpg"}]),
            "is not 'actor/large/1234_large_1.jpg'",
        ),
        (
            message_body(
                images=[
                    {
                        "size": "l",
                        "key": "actor/l/1234_l_1.jpg",
                        "width": 1,
                        "height": 1,
                        "bytes": 1,
                    }
                ]
                * 2
            ),
            "names a size twice",
        ),
        (
            message_body(
                images=[
                    {
                        "size": "l",
                        "key": "actor/l/1234_l_1.jpg",
                        "width": 0,
                        "height": 1,
                        "bytes": 1,
                    }
                ]
            ),
            "must be positive",
        ),
    ],
)
def test_malformed_messages_are_refused_with_a_reason(rows_module, body, fragment):
    with pytest.raises(rows_module.MalformedMessage, match=fragment):
        rows_module.rows_from_message(body, CDN)


def test_loader_and_resize_agree_on_the_name_patterns(rows_module, load_lambda):
    naming = load_lambda("resize", "naming")
    samples = ["actor", "k-pop", "a", "-a", "a-", "A", "a_b", "x" * 40, "x" * 41, "é", "large1"]
    for sample in samples:
        assert bool(rows_module.VERTICAL_RE.match(sample)) == bool(naming.VERTICAL_RE.match(sample))
        assert bool(rows_module.SIZE_NAME_RE.match(sample)) == bool(
            naming.SIZE_NAME_RE.match(sample)
        )


@pytest.mark.parametrize("host", ["image.example.com", "cdn.localhost:8080", "a.b-c.d"])
def test_good_cdn_hosts(rows_module, host):
    assert rows_module.check_cdn_host(host) == host


@pytest.mark.parametrize("host", ["https://image.example.com", "image.example.com/x", "Image.COM"])
def test_bad_cdn_hosts_fail_loudly(rows_module, host):
    with pytest.raises(ValueError, match="CDN_HOST"):
        rows_module.check_cdn_host(host)


# --- credentials and SQL ---------------------------------------------------------


def test_credentials_come_in_the_rds_secret_shape(catalog_db):
    secret = {"engine": "mysql", "host": "db", "port": "3306", "username": "u", "password": "p"}
    credentials = catalog_db.Credentials.from_secret(json.dumps(secret))
    assert credentials == catalog_db.Credentials("db", 3306, "u", "p")
    with pytest.raises(ValueError, match="lacks host, port"):
        catalog_db.Credentials.from_secret(json.dumps({"username": "u"}))
    with pytest.raises(ValueError, match="not JSON"):
        catalog_db.Credentials.from_secret("db:3306")


def test_upsert_compares_against_the_old_time_before_updating_it(catalog_db):
    sql = catalog_db.UPSERT
    assert sql.startswith("INSERT INTO `celeb`.`celeb_image_url`")
    assert sql.rstrip().endswith("`resized_at` = GREATEST(`resized_at`, VALUES(`resized_at`))")
    assert sql.index("`url` = IF(VALUES(`resized_at`) >= `resized_at`") < sql.index(
        "`resized_at` = GREATEST"
    )


def test_unreachable_database_is_database_unavailable(catalog_db):
    closed = catalog_db.Credentials("127.0.0.1", 1, "nobody", "x")
    with pytest.raises(
        catalog_db.DatabaseUnavailable, match=r"cannot connect to nobody@127\.0\.0\.1:1"
    ):
        catalog_db.connect(closed, timeout=1)


# --- the drain loop -----------------------------------------------------------------


class FakeQueue:
    """An SQS queue: receive hides messages until deleted or released."""

    def __init__(self, bodies: list[str]) -> None:
        self.messages = {
            str(i): {"MessageId": f"m{i}", "ReceiptHandle": str(i), "Body": body, "receives": 0}
            for i, body in enumerate(bodies)
        }
        self.visible = set(self.messages)
        self.receive_calls = 0
        self.released: list[str] = []

    def receive_message(self, QueueUrl: str, MaxNumberOfMessages: int, **_: Any) -> dict:
        self.receive_calls += 1
        handles = sorted(self.visible, key=int)[:MaxNumberOfMessages]
        self.visible -= set(handles)
        batch = []
        for handle in handles:
            message = self.messages[handle]
            message["receives"] += 1
            batch.append(
                {
                    "MessageId": message["MessageId"],
                    "ReceiptHandle": handle,
                    "Body": message["Body"],
                    "Attributes": {"ApproximateReceiveCount": str(message["receives"])},
                }
            )
        return {"Messages": batch} if batch else {}

    def delete_message_batch(self, QueueUrl: str, Entries: list[dict]) -> dict:
        for entry in Entries:
            self.messages.pop(entry["ReceiptHandle"], None)
        return {"Successful": [{"Id": e["Id"]} for e in Entries], "Failed": []}

    def change_message_visibility_batch(self, QueueUrl: str, Entries: list[dict]) -> dict:
        for entry in Entries:
            assert entry["VisibilityTimeout"] == 0
            self.visible.add(entry["ReceiptHandle"])
            self.released.append(entry["ReceiptHandle"])
        return {"Successful": [{"Id": e["Id"]} for e in Entries], "Failed": []}


class FakeConnection:
    """Stands in for a PyMySQL connection through catalog_db.upsert's calls."""

    def __init__(self, fail_on_batch: int | None = None) -> None:
        self.rows: dict[tuple, Any] = {}
        self.batches = 0
        self.fail_on_batch = fail_on_batch
        self.closed = False

    def cursor(self):
        return self

    def __enter__(self):
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def executemany(self, sql: str, values: list[tuple]) -> None:
        import pymysql

        self.batches += 1
        if self.batches == self.fail_on_batch:
            raise pymysql.err.OperationalError(2013, "Lost connection to server during query")
        for value in values:
            self.rows[(value[0], value[1], value[3], value[2])] = value

    def commit(self) -> None: ...

    def rollback(self) -> None: ...

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def config(loading):
    return loading.Config(queue_url="q", secret_id="s", cdn_host=CDN, receive_wait_seconds=0)


def test_a_run_loads_every_message_and_deletes_it(loading, config):
    queue = FakeQueue([message_body(cd_idx=i) for i in range(1, 26)])
    connection = FakeConnection()
    report = loading.run(
        sqs=queue, connect=lambda: connection, config=config, time_left_ms=lambda: 60_000
    )
    assert (report.received, report.loaded_messages, report.rows) == (25, 25, 100)
    assert report.stopped_because == "queue empty" and report.malformed == []
    assert len(connection.rows) == 100 and queue.messages == {}
    assert connection.closed


def test_database_down_at_start_receives_nothing(loading, catalog_db, config):
    queue = FakeQueue([message_body()])

    def refuse():
        raise catalog_db.DatabaseUnavailable("cannot connect to u@127.0.0.1:4582")

    with pytest.raises(catalog_db.DatabaseUnavailable):
        loading.run(sqs=queue, connect=refuse, config=config, time_left_ms=lambda: 60_000)
    assert queue.receive_calls == 0
    assert queue.messages["0"]["receives"] == 0  # an outage never pushes work to the DLQ


def test_database_lost_mid_run_releases_the_batch_and_keeps_it(loading, catalog_db, config):
    queue = FakeQueue([message_body(cd_idx=i) for i in range(1, 16)])
    connection = FakeConnection(fail_on_batch=2)
    with pytest.raises(catalog_db.DatabaseUnavailable, match="writing 20 row"):
        loading.run(
            sqs=queue, connect=lambda: connection, config=config, time_left_ms=lambda: 60_000
        )
    assert len(connection.rows) == 40  # the first batch of 10 was committed
    assert sorted(queue.messages, key=int) == [str(i) for i in range(10, 15)]  # 5 remain
    assert sorted(queue.released, key=int) == [str(i) for i in range(10, 15)]
    assert queue.visible == set(queue.messages)  # visible again for the next run
    assert connection.closed


def test_malformed_messages_stay_for_the_dlq_and_the_rest_load(loading, config):
    queue = FakeQueue([message_body(cd_idx=1), "garbage", message_body(cd_idx=2)])
    report = loading.run(
        sqs=queue, connect=FakeConnection, config=config, time_left_ms=lambda: 60_000
    )
    assert (report.loaded_messages, report.rows) == (2, 8)
    assert report.malformed == [{"message_id": "m1", "reason": report.malformed[0]["reason"]}]
    assert "not JSON" in report.malformed[0]["reason"]
    assert list(queue.messages) == ["1"]  # not deleted: SQS moves it to the DLQ after N receives


def test_a_run_stops_before_the_timeout(loading, config):
    queue = FakeQueue([message_body(cd_idx=i) for i in range(1, 31)])
    times = iter([60_000, 60_000, 1_000])
    report = loading.run(
        sqs=queue, connect=FakeConnection, config=config, time_left_ms=lambda: next(times)
    )
    assert (report.loaded_messages, report.stopped_because) == (20, "time")
    assert len(queue.messages) == 10


def test_a_run_stops_at_max_messages(loading, config):
    capped = loading.Config(queue_url="q", secret_id="s", cdn_host=CDN, max_messages=15)
    queue = FakeQueue([message_body(cd_idx=i) for i in range(1, 31)])
    report = loading.run(sqs=queue, connect=FakeConnection, config=capped, time_left_ms=lambda: 9e9)
    assert (report.received, report.stopped_because) == (15, "max_messages")


def test_settings_come_from_the_environment(loading):
    config = loading.Config.from_env(
        {"QUEUE_URL": "q", "DB_SECRET_ID": "s", "CDN_HOST": CDN, "RECEIVE_WAIT_SECONDS": "0"}
    )
    assert (config.cdn_host, config.receive_wait_seconds, config.max_messages) == (CDN, 0, 5000)
    with pytest.raises(ValueError, match="DB_SECRET_ID, CDN_HOST"):
        loading.Config.from_env({"QUEUE_URL": "q"})
    with pytest.raises(ValueError, match="RECEIVE_WAIT_SECONDS"):
        loading.Config.from_env(
            {"QUEUE_URL": "q", "DB_SECRET_ID": "s", "CDN_HOST": CDN, "RECEIVE_WAIT_SECONDS": "30"}
        )


# --- the handler ----------------------------------------------------------------------


class FakeSecrets:
    def __init__(self, values: list[dict]) -> None:
        self.values = values
        self.reads = 0

    def get_secret_value(self, SecretId: str) -> dict:
        value = self.values[min(self.reads, len(self.values) - 1)]
        self.reads += 1
        return {"SecretString": json.dumps(value)}


@pytest.fixture
def app(load_lambda, monkeypatch):
    module = load_lambda("catalog_loader", "app")
    monkeypatch.setattr(module, "_credentials", {})
    monkeypatch.setenv("QUEUE_URL", "q")
    monkeypatch.setenv("DB_SECRET_ID", "arn:secret")
    monkeypatch.setenv("CDN_HOST", CDN)
    monkeypatch.setenv("RECEIVE_WAIT_SECONDS", "0")
    return module


def test_handler_rereads_a_rotated_secret_once(app, catalog_db, lambda_context, monkeypatch):
    old = {"host": "127.0.0.1", "port": 1, "username": "loader", "password": "old"}
    new = old | {"password": "new"}
    secrets = FakeSecrets([old, new])
    queue = FakeQueue([message_body()])
    monkeypatch.setattr(app, "_clients", {"secretsmanager": secrets, "sqs": queue})
    attempts = []

    def connect(credentials, timeout):
        attempts.append(credentials.password)
        if credentials.password == "old":
            import pymysql

            error = pymysql.err.OperationalError(1045, "Access denied")
            raise catalog_db.DatabaseUnavailable("denied") from error
        return FakeConnection()

    monkeypatch.setattr(catalog_db, "connect", connect)
    event = {"source": "aws.scheduler", "scheduled_time": "2026-05-01T07:00:00Z"}
    report = app.handler(event, lambda_context)
    assert attempts == ["old", "new"] and secrets.reads == 2
    assert (report["loaded_messages"], report["rows"]) == (1, 4)


def test_handler_fails_the_run_when_the_database_is_down(
    app, catalog_db, lambda_context, monkeypatch
):
    secrets = FakeSecrets([{"host": "127.0.0.1", "port": 1, "username": "u", "password": "p"}])
    queue = FakeQueue([message_body()])
    monkeypatch.setattr(app, "_clients", {"secretsmanager": secrets, "sqs": queue})
    with pytest.raises(catalog_db.DatabaseUnavailable, match=r"127\.0\.0\.1:1"):
        app.handler({"source": "aws.scheduler"}, lambda_context)
    assert queue.receive_calls == 0 and "0" in queue.messages
