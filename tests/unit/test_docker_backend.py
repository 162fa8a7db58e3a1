"""The testcontainers backend without a daemon: backend choice and container configuration.

Nothing here contacts Docker: the containers are configured with an explicit Docker API
version, which testcontainers accepts without asking a daemon.
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path
from types import SimpleNamespace

import pytest
from testcontainers.core.network import Network

from harness import config
from harness.build import deploy
from harness.runtime import backends, engine, lambda_runtimes
from harness.runtime.backends import docker as docker_backend
from harness.stubs.__main__ import parse_args
from harness.util.errors import HarnessError

ROOT = Path(__file__).resolve().parents[2]
API = {"version": "1.44"}  # no daemon round trip to learn the version


@pytest.fixture
def settings(monkeypatch, tmp_path):
    for name in list(os.environ):
        if name.startswith(("HARNESS_", "DOCKER_", "TESTCONTAINERS_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HARNESS_PORT", "4730")
    monkeypatch.setenv("HARNESS_REKOGNITION_PORT", "4731")
    monkeypatch.setenv("HARNESS_SLACK_PORT", "4732")
    monkeypatch.setenv("HARNESS_NAME_PREFIX", "tcunit")
    monkeypatch.setenv("HARNESS_STATE_DIR", str(tmp_path))
    # No daemon here, and none at this address either: a socket file that does not exist.
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path / 'no-docker.sock'}")
    return config.load()


def choose_backend(requested: str, daemon_answers: bool) -> str:
    def available(backend: backends.Backend) -> bool:
        return daemon_answers if backend.name == "docker" else True

    return backends.resolve(config.Settings(backend=requested), available).backend


def test_auto_picks_docker_only_when_a_daemon_answers():
    assert choose_backend("auto", True) == "docker"
    assert choose_backend("auto", False) == "embedded"
    for explicit in ("embedded", "external", "docker"):
        assert choose_backend(explicit, True) == explicit
        assert choose_backend(explicit, False) == explicit


def test_no_daemon_answers_here_so_auto_means_embedded(settings, monkeypatch, tmp_path):
    assert docker_backend.daemon_answers() is False
    monkeypatch.setenv("HARNESS_BACKEND", "auto")
    assert config.load().backend == "auto"  # config only knows the name
    assert backends.resolve(config.load()).backend == "embedded"
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:9")  # nothing listens on discard
    assert docker_backend.daemon_answers() is False


def test_docker_without_a_daemon_is_a_clear_error(settings, monkeypatch):
    monkeypatch.setenv("HARNESS_BACKEND", "docker")
    with pytest.raises(HarnessError, match=r"no Docker daemon answers.*HARNESS_BACKEND=embedded"):
        backends.up(config.load(), progress=lambda m: None)
    assert backends.down(config.load()) is False  # nothing recorded: nothing to remove


def test_localstack_container_runs_the_embedded_runtime_of_our_image(settings, monkeypatch):
    monkeypatch.setenv("HARNESS_LAMBDA_RETRY_BASE_DELAY", "1")
    network = Network(docker_client_kw=API)
    network.name = docker_backend.network_name(settings)
    spec = docker_backend.localstack_spec(settings)
    built = docker_backend.container(spec, network, docker_client_kw=API)
    # Our image, the embedded LocalStack with the local-process executor: no socket, no
    # Lambda containers, no LocalStack image, no token.
    assert built.image == docker_backend.APP_IMAGE
    assert built._command == list(docker_backend.LOCALSTACK_COMMAND)
    assert (ROOT / docker_backend.LOCALSTACK_COMMAND[1].removeprefix("/app/")).is_file()
    assert built.volumes == {}
    assert not any(name.startswith("LAMBDA_") or "AUTH_TOKEN" in name for name in built.env)
    assert built.ports == {"4566/tcp": ("127.0.0.1", 4730)}  # loopback, HARNESS_PORT
    assert built.env["LOCALSTACK_HOST"] == "127.0.0.1:4730"
    # The settings that tune LocalStack reach the container, which derives the same
    # tuning environment as the embedded backend from them.
    assert built.env["HARNESS_LAMBDA_RETRY_BASE_DELAY"] == "1"
    assert built.env["HARNESS_IAM"] == settings.iam
    assert built.env["HARNESS_SERVICES"] == settings.services
    assert built._name == "tcunit-localstack"
    assert built._network_aliases == [docker_backend.LOCALSTACK_ALIAS]
    assert built._network is network
    assert built._kwargs == {"labels": {docker_backend.LABEL: "tcunit"}}


def test_the_image_is_built_with_the_build_arguments_of_the_environment(settings, monkeypatch):
    assert docker_backend.build_args() == {}
    monkeypatch.setenv("HARNESS_BASE_IMAGE", "example/debian:12")
    monkeypatch.setenv("HARNESS_BUILD_CA_CERTS", "")
    assert docker_backend.build_args() == {"BASE_IMAGE": "example/debian:12"}


def test_stubs_container_is_reached_by_lambda_as_stubs_and_by_the_host_on_loopback(settings):
    network = Network(docker_client_kw=API)
    built = docker_backend.container(
        docker_backend.stubs_spec(settings), network, docker_client_kw=API
    )
    assert built.image == docker_backend.APP_IMAGE
    assert built.ports == {"4580/tcp": ("127.0.0.1", 4731), "4581/tcp": ("127.0.0.1", 4732)}
    assert built._network_aliases == ["stubs"]
    args = parse_args(built._command[3:])
    assert (args.host, args.rekognition_port, args.slack_port) == ("0.0.0.0", 4580, 4581)
    assert args.s3_endpoint == "http://localstack:4566"
    # Terraform gives the functions the stubs' address on the Docker network ...
    docker_settings = config.Settings(backend="docker")
    package = SimpleNamespace(path=Path("f.zip"), sha256_base64="x")
    tfvars = deploy._tfvars(docker_settings, defaultdict(lambda: package), Path("."))
    assert tfvars["rekognition_endpoint"] == "http://stubs:4580"
    assert tfvars["slack_webhook_url"].startswith("http://stubs:4581/services/")
    # ... while the harness on the host keeps using the published loopback ports.
    assert docker_settings.rekognition_endpoint == "http://127.0.0.1:4731"
    assert backends.lambda_stub_endpoints(settings) == (
        "http://127.0.0.1:4731",
        "http://127.0.0.1:4732",
    )


def test_database_container_is_compose_s_database_reached_as_database_and_on_loopback(
    settings, tmp_path
):
    """System B's database on this backend: the compose service's command and secret
    path, published on 127.0.0.1 only; the loader's secret names it on the network."""
    import yaml

    secret = tmp_path / docker_backend.DATABASE_PASSWORD_FILE
    built = docker_backend.container(
        docker_backend.database_spec(settings, 4733, secret),
        Network(docker_client_kw=API),
        docker_client_kw=API,
    )
    assert built.ports == {"3306/tcp": ("127.0.0.1", 4733)}
    assert built._network_aliases == ["database"]
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["database"]
    assert tuple(built._command) == tuple(compose["command"])
    assert built.volumes == {str(secret): {"bind": docker_backend.DATABASE_SECRET, "mode": "ro"}}
    assert "/run/harness-secrets/db-password" in (ROOT / "docker" / "database.sh").read_text()
    from harness.systems.catalog.database import Database, Endpoint, Served

    here = Endpoint("127.0.0.1", 4733, docker_backend.DATABASE_USER, "pw")
    there = Endpoint("database", 3306, docker_backend.DATABASE_USER, "pw")
    database = Database(here, here, Served.DOCKER, functions_see=there)
    assert (database.loader_secret["host"], database.loader_secret["port"]) == ("database", 3306)
    assert Database(here, here, Served.MANAGED).loader_secret["host"] == "127.0.0.1"


