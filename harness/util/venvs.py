"""Cached virtual environments, built once and shared by every clone of the project.

A venv is built in a temporary folder and renamed into place only when its installs
succeeded, so an interrupted or failed install never leaves a half-built venv that looks
ready.
A file lock keeps two harness processes from building the same one at once.

Projects of our own installed into such a venv (`install_projects`) are keyed by a hash
of their files, kept in a stamp in the venv: a change of their code installs them again.

uv (a dependency of the harness) makes the venvs and installs into them unless
HARNESS_INSTALLER=pip: on the 2-core machine LocalStack's venv took 45 s with pip and a
warm pip cache, 12-14 s with uv (its bytecode compiled, as pip compiles it; the same
versions: both follow the pins). uv reads pip's environment variables only as
translated here (`uv_options`), and not pip.conf: where pip is told something uv would
not follow (PIP_TRUSTED_HOST, PIP_PRE, ...), pip installs, and an install that uv
cannot do is tried again with pip, which reads the user's configuration. A venv that
uv made has no pip of its own: pip then installs into it from the harness's venv
(`pip --python`, pip 22.3 or newer).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
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


INSTALLER_ENV = "HARNESS_INSTALLER"  # "uv" (the default) or "pip"
INSTALLERS = ("uv", "pip")
TRUE = ("1", "y", "yes", "t", "true", "on")  # how pip reads a boolean variable
PIP_INSTALL = ["install", "-q", "--disable-pip-version-check"]
# pip's variables that uv follows as options (uv_options), and those that change nothing
# that is installed; any other PIP_* variable set makes pip do the install.
PIP_TRANSLATED = {
    "PIP_INDEX_URL": "--index-url",
    "PIP_EXTRA_INDEX_URL": "--extra-index-url",
    "PIP_FIND_LINKS": "--find-links",
    "PIP_CONSTRAINT": "--constraint",
}
PIP_HARMLESS = {
    "PIP_NO_INDEX",  # translated as a flag
    "PIP_CERT",  # given to uv as SSL_CERT_FILE
    "PIP_CACHE_DIR",
    "PIP_NO_CACHE_DIR",
    "PIP_DISABLE_PIP_VERSION_CHECK",
    "PIP_DEFAULT_TIMEOUT",
    "PIP_TIMEOUT",
    "PIP_NO_INPUT",
    "PIP_QUIET",
    "PIP_VERBOSE",
    "PIP_PROGRESS_BAR",
    "PIP_ROOT_USER_ACTION",
    "PIP_REQUIRE_VIRTUALENV",
}


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
    with locked(target):
        if is_ready(target):
            return False
        staging = target.with_name(target.name + ".building")
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(target, ignore_errors=True)
        started = time.monotonic()
        progress(f"Installing {what} into {target} (once; cached afterwards)...")
        _make_venv(interpreter, staging, what)
        for args in installs:
            install(str(staging / "bin" / "python"), args, what, progress)
        # venv scripts embed their folder: build in place of the final name.
        staging.rename(target)
        _fix_paths(target, staging)
        (target / MARKER).write_text(f"built in {time.monotonic() - started:.1f} s\n")
        progress(f"Installed {what} in {time.monotonic() - started:.0f} s")
        return True


def _make_venv(interpreter: str, staging: Path, what: str) -> None:
    """By uv (a fraction of a second), or by `-m venv`, which runs ensurepip (3-30 s
    measured), where uv is not used or cannot."""
    uv = _uv_binary()
    if uv is not None:
        try:
            _run([uv, "venv", "--quiet", "--python", interpreter, str(staging)], what)
            return
        except InstallFailed:
            shutil.rmtree(staging, ignore_errors=True)
    _run([interpreter, "-m", "venv", str(staging)], what)


@contextlib.contextmanager
def locked(target: Path) -> Iterator[None]:
    """Held while `target` (a venv) is built or changed, by one process at a time."""
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
    with locked(venv):
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
            # A local folder is installed again even at the same version (each install
            # stages a new copy); dependencies already there (LocalStack's own) are left
            # as they are.
            install(
                python,
                [
                    *(["-c", str(constraints)] if constraints else []),
                    *(["--no-build-isolation"] if offline else []),
                    *map(str, staged),
                ],
                what,
                progress,
            )
        atomic_write_text(stamp, key + "\n", mode=0o644)
        progress(f"Installed {what} in {time.monotonic() - started:.0f} s")
        return True


def install(
    python: str, args: list[str], what: str, progress: Callable[[str], None] = print
) -> None:
    """`pip install ARGS` into the environment of `python`: by uv, or by pip where uv is
    not chosen, not installed, told something it would not follow, or failed."""
    uv = _uv_binary()
    unfollowed = sorted(
        name
        for name in os.environ
        if name.startswith("PIP_") and name not in PIP_TRANSLATED and name not in PIP_HARMLESS
    )
    if uv is not None and unfollowed:
        progress(f"pip installs {what}: uv would not follow {', '.join(unfollowed)}")
    elif uv is not None:
        env = os.environ.copy()
        if env.get("PIP_CERT"):  # uv trusts its own roots, or SSL_CERT_FILE's
            env.setdefault("SSL_CERT_FILE", env["PIP_CERT"])
        try:
            _run(uv_command(uv, python) + args, what, env)
            return
        except InstallFailed as error:
            progress(f"uv could not install {what}; trying pip: {error.last_line}")
    _run(pip_command(python) + args, what)


def uv_command(uv: str, python: str) -> list[str]:
    """uv compiles the bytecode as pip does (a container with PYTHONDONTWRITEBYTECODE
    would otherwise compile LocalStack on every start)."""
    options = uv_options(os.environ)
    return [uv, "pip", "install", "--quiet", "--python", python, "--compile-bytecode", *options]


def pip_command(python: str) -> list[str]:
    """The venv's own pip, or, in a venv uv made (no pip in it), the harness's."""
    if subprocess.run([python, "-c", "import pip"], capture_output=True).returncode == 0:
        return [python, "-m", "pip", *PIP_INSTALL]
    return [sys.executable, "-m", "pip", "--python", python, *PIP_INSTALL]


def uv_options(env: Mapping[str, str]) -> list[str]:
    """pip's variables that choose where packages come from, as uv's options (pip
    splits a list variable at whitespace)."""
    options = ["--no-index"] if env.get("PIP_NO_INDEX", "").lower() in TRUE else []
    for name, option in PIP_TRANSLATED.items():
        for value in env.get(name, "").split():
            options += [option, value]
    return options


def _uv_binary() -> str | None:
    """uv's executable, unless HARNESS_INSTALLER=pip or the harness was installed
    without it."""
    chosen = os.environ.get(INSTALLER_ENV, "uv").strip().lower() or "uv"
    if chosen not in INSTALLERS:
        raise HarnessError(f"{INSTALLER_ENV}={chosen!r}: use one of {', '.join(INSTALLERS)}")
    if chosen != "uv":
        return None
    try:
        from uv import find_uv_bin
    except ImportError:
        return None
    try:
        return find_uv_bin()
    except FileNotFoundError:
        return None


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


class InstallFailed(HarnessError):
    """An installer's failure, with the last lines it printed."""

    def __init__(self, what: str, cmd: list[str], output: str) -> None:
        self.tail = output.strip().splitlines()[-15:] or ["(no output)"]
        super().__init__(
            f"installing {what} failed ({' '.join(cmd[:6])} ...):\n"
            + "\n".join(self.tail)
            + "\nCheck the pins file and your access to the package index, then run again."
        )

    @property
    def last_line(self) -> str:
        return self.tail[-1].strip()


def _run(cmd: list[str], what: str, env: dict[str, str] | None = None) -> None:
    result = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise InstallFailed(what, cmd, result.stdout + result.stderr)
