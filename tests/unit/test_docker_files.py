"""docker-compose.yml and the Dockerfile, checked where no Docker engine runs.

These machines have the Docker client but no daemon, so nothing here starts a
container. What is checked instead: the compose file against the compose-spec schema,
the Dockerfile with hadolint, both for consistency with the harness's own settings
(service names, ports, environment, image pins, Terraform variables), and the
Dockerfile's install step run as a script in a throwaway venv.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import sysconfig
from collections import defaultdict
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from harness import config
from harness.build import deploy
from harness.runtime.backends import docker as docker_backend
from harness.stubs.__main__ import parse_args
from harness.systems.catalog import database
from harness.util.errors import HarnessError

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
DOCKERFILE = (ROOT / "Dockerfile").read_text()
BIN = Path(sys.executable).parent


@pytest.fixture
def default_env(monkeypatch):
    """The harness's defaults: no HARNESS_* variable of the test session leaks in."""
    for name in list(os.environ):
        if name.startswith("HARNESS_"):
            monkeypatch.delenv(name)
    return monkeypatch


@pytest.fixture
def compose_env(default_env):
    """The environment the deployer and demo containers run with."""
    for name, value in SERVICES["deployer"]["environment"].items():
        default_env.setenv(name, str(value))
    return default_env


def published(service: str) -> dict[int, tuple[str, int]]:
    """container port -> (host address, host port) of a compose service."""
    ports = {}
    for entry in SERVICES[service].get("ports", []):
        address, host_port, container_port = entry.split(":")
        ports[int(container_port)] = (address, int(host_port))
    return ports


