"""Cached virtual environments, built once and shared by every clone of the project.

A venv is built in a temporary folder and renamed into place only when pip succeeded,
so an interrupted or failed install never leaves a half-built venv that looks ready.
A file lock keeps two harness processes from building the same one at once.

Projects of our own installed into such a venv (`install_projects`) are keyed by a hash
of their files, kept in a stamp in the venv: a change of their code installs them again.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from harness.util.errors import HarnessError
from harness.util.files import atomic_write_text

MARKER = ".harness-complete"
STAMP = ".harness-projects"  # hash of the files of the projects installed by install_projects
# Left behind by builds and interpreters; never part of what a project is.
NOT_SOURCE = ("__pycache__", "*.pyc", "build", "dist", "*.egg-info")
# setuptools builds a wheel by itself from 70.1 on, older ones need `wheel`.
CAN_BUILD_OFFLINE = (
    "import importlib.util as u, sys; "
    "sys.exit(0 if u.find_spec('setuptools') and "
    "(u.find_spec('setuptools.command.bdist_wheel') or u.find_spec('wheel')) else 1)"
)


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
    with _locked(target):
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


@contextlib.contextmanager
def _locked(target: Path) -> Iterator[None]:
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f".{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def source_digest(source: Path) -> str:
    """SHA-256 of a project's files (paths and bytes), build leftovers excluded."""
    digest = hashlib.sha256()
    skip = shutil.ignore_patterns(*NOT_SOURCE)
    for folder, dirs, files in os.walk(source):
        ignored = skip(folder, dirs + files)
        dirs[:] = sorted(d for d in dirs if d not in ignored)
        for name in sorted(f for f in files if f not in ignored):
            path = Path(folder, name)
            digest.update(path.relative_to(source).as_posix().encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def install_projects(
    venv: Path,
    sources: list[Path],
    what: str,
    progress: Callable[[str], None] = print,
    constraints: Path | None = None,
) -> bool:
    """pip-install the projects in `sources` into `venv` (their dependencies held to
    `constraints`) unless these very files are installed already; True if it installed.

    Copies are built (pip would leave `build/` and `*.egg-info` in the source), without
    build isolation when the venv can build wheels itself (offline), else with pip's
    isolated build, which fetches setuptools from the package index.
    """
    stamp = venv / STAMP
    digest = hashlib.sha256()
    for source in sorted(sources):
        digest.update(f"{source.name}:{source_digest(source)}\n".encode())
    if constraints:
        digest.update(constraints.read_bytes())
    key = digest.hexdigest()
    if _stamp(stamp) == key:
        return False
    with _locked(venv):
        if _stamp(stamp) == key:
            return False
        started = time.monotonic()
        progress(f"Installing {what} into {venv} ...")
        python = str(venv / "bin" / "python")
        offline = subprocess.run([python, "-c", CAN_BUILD_OFFLINE]).returncode == 0
        with tempfile.TemporaryDirectory(prefix="harness-install-") as scratch:
            staged = [Path(scratch) / source.name for source in sources]
            for source, copy in zip(sources, staged, strict=True):
                shutil.copytree(source, copy, ignore=shutil.ignore_patterns(*NOT_SOURCE))
            # A local folder is installed again even at the same version; dependencies
            # already there (LocalStack's own) are left as they are.
            _run(
                [
                    python,
                    "-m",
                    "pip",
                    "install",
                    "-q",
                    "--disable-pip-version-check",
                    *(["-c", str(constraints)] if constraints else []),
                    *(["--no-build-isolation"] if offline else []),
                    *map(str, staged),
                ],
                what,
            )
        atomic_write_text(stamp, key + "\n", mode=0o644)
        progress(f"Installed {what} in {time.monotonic() - started:.0f} s")
        return True


def installed_projects(venv: Path) -> str | None:
    """The digest of the projects `install_projects` last installed into `venv` (their
    files and constraints); None before any."""
    return _stamp(venv / STAMP)


def _stamp(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


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
