"""The docker lane's tools: Compose aimed at one engine and one project, the build
arguments this machine needs, and failures that name the service and its last log lines.

Only the base image, the Terraform bundle, the build network and a TLS proxy's CA
differ from a user's `docker compose up`, and only through the build arguments that
docker-compose.yml documents; the compose file is the same. A lane for another
platform (`make test-arm64`) also sets Compose's DOCKER_DEFAULT_PLATFORM and an image
name of its own (HARNESS_IMAGE), as a user building for that platform would.
"""

from __future__ import annotations

import functools
import glob
import http.server
import os
import secrets
import shutil
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from harness.build import terraform
from harness.config import Settings
from harness.runtime import engine as docker_engine
from harness.runtime import platforms
from harness.runtime.backends import docker as docker_backend
from harness.testing.side_by_side import harness_down, stack_environment
from harness.util import processes

ROOT = Path(__file__).resolve().parents[2]
# The platform of the lane's image (linux/amd64, linux/arm64): Makefile's `test-arm64`.
PLATFORM_ENV = "HARNESS_DOCKER_PLATFORM"
IMAGE_ENV = "HARNESS_IMAGE"  # the image docker-compose.yml builds and runs
LOG_LINES = 40
# CA certificates added to this machine (Debian's place for them): a TLS proxy's, which
# pip inside the build must trust as the host does.
LOCAL_CA_GLOB = "/usr/local/share/ca-certificates/*.crt"


class LaneFailure(AssertionError):
    """A service of the stack failed; the message names it and ends with its log."""


