"""No process outlives a test session: not after a failure, not after Ctrl-C, not after a
SIGTERM that lands while MariaDB is down for an outage (the block that ends the outage
starts nothing once the session has stopped its stack)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.testing.side_by_side import side_by_side_environment
from harness.util.processes import is_alive

CHILD_TEST = """
import json, os, time
from pathlib import Path

def test_uses_the_stack(harness_stack, harness_settings):
    mode = os.environ["MODE"]
    if mode == "sigterm":  # MariaDB too, then an outage of it, as database_outage makes
        from harness.runtime import mariadb
        from harness.systems.catalog import database

        mariadb.start(harness_settings, database.port(), progress=print)
    records = sorted(Path(harness_settings.state_dir, "processes").glob("*.json"))
    pids = [json.loads(p.read_text()) for p in records]
    if mode == "sigterm":
        mariadb.stop(harness_settings)
    try:
        # Whole or not at all: the test reads it as soon as it exists (run w83 read it empty).
        written = Path(os.environ["MARKER"] + ".tmp")
        written.write_text(json.dumps(pids))
        written.rename(os.environ["MARKER"])
        if mode == "fail":
            assert False, "failing on purpose"
        time.sleep(120)  # Ctrl-C or SIGTERM lands here
    finally:
        if mode == "sigterm":  # the outage's end: a start after the session stopped
            mariadb.start(harness_settings, database.port(), progress=print)
"""


@pytest.mark.parametrize("mode", ["fail", "interrupt", "sigterm"])
def test_session_stops_everything_it_started(tmp_path, mode):
    (tmp_path / "test_child.py").write_text(CHILD_TEST)
    marker = tmp_path / "pids.json"
    env = side_by_side_environment(tmp_path / "state") | {"MARKER": str(marker), "MODE": mode}
    child = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not marker.exists() and time.monotonic() < deadline and child.poll() is None:
        time.sleep(0.2)
    assert marker.exists(), child.communicate()[0][-3000:]
    started = json.loads(marker.read_text())
    assert {p["name"] for p in started} >= {"localstack", "stubs"}
    if mode == "interrupt":
        child.send_signal(signal.SIGINT)
    if mode == "sigterm":  # what CI's runner sends a job it cancels
        assert "mariadb" in {p["name"] for p in started}
        child.send_signal(signal.SIGTERM)
    output = child.communicate(timeout=60)[0]
    assert child.returncode != 0, output[-2000:]
    for process in started:
        assert not is_alive(process["pid"], process["create_time"]), (process, output[-2000:])
    assert not list(Path(tmp_path, "state", "processes").glob("*.json"))