def test_compose_file_is_valid_compose_spec():
    checked = subprocess.run(
        [
            BIN / "check-jsonschema",
            "--builtin-schema",
            "vendor.compose-spec",
            ROOT / "docker-compose.yml",
        ],
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_dockerfile_passes_hadolint():
    checked = subprocess.run(
        [BIN / "hadolint", ROOT / "Dockerfile"], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_localstack_image_is_the_embedded_version_and_needs_no_token(default_env):
    settings = config.load()
    image = SERVICES["localstack"]["image"]
    assert image == docker_backend.localstack_image(settings) == "localstack/localstack:4.13.1"
    assert settings.pins_file.name == f"localstack-core-{image.split(':')[1]}-runtime.txt"
    assert not any("AUTH_TOKEN" in name for name in SERVICES["localstack"]["environment"])


def test_localstack_behaves_like_the_embedded_one_and_runs_lambda_in_docker(default_env):
    settings = config.load()
    env = {name: str(value) for name, value in SERVICES["localstack"]["environment"].items()}
    shared = docker_backend.shared_localstack_environment(settings)
    assert {name: env.get(name) for name in shared} == shared
    assert env["LAMBDA_RUNTIME_EXECUTOR"] == "docker"
    assert env["LAMBDA_DOCKER_NETWORK"] == COMPOSE["networks"]["default"]["name"]
    assert env["MAIN_CONTAINER_NAME"] == SERVICES["localstack"]["container_name"]
    assert env["HOSTNAME_FROM_LAMBDA"] == "localstack" and "localstack" in SERVICES
    assert "/var/run/docker.sock:/var/run/docker.sock" in SERVICES["localstack"]["volumes"]


def test_every_port_is_published_on_loopback_at_the_harness_defaults(default_env):
    settings = config.load()
    assert published("localstack") == {4566: ("127.0.0.1", settings.port)}
    assert published("stubs") == {
        4580: ("127.0.0.1", settings.rekognition_port),
        4581: ("127.0.0.1", settings.slack_port),
    }
    assert published("mysql") == {3306: ("127.0.0.1", database.DEFAULT_PORT)}
    for name, service in SERVICES.items():
        for entry in service.get("ports", []):
            assert entry.startswith("127.0.0.1:"), f"{name} publishes {entry} beyond loopback"


def test_stubs_bind_all_addresses_only_by_the_compose_opt_in(default_env):
    stubs = SERVICES["stubs"]
    assert stubs["environment"]["HARNESS_STUB_HOST"] == "0.0.0.0"
    assert parse_args([]).host == "127.0.0.1"  # the default everywhere else
    default_env.setenv("HARNESS_STUB_HOST", stubs["environment"]["HARNESS_STUB_HOST"])
    args = parse_args(stubs["command"][3:])
    assert (args.host, args.rekognition_port, args.slack_port) == ("0.0.0.0", 4580, 4581)
    assert args.s3_endpoint == "http://localstack:4566"


def test_harness_containers_reach_localstack_and_stubs_by_service_name(compose_env):
    env = SERVICES["deployer"]["environment"]
    assert SERVICES["demo"]["environment"] == env
    settings = config.load()
    assert settings.backend == "external"
    assert settings.endpoint == "http://localstack:4566"
    assert settings.rekognition_endpoint == "http://stubs:4580"
    assert settings.slack_endpoint == "http://stubs:4581"
    assert settings.name_prefix == "imgpipe" and str(settings.state_dir) == "/state"
    db = database.parse_url(env["HARNESS_DATABASE_URL"])
    mysql_env = SERVICES["mysql"]["environment"]
    assert (db.host, db.port, db.username, db.password) == ("mysql", 3306, "root", "")
    assert mysql_env["MYSQL_DATABASE"] == database.SCHEMA
    # The password is the one file db-secret generates, read by mysql and the harness.
    assert env["HARNESS_DATABASE_PASSWORD_FILE"] == mysql_env["MYSQL_ROOT_PASSWORD_FILE"]
    # Every HARNESS_* variable set there is one the harness reads.
    read = set(
        re.findall(
            r"HARNESS_[A-Z0-9_]+",
            " ".join(path.read_text() for path in (ROOT / "harness").rglob("*.py")),
        )
    )
    assert set(env) - {"COLUMNS"} <= read


def test_deployer_gives_terraform_the_stub_endpoints_lambda_containers_reach(compose_env):
    settings = config.load()
    package = SimpleNamespace(path=Path("f.zip"), sha256_base64="x")
    tfvars = deploy._tfvars(settings, defaultdict(lambda: package))
    assert tfvars["rekognition_endpoint"] == "http://stubs:4580"
    assert tfvars["slack_webhook_url"].startswith("http://stubs:4581/services/")
    declared = set(
        re.findall(r'^variable "(\w+)"', (ROOT / "infra/envs/local/variables.tf").read_text(), re.M)
    )
    assert {"rekognition_endpoint", "slack_webhook_url"} <= set(tfvars) <= declared
    assert SERVICES["deployer"]["command"] == ["harness", "deploy", "--force"]


def test_the_database_password_is_generated_never_written_in_the_file(tmp_path):
    text = (ROOT / "docker-compose.yml").read_text()
    assert not re.search(r"PASSWORD:|://[^/@\s]+:[^/@\s]+@", text), "a literal password"
    secret_file = SERVICES["mysql"]["environment"]["MYSQL_ROOT_PASSWORD_FILE"]
    folder = str(Path(secret_file).parent)
    for name in ("db-secret", "mysql", "deployer", "demo"):
        mounts = {v.split(":")[1]: v.split(":")[0] for v in SERVICES[name]["volumes"]}
        assert mounts.get(folder) == "db-secret", f"{name} does not mount the secret"
    assert SERVICES["mysql"]["depends_on"] == {
        "db-secret": {"condition": "service_completed_successfully"}
    }
    assert re.search(rf"^RUN .*mkdir -p .*{re.escape(folder)}", DOCKERFILE, re.M | re.S)
    # The generator, run as it is in the container: a password once, kept afterwards.
    script = SERVICES["db-secret"]["command"][2].replace(secret_file, str(tmp_path / "pw"))
    subprocess.run([sys.executable, "-c", script], check=True)
    first = (tmp_path / "pw").read_text()
    subprocess.run([sys.executable, "-c", script], check=True)
    assert (tmp_path / "pw").read_text() == first and len(first) >= 24


def test_the_harness_reads_the_database_password_from_the_file(tmp_path):
    secret = tmp_path / "db-password"
    secret.write_text("generated-at-runtime\n")
    endpoint = database.external_endpoint("mysql://root@mysql:3306", str(secret))
    assert (endpoint.username, endpoint.password) == ("root", "generated-at-runtime")
    with pytest.raises(HarnessError, match="HARNESS_DATABASE_PASSWORD_FILE"):
        database.external_endpoint("mysql://root@mysql:3306", str(tmp_path / "missing"))


def test_one_shot_containers_of_the_image_turn_its_health_check_off():
    assert re.search(r"^HEALTHCHECK .*/_stub/health", DOCKERFILE, re.M | re.S)
    for name in ("db-secret", "deployer", "demo"):
        assert SERVICES[name]["healthcheck"] == {"disable": True}, name


def test_start_order_follows_health_checks_and_one_shot_services():
    deployer = SERVICES["deployer"]["depends_on"]
    assert deployer == {
        "localstack": {"condition": "service_healthy"},
        "stubs": {"condition": "service_healthy"},
        "mysql": {"condition": "service_healthy"},
        "lambda-runtime": {"condition": "service_completed_successfully"},
    }
    assert SERVICES["demo"]["depends_on"] == {
        "deployer": {"condition": "service_completed_successfully"}
    }
    for name in ("localstack", "stubs", "mysql"):
        assert SERVICES[name]["healthcheck"]["test"], f"{name} has no health check"
    assert SERVICES["localstack"]["healthcheck"]["test"][-1].endswith("/_localstack/health")


def test_images_and_volumes_are_the_ones_the_harness_uses(default_env):
    settings = config.load()
    assert SERVICES["stubs"]["build"] == "."
    for name in ("stubs", "deployer", "demo"):
        assert SERVICES[name]["image"] == docker_backend.APP_IMAGE
    runtime = SERVICES["lambda-runtime"]["image"]
    assert (
        runtime
        == f"public.ecr.aws/lambda/python:{settings.lambda_runtimes[0].removeprefix('python')}"
    )
    named = set(COMPOSE["volumes"])
    for name, service in SERVICES.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if not source.startswith("/"):
                assert source in named, f"{name} uses undeclared volume {source} (down -v)"


def test_dockerfile_installs_this_package_and_copies_what_exists():
    assert re.search(r"^FROM python:3\.12-slim$", DOCKERFILE, re.M)
    assert "HARNESS_PROJECT_DIR=/app" in DOCKERFILE
    for source in re.findall(r"^COPY (?!--from)(.+) \S+$", DOCKERFILE, re.M):
        for path in source.split():
            assert (ROOT / path).exists(), f"COPY {path}: no such file in the repo"
    runs = re.findall(r"^RUN (.+?)(?<!\\)$", DOCKERFILE, re.M | re.S)
    assert runs[-1] == "sh docker/install-harness.sh /app"


def test_the_dockerfile_install_step_runs_as_a_script_in_a_fresh_venv(tmp_path):
    """Runs the Dockerfile's `RUN sh docker/install-harness.sh` in a new venv whose
    dependencies come from the project's venv (so no download): pip installs this
    package and the script checks `harness`, `harness replay` and the stubs start."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    site = next((venv / "lib").glob("python*/site-packages"))
    (site / "project-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    env = os.environ | {"PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    ran = subprocess.run(
        ["sh", ROOT / "docker" / "install-harness.sh", ROOT],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert f"harness installed: {venv / 'bin' / 'harness'}" in ran.stdout
    assert (site / "harness" / "events" / "replay.py").is_file()
