"""docker-compose.yml, the Dockerfile and docker/, checked without a Docker engine.

The docker lane (tests/docker) runs them for real where an engine can be had; these
checks run everywhere: the compose file against the compose-spec schema, the Dockerfile
with hadolint, both for consistency with the harness's own settings (service names,
ports, environment, build arguments, the database's account), the services' scripts
as far as they run without a container, and the Dockerfile's install step as a script
in a throwaway venv.
"""

from __future__ import annotations

import os
import re
import runpy
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
from harness.runtime import lambda_runtimes, localstack
from harness.runtime.backends import docker as docker_backend
from harness.stubs.__main__ import parse_args
from harness.systems.catalog import database
from harness.util.errors import HarnessError

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_TEXT = (ROOT / "docker-compose.yml").read_text()
COMPOSE = yaml.safe_load(COMPOSE_TEXT)
SERVICES = COMPOSE["services"]
DOCKERFILE = (ROOT / "Dockerfile").read_text()
BIN = Path(sys.executable).parent
LONG_RUNNING = ("localstack", "stubs", "database")
ONE_SHOT = ("db-secret", "deployer", "demo")
INTERPOLATION = re.compile(r"^\$\{(?P<var>[A-Z0-9_]+):-(?P<default>[^}]*)\}$")


@pytest.fixture
def default_env(monkeypatch, tmp_path):
    """The harness's defaults: no HARNESS_* variable of the test session leaks in, but
    the state dir stays the test's own (the default is the developer's stack)."""
    for name in list(os.environ):
        if name.startswith("HARNESS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HARNESS_STATE_DIR", str(tmp_path / "state"))
    return monkeypatch


@pytest.fixture
def compose_env(default_env):
    """The environment the deployer and demo containers run with."""
    for name, value in SERVICES["deployer"]["environment"].items():
        default_env.setenv(name, str(value))
    return default_env


def interpolated(value: str) -> tuple[str, str]:
    """(variable, default) of a `${VAR:-default}` value."""
    match = INTERPOLATION.match(value)
    assert match, f"{value!r} is not ${{VAR:-default}}"
    return match["var"], match["default"]


def published(service: str) -> dict[int, tuple[str, str, int]]:
    """container port -> (host address, variable, default host port) of a service."""
    ports = {}
    for entry in SERVICES[service].get("ports", []):
        address, rest = entry.split(":", 1)
        host_port, container_port = rest.rsplit(":", 1)
        variable, default = interpolated(host_port)
        ports[int(container_port)] = (address, variable, int(default))
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


def test_every_service_runs_our_image_built_here_never_pulled():
    for name, service in SERVICES.items():
        assert interpolated(service["image"]) == ("HARNESS_IMAGE", docker_backend.APP_IMAGE), name
        assert service["pull_policy"] == "build", name
        assert service["build"]["context"] == ".", name
        assert "container_name" not in service, f"{name}: a fixed name stops `-p` copies"
    assert "networks" not in COMPOSE  # the project's own default network, named by -p
    for forbidden in (
        "docker.sock",
        "localstack/localstack",
        "public.ecr.aws",
        "image: mysql",
        "TOKEN",
    ):
        assert forbidden not in COMPOSE_TEXT, forbidden


def test_build_arguments_are_the_documented_ones_with_the_users_defaults():
    args = SERVICES["localstack"]["build"]["args"]
    assert {arg: interpolated(value)[0] for arg, value in args.items()} == docker_backend.BUILD_ARGS
    assert interpolated(args["BASE_IMAGE"])[1] == "debian:bookworm-slim"
    assert interpolated(args["TERRAFORM_BUNDLE_URL"])[1] == ""
    network = SERVICES["localstack"]["build"]["network"]
    assert interpolated(network) == (docker_backend.BUILD_NETWORK, "default")
    declared = dict(re.findall(r"^ARG (\w+)=(.*)$", DOCKERFILE, re.M))
    assert declared["BASE_IMAGE"] == "debian:bookworm-slim"
    assert set(docker_backend.BUILD_ARGS) <= set(declared)
    assert re.search(r"^FROM \$\{BASE_IMAGE\}$", DOCKERFILE, re.M)
    for arg in declared:
        assert f"#   {arg}" in DOCKERFILE, f"build argument {arg} is not documented"


