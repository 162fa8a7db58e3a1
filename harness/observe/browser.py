"""Headless Chromium for checking the HTML report the way a person will see it.

Chromium comes from the system's packages (Debian: `chromium`); `ensure()` installs it
with apt-get when it is missing and this process may (root, or password-less sudo).
`make test` runs `python -m harness.observe.browser` first, so a fresh machine gets it once.
It runs offline and isolated: a throw-away profile, no sync, no component updates,
no background networking.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from harness.util.errors import HarnessError

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)


def find() -> str | None:
    explicit = os.environ.get("HARNESS_CHROMIUM")
    if explicit:
        return explicit
    return next((path for name in CANDIDATES if (path := shutil.which(name))), None)


def ensure() -> str:
    """The Chromium executable, installed from the Debian package if missing."""
    found = find()
    if found:
        return found
    if shutil.which("apt-get") is None:
        raise HarnessError(
            "Chromium is needed for the HTML report test and apt-get is not available: "
            "install Chromium and put it on PATH (or set HARNESS_CHROMIUM)"
        )
    prefix: list[str] = []
    if os.geteuid() != 0:
        if shutil.which("sudo") is None:
            raise HarnessError("Chromium is missing: run `sudo apt-get install -y chromium`")
        prefix = ["sudo", "-n"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    lock = ["-o", "DPkg::Lock::Timeout=300"]
    print("installing Chromium (Debian package `chromium`) for the HTML report test", flush=True)
    install = [*prefix, "apt-get", *lock, "install", "-y", "-q", "chromium"]
    if subprocess.run(install, env=env, check=False).returncode != 0:
        update = [*prefix, "apt-get", *lock, "update", "-q"]
        subprocess.run(update, env=env, check=False)
        if subprocess.run(install, env=env, check=False).returncode != 0:
            raise HarnessError("`apt-get install -y chromium` failed; see its output above")
    found = find()
    if not found:
        raise HarnessError("chromium was installed but is not on PATH")
    return found


def dump_dom(page: Path, timeout: float = 60.0) -> str:
    """The page's DOM after its scripts ran, as Chromium serialises it."""
    executable = ensure()
    with tempfile.TemporaryDirectory(prefix="harness-chromium-") as profile:
        completed = subprocess.run(
            [executable, *FLAGS, f"--user-data-dir={profile}", "--dump-dom", page.as_uri()],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    if completed.returncode != 0 or not completed.stdout.strip():
        raise HarnessError(
            f"chromium --dump-dom {page} failed ({completed.returncode}): "
            + completed.stderr.strip()[-2000:]
        )
    return completed.stdout


if __name__ == "__main__":
    try:
        print(f"chromium: {ensure()}")
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
