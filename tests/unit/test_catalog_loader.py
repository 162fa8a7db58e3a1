"""The catalog loader (lambdas/catalog_loader): messages -> rows, the drain loop, the handler.

The queue and the database are fakes here; tests/e2e/test_catalog_pipeline.py runs
the same code against LocalStack's SQS and a real MariaDB.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pymysql
import pytest

CDN = "image.example.com"


def message_body(cd_idx: int = 1234, sequence: int = 1, width: int = 1280, **changes: Any) -> str:
    """A work message as resize sends it; `width` is the large rendition's width."""
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
            for size, edge in (("large", width), ("medium", 800), ("small", 400), ("thumb", 160))
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
    # Where each rendition lives, next to its URL (the seed stored the S3 addresses).
    assert [(r.s3_bucket, r.s3_key) for r in rows] == [
        ("served", f"actor/{size}/1234_{size}_1.jpg")
        for size in ("large", "medium", "small", "thumb")
    ]


def test_the_seeds_vertical_with_an_underscore_is_accepted(rows_module):
    body = json.loads(message_body())
    body["vertical"] = "ssgdfm_eye"
    for image in body["images"]:
        image["key"] = image["key"].replace("actor/", "ssgdfm_eye/")
    rows = rows_module.rows_from_message(json.dumps(body), CDN)
    assert rows[0].url == "https://image.example.com/ssgdfm_eye/large/1234_large_1.jpg"
    assert rows[0].s3_key == "ssgdfm_eye/large/1234_large_1.jpg"


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("not json", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        (message_body(version=2), "version 2"),
        (message_body(vertical="Actor"), "vertical 'Actor'"),
        (message_body(vertical="actor\n"), r"vertical 'actor\\n'"),
        (message_body(vertical="_actor"), "vertical '_actor'"),
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
                        "bucket": "served",
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
                        "bucket": "served",
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


def test_a_message_naming_no_valid_bucket_is_malformed(rows_module):
    body = json.loads(message_body())
    body["images"][1]["bucket"] = "Not A Bucket"
    with pytest.raises(rows_module.MalformedMessage, match="'Not A Bucket' of actor/medium"):
        rows_module.rows_from_message(json.dumps(body), CDN)
    del body["images"][1]["bucket"]
    with pytest.raises(rows_module.MalformedMessage, match="bucket None"):
        rows_module.rows_from_message(json.dumps(body), CDN)


def test_loader_and_resize_agree_on_the_name_patterns(rows_module, load_lambda):
    naming = load_lambda("resize", "naming")
    samples = ["actor", "k-pop", "a", "-a", "a-", "A", "a_b", "x" * 40, "x" * 41, "é", "large1"]
    samples += ["ssgdfm_eye", "_a", "a_", "a__b", "a\n", "a b", "..", "", "2024"]
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
    assert "`url`, `s3_bucket`, `s3_key`," in sql
    assert "`s3_key` = IF(VALUES(`resized_at`) >= `resized_at`, VALUES(`s3_key`)" in sql
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
    """Stands in for a PyMySQL connection through catalog_db.upsert's calls.

    Rows are written on commit only (a failed statement writes none). `refuse(values)`
    returns the error the server would raise for a row, or None.
    """

    def __init__(
        self,
        fail_on_batch: int | None = None,
        refuse: Callable[[tuple], Exception | None] = lambda _values: None,
    ) -> None:
        self.rows: dict[tuple, Any] = {}
        self.pending: list[tuple] = []
        self.batches = 0
        self.commits = 0
        self.fail_on_batch = fail_on_batch
        self.refuse = refuse
        self.closed = False

    def cursor(self):
        return self

    def __enter__(self):
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def executemany(self, sql: str, values: list[tuple]) -> None:
        self.batches += 1
        if self.batches == self.fail_on_batch:
            raise pymysql.err.OperationalError(2013, "Lost connection to server during query")
        for value in values:
            error = self.refuse(value)
            if error is not None:
                raise error
        self.pending += values

    def commit(self) -> None:
        for value in self.pending:
            self.rows[(value[0], value[1], value[3], value[2])] = value
        self.pending = []
        self.commits += 1

    def rollback(self) -> None:
        self.pending = []

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


# --- rows the database refuses -------------------------------------------------------


def width_above_smallint(catalog_db, error: Exception) -> Callable[[tuple], Exception | None]:
    """The table's `width` is SMALLINT UNSIGNED: the server refuses anything above 65535."""
    index = catalog_db.COLUMNS.index("width")
    return lambda values: error if values[index] > 65535 else None


@pytest.mark.parametrize(
    "error",
    [
        pymysql.err.DataError(1264, "Out of range value for column 'width' at row 3"),
        pymysql.err.DataError(1406, "Data too long for column 'url' at row 1"),
        pymysql.err.IntegrityError(1048, "Column 'width' cannot be null"),
        pymysql.err.OperationalError(1292, "Incorrect datetime value: '0000-00-00'"),
        pymysql.err.OperationalError(1690, "BIGINT UNSIGNED value is out of range"),
    ],
    ids=lambda e: f"{type(e).__name__}-{e.args[0]}",
)
def test_a_refused_row_sends_only_its_message_toward_the_dlq(loading, catalog_db, config, error):
    queue = FakeQueue(
        [message_body(cd_idx=1), message_body(cd_idx=2, width=70_000), message_body(cd_idx=3)]
    )
    connection = FakeConnection(refuse=width_above_smallint(catalog_db, error))
    report = loading.run(
        sqs=queue, connect=lambda: connection, config=config, time_left_ms=lambda: 60_000
    )
    # The good rows load and their messages are deleted; the run succeeds.
    assert (report.received, report.loaded_messages, report.rows) == (3, 2, 8)
    assert sorted({key[1] for key in connection.rows}) == [1, 3]
    assert report.stopped_because == "queue empty"
    # The refused message is neither deleted nor released: after maxReceiveCount SQS
    # moves it to the DLQ; the reason is reported where malformed messages are.
    assert list(queue.messages) == ["1"] and "1" not in queue.visible
    assert queue.released == []
    [refused] = report.malformed
    assert refused["message_id"] == "m1"
    assert refused["reason"].startswith("the database refused the rows: (")
    assert error.args[1] in refused["reason"]


def test_a_refused_row_is_logged_with_its_reason(loading, catalog_db, config, caplog):
    error = pymysql.err.DataError(1264, "Out of range value for column 'width' at row 1")
    queue = FakeQueue([message_body(cd_idx=5, width=99_999)])
    connection = FakeConnection(refuse=width_above_smallint(catalog_db, error))
    report = loading.run(
        sqs=queue, connect=lambda: connection, config=config, time_left_ms=lambda: 60_000
    )
    assert (report.loaded_messages, report.rows, len(report.malformed)) == (0, 0, 1)
    [logged] = [r for r in caplog.records if r.getMessage().startswith("Message refused")]
    assert logged.message_id == "m0" and "Out of range" in logged.reason
    assert connection.rows == {}


def test_a_refused_row_among_many_batches_holds_back_nothing_else(loading, catalog_db, config):
    bodies = [message_body(cd_idx=i, width=70_000 if i == 7 else 1280) for i in range(1, 26)]
    queue = FakeQueue(bodies)
    error = pymysql.err.DataError(1264, "Out of range value for column 'width'")
    connection = FakeConnection(refuse=width_above_smallint(catalog_db, error))
    report = loading.run(
        sqs=queue, connect=lambda: connection, config=config, time_left_ms=lambda: 60_000
    )
    assert (report.loaded_messages, report.rows) == (24, 96)
    assert list(queue.messages) == ["6"]  # cd_idx 7 only
    # Batch 1 was retried one message per transaction; batches 2 and 3 in one each.
    assert connection.commits == 9 + 1 + 1


def test_connection_lost_while_isolating_a_refused_row(loading, catalog_db, config):
    """Committed messages are deleted, the untried ones released, and the run fails."""
    error = pymysql.err.DataError(1264, "Out of range value for column 'width'")
    refuse = width_above_smallint(catalog_db, error)
    queue = FakeQueue(
        [message_body(cd_idx=1, width=70_000), message_body(cd_idx=2), message_body(cd_idx=3)]
    )
    # Statement 1: the batch (refused); 2: message 1 (refused); 3: message 2; 4: lost.
    connection = FakeConnection(fail_on_batch=4, refuse=refuse)
    with pytest.raises(catalog_db.DatabaseUnavailable, match="Lost connection"):
        loading.run(
            sqs=queue, connect=lambda: connection, config=config, time_left_ms=lambda: 60_000
        )
    assert sorted({key[1] for key in connection.rows}) == [2]
    assert sorted(queue.messages) == ["0", "2"]  # message 2 (cd_idx 2) was deleted
    assert queue.released == ["2"]  # visible again for the next run
    assert "0" not in queue.visible  # the refused one waits for its visibility timeout


@pytest.mark.parametrize(
    ("error", "data"),
    [
        (pymysql.err.DataError(1264, "Out of range value"), True),
        (pymysql.err.IntegrityError(1062, "Duplicate entry"), True),
        (pymysql.err.OperationalError(1366, "Incorrect integer value"), True),
        (pymysql.err.OperationalError(4025, "CONSTRAINT failed"), True),
        (pymysql.err.OperationalError(2013, "Lost connection to server during query"), False),
        (pymysql.err.OperationalError(2003, "Can't connect to MySQL server"), False),
        (pymysql.err.OperationalError(1205, "Lock wait timeout exceeded"), False),
        (pymysql.err.OperationalError(1213, "Deadlock found"), False),
        (pymysql.err.OperationalError(1054, "Unknown column 's3_key'"), False),
        (pymysql.err.ProgrammingError(1146, "Table doesn't exist"), False),
        (pymysql.err.InterfaceError(0, ""), False),
    ],
    ids=lambda v: f"{type(v).__name__}-{v.args[0]}" if isinstance(v, Exception) else str(v),
)
def test_data_errors_are_told_apart_from_connection_errors(catalog_db, error, data):
    assert catalog_db.is_data_error(error) is data

    class Refusing(FakeConnection):
        def executemany(self, sql: str, values: list[tuple]) -> None:
            raise error

    expected = catalog_db.DataRefused if data else catalog_db.DatabaseUnavailable
    with pytest.raises(expected):
        catalog_db.upsert(Refusing(), [])


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


def refuse_account(monkeypatch, catalog_db, refused: dict, error: Exception) -> list:
    """catalog_db.connect fails with `error` for the account of the secret `refused` and
    connects any other; returns the accounts tried, in order."""
    tried = []
    refused_account = catalog_db.Credentials.from_secret(json.dumps(refused))

    def connect(credentials, timeout):
        tried.append(credentials)
        if credentials == refused_account:
            raise catalog_db.DatabaseUnavailable(str(error)) from error
        return FakeConnection()

    monkeypatch.setattr(catalog_db, "connect", connect)
    return tried


def test_handler_rereads_a_rotated_secret_once(app, catalog_db, lambda_context, monkeypatch):
    old = {"host": "127.0.0.1", "port": 1, "username": "loader", "password": "old"}
    new = old | {"password": "new"}
    secrets = FakeSecrets([old, new])
    queue = FakeQueue([message_body()])
    monkeypatch.setattr(app, "_clients", {"secretsmanager": secrets, "sqs": queue})
    denied = pymysql.err.OperationalError(1045, "Access denied")
    tried = refuse_account(monkeypatch, catalog_db, old, denied)
    event = {"source": "aws.scheduler", "scheduled_time": "2026-05-01T07:00:00Z"}
    report = app.handler(event, lambda_context)
    assert [account.password for account in tried] == ["old", "new"] and secrets.reads == 2
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
    assert secrets.reads == 2  # read again in case it moved; unchanged, so no second try


def test_the_database_error_is_raised_when_the_secret_cannot_be_read_again(
    app, catalog_db, lambda_context, monkeypatch
):
    """The second read is a hope, not the error: the run fails for the database."""
    account = {"host": "127.0.0.1", "port": 1, "username": "u", "password": "p"}
    secrets = FakeSecrets([account])
    monkeypatch.setattr(app, "_clients", {"secretsmanager": secrets, "sqs": FakeQueue([])})
    app.credentials("arn:secret")  # the warm process read it on an earlier run

    def throttled(SecretId: str) -> dict:
        raise RuntimeError("ThrottlingException: Rate exceeded")

    monkeypatch.setattr(secrets, "get_secret_value", throttled)
    refused = OSError("Connection refused")
    refuse_account(monkeypatch, catalog_db, account, refused)
    with pytest.raises(catalog_db.DatabaseUnavailable, match="Connection refused") as raised:
        app.handler({"source": "aws.scheduler"}, lambda_context)
    assert raised.value.__cause__ is refused  # the driver's error stays in the traceback


def test_handler_follows_a_database_that_moved(app, catalog_db, lambda_context, monkeypatch):
    """A failover or restore moves the server and updates the secret: a warm process
    finds it on its next run, whatever error the old address gives."""
    old = {"host": "10.0.0.1", "port": 3306, "username": "loader", "password": "p"}
    moved = old | {"host": "10.0.0.2"}
    secrets = FakeSecrets([old, moved])
    monkeypatch.setattr(app, "_clients", {"secretsmanager": secrets, "sqs": FakeQueue([])})
    unreachable = pymysql.err.OperationalError(2003, "Can't connect to MySQL server")
    tried = refuse_account(monkeypatch, catalog_db, old, unreachable)
    app.handler({"source": "aws.scheduler"}, lambda_context)
    assert [account.host for account in tried] == ["10.0.0.1", "10.0.0.2"] and secrets.reads == 2