def test_every_port_is_published_on_loopback_at_the_harness_defaults(default_env):
    settings = config.load()
    assert published("localstack") == {4566: ("127.0.0.1", "HARNESS_PORT", settings.port)}
    assert published("stubs") == {
        4580: ("127.0.0.1", "HARNESS_REKOGNITION_PORT", settings.rekognition_port),
        4581: ("127.0.0.1", "HARNESS_SLACK_PORT", settings.slack_port),
    }
    assert published("database") == {3306: ("127.0.0.1", "HARNESS_DB_PORT", database.DEFAULT_PORT)}
    for name, service in SERVICES.items():
        for entry in service.get("ports", []):
            assert entry.startswith("127.0.0.1:"), f"{name} publishes {entry} beyond loopback"


def test_health_checks_on_every_long_running_service_none_on_one_shots():
    for name in LONG_RUNNING:
        assert SERVICES[name]["healthcheck"]["test"][0] == "CMD", name
    assert SERVICES["localstack"]["healthcheck"]["test"][-1].endswith("/_localstack/health")
    for name in ONE_SHOT:
        assert SERVICES[name]["healthcheck"] == {"disable": True}, name
        assert SERVICES[name]["restart"] == "no", name


def test_localstack_service_runs_the_embedded_runtime_on_all_container_addresses(
    default_env, tmp_path
):
    """docker/localstack.py, run with the exec replaced: the embedded backend's own
    environment (executor, tuning, plugins), listening where the port is published."""
    service = SERVICES["localstack"]
    assert service["command"] == list(docker_backend.LOCALSTACK_COMMAND)
    default_env.setenv("HARNESS_STATE_DIR", str(tmp_path))
    for name, value in service["environment"].items():
        default_env.setenv(name, value)
    default_env.setattr(localstack, "ensure_installed", lambda settings: Path("/ls/python"))
    default_env.setattr(lambda_runtimes, "prepare", lambda settings: {"python3.12": "/py"})
    calls = []
    default_env.setattr(os, "execve", lambda *args: calls.append(args))
    default_env.setattr(os, "chdir", lambda path: None)
    runpy.run_path(str(ROOT / "docker" / "localstack.py"), run_name="__main__")
    [(python, argv, env)] = calls
    assert (python, argv) == ("/ls/python", ["/ls/python", "-m", "localstack.runtime.main"])
    assert env["GATEWAY_LISTEN"] == "0.0.0.0:4566" and published("localstack").keys() == {4566}
    assert env["LOCALSTACK_HOST"] == "localstack:4566"
    assert env["LAMBDA_RUNTIME_EXECUTOR"] == "local-process"
    for name, value in localstack.tuning_environment(config.load()).items():
        assert env[name] == value


def test_stubs_bind_all_addresses_only_by_the_compose_opt_in(default_env):
    stubs = SERVICES["stubs"]
    assert stubs["environment"]["HARNESS_STUB_HOST"] == "0.0.0.0"
    assert parse_args([]).host == "127.0.0.1"  # the default everywhere else
    default_env.setenv("HARNESS_STUB_HOST", stubs["environment"]["HARNESS_STUB_HOST"])
    args = parse_args(stubs["command"][3:])
    assert (args.host, args.rekognition_port, args.slack_port) == ("0.0.0.0", 4580, 4581)
    assert args.s3_endpoint == "http://localstack:4566"


def test_harness_containers_reach_localstack_stubs_and_database_by_service_name(compose_env):
    env = SERVICES["deployer"]["environment"]
    assert SERVICES["demo"]["environment"] == env
    settings = config.load()
    assert settings.backend == "external"
    assert settings.endpoint == "http://localstack:4566"
    assert settings.rekognition_endpoint == "http://stubs:4580"
    assert settings.slack_endpoint == "http://stubs:4581"
    assert settings.name_prefix == "imgpipe"
    db = database.parse_url(env["HARNESS_DATABASE_URL"])
    assert (db.host, db.port, db.password) == ("database", 3306, "")
    # Every HARNESS_* variable set there is one the harness reads.
    read = set(
        re.findall(
            r"HARNESS_[A-Z0-9_]+",
            " ".join(path.read_text() for path in (ROOT / "harness").rglob("*.py")),
        )
    )
    assert set(env) <= read


