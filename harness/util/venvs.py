"""Cached virtual environments, built once and shared by every clone of the project.

A venv is built in a temporary folder and renamed into place only when pip succeeded,
so an interrupted or failed install never leaves a half-built venv that looks ready.
A file lock keeps two harness processes from building the same one at once.
"""

from __future__ import annotations

import fcntl
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from harness.util.errors import HarnessError

MARKER = ".harness-complete"


def is_ready(target: Path) -> bool:
    return (target / MARKER).exists()


def build_venv(
    target: Path,
    interpreter: str,
    installs: list[list[str]],
    progress: Callable[[str], None] = print,
    what: str = "venv",
) -> bool:
    """Create `target` with `interpreter` and run `pip install` once per item of
    `installs`; returns True if it had to build (False: cached)."""
    if is_ready(target):
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f".{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if is_ready(target):
            return False
        staging = target.with_name(target.name + ".building")
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(target, ignore_errors=True)
        started = time.monotonic()
        progress(f"Installing {what} into {target} (once; cached afterwards)...")
        _run([interpreter, "-m", "venv", str(staging)], what)
        pip = [
            str(staging / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
        ]
        for args in installs:
            _run(pip + args, what)
        # venv scripts embed their folder: build in place of the final name.
        staging.rename(target)
        _fix_paths(target, staging)
        (target / MARKER).write_text(f"built in {time.monotonic() - started:.1f} s\n")
        progress(f"Installed {what} in {time.monotonic() - started:.0f} s")
        return True


def _fix_paths(target: Path, staging: Path) -> None:
    """Rewrite the staging path baked into activate scripts and console-script shebangs."""
    old, new = str(staging).encode(), str(target).encode()
    for path in (target / "bin").iterdir():
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            if old in data:
                path.write_bytes(data.replace(old, new))
    cfg = target / "pyvenv.cfg"
    cfg.write_bytes(cfg.read_bytes().replace(old, new))


def _run(cmd: list[str], what: str) -> None:
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        raise HarnessError(
            f"installing {what} failed ({' '.join(cmd[:6])} ...):\n{tail}\n"
            "Check the pins file and your access to the package index, then run again."
        )
