"""`HARNESS_BACKEND=docker`: LocalStack and the stubs in containers, via testcontainers.

For machines with a Docker daemon. Both containers run the project's own image (the
Dockerfile, also every service of docker-compose.yml): LocalStack is the same embedded
runtime as on the host (pinned localstack-core, our local-process Lambda executor, no
auth token), started by `docker/localstack.py`, so Lambda functions run as processes in
its container: no Docker socket is mounted, no Lambda image is pulled, and it runs
natively on arm64. The image is built when missing, with the build arguments of the
`BUILD_ARGS` variables (as docker-compose.yml passes them).

The stubs run in a container on the stack's network too (`<prefix>-harness`): the
functions reach them as `http://stubs:4580`. System B's MariaDB, when the catalog is
used, is a third container there (`ensure_database`): the functions reach it as
`database:3306`, the harness on the host's 127.0.0.1:HARNESS_DB_PORT. Every published
port is bound to 127.0.0.1 on the host, on the same ports as the embedded stack
(HARNESS_PORT, HARNESS_REKOGNITION_PORT, HARNESS_SLACK_PORT, HARNESS_DB_PORT), so
endpoints, clients and tests are the same for both backends.

Containers are recorded in the state folder like the embedded processes and removed
by `harness down` (or at the end of the test session that started them), not by
testcontainers' Ryuk reaper: `harness up` must be able to leave them running.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.config import Settings
from harness.runtime import localstack
from harness.runtime.backends.base import BackendState
from harness.util.errors import HarnessError
from harness.util.files import atomic_write_text, private_dir
from harness.util.net import require_free
from harness.util.waiting import WaitTimeout, wait_for

APP_IMAGE = "pipeline-harness:local"  # built from ./Dockerfile (also by docker-compose.yml)
# The image's build arguments and the variables that set them (docker-compose.yml too).
BUILD_ARGS = {
    "BASE_IMAGE": "HARNESS_BASE_IMAGE",
    "TERRAFORM_BUNDLE_URL": "HARNESS_TERRAFORM_BUNDLE_URL",
    "EXTRA_CA_CERTS": "HARNESS_BUILD_CA_CERTS",
}
BUILD_NETWORK = "HARNESS_BUILD_NETWORK"
LOCALSTACK_COMMAND = ("python", "/app/docker/localstack.py")  # in the image
# Debian 12's python3, which runs the functions in the image (Dockerfile sets
# HARNESS_LAMBDA_BUILD_PYTHON to it for builds inside). A host with python3.12 would
# otherwise build zips whose Pillow the container cannot import.
IMAGE_PYTHON = "3.11"
LOCALSTACK_ALIAS = "localstack"
STUBS_ALIAS = "stubs"
DATABASE_ALIAS = "database"
GATEWAY_PORT = 4566  # inside the LocalStack container
REKOGNITION_PORT = 4580  # inside the stubs container
SLACK_PORT = 4581
DATABASE_PORT = 3306  # inside the database container
DATABASE_COMMAND = ("sh", "/app/docker/database.sh")  # docker-compose.yml's `database`
DATABASE_USER = "catalog_loader"  # the one account docker/database.sh makes
DATABASE_SECRET = "/run/harness-secrets/db-password"  # where docker/database.sh reads it
DATABASE_PASSWORD_FILE = "docker-db-password"  # in the state folder
DATABASE_READY_S = 90  # first start: the data folder is initialised
ROLES = ("localstack", "stubs", "database")
LABEL = "pipeline-harness.runtime.stack"
STATE_FILE = "docker.json"
READY_SERVICES = ("s3", "sns", "sqs", "lambda", "cloudwatch", "ssm")
READY_STATES = ("available", "running")


@dataclass(frozen=True)
class ContainerSpec:
    """Everything a container of the stack is started with; built without a daemon."""

    name: str
    image: str
    aliases: tuple[str, ...]
    env: dict[str, str]
    ports: dict[int, tuple[str, int]]  # container port -> (host address, host port)
    volumes: tuple[tuple[str, str, str], ...] = ()  # (host path, container path, mode)
    command: tuple[str, ...] = ()
    labels: dict[str, str] = field(default_factory=dict)


def network_name(settings: Settings) -> str:
    return f"{settings.name_prefix}-harness"


def container_name(settings: Settings, role: str) -> str:
    return f"{settings.name_prefix}-{role}"


def shared_localstack_environment(settings: Settings) -> dict[str, str]:
    """The settings that tune LocalStack's behaviour (not where it runs), the embedded
    backend's: `docker/localstack.py` derives them in the container, as on the host."""
    return dict(sorted(localstack.tuning_environment(settings).items()))


