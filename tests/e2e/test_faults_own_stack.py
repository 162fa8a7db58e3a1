"""Faults of a stack the test starts itself: Ctrl-C in each phase of `harness demo`, a
stack from `harness up` that a test session uses, and a full state folder.

Each test runs a stack of its own (its own state dir and free ports) and needs none of
the session's, so the module runs on whichever worker is free (harness/testing/
parallel.py), not in a stack group. Ctrl-C comes as a user's terminal sends it: the
harness in its own process group, SIGINT to that group. What is measured: the time from
the fault to a clean stop (at most 15 s) and that no process outlives it; what ran
before keeps running. LocalStack killed beside the session's stack: test_faults_stack.py.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from harness.testing.side_by_side import (
    HARNESS_COMMAND,
    TEARDOWN_LIMIT_S,
    side_by_side_environment,
)
from harness.util.net import port_in_use
from harness.util.processes import ProcessRecords, is_alive

pytestmark = pytest.mark.faults

# The line after which Ctrl-C lands in the phase: LocalStack starting, Terraform
# applying, the demo driving the pipeline.
PHASES = {
    "venv-installing": re.compile(r"Installing .*once; cached afterwards"),  # empty cache
    "localstack-starting": re.compile(r"Starting LocalStack"),
    "terraform-applying": re.compile(r"Creation complete"),
    "demo-running": re.compile(r"uploaded "),
}


class Terminal:
    """A command in its own process group, its output collected line by line."""

    def __init__(self, command: list[str], env: dict[str, str], cwd: Path) -> None:
        self.process = subprocess.Popen(
            command,
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.lines: list[str] = []
        self._seen = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            with self._seen:
                self.lines.append(line)
                self._seen.notify_all()

    def wait_for_line(self, pattern: re.Pattern, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with self._seen:
            while not any(pattern.search(line) for line in self.lines):
                left = deadline - time.monotonic()
                if left <= 0 or self.process.poll() is not None:
                    raise AssertionError(f"no line matching {pattern.pattern!r}:\n{self.tail}")
                self._seen.wait(min(left, 0.5))

    def family(self, timeout: float = 10) -> list[psutil.Process]:
        """The processes it started; waits for the first (the line comes just before)."""
        deadline = time.monotonic() + timeout
        while True:
            children = psutil.Process(self.process.pid).children(recursive=True)
            if children or time.monotonic() > deadline:
                return children
            time.sleep(0.05)

    def ctrl_c(self) -> float:
        """Ctrl-C as a terminal sends it (SIGINT to the foreground group); seconds to exit."""
        started = time.monotonic()
        os.killpg(self.process.pid, signal.SIGINT)
        self.process.wait(timeout=120)
        return time.monotonic() - started

    @property
    def tail(self) -> str:
        return "".join(self.lines[-40:])


def harness(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """`harness ARGS` on the test's own stack (`env`), its output kept."""
    command = [*HARNESS_COMMAND, *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)


def survivors(processes: list[psutil.Process]) -> list[str]:
    """The processes still running (a zombie has exited), after a moment for the kernel."""
    deadline = time.monotonic() + 2
    alive = processes
    while alive and time.monotonic() < deadline:
        alive = [p for p in alive if is_alive(p.pid, p.create_time())]
        time.sleep(0.1)
    return [f"{p.pid} {' '.join(p.cmdline()[:4])}" for p in alive]


@pytest.mark.parametrize("phase", PHASES)
def test_ctrl_c_in_each_phase_stops_everything_within_15_s(tmp_path, phase):
    env = side_by_side_environment(tmp_path / "state")
    if phase == "venv-installing":
        env["HARNESS_CACHE_DIR"] = str(tmp_path / "cache")
    demo = Terminal([*HARNESS_COMMAND, "demo"], env, Path.cwd())
    try:
        demo.wait_for_line(PHASES[phase], timeout=600)
        family = demo.family()
        assert family, demo.tail  # LocalStack or Terraform is running now
        seconds = demo.ctrl_c()
        left, records = survivors(family), ProcessRecords(tmp_path / "state").all()
    finally:  # whatever failed, nothing of this stack outlives the test
        if demo.process.poll() is None:
            os.killpg(demo.process.pid, signal.SIGKILL)
        harness(env, "down", timeout=120)
    print(f"[fault] Ctrl-C while {phase}: exited in {seconds:.1f} s")
    assert demo.process.returncode != 0, demo.tail
    assert seconds <= TEARDOWN_LIMIT_S, demo.tail
    assert left == [], demo.tail  # seen before the clean-up `down` above
    assert records == [], demo.tail
    if phase == "venv-installing":  # nothing half-built looks ready to the next run
        assert not list((tmp_path / "cache").rglob(".harness-complete")), demo.tail


def test_a_stack_from_harness_up_survives_a_test_session(tmp_path):
    env = side_by_side_environment(tmp_path / "state")
    up = harness(env, "up", "--no-deploy", timeout=600)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        before = {r["name"]: r for r in ProcessRecords(tmp_path / "state").all()}
        assert {"localstack", "stubs"} <= set(before)
        (tmp_path / "test_uses_it.py").write_text(
            "def test_uses_the_stack(harness_stack):\n    assert not harness_stack.started_parts\n"
        )
        session = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert session.returncode == 0, session.stdout[-3000:]
        for record in before.values():
            assert is_alive(record["pid"], record["create_time"]), (record, session.stdout)
    finally:
        harness(env, "down", timeout=120)
    assert ProcessRecords(tmp_path / "state").all() == []


def fill(folder: Path) -> None:
    """Fill the filesystem of `folder` to the last byte."""
    with open(folder / "filler", "ab") as filler:
        try:
            while True:
                filler.write(b"\0" * 65536)
                filler.flush()
        except OSError:
            pass
        with contextlib.suppress(OSError):
            os.fsync(filler.fileno())


@pytest.fixture
def small_disk(tmp_path) -> Iterator[Path]:
    """A 1 MiB tmpfs of its own as the state folder: a real ENOSPC, nothing simulated."""
    folder = tmp_path / "state"
    folder.mkdir(mode=0o700)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"mounting a small tmpfs needs root (CAP_SYS_ADMIN): {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "--lazy", str(folder)], check=False)


def test_a_full_state_folder_gives_a_clear_error_and_leaves_nothing(small_disk):
    """Disk full in the state folder: `up` fails with what to do, records nothing half
    written and leaves no process; once full while running, `down` still stops all."""
    env = side_by_side_environment(small_disk)
    fill(small_disk)
    full = harness(env, "up", "--no-deploy", timeout=300)
    output = full.stdout + full.stderr
    assert full.returncode == 2, output
    assert "No space left on device" in output and "Free space there" in output, output
    assert "Traceback" not in output
    records = ProcessRecords(small_disk)
    assert records.all() == []  # the process it could not record was stopped
    assert not list((small_disk / "processes").glob("*.tmp")), "a half-written record"
    assert not port_in_use("127.0.0.1", int(env["HARNESS_PORT"]))

    (small_disk / "filler").unlink()  # space again: the next `up` works
    up = harness(env, "up", "--no-deploy", timeout=300)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        running = records.all()
        assert {r["name"] for r in running} >= {"localstack", "stubs"}
        fill(small_disk)  # full again while the stack runs: `down` still stops it all
    finally:
        down = harness(env, "down", timeout=120)
    assert down.returncode == 0, down.stdout + down.stderr
    for record in running:
        assert not is_alive(record["pid"], record["create_time"]), record
    assert records.all() == []
