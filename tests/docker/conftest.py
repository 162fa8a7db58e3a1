"""The `docker` lane: docker-compose.yml run for real and, at the same time (both
mostly wait on timers), the e2e suite's labeling and catalog flows on
`HARNESS_BACKEND=docker`, once the image they share is built.

A Docker engine is used when one answers (DOCKER_HOST, else the default socket);
otherwise, as root, one is installed from Debian's packages and started for the session
(harness/runtime/engine.py) and stopped at its end. Neither possible: every test of the
lane is skipped with the reason, which the test summary shows (`-rs`), never passed.

The stack runs as its own Compose project on free ports, so it never meets a stack on
the harness's default ports; `down -v` removes it at the end, whatever happened, and
the lane fails if anything of the project (container, volume, network) is left. The
image stays in the engine's data root (user cache) so the next run's build is warm.

The lane builds and runs the image for this machine's platform, or for the one
HARNESS_DOCKER_PLATFORM names (`make test-arm64`: linux/arm64 under QEMU's emulation,
registered here as root when missing; test_platform.py says which ran).

The engine and the stack are shared by the lane's tests (session fixtures) but end with
the lane's last test, not with the session: idle, they would hold memory and CPU (the
containers' LocalStack keeps polling) through the rest of the suite. `LANE` holds their
teardown; `pytest_runtest_teardown` closes it after the last lane test, and the
fixtures' own finalizers close it too (a no-op by then) when the session ends early.
That holds on a pytest-xdist worker too: it runs a test only once it knows the next
one it will run (or that there is none), so `nextitem` is its real next test.
"""

from __future__ import annotations

import contextlib
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import docker_lane as lane
import pytest

from harness import config
from harness.runtime import engine as docker_engine
from harness.runtime import platforms
from harness.testing.side_by_side import PORT_VARIABLES
from harness.util.net import free_ports

UP_TIMEOUT = 1200  # s: a cold build is most of it
DEMO_TIMEOUT = 900
DEFAULT_BASE_IMAGE = "debian:bookworm-slim"  # docker-compose.yml's BASE_IMAGE default


LANE = contextlib.ExitStack()


def _in_lane(item: pytest.Item | None) -> bool:
    return item is not None and "/docker/" in str(item.fspath)


def pytest_collection_modifyitems(items):
    for item in items:
        if _in_lane(item):
            item.add_marker(pytest.mark.docker)


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """Last: pytest's own teardown of `item` has run, so a failure here (`down -v` that
    left something) is this test's teardown error, not the next test's setup error."""
    if _in_lane(item) and not _in_lane(nextitem):
        LANE.close()


def _report(request: pytest.FixtureRequest, line: str) -> None:
    """A line on the terminal now, not captured: progress and the lane's timings."""
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        return
    if capture is None:
        reporter.write_line(f"[docker lane] {line}")
        return
    with capture.global_and_fixture_disabled():
        reporter.write_line(f"[docker lane] {line}")


@pytest.fixture(scope="session")
def docker_engine_for_lane(request: pytest.FixtureRequest) -> Iterator[docker_engine.Engine]:
    """The engine the lane uses, started here if need be (and then stopped here)."""
    settings = config.load()
    target = lane.lane_platform()
    # Short: the engine's Unix sockets live here (~107 bytes at most).
    work = Path(tempfile.mkdtemp(prefix="harness-docker-"))
    try:
        engine = docker_engine.ensure(settings, work, progress=lambda m: _report(request, m))
    except docker_engine.EngineUnavailable as exc:
        shutil.rmtree(work, ignore_errors=True)
        pytest.skip(f"docker lane not run: {exc}")
    LANE.callback(shutil.rmtree, work, ignore_errors=True)
    LANE.callback(docker_engine.stop, engine)
    try:
        # An engine started here runs the image's programs on this kernel: another
        # platform's need QEMU registered here. One found running (a VM's, a remote
        # one) emulates or not by itself; its build then says which.
        if engine.started:
            platforms.ensure_runnable(target, progress=lambda m: _report(request, m))
        yield engine
    except platforms.EmulationUnavailable as exc:
        pytest.skip(f"docker lane on {target.docker} not run: {exc}")
    finally:
        LANE.close()


@pytest.fixture(scope="session")
def lane_port_sets() -> tuple[list[int], list[int]]:
    """Ports for the Compose stack and for the docker backend's e2e stack, picked in one
    call: the two stacks come up at the same time, and ports picked apart could meet."""
    count = len(PORT_VARIABLES)
    ports = free_ports(2 * count)
    return ports[:count], ports[count:]


@pytest.fixture(scope="session")
def lane_image(
    request: pytest.FixtureRequest,
    docker_engine_for_lane: docker_engine.Engine,
    lane_port_sets: tuple[list[int], list[int]],
) -> Iterator[lane.Compose]:
    """docker-compose.yml's images built, for a project of its own on free ports; the
    project is torn down with `down -v` after the lane's last test."""
    try:
        yield LANE.enter_context(_compose_built(request, docker_engine_for_lane, lane_port_sets[0]))
    finally:
        LANE.close()


