"""Ctrl-C during a Terraform run: Terraform gets SIGTERM and a bounded wait, and nothing
of its process group outlives the harness.

Terraform runs in its own session, so the terminal's Ctrl-C reaches only the harness; a
fake `terraform` (a real process group: a leader and a provider-like child) shows what
the harness does then.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.build import terraform
from harness.util.processes import is_alive

FAKE_TERRAFORM = """#!{python}
import signal, subprocess, sys, time
from pathlib import Path

out = Path({out!r})
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
(out / "child.pid").write_text(str(child.pid))

def save_state_and_exit(signum, frame):
    if {ignore_term}:
        return
    (out / "state-saved").write_text("yes")
    child.terminate()
    sys.exit(1)

signal.signal(signal.SIGTERM, save_state_and_exit)
print("aws_s3_bucket.this: Creation complete after 1s", flush=True)
while True:
    time.sleep(0.05)
"""


def fake_terraform(folder: Path, ignore_term: bool) -> Path:
    script = folder / "terraform"
    script.write_text(
        FAKE_TERRAFORM.format(python=sys.executable, out=str(folder), ignore_term=ignore_term)
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def interrupt_on_first_progress(message: str) -> None:
    raise KeyboardInterrupt


@pytest.fixture
def on_path(monkeypatch, tmp_path):
    monkeypatch.setattr(terraform, "require_terraform", lambda: "terraform")
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    return tmp_path


def child_gone(folder: Path) -> bool:
    """Whether the provider-like child is gone (a killed process lingers a moment)."""
    child = int((folder / "child.pid").read_text())
    deadline = time.monotonic() + 5
    while is_alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not is_alive(child)


def test_ctrl_c_gives_terraform_sigterm_and_it_saves_its_state(on_path):
    fake_terraform(on_path, ignore_term=False)
    env = dict(os.environ)
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        terraform.run(["apply"], on_path, env, progress=interrupt_on_first_progress, local=False)
    assert (on_path / "state-saved").read_text() == "yes"
    assert time.monotonic() - started < 10  # it stopped on SIGTERM, no grace was needed
    assert child_gone(on_path)


def test_a_terraform_that_ignores_sigterm_is_killed_after_the_grace(on_path, monkeypatch):
    fake_terraform(on_path, ignore_term=True)
    monkeypatch.setenv("HARNESS_TF_STOP_SECONDS", "0.5")
    with pytest.raises(KeyboardInterrupt):
        terraform.run(
            ["apply"], on_path, dict(os.environ), progress=interrupt_on_first_progress, local=False
        )
    assert not (on_path / "state-saved").exists()
    assert child_gone(on_path)


def test_stop_gracefully_is_harmless_on_a_finished_process():
    process = subprocess.Popen([sys.executable, "-c", "pass"], start_new_session=True)
    process.wait()
    terraform.stop_gracefully(process, grace=0.1)
    assert process.returncode == 0