@dataclass
class Compose:
    """`docker compose` (or `docker-compose`) for one project on one engine."""

    command: list[str]
    project: str
    env: dict[str, str]
    timings: dict[str, float] = field(default_factory=dict)

    def run(
        self, *args: str, timeout: float = 900, check: bool = False
    ) -> subprocess.CompletedProcess:
        done = subprocess.run(
            [*self.command, "-p", self.project, *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and done.returncode != 0:
            raise LaneFailure(
                f"`compose {' '.join(args)}` failed:\n{tail(done.stdout + done.stderr)}"
            )
        return done

    @contextmanager
    def timed(self, what: str) -> Iterator[None]:
        started = time.monotonic()
        try:
            yield
        finally:
            self.timings[what] = round(time.monotonic() - started, 1)

    def docker(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["docker", *args], env=self.env, capture_output=True, text=True, timeout=timeout
        )

    @property
    def label(self) -> str:
        """The filter of what Compose made for the project: both versions label their
        containers, volumes and networks with it."""
        return f"label=com.docker.compose.project={self.project}"

    def leftovers(self) -> dict[str, list[str]]:
        """What of the project is still there: kind -> IDs or names (empty: nothing; a
        listing docker could not make counts, with what it said)."""
        kinds = {
            "containers": ("ps", "-aq"),
            "volumes": ("volume", "ls", "-q"),
            "networks": ("network", "ls", "-q"),
        }
        found: dict[str, list[str]] = {}
        for kind, args in kinds.items():
            listed = self.docker(*args, "--filter", self.label)
            if listed.returncode != 0:  # not a clean bill: what docker said instead
                found[f"{kind} (not listed)"] = [listed.stderr.strip()]
            elif listed.stdout.split():
                found[kind] = listed.stdout.split()
        return found

    def states(self) -> dict[str, str]:
        """service -> `docker ps` status of its container (the project's, by its label,
        and the service's)."""
        listed = self.docker(
            "ps",
            "-a",
            "--filter",
            self.label,
            "--format",
            '{{.Label "com.docker.compose.service"}}\t{{.Status}}',
        )
        return dict(line.split("\t", 1) for line in listed.stdout.splitlines() if "\t" in line)

    def logs(self, service: str, lines: int = LOG_LINES) -> str:
        done = self.run("logs", "--no-color", "--tail", str(lines), service, timeout=120)
        return done.stdout + done.stderr

    def failed_services(self) -> list[str]:
        """Services that are unhealthy, or exited with a code other than 0."""
        return [
            service
            for service, status in self.states().items()
            if "unhealthy" in status or (status.startswith("Exited") and "(0)" not in status)
        ]

    def failure(self, what: str, output: str = "") -> LaneFailure:
        """`what` failed: name the failing services (or the stack) with their last log lines."""
        services = self.failed_services()
        parts = [f"{what} failed; services: {self.states()}"]
        if output:
            parts.append(f"--- compose output ---\n{tail(output)}")
        for service in services:
            parts.append(
                f"--- service {service}: last {LOG_LINES} log lines ---\n{self.logs(service)}"
            )
        return LaneFailure("\n".join(parts))

    def container_id(self, service: str) -> str:
        return self.run("ps", "-q", service, check=True).stdout.strip()


def tail(text: str, lines: int = LOG_LINES) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def local_ca_certificates() -> str:
    return "".join(Path(path).read_text() for path in sorted(glob.glob(LOCAL_CA_GLOB)))


def terraform_bundle(settings: Settings) -> Path | None:
    """A tar of `bin/terraform` and `plugins/` (the AWS provider's mirror) from this
    machine, for the image's TERRAFORM_BUNDLE_URL where no registry has them; cached."""
    binary = shutil.which("terraform")
    mirror = terraform.find_provider_mirror(settings)
    if not binary or not mirror:
        return None
    stat = Path(binary).stat()
    key = f"{stat.st_size}-{int(stat.st_mtime)}-{Path(mirror).name}"
    bundle = docker_engine.cache_dir(settings) / f"terraform-bundle-{key}.tar"
    if not bundle.exists():
        partial = bundle.with_suffix(".partial")
        with tarfile.open(partial, "w") as tar:
            tar.add(binary, arcname="bin/terraform")
            tar.add(
                str(Path(mirror) / "registry.terraform.io"), arcname="plugins/registry.terraform.io"
            )
        partial.rename(bundle)
    return bundle


@contextmanager
def served(folder: Path, port_file: Path) -> Iterator[str]:
    """`folder` over HTTP on 127.0.0.1 for the build; yields the base URL.

    The port is the one of the last run when it is free (kept in `port_file`): the URL
    is a build argument, part of the build cache's key, so a new port would make the
    image's heavy layer cold again.
    """
    handler = functools.partial(_QuietHandler, directory=str(folder))
    try:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", int(port_file.read_text())), handler)
    except (OSError, ValueError):
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        port_file.parent.mkdir(parents=True, exist_ok=True)
        port_file.write_text(str(server.server_address[1]))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def lane_platform() -> platforms.Platform:
    """The platform the lane builds and runs the image for: PLATFORM_ENV (`make
    test-arm64` sets linux/arm64), else this machine's own."""
    value = os.environ.get(PLATFORM_ENV, "").strip()
    return platforms.parse(value) if value else platforms.native()


def platform_environment(target: platforms.Platform) -> dict[str, str]:
    """Compose's variables for an image of `target`: none for the machine's own
    platform; for another, Docker's default platform (Compose builds and runs for it)
    and an image name of its own, so that the native image keeps its name and cache."""
    if target.is_native:
        return {}
    return {
        "DOCKER_DEFAULT_PLATFORM": target.docker,
        IMAGE_ENV: f"{docker_backend.APP_IMAGE}-{target.debian}",
    }


def build_environment(
    engine: docker_engine.Engine,
    settings: Settings,
    bundle_url: str | None,
    target: platforms.Platform,
) -> dict[str, str]:
    """The variables that set the image's build arguments on this machine (see
    `docker_backend.BUILD_ARGS`) and its platform; a user's run sets none of them."""
    env = platform_environment(target)
    if engine.started:
        # An engine started here has no registry: its base image is made locally, and
        # its builds have no bridge network, so they use the host's.
        env["HARNESS_BASE_IMAGE"] = docker_engine.debian_base_image(engine, settings, target=target)
        env[docker_backend.BUILD_NETWORK] = "host"
        if bundle_url:
            env["HARNESS_TERRAFORM_BUNDLE_URL"] = bundle_url
    certificates = local_ca_certificates()
    if certificates:
        env["HARNESS_BUILD_CA_CERTS"] = certificates
    # Set explicitly by the user (or CI): theirs wins.
    for variable in [*docker_backend.BUILD_ARGS.values(), docker_backend.BUILD_NETWORK]:
        if os.environ.get(variable):
            env[variable] = os.environ[variable]
    return env


# The labeling flows that end in a result (formats, encoded keys, folders, the filter
# policy) and the catalog's upload -> renditions -> rows, rejections and a database
# outage; the DLQ, alarm, Slack and redrive flows (test_labeling_dead_letters.py) run in
# the compose lane's demo, so the lane stays within its time budget.
CATALOG_E2E = "tests/e2e/test_catalog_pipeline.py::"
BACKEND_E2E = [
    "tests/e2e/test_labeling_pipeline.py",
    CATALOG_E2E + "test_fifty_entities_give_200_rows_and_200_served_objects_after_one_tick",
    CATALOG_E2E + "test_bad_names_and_non_jpegs_are_rejected_with_reasons",
    CATALOG_E2E + "test_database_down_during_a_tick_loses_nothing",
]
BACKEND_E2E_TIMEOUT = 1500  # s
STOP_GRACE_S = 120  # SIGTERM: its session stops its own stack, then it exits


@dataclass
class BackgroundRun:
    """A pytest run started now and waited for later while other work goes on, its
    output in a file. It stays in this process's group, as a run in the foreground
    would: a Ctrl-C at the terminal reaches it too."""

    process: subprocess.Popen
    output: Path
    env: dict[str, str]
    started: float = field(default_factory=time.monotonic)

    @property
    def state_dir(self) -> Path:
        return Path(self.env["HARNESS_STATE_DIR"])

    def wait(self, timeout: float) -> tuple[int, str]:
        """(exit code, output); a run still going `timeout` s after its start is
        stopped, and its output then ends with why."""
        left = max(0.0, timeout - (time.monotonic() - self.started))
        try:
            code = self.process.wait(timeout=left)
        except subprocess.TimeoutExpired:
            self.stop()
            return -1, self.read() + f"\n(stopped: still running after {timeout:.0f} s)"
        return code, self.read()

    def read(self) -> str:
        return self.output.read_text(errors="replace") if self.output.is_file() else ""

    def stop(self) -> None:
        """Stop it and what it started (SIGTERM, SIGKILL after STOP_GRACE_S); then
        `harness down` for its stack, which a killed run could not stop itself."""
        if self.process.poll() is not None:
            return
        with suppress(psutil.NoSuchProcess):
            processes.stop_process(psutil.Process(self.process.pid), STOP_GRACE_S)
        self.process.wait()
        harness_down(self.env)


def backend_e2e(lane_env: dict[str, str], ports: list[int], folder: Path) -> BackgroundRun:
    """BACKEND_E2E started on `HARNESS_BACKEND=docker` against the lane's engine (the
    lane's build arguments, so its image build is a cache hit), on `ports` (one per
    side_by_side.PORT_VARIABLES, replacing the lane's), with a state folder, name
    prefix and network of its own."""
    env = lane_env | stack_environment(folder / "state", f"dk{secrets.token_hex(2)}", tuple(ports))
    env |= {
        "HARNESS_BACKEND": "docker",
        # `harness down` removes the containers, not testcontainers' reaper (no image here).
        "TESTCONTAINERS_RYUK_DISABLED": "true",
    }
    env.pop("PYTEST_XDIST_WORKER", None)
    output = folder / "pytest.log"
    with output.open("w") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x", *BACKEND_E2E],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            preexec_fn=processes.stop_with_parent(),  # a killed worker: it stops its stack
        )
    return BackgroundRun(process, output, env)