def localstack_spec(settings: Settings) -> ContainerSpec:
    """LocalStack as `docker/localstack.py` runs it: the embedded runtime, tuned as on
    the host (it computes the same tuning environment from these settings)."""
    env = {
        # Queue URLs name the published port, as on the embedded stack.
        "LOCALSTACK_HOST": f"{settings.host}:{settings.port}",
        "HARNESS_IAM": settings.iam,
        "HARNESS_IAM_DELIVERIES": "1" if settings.iam_deliveries else "0",
        "HARNESS_SERVICES": settings.services,
        "HARNESS_LAMBDA_RUNTIMES": ",".join(settings.lambda_runtimes),
    }
    for name in localstack.TUNING_VARIABLES:
        if os.environ.get(name):
            env[name] = os.environ[name]
    return ContainerSpec(
        name=container_name(settings, "localstack"),
        image=APP_IMAGE,
        aliases=(LOCALSTACK_ALIAS,),
        env=env,
        ports={GATEWAY_PORT: (settings.host, settings.port)},
        command=LOCALSTACK_COMMAND,
        labels={LABEL: settings.name_prefix},
    )


def stubs_spec(settings: Settings) -> ContainerSpec:
    return ContainerSpec(
        name=container_name(settings, "stubs"),
        image=APP_IMAGE,
        aliases=(STUBS_ALIAS,),
        env={
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_DEFAULT_REGION": settings.region,
        },
        ports={
            REKOGNITION_PORT: (settings.host, settings.rekognition_port),
            SLACK_PORT: (settings.host, settings.slack_port),
        },
        command=(
            "python",
            "-m",
            "harness.stubs",
            # 0.0.0.0 inside the container only: it is on the stack's Docker network,
            # and its ports are published on the host's 127.0.0.1.
            "--host",
            "0.0.0.0",
            "--rekognition-port",
            str(REKOGNITION_PORT),
            "--slack-port",
            str(SLACK_PORT),
            "--s3-endpoint",
            f"http://{LOCALSTACK_ALIAS}:{GATEWAY_PORT}",
        ),
        labels={LABEL: settings.name_prefix},
    )


def database_spec(settings: Settings, port: int, password_file: Path) -> ContainerSpec:
    """System B's MariaDB as docker-compose.yml's `database` service runs it (the loader's
    own account, not root), published on the host's 127.0.0.1:`port` for the harness;
    the functions in LocalStack's container reach it as `database:3306`."""
    return ContainerSpec(
        name=container_name(settings, "database"),
        image=APP_IMAGE,
        aliases=(DATABASE_ALIAS,),
        env={},
        ports={DATABASE_PORT: (settings.host, port)},
        volumes=((str(password_file), DATABASE_SECRET, "ro"),),
        command=DATABASE_COMMAND,
        labels={LABEL: settings.name_prefix},
    )


def lambda_stub_endpoints() -> tuple[str, str]:
    """(Rekognition endpoint, Slack base URL) as the functions, in LocalStack's container
    on the stack's network, see them."""
    return f"http://{STUBS_ALIAS}:{REKOGNITION_PORT}", f"http://{STUBS_ALIAS}:{SLACK_PORT}"


