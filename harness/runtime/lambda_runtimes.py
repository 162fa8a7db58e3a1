"""Local interpreters that play the Lambda Python runtimes.

For each runtime (e.g. `python3.12`) the harness finds a matching interpreter and gives
it a venv in the user cache holding what the AWS runtime provides (`awslambdaric`,
boto3; see `pins/lambda-runtime.txt`). The LocalStack executor plugin receives the
resulting map and starts functions with it.
"""

from __future__ import annotations

import glob
import hashlib
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from harness.config import Settings
from harness.util.errors import HarnessError
from harness.util.venvs import build_venv

PINS = Path(__file__).resolve().parent.parent / "pins" / "lambda-runtime.txt"
RUNTIME_RE = re.compile(r"^python3\.(\d+)$")


def _override_var(runtime: str) -> str:
    return "HARNESS_LAMBDA_" + runtime.upper().replace(".", "_")


def _version_of(executable: str) -> str | None:
    """`python3.X` of an interpreter, or None if it does not run (e.g. a pyenv shim)."""
    try:
        out = subprocess.run(
            [executable, "-c", "import sys; print('python%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=20,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def _pyenv_root() -> str:
    return os.environ.get("PYENV_ROOT") or str(Path.home() / ".pyenv")


def _candidates(runtime: str) -> list[str]:
    found = [p for p in [shutil.which(runtime)] if p]
    pyenv_root = _pyenv_root()
    minor = runtime.removeprefix("python")
    found += sorted(glob.glob(f"{pyenv_root}/versions/{minor}.*/bin/{runtime}"), reverse=True)
    if f"python{sys.version_info[0]}.{sys.version_info[1]}" == runtime:
        found.append(sys.executable)
    return found


# Interpreters found in this process, by what the search read (runtime, override, PATH,
# pyenv root): every deploy and every LocalStack start asks, and a search starts each
# candidate. Only finds are kept (this module installs no interpreter, so nothing here
# could forget a "none" at the right moment): one installed later in the same process,
# by pyenv or on PATH, is found by the next search, never hidden by a remembered "none".
_found: dict[tuple[str, ...], str] = {}


def clear_cache() -> None:
    """Forget the interpreters found so far (tests, or after changing one in place)."""
    _found.clear()


def find_interpreter(runtime: str) -> str | None:
    """Path of an interpreter for `runtime`; an explicit override must be valid."""
    if not RUNTIME_RE.match(runtime):
        raise HarnessError(f"unsupported Lambda runtime {runtime!r}: use python3.X")
    override = os.environ.get(_override_var(runtime), "")
    key = (runtime, override, os.environ.get("PATH", ""), _pyenv_root())
    found = _found.get(key)
    if found is not None and os.access(found, os.X_OK):  # found before, and still there
        return found
    _found.pop(key, None)
    found = _search(runtime, override)
    if found is not None:
        _found[key] = found
    return found


def _search(runtime: str, override: str) -> str | None:
    if override:
        version = _version_of(override)
        if version != runtime:
            raise HarnessError(
                f"{_override_var(runtime)}={override} is not a working {runtime} interpreter "
                f"(it reports {version or 'nothing'}); fix the path or unset the variable"
            )
        return override
    for candidate in _candidates(runtime):
        if _version_of(candidate) == runtime:
            return candidate
    return None


def build_python(settings: Settings) -> str:
    """The Python version (`3.X`) to build the local zips for: the explicit setting, or
    the interpreter the executor will run the functions' runtime with. Without it, a
    machine with no python3.12 would get 3.12 wheels that its fallback interpreter cannot
    import (Pillow's compiled module is per Python version)."""
    if settings.lambda_build_python != "auto":
        return settings.lambda_build_python
    runtime = settings.lambda_runtimes[0]
    if find_interpreter(runtime) is not None:
        return runtime.removeprefix("python")
    found = [r for r in settings.lambda_runtimes if find_interpreter(r) is not None]
    return (
        found[0].removeprefix("python") if found else f"{sys.version_info[0]}.{sys.version_info[1]}"
    )


def _venv_for(
    runtime: str, interpreter: str, settings: Settings, progress: Callable[[str], None]
) -> str:
    key = hashlib.sha256(
        f"{runtime}|{Path(interpreter).resolve()}|{PINS.read_text()}".encode()
    ).hexdigest()[:12]
    target = settings.cache_dir / "lambda-runtimes" / f"{runtime}-{key}"
    build_venv(
        target,
        interpreter,
        [["-r", str(PINS)]],
        progress=progress,
        what=f"Lambda {runtime} runtime",
    )
    return str(target / "bin" / "python")


def prepare(settings: Settings, progress: Callable[[str], None] = print) -> dict[str, str]:
    """Map each wanted runtime to a ready interpreter, falling back to the closest one.

    A missing interpreter is not fatal (the function's log says which one ran it), but
    having no Python interpreter for any wanted runtime is impossible: the harness
    itself runs on one, which is the last fallback.
    """
    mapping: dict[str, str] = {}
    missing: list[str] = []
    for runtime in settings.lambda_runtimes:
        interpreter = find_interpreter(runtime)
        if interpreter is None:
            missing.append(runtime)
            continue
        mapping[runtime] = _venv_for(runtime, interpreter, settings, progress)
    if missing and not mapping:
        own = f"python{sys.version_info[0]}.{sys.version_info[1]}"
        mapping[own] = _venv_for(own, sys.executable, settings, progress)
    for runtime in missing:
        progress(
            f"warning: no {runtime} interpreter found (PATH, pyenv, {_override_var(runtime)}); "
            f"functions on {runtime} will run with {', '.join(mapping)}"
        )
    return mapping
