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
from harness.runtime import backends
from harness.runtime.backends import docker as docker_backend
from harness.stubs.__main__ import parse_args
from harness.util.errors import HarnessError

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


def test_localstack_container_configuration(settings):
    network = Network(docker_client_kw=API)
    network.name = docker_backend.network_name(settings)
    spec = docker_backend.localstack_spec(settings)
    built = docker_backend.container(spec, network, docker_client_kw=API)
    assert built.image == f"localstack/localstack:{settings.localstack_version}"
    assert built.ports == {"4566/tcp": ("127.0.0.1", 4730)}  # loopback, HARNESS_PORT
    assert built.volumes == {"/var/run/docker.sock": {"bind": "/var/run/docker.sock", "mode": "rw"}}
    assert built.env["LAMBDA_RUNTIME_EXECUTOR"] == "docker"
    assert built.env["LAMBDA_DOCKER_NETWORK"] == "tcunit-harness" == network.name
    assert built.env["MAIN_CONTAINER_NAME"] == "tcunit-localstack" == built._name
    assert built.env["HOSTNAME_FROM_LAMBDA"] in built._network_aliases
    assert built.env["LOCALSTACK_HOST"] == "127.0.0.1:4730"
    assert not any("AUTH_TOKEN" in name for name in built.env)
    # Everything that tunes LocalStack is what the embedded backend uses.
    for name, value in docker_backend.shared_localstack_environment(settings).items():
        assert built.env[name] == value
    assert built._network is network
    assert built._kwargs == {"labels": {docker_backend.LABEL: "tcunit"}}


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
    tfvars = deploy._tfvars(docker_settings, defaultdict(lambda: package))
    assert tfvars["rekognition_endpoint"] == "http://stubs:4580"
    assert tfvars["slack_webhook_url"].startswith("http://stubs:4581/services/")
    # ... while the harness on the host keeps using the published loopback ports.
    assert docker_settings.rekognition_endpoint == "http://127.0.0.1:4731"
    assert backends.lambda_stub_endpoints(settings) == (
        "http://127.0.0.1:4731",
        "http://127.0.0.1:4732",
    )


def test_a_new_localstack_container_means_a_new_deployment_target(settings, tmp_path):
    assert docker_backend.identity(settings) == "docker:none"
    (tmp_path / docker_backend.STATE_FILE).write_text('{"containers": {"localstack": "abc"}}')
    assert docker_backend.identity(settings) == "docker:abc"


def test_docker_socket_can_be_overridden_for_rootless_docker(settings, monkeypatch):
    assert docker_backend.docker_socket() == "/var/run/docker.sock"
    monkeypatch.setenv("HARNESS_DOCKER_SOCKET", "/run/user/1000/docker.sock")
    spec = docker_backend.localstack_spec(settings, docker_backend.docker_socket())
    assert spec.volumes == (("/run/user/1000/docker.sock", "/var/run/docker.sock", "rw"),)