def container(spec: ContainerSpec, network: Any, docker_client_kw: dict | None = None) -> Any:
    """A testcontainers `DockerContainer` configured from `spec` (not started).

    `docker_client_kw` goes to the Docker client; with an explicit `version` no daemon
    is contacted before `start()`.
    """
    from testcontainers.core.container import DockerContainer

    built = DockerContainer(
        spec.image,
        docker_client_kw=docker_client_kw,
        env=dict(spec.env),
        name=spec.name,
        volumes=list(spec.volumes),
        command=list(spec.command) or None,
    )
    for inner, (address, port) in spec.ports.items():
        # docker-py's (address, port) form: published on the host's loopback only.
        built.ports[f"{inner}/tcp"] = (address, port)
    built.with_network(network).with_network_aliases(*spec.aliases)
    built.with_kwargs(labels=dict(spec.labels))
    return built


# --- the daemon -----------------------------------------------------------------------


def _client(timeout: float = 5.0) -> Any:
    """testcontainers' Docker client (it honours DOCKER_HOST, contexts and its config)."""
    from testcontainers.core.docker_client import DockerClient

    return DockerClient(timeout=timeout)


def daemon_answers(timeout: float = 2.0) -> bool:
    try:
        return bool(_client(timeout).client.ping())
    except Exception:  # no socket, refused, timed out, not a Docker API: all mean "no"
        return False


# --- lifecycle ----------------------------------------------------------------------


def _state_path(settings: Settings) -> Path:
    return settings.state_dir / STATE_FILE


def recorded(settings: Settings) -> dict | None:
    try:
        return json.loads(_state_path(settings).read_text())
    except (OSError, ValueError):
        return None


def identity(settings: Settings) -> str:
    """Which LocalStack container a deployment went to: a new one has no resources."""
    state = recorded(settings) or {}
    return f"docker:{state.get('containers', {}).get('localstack', 'none')}"


def _require_daemon() -> Any:
    try:
        client = _client()
        client.client.ping()
    except Exception as exc:
        raise HarnessError(
            "HARNESS_BACKEND=docker but no Docker daemon answers "
            f"({type(exc).__name__}: {exc}); start Docker, set DOCKER_HOST, or use "
            "HARNESS_BACKEND=embedded (or auto)"
        ) from None
    return client


def _running(client: Any, state: dict) -> bool:
    import docker.errors

    for container_id in state.get("containers", {}).values():
        try:
            if client.client.containers.get(container_id).status != "running":
                return False
        except docker.errors.NotFound:
            return False
    return bool(state.get("containers"))


def _remove(client: Any, settings: Settings, state: dict | None) -> bool:
    """Remove the stack's containers and network (recorded ones, and leftovers by name)."""
    import docker.errors

    removed = False
    recorded = list((state or {}).get("containers", {}).items())
    by_name = [(role, container_name(settings, role)) for role in ROLES]
    for role, ref in recorded + by_name:
        try:
            found = client.client.containers.get(ref)
            found.stop(timeout=10)  # LocalStack removes its Lambda containers on SIGTERM
            _keep_log(settings, role, found)
            found.remove(force=True, v=True)
            removed = True
        except docker.errors.NotFound:
            continue
    for network in client.client.networks.list(names=[network_name(settings)]):
        if network.name != network_name(settings):  # the filter matches substrings
            continue
        network.reload()
        for attached in network.containers:  # anything else left on it
            attached.remove(force=True, v=True)
        network.remove()
    return removed


def _keep_log(settings: Settings, role: str, container: Any) -> None:
    """A removed container's log kept in the state dir, where the embedded backend writes
    its servers' logs (`<state>/localstack.log`...): after `harness down`, or a failed
    test's session, what happened in the stack can still be read."""
    try:
        (private_dir(settings.state_dir) / f"{role}.log").write_bytes(container.logs())
    except Exception:  # the log is a courtesy (a full disk, say); the removal is the job
        return


def wait_ready(endpoint: str, timeout: float, logs: Callable[[], str] = lambda: "") -> dict:
    """Wait until /_localstack/health reports the pipeline's services available."""
    deadline = time.monotonic() + timeout
    health: dict | None = None
    while time.monotonic() < deadline:
        health = localstack.health(endpoint)
        services = (health or {}).get("services", {})
        if health and all(services.get(name) in READY_STATES for name in READY_SERVICES):
            return health
        time.sleep(0.5)
    raise HarnessError(
        f"LocalStack at {endpoint} was not ready in {timeout:.0f} s (last health: {health}); "
        f"container log tail:\n{logs()[-3000:]}"
    )