def test_the_loader_has_its_own_account_with_rights_on_its_schema_only():
    db = database.parse_url(SERVICES["deployer"]["environment"]["HARNESS_DATABASE_URL"])
    assert db.username == "catalog_loader" != "root"
    script = (ROOT / "docker" / "database.sh").read_text()
    grants = re.findall(r"GRANT (.+) ON (\S+) TO '(\w+)'", script)
    assert grants == [("ALL PRIVILEGES", f"{database.SCHEMA}.*", db.username)]
    assert "--bind-address=0.0.0.0" in script  # inside the network; published on loopback
    assert SERVICES["database"]["command"] == ["sh", "/app/docker/database.sh"]


def test_deployer_gives_terraform_the_stub_endpoints_the_functions_reach(compose_env):
    settings = config.load()
    package = SimpleNamespace(path=Path("f.zip"), sha256_base64="x")
    tfvars = deploy._tfvars(settings, defaultdict(lambda: package), Path("."))
    assert tfvars["rekognition_endpoint"] == "http://stubs:4580"
    assert tfvars["slack_webhook_url"].startswith("http://stubs:4581/services/")
    declared = set(
        re.findall(r'^variable "(\w+)"', (ROOT / "infra/envs/local/variables.tf").read_text(), re.M)
    )
    assert {"rekognition_endpoint", "slack_webhook_url"} <= set(tfvars) <= declared
    assert SERVICES["deployer"]["command"] == ["harness", "deploy", "--force"]


def test_the_database_password_is_generated_never_written_in_the_file(tmp_path):
    assert not re.search(r"PASSWORD:|://[^/@\s]+:[^/@\s]+@", COMPOSE_TEXT), "a literal password"
    secret_file = SERVICES["deployer"]["environment"]["HARNESS_DATABASE_PASSWORD_FILE"]
    assert f"secret={secret_file}" in (ROOT / "docker" / "database.sh").read_text()
    folder = str(Path(secret_file).parent)
    for name in ("db-secret", "database", "deployer", "demo"):
        mounts = {v.split(":")[1]: v.split(":")[0] for v in SERVICES[name]["volumes"]}
        assert mounts.get(folder) == "db-secret", f"{name} does not mount the secret"
    assert SERVICES["database"]["depends_on"] == {
        "db-secret": {"condition": "service_completed_successfully"}
    }
    assert folder in (ROOT / "docker" / "build-image.sh").read_text()  # owned by the user
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


def test_start_order_follows_health_checks_and_one_shot_services():
    assert SERVICES["deployer"]["depends_on"] == {
        name: {"condition": "service_healthy"} for name in LONG_RUNNING
    }
    assert SERVICES["demo"]["depends_on"] == {
        "deployer": {"condition": "service_completed_successfully"}
    }


def test_volumes_are_named_so_down_v_removes_them():
    named = set(COMPOSE["volumes"])
    for name, service in SERVICES.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            assert not source.startswith(("/", ".")), f"{name} mounts the host's {source}"
            assert source in named, f"{name} uses undeclared volume {source} (down -v)"


def test_dockerfile_installs_this_package_and_copies_what_exists():
    assert "HARNESS_PROJECT_DIR=/app" in DOCKERFILE
    for source in re.findall(r"^COPY (?!--from)(?:--chown=\S+ )?(.+) \S+$", DOCKERFILE, re.M):
        for path in source.split():
            assert (ROOT / path).exists(), f"COPY {path}: no such file in the repo"
    runs = re.findall(r"^RUN (.+?)(?<!\\)$", DOCKERFILE, re.M | re.S)
    assert runs[-1] == "sh /app/docker/build-image.sh"
    build = (ROOT / "docker" / "build-image.sh").read_text()
    assert "sh /app/docker/install-harness.sh /app" in build
    assert re.search(r"^USER 10001:10001$", DOCKERFILE, re.M)


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
