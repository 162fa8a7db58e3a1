"""What the harness keeps on disk is private, short-lived when secret, and never lost to
a recovery: the state folder is 0700, the promote plan and record are 0600 (the plan
deleted once used, the record without backend config values), and a missing MariaDB
credentials file never wipes the catalog data. (The promote plan and its record: in
test_promote.py.)
"""

from __future__ import annotations

import json
import socket
import stat
import sys
import threading
from pathlib import Path

import pytest

from harness import config
from harness.build import terraform
from harness.events import replay
from harness.runtime import mariadb
from harness.util.errors import HarnessError
from harness.util.files import private_subdir


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def state(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "project" / ".harness"
    monkeypatch.setenv("HARNESS_STATE_DIR", str(folder))
    return folder


def test_private_subdir_makes_every_folder_on_the_way_private(tmp_path):
    made = private_subdir(tmp_path / "state", "terraform/promote-aws")
    assert made == tmp_path / "state" / "terraform" / "promote-aws"
    for folder in (made, made.parent, made.parent.parent):
        assert mode(folder) == 0o700, folder
    (tmp_path / "wide").mkdir(mode=0o755)
    assert mode(private_subdir(tmp_path / "wide", "x").parent) == 0o700  # narrowed


def test_the_state_folder_is_private_whoever_writes_first(state, monkeypatch):
    monkeypatch.setattr(terraform, "find_provider_mirror", lambda settings: None)
    config_file = terraform.cli_config(config.load())
    assert config_file is not None and config_file.parent == state / "terraform"
    assert mode(state) == mode(state / "terraform") == 0o700


def test_terraform_runs_side_by_side_never_read_a_half_written_cli_config(state, monkeypatch):
    """tests/infra starts a Terraform per folder at once, each after `cli_config`: one
    that read the file while another rewrote it found no mirror and went online."""
    mirrors = ["/opt/mirror-a", "/opt/mirror-b"]
    settings = config.load()
    wholes = set()
    for mirror in mirrors:  # the two whole texts; the writers switch between them
        monkeypatch.setattr(terraform, "find_provider_mirror", lambda settings, m=mirror: m)
        wholes.add(terraform.cli_config(settings).read_text())
    path = terraform.cli_config(settings)
    assert len(wholes) == 2 and all("filesystem_mirror" in whole for whole in wholes)
    flip = iter(range(10**9))
    monkeypatch.setattr(terraform, "find_provider_mirror", lambda settings: mirrors[next(flip) % 2])
    stop = threading.Event()
    seen: list[str] = []

    def read() -> None:
        while not stop.is_set():
            seen.append(path.read_text())

    def write() -> None:
        for _ in range(200):
            terraform.cli_config(settings)

    reader = threading.Thread(target=read)
    reader.start()
    writers = [threading.Thread(target=write) for _ in range(4)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    stop.set()
    reader.join()
    assert seen and set(seen) <= wholes  # never empty, never half of one


class FakeS3:
    def get_bucket_notification_configuration(self, Bucket):
        return {"QueueConfigurations": [{"QueueArn": "arn"}], "ResponseMetadata": {}}

    def put_bucket_notification_configuration(self, Bucket, NotificationConfiguration):
        pass


def test_replay_keeps_suspended_notifications_in_a_private_file(state):
    pipeline = type("Pipeline", (), {"s3": FakeS3(), "settings": config.load()})()
    with replay.notifications_suspended(pipeline, "images"):  # type: ignore[arg-type]
        saved = state / "replay" / "notifications-images.json"
        assert json.loads(saved.read_text()) == {"QueueConfigurations": [{"QueueArn": "arn"}]}
        assert (mode(state), mode(saved.parent), mode(saved)) == (0o700, 0o700, 0o600)
    assert not saved.exists()


# --- MariaDB's credentials ----------------------------------------------------------


@pytest.fixture
def fake_server(state, monkeypatch):
    """MariaDB's start without MariaDB: a sleeping process stands in for the server."""
    calls: dict[str, list] = {"initialise": [], "bootstrap": []}
    monkeypatch.setattr(mariadb, "ensure_installed", lambda s, p=print: ("server", "install"))
    monkeypatch.setattr(
        mariadb,
        "_server_args",
        lambda server, settings, port: [sys.executable, "-c", "import time; time.sleep(60)"],
    )
    monkeypatch.setattr(mariadb, "is_up", lambda port, timeout=1.0: True)

    def initialise(installer, settings, progress):
        calls["initialise"].append(installer)
        (mariadb.base_dir(settings) / "data" / "mysql").mkdir(parents=True)

    def bootstrap(settings):
        calls["bootstrap"].append(settings)
        creds = {"admin": {"username": "a", "password": "p"}, "loader": {}}
        (mariadb.base_dir(settings) / "credentials.json").write_text(json.dumps(creds))
        return creds

    monkeypatch.setattr(mariadb, "_initialise", initialise)
    monkeypatch.setattr(mariadb, "_bootstrap", bootstrap)
    yield calls
    mariadb.stop(config.load())


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def catalog_rows(settings) -> Path:
    rows = mariadb.base_dir(settings) / "data" / "celeb" / "celeb_image_url.ibd"
    rows.parent.mkdir(parents=True)
    (rows.parent.parent / "mysql").mkdir()
    rows.write_bytes(b"the catalog")
    return rows


def test_a_missing_credentials_file_gets_new_passwords_and_keeps_the_data(fake_server):
    settings = config.load()
    rows = catalog_rows(settings)
    messages: list[str] = []

    mariadb.start(settings, free_port(), progress=messages.append)

    assert rows.read_bytes() == b"the catalog"
    assert fake_server == {"initialise": [], "bootstrap": [settings]}
    assert mariadb.credentials(settings)["admin"]["password"] == "p"
    assert any("credentials.json is missing" in m and "is kept" in m for m in messages)


def test_when_new_passwords_cannot_be_set_the_data_stays_and_the_error_says_so(
    fake_server, monkeypatch
):
    settings = config.load()
    rows = catalog_rows(settings)

    def refused(settings):
        raise mariadb.pymysql.err.OperationalError(1698, "Access denied for user 'root'")

    monkeypatch.setattr(mariadb, "_bootstrap", refused)
    with pytest.raises(HarnessError, match=r"(?s)credentials.json is missing.*data .* is kept"):
        mariadb.start(settings, free_port(), progress=lambda _: None)
    assert rows.read_bytes() == b"the catalog"
    assert mariadb.stop(settings) is False  # the server it started was stopped


def test_a_first_start_initialises_and_a_foreign_data_folder_is_refused(fake_server):
    settings = config.load()
    mariadb.start(settings, free_port(), progress=lambda _: None)
    assert len(fake_server["initialise"]) == len(fake_server["bootstrap"]) == 1
    mariadb.stop(settings)

    data = mariadb.base_dir(settings) / "data"
    (data / "mysql").rmdir()
    (data / "something").write_text("not ours to delete")
    with pytest.raises(HarnessError, match="not a MariaDB data folder"):
        mariadb.start(settings, free_port(), progress=lambda _: None)
    assert (data / "something").read_text() == "not ours to delete"