def build_args() -> dict[str, str]:
    """The image's build arguments that are set in this environment (`BUILD_ARGS`)."""
    return {arg: os.environ[var] for arg, var in BUILD_ARGS.items() if os.environ.get(var)}


def _build_app_image(settings: Settings, progress: Callable[[str], None]) -> None:
    """Build the image (quick when the build cache holds it, e.g. after `compose build`)."""
    from testcontainers.core.image import DockerImage

    progress(f"building {APP_IMAGE} from {settings.project_dir / 'Dockerfile'} ...")
    extra = {"network_mode": os.environ[BUILD_NETWORK]} if os.environ.get(BUILD_NETWORK) else {}
    DockerImage(
        path=settings.project_dir, tag=APP_IMAGE, clean_up=False, buildargs=build_args(), **extra
    ).build()


def _start(built: Any) -> None:
    from testcontainers.core.config import testcontainers_config

    # Ryuk would remove the containers when this process exits; `harness down` does.
    previous = testcontainers_config.ryuk_disabled
    testcontainers_config.ryuk_disabled = True
    try:
        built.start()
    finally:
        testcontainers_config.ryuk_disabled = previous


def start(settings: Settings, progress: Callable[[str], None] = print) -> dict:
    """Start (or reuse) this stack's containers; returns what `backends.up` reports."""
    client = _require_daemon()
    state = recorded(settings)
    if state and _running(client, state) and localstack.health(settings.endpoint):
        return {"endpoint": settings.endpoint, "reused": True, "seconds": 0.0}
    began = time.monotonic()
    _remove(client, settings, state)
    _state_path(settings).unlink(missing_ok=True)
    require_free(
        settings.host,
        [settings.port, settings.rekognition_port, settings.slack_port],
        "the docker stack",
        "choose others with HARNESS_PORT / HARNESS_REKOGNITION_PORT / HARNESS_SLACK_PORT",
    )
    from testcontainers.core.network import Network

    network = Network(docker_network_kw={"labels": {LABEL: settings.name_prefix}})
    network.name = network_name(settings)
    network.create()
    _build_app_image(settings, progress)
    started = {}
    try:
        for role, spec in (
            ("stubs", stubs_spec(settings)),
            ("localstack", localstack_spec(settings)),
        ):
            progress(f"starting {spec.image} as {spec.name}")
            built = container(spec, network)
            _start(built)
            started[role] = built.get_wrapped_container().id
        logs = client.client.containers.get(started["localstack"]).logs
        wait_ready(settings.endpoint, 120, lambda: logs(tail=60).decode(errors="replace"))
    except BaseException:
        _remove(client, settings, {"containers": started})
        raise
    private_dir(settings.state_dir)
    atomic_write_text(
        _state_path(settings),
        json.dumps({"containers": started, "network": network.name}, indent=2),
    )
    return {"endpoint": settings.endpoint, "reused": False, "seconds": time.monotonic() - began}