def test_a_new_localstack_container_means_a_new_deployment_target(settings, tmp_path):
    assert docker_backend.identity(settings) == "docker:none"
    (tmp_path / docker_backend.STATE_FILE).write_text('{"containers": {"localstack": "abc"}}')
    assert docker_backend.identity(settings) == "docker:abc"


# --- the engine (harness/runtime/engine.py), without one ---------------------------


def test_no_engine_answers_at_a_socket_that_does_not_exist(settings, tmp_path):
    assert engine.answers(f"unix://{tmp_path / 'none.sock'}", timeout=0.5) is False
    assert engine.configured_host() == f"unix://{tmp_path / 'no-docker.sock'}"


def test_without_an_engine_and_without_root_the_reason_is_given(settings, monkeypatch, tmp_path):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    reason = engine.why_not_startable()
    assert reason is not None and "root" in reason
    with pytest.raises(engine.EngineUnavailable, match="root"):
        engine.ensure(settings, tmp_path / "work", progress=lambda m: None)
    assert not (tmp_path / "work").exists()  # nothing started, nothing written


def test_an_engine_found_running_is_never_stopped(tmp_path):
    found = engine.Engine(host="unix:///var/run/docker.sock", started=False)
    assert engine.stop(found) is False
    assert found.env()["DOCKER_HOST"] == "unix:///var/run/docker.sock"


