"""The backend registry: objects behind one protocol, and `auto` resolved in one place."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys

import pytest

from harness import config
from harness.runtime import backends, stack
from harness.runtime.backends import docker as docker_backend
from harness.runtime.backends.base import Backend, BackendState
from harness.util.errors import HarnessError
from harness.util.processes import ProcessRecords

PROTOCOL = [
    name for name, _ in inspect.getmembers(Backend, inspect.isfunction) if not name.startswith("_")
]


@pytest.fixture
def settings(monkeypatch, tmp_path):
    for name in list(os.environ):
        if name.startswith(("HARNESS_", "DOCKER_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HARNESS_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("HARNESS_PORT", "4790")  # not the ports of a stack running here
    monkeypatch.setenv("HARNESS_REKOGNITION_PORT", "4791")
    monkeypatch.setenv("HARNESS_SLACK_PORT", "4792")
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path / 'no-docker.sock'}")
    return config.load()


def no_probe():
    raise AssertionError("the Docker daemon was asked although nothing said auto")


def test_every_backend_is_an_object_with_the_whole_protocol():
    assert set(PROTOCOL) == {
        "available",
        "up",
        "health",
        "down",
        "lambda_stub_endpoints",
        "functions_python",
        "identity",
    }
    assert sorted(backends.BACKENDS) == ["docker", "embedded", "external"]
    for name, backend in backends.BACKENDS.items():
        assert backend.name == name
        for method in PROTOCOL:
            assert callable(getattr(backend, method)), (name, method)


@pytest.mark.parametrize(("daemon", "expected"), [(True, "docker"), (False, "embedded")])
def test_auto_is_docker_when_a_daemon_answers_else_embedded(
    settings, monkeypatch, daemon, expected
):
    monkeypatch.setattr(docker_backend, "daemon_answers", lambda: daemon)
    resolved = backends.resolve(config.Settings(backend="auto"))
    assert resolved.backend == expected
    assert backends.get(config.Settings(backend="auto")) is backends.BACKENDS[expected]


def test_explicit_names_are_kept_and_never_ask_the_daemon(settings, monkeypatch):
    monkeypatch.setattr(docker_backend, "daemon_answers", no_probe)
    for name in backends.BACKENDS:
        chosen = config.Settings(backend=name)
        assert backends.resolve(chosen) is chosen


def test_config_only_knows_the_name(settings, monkeypatch):
    monkeypatch.setattr(docker_backend, "daemon_answers", no_probe)
    monkeypatch.setenv("HARNESS_BACKEND", "auto")
    assert config.load().backend == "auto"
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, harness.config; "
            "print(sorted(m for m in sys.modules if m.startswith('harness.')))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "harness.runtime" not in loaded  # config imports nothing above util


def test_an_unknown_backend_is_a_clear_error(settings):
    with pytest.raises(HarnessError) as info:
        backends.resolve(config.Settings(backend="kubernetes"))
    message = str(info.value)
    assert "HARNESS_BACKEND='kubernetes' is unknown" in message
    assert "choose one of embedded, external, docker, auto" in message


def test_where_the_functions_reach_the_stubs(settings):
    host = ("http://127.0.0.1:4791", "http://127.0.0.1:4792")
    assert backends.lambda_stub_endpoints(config.Settings(backend="embedded")) == host
    assert backends.lambda_stub_endpoints(config.Settings(backend="external")) == host
    docker = backends.lambda_stub_endpoints(config.Settings(backend="docker"))
    assert docker == ("http://stubs:4580", "http://stubs:4581")


def test_external_is_checked_never_started_or_stopped(settings, monkeypatch):
    monkeypatch.setenv("HARNESS_BACKEND", "external")
    monkeypatch.setenv("HARNESS_ENDPOINT", "http://127.0.0.1:9")  # discard: nothing answers
    external = config.load()
    assert external.endpoint == "http://127.0.0.1:9"
    with pytest.raises(HarnessError, match=r"nothing answers at http://127\.0\.0\.1:9"):
        backends.up(external, progress=lambda m: None)
    assert backends.down(external) is False
    assert backends.get(external).identity(external) == "external:http://127.0.0.1:9"
    # HARNESS_ENDPOINT names an external LocalStack only.
    assert config.Settings(backend="embedded").endpoint == "http://127.0.0.1:4790"


def test_auto_never_means_the_external_endpoint(settings, monkeypatch):
    """Settings.endpoint reads the unresolved name (config cannot import the backends):
    right only while `auto` can never resolve to `external`."""
    assert "external" not in backends.AUTO_CHOICES
    monkeypatch.setenv("HARNESS_ENDPOINT", "http://127.0.0.1:9")
    for daemon in (True, False):
        monkeypatch.setattr(docker_backend, "daemon_answers", lambda daemon=daemon: daemon)
        auto = config.Settings(backend="auto")
        assert auto.endpoint == backends.resolve(auto).endpoint == "http://127.0.0.1:4790"


def test_the_embedded_instance_is_identified_by_its_process(settings, tmp_path):
    embedded = backends.BACKENDS["embedded"]
    assert embedded.identity(settings) == "embedded:http://127.0.0.1:4790"
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        entry = ProcessRecords(tmp_path).record("localstack", child.pid)
        assert embedded.identity(settings) == f"embedded:{child.pid}:{entry['create_time']}"
    finally:
        child.kill()
        child.wait()
    assert embedded.identity(settings) == "embedded:http://127.0.0.1:4790"


class FakeBackend:
    """A backend is anything with the protocol's methods, registered by name."""

    name = "fake"

    def __init__(self) -> None:
        self.calls: list[str] = []

    def available(self) -> bool:
        return True

    def up(self, settings, progress) -> BackendState:
        self.calls.append("up")
        return BackendState(self.name, "http://fake:1", started=True, provides_stubs=True)

    def health(self, settings):
        return {"services": {}, "version": "0"}

    def down(self, settings) -> bool:
        self.calls.append("down")
        return True

    def lambda_stub_endpoints(self, settings):
        return "http://fake-stubs:1", "http://fake-stubs:2"

    def identity(self, settings) -> str:
        return "fake:1"


def test_the_stack_uses_whichever_backend_is_registered(settings, monkeypatch):
    fake = FakeBackend()
    monkeypatch.setitem(backends.BACKENDS, "fake", fake)
    chosen = config.Settings(backend="fake")
    state = stack.up(chosen, progress=lambda m: None)
    assert (state.backend, state.endpoint, state.started_localstack) == (
        "fake",
        "http://fake:1",
        True,
    )
    assert state.started_stubs is False  # the backend provides them
    assert stack.status(chosen)["localstack"]["healthy"]
    assert stack.down(chosen) == ["localstack"]
    assert fake.calls == ["up", "down"]