@pytest.fixture(scope="session")
def compose_stack(request: pytest.FixtureRequest, lane_image: lane.Compose) -> lane.Compose:
    """The project up and the demo run to its end (exit 0)."""
    compose = lane_image
    with compose.timed("up to the demo's start"):
        started = compose.run("up", "-d", timeout=UP_TIMEOUT)
    if started.returncode != 0:
        raise compose.failure("`up -d`", started.stdout + started.stderr)
    with compose.timed("demo"):
        waited = compose.docker("wait", compose.container_id("demo"), timeout=DEMO_TIMEOUT)
    if waited.stdout.strip() != "0":
        raise compose.failure(f"the demo (exit code {waited.stdout.strip()})")
    _report(request, f"{' '.join(compose.command)}; timings (s): {compose.timings}")
    _report(request, f"image sizes: {_image_sizes(compose)}")
    return compose


@contextlib.contextmanager
def _compose_built(
    request: pytest.FixtureRequest, engine: docker_engine.Engine, ports: list[int]
) -> Iterator[lane.Compose]:
    command = docker_engine.compose_command(engine)
    if command is None:
        pytest.skip(
            "docker lane not run: neither `docker compose` nor `docker-compose` is installed"
        )
    settings = config.load()
    bundle = lane.terraform_bundle(settings) if engine.started else None
    cache = docker_engine.cache_dir(settings)
    env = engine.env() | dict(zip(PORT_VARIABLES, map(str, ports), strict=True))
    compose = lane.Compose(command, f"harness-lane-{secrets.token_hex(3)}", env)
    # Served while the project lives: `up` (pull_policy: build) and the docker backend's
    # start build again, from the cache when the build arguments are the same.
    with lane.served(cache, cache / "bundle-server.port") as url:
        bundle_url = f"{url}/{bundle.name}" if bundle else None
        env |= lane.build_environment(engine, settings, bundle_url, lane.lane_platform())
        try:
            with compose.timed("build"):
                built = compose.run("build", timeout=UP_TIMEOUT)
            if built.returncode != 0:
                raise lane.LaneFailure(
                    f"building the image (docker-compose.yml, every service) failed:\n"
                    f"{lane.tail(built.stdout + built.stderr)}"
                )
            yield compose
        finally:
            left: dict[str, list[str]] = {}
            try:
                with compose.timed("down -v"):
                    compose.run("down", "-v", "--remove-orphans", timeout=600)
                left = compose.leftovers()
            finally:
                if engine.started:  # the lane's own engine: drop a failed build's leftovers
                    compose.docker("container", "prune", "-f")  # and images no tag names
                    compose.docker("image", "prune", "-f")
                _report(request, f"timings (s): {compose.timings}")
    # Reached only when the lane's tests ran (a failed build has its own error above):
    # `docker compose down -v` leaves nothing of the project, as the README promises.
    if left:
        raise lane.LaneFailure(f"`down -v` left some of project {compose.project}: {left}")


@pytest.fixture(scope="session")
def backend_e2e(
    lane_image: lane.Compose,
    lane_port_sets: tuple[list[int], list[int]],
    tmp_path_factory: pytest.TempPathFactory,
) -> lane.BackgroundRun:
    """The e2e flows on `HARNESS_BACKEND=docker`, started once the image is built, so
    that they run while the Compose stack comes up and runs its demo (both mostly wait
    on timers; one after the other, the lane took about 145 s longer). On the machine's
    own platform only: under emulation they would add far more than the demo's time."""
    target = lane.lane_platform()
    if not target.is_native:
        pytest.skip(
            f"the docker backend's flows run in the lane for {platforms.native().docker}; "
            f"on {target.docker} this lane runs the Compose demo (test_compose_demo.py)"
        )
    run = lane.backend_e2e(lane_image.env, lane_port_sets[1], tmp_path_factory.mktemp("backend"))
    LANE.callback(run.stop)  # a no-op once it has ended
    return run


def _image_sizes(compose: lane.Compose) -> str:
    """The project's image and the base image it was built on, as `docker image ls` sizes
    them (the issue asks for small images: the figure goes to the closing note). Only a
    report line: an engine slow to answer costs the line, not the lane."""
    base = compose.env.get("HARNESS_BASE_IMAGE", DEFAULT_BASE_IMAGE)
    try:
        listed = compose.docker(
            "image", "ls", "--format", "{{.Repository}}:{{.Tag}} {{.Size}}", timeout=60
        )
    except subprocess.TimeoutExpired:
        return "not listed: `docker image ls` did not answer in 60 s"
    lines = [
        line
        for line in listed.stdout.splitlines()
        if line.startswith("pipeline-harness:") or line.split()[0] == base
    ]
    return "; ".join(lines) or f"none listed ({lane.tail(listed.stderr, 3)})"


@pytest.fixture(scope="session")
def lane_ports(compose_stack: lane.Compose) -> dict[str, int]:
    return {"HARNESS_PORT": int(compose_stack.env["HARNESS_PORT"])}
