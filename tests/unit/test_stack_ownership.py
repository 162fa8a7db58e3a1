"""A session stops what it started and nothing else (`stack.owned`, `stack.down(parts)`).

A stack from `harness up`, or a MariaDB that was running, must survive `make demo` and
`make test`; what the session started must not survive it, also after Ctrl-C.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from harness import config
from harness.runtime import backends, stack
from harness.runtime.backends.base import BackendState
from harness.util.processes import ProcessRecords, is_alive

SLEEP = [sys.executable, "-c", "import time; time.sleep(60)"]


class SwitchBackend:
    """A backend whose LocalStack is either running (from before) or started by `up`."""

    name = "switch"

    def __init__(self, running: bool) -> None:
        self.running = running
        self.calls: list[str] = []

    def available(self) -> bool:
        return True

    def up(self, settings, progress) -> BackendState:
        self.calls.append("up")
        started, self.running = not self.running, True
        return BackendState(self.name, "http://switch:1", started=started, provides_stubs=True)

    def health(self, settings):
        return {"services": {}} if self.running else None

    def down(self, settings) -> bool:
        self.calls.append("down")
        was, self.running = self.running, False
        return was

    def lambda_stub_endpoints(self, settings):
        return "http://switch:2", "http://switch:3"

    def identity(self, settings) -> str:
        return "switch:1"


@pytest.fixture
def settings(monkeypatch, tmp_path) -> config.Settings:
    for name in list(os.environ):
        if name.startswith("HARNESS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HARNESS_STATE_DIR", str(tmp_path))
    return config.Settings(backend="switch")


@pytest.fixture
def sleepers() -> Iterator[list[subprocess.Popen]]:
    """Processes standing in for MariaDB; whatever is left is killed afterwards."""
    started: list[subprocess.Popen] = []
    yield started
    for process in started:
        process.kill()
        process.wait()


def fake_mariadb(settings: config.Settings, sleepers: list[subprocess.Popen]) -> int:
    process = subprocess.Popen(SLEEP)
    sleepers.append(process)
    ProcessRecords(settings.state_dir).record(stack.MARIADB, process.pid)
    return process.pid


def reap(pid: int, sleepers: list[subprocess.Popen]) -> None:
    for process in sleepers:
        if process.pid == pid:
            process.poll()


def test_what_ran_before_the_session_keeps_running(settings, monkeypatch, sleepers):
    backend = SwitchBackend(running=True)  # `harness up` ran before
    monkeypatch.setitem(backends.BACKENDS, "switch", backend)
    database = fake_mariadb(settings, sleepers)

    with stack.owned(settings) as stopped:
        state = stack.up(settings, progress=lambda m: None)
        assert state.started_parts == ()
    assert stopped == []
    assert backend.calls == ["up"]  # never `down`
    assert is_alive(database)


def test_what_the_session_started_is_stopped_even_after_ctrl_c(settings, monkeypatch, sleepers):
    backend = SwitchBackend(running=False)
    monkeypatch.setitem(backends.BACKENDS, "switch", backend)

    with pytest.raises(KeyboardInterrupt), stack.owned(settings) as stopped:
        assert stack.up(settings, progress=lambda m: None).started_parts == ("localstack",)
        database = fake_mariadb(settings, sleepers)  # system B started its database
        raise KeyboardInterrupt
    assert stopped == ["localstack", "mariadb"]
    assert backend.calls == ["up", "down"]
    reap(database, sleepers)
    assert not is_alive(database)
    assert stack.running(settings) == frozenset()


def test_a_database_started_before_survives_a_session_that_started_localstack(
    settings, monkeypatch, sleepers
):
    backend = SwitchBackend(running=False)
    monkeypatch.setitem(backends.BACKENDS, "switch", backend)
    database = fake_mariadb(settings, sleepers)

    with stack.owned(settings) as stopped:
        stack.up(settings, progress=lambda m: None)
    assert stopped == ["localstack"]
    assert is_alive(database)


def test_keep_leaves_everything_running(settings, monkeypatch):
    backend = SwitchBackend(running=False)
    monkeypatch.setitem(backends.BACKENDS, "switch", backend)
    with stack.owned(settings, keep=True) as stopped:
        stack.up(settings, progress=lambda m: None)
    assert stopped == []
    assert stack.running(settings) == {"localstack"}


def test_down_stops_only_the_parts_named(settings, monkeypatch, sleepers):
    backend = SwitchBackend(running=True)
    monkeypatch.setitem(backends.BACKENDS, "switch", backend)
    database = fake_mariadb(settings, sleepers)
    assert stack.down(settings, [stack.MARIADB]) == ["mariadb"]
    assert backend.running
    assert stack.down(settings) == ["localstack"]  # all parts by default
    reap(database, sleepers)
    assert not is_alive(database)


def test_outputs_of_a_deployment_whose_localstack_is_gone_say_so(settings, monkeypatch):
    """After LocalStack was killed, a command fails at once with what to do, instead of
    a connection error after the SDK's retries."""
    from harness.build import deploy
    from harness.util.errors import HarnessError

    backend = SwitchBackend(running=True)
    monkeypatch.setitem(backends.BACKENDS, "switch", backend)
    record = deploy._record_path(settings, "local")
    record.parent.mkdir(parents=True)
    record.write_text('{"fingerprint": {"target": "switch:1"}, "outputs": {"bucket": "b"}}')
    assert deploy.outputs(settings) == {"bucket": "b"}

    monkeypatch.setattr(backend, "identity", lambda settings: "switch:2")  # a new instance
    with pytest.raises(HarnessError, match=r"is gone .* `harness up` starts a new one"):
        deploy.outputs(settings)


def test_down_stops_a_localstack_whose_record_was_lost(settings):
    """Its record removed by mistake (a test once did it to a worker's running stack),
    LocalStack is still this state dir's: its file system root says so. `down` stops
    it before deleting the files it runs on, instead of leaving it behind."""
    from harness.runtime import localstack

    files = localstack.data_dir(settings)
    (files / "fs").mkdir(parents=True)
    env = os.environ | {localstack.FILESYSTEM_ROOT: str(files / "fs")}
    orphan = subprocess.Popen(SLEEP, env=env)
    other = subprocess.Popen(SLEEP, env=env | {localstack.FILESYSTEM_ROOT: "/elsewhere/fs"})
    try:
        assert ProcessRecords(settings.state_dir).all() == []  # no record names either
        assert localstack.stop(settings) is True
        assert orphan.wait(timeout=15) is not None
        assert not files.exists()
        assert other.poll() is None  # another stack's, left alone
    finally:
        for process in (orphan, other):
            process.kill()
            process.wait()