def test_compose_is_the_plugin_when_there_else_the_v1_program(monkeypatch):
    found = engine.Engine(host="unix:///nowhere", started=False)
    ran = SimpleNamespace(returncode=1)
    monkeypatch.setattr(engine.subprocess, "run", lambda *a, **k: ran)
    monkeypatch.setattr(engine.shutil, "which", lambda name: f"/usr/bin/{name}")
    assert engine.compose_command(found) == ["/usr/bin/docker-compose"]
    monkeypatch.setattr(engine.shutil, "which", lambda name: None)
    assert engine.compose_command(found) is None
    ran.returncode = 0
    assert engine.compose_command(found) == ["docker", "compose"]


def test_zips_for_the_docker_backend_are_built_for_the_image_s_python(settings, monkeypatch):
    """The functions run in LocalStack's container, with the image's python3: a host
    with python3.12 must still build zips whose compiled Pillow that one imports."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert f"HARNESS_LAMBDA_BUILD_PYTHON={docker_backend.IMAGE_PYTHON} " in dockerfile
    on_docker = config.Settings(backend="docker")
    assert backends.functions_python(on_docker) == docker_backend.IMAGE_PYTHON
    on_host = config.Settings(backend="embedded")
    assert backends.functions_python(on_host) == lambda_runtimes.build_python(on_host)
    monkeypatch.setenv("HARNESS_LAMBDA_BUILD_PYTHON", "3.13")  # explicit wins everywhere
    assert backends.functions_python(config.Settings(backend="docker")) == "3.13"


def test_down_keeps_each_removed_containers_log_in_the_state_dir(settings, tmp_path):
    import docker.errors

    class Container:
        def __init__(self, name: str) -> None:
            self.name, self.events = name, []

        def stop(self, timeout):
            self.events.append("stop")

        def logs(self):
            self.events.append("logs")
            return f"{self.name} said goodbye\n".encode()

        def remove(self, force, v):
            self.events.append("remove")

    running = {
        "abc": Container("localstack"),
        docker_backend.container_name(settings, "stubs"): Container("stubs"),
    }

    def get(ref):
        if ref not in running:
            raise docker.errors.NotFound(ref)
        return running.pop(ref)

    client = SimpleNamespace(
        client=SimpleNamespace(
            containers=SimpleNamespace(get=get), networks=SimpleNamespace(list=lambda names: [])
        )
    )
    state = {"containers": {"localstack": "abc"}}
    localstack, stubs = running["abc"], running[docker_backend.container_name(settings, "stubs")]
    assert docker_backend._remove(client, settings, state) is True
    # Stopped first (its last words are in the log), then the log kept, then removed.
    assert localstack.events == stubs.events == ["stop", "logs", "remove"]
    assert (tmp_path / "localstack.log").read_text() == "localstack said goodbye\n"
    assert (tmp_path / "stubs.log").read_text() == "stubs said goodbye\n"
    assert not (tmp_path / "database.log").exists()