def ensure_database(settings: Settings, port: int, progress: Callable[[str], None] = print) -> str:
    """System B's database in a container of this stack (started once, then reused);
    the password of its one account, DATABASE_USER, reached at settings.host:`port`.

    The harness's own MariaDB listens on the host's 127.0.0.1, which the functions in
    LocalStack's container cannot reach; this one is on the stack's network. Its
    password is generated here and handed to the container as a read-only file, as
    docker-compose.yml's `db-secret` does. `harness down` removes it with the stack.
    """
    client = _require_daemon()
    state = recorded(settings)
    if state is None:
        raise HarnessError("the docker stack is not up; run `harness up` first")
    served = state.get("containers", {}).get("database")
    if served and _running(client, {"containers": {"database": served}}):
        return _password(settings)
    require_free(settings.host, [port], "the docker stack's database", "choose HARNESS_DB_PORT")
    import docker.errors

    with contextlib.suppress(docker.errors.NotFound):  # a stopped one of an earlier run
        client.client.containers.get(container_name(settings, "database")).remove(force=True)
    password_file = settings.state_dir / DATABASE_PASSWORD_FILE
    password_file.unlink(missing_ok=True)
    atomic_write_text(password_file, secrets.token_urlsafe(24))
    password_file.chmod(0o444)  # read by the container's user; the state folder is private
    from testcontainers.core.network import Network

    network = Network()
    network.name = network_name(settings)
    spec = database_spec(settings, port, password_file)
    progress(f"starting {spec.image} as {spec.name} (system B's MariaDB)")
    built = container(spec, network)
    _start(built)
    state["containers"]["database"] = built.get_wrapped_container().id
    atomic_write_text(_state_path(settings), json.dumps(state, indent=2))
    logs = client.client.containers.get(state["containers"]["database"]).logs
    _wait_for_login(settings, port, lambda: logs(tail=40).decode(errors="replace"))
    return _password(settings)


@contextlib.contextmanager
def database_stopped(settings: Settings, port: int) -> Iterator[None]:
    """The database container stopped inside the block (a real outage: the loader's
    connections are refused), started again afterwards with its data."""
    client = _require_daemon()
    container_id = (recorded(settings) or {}).get("containers", {}).get("database")
    if not container_id:
        raise HarnessError("no database container is recorded for this stack")
    served = client.client.containers.get(container_id)
    served.stop(timeout=10)
    try:
        yield
    finally:
        served.start()
        _wait_for_login(settings, port, lambda: served.logs(tail=40).decode(errors="replace"))


def _password(settings: Settings) -> str:
    return (settings.state_dir / DATABASE_PASSWORD_FILE).read_text().strip()


def _wait_for_login(settings: Settings, port: int, logs: Callable[[], str]) -> None:
    """Until DATABASE_USER logs in (docker/database.sh sets its password at start)."""
    import pymysql

    password = _password(settings)

    def logs_in() -> bool:
        try:
            pymysql.connect(
                host=settings.host,
                port=port,
                user=DATABASE_USER,
                password=password,
                connect_timeout=2,
            ).close()
        except pymysql.MySQLError:
            return False
        return True

    try:
        wait_for(logs_in, DATABASE_READY_S, f"{DATABASE_USER} logged in", interval=0.5)
    except WaitTimeout as exc:
        raise HarnessError(
            f"the database container did not accept {DATABASE_USER}: {exc}; "
            f"its log:\n{logs()[-3000:]}"
        ) from None


def stop(settings: Settings) -> bool:
    """Remove what `start` created; True if something was removed."""
    state = recorded(settings)
    if state is None:
        return False
    try:
        client = _client()
    except Exception as exc:
        raise HarnessError(
            f"cannot reach Docker to remove this stack's containers ({exc}); "
            f"remove them with: docker rm -f $(docker ps -aq --filter label={LABEL})"
        ) from None
    removed = _remove(client, settings, state)
    _state_path(settings).unlink(missing_ok=True)
    (settings.state_dir / DATABASE_PASSWORD_FILE).unlink(missing_ok=True)
    return removed


class DockerBackend:
    name = "docker"

    def available(self) -> bool:
        return daemon_answers()

    def up(self, settings: Settings, progress: Callable[[str], None]) -> BackendState:
        record = start(settings, progress)
        return BackendState(
            self.name,
            record["endpoint"],
            started=not record["reused"],
            seconds=record["seconds"],
            provides_stubs=True,
        )

    def health(self, settings: Settings) -> dict | None:
        return localstack.health(settings.endpoint)

    def down(self, settings: Settings) -> bool:
        return stop(settings)

    def lambda_stub_endpoints(self, settings: Settings) -> tuple[str, str]:
        return lambda_stub_endpoints()

    def functions_python(self, settings: Settings) -> str:
        # Not the host's: the functions run in LocalStack's container, with its python3.
        if settings.lambda_build_python != "auto":
            return settings.lambda_build_python
        return IMAGE_PYTHON

    def identity(self, settings: Settings) -> str:
        return identity(settings)
