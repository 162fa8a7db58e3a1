"""Headless Chromium for checking the HTML report the way a person will see it.

Chromium comes from the system's packages (Debian: `chromium`); `ensure()` installs it
with apt-get when it is missing and this process may (root, or password-less sudo).
`make test` runs `python -m harness.observe.browser` first, so a fresh machine gets it once.
It runs offline and isolated: a throw-away profile, no sync, no component updates,
no background networking.

Any OS user can run it. Chromium refuses to run as root with its sandbox, so root
gets `--no-sandbox`; anyone else keeps the sandbox (user namespaces, or Debian's
setuid chrome-sandbox) and falls back to `--no-sandbox` only where Chromium reports
no usable sandbox (e.g. a container without user namespaces). HOME and the XDG folders
point into the throw-away folder: `su`, `runuser` and sudo may leave HOME naming
another user's home (/root, mode 700), where Chromium's caches cannot be written.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from harness.util.errors import HarnessError

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = (
    "--headless",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)

# What Chromium says when it cannot set up its sandbox (no user namespaces, no setuid helper).
NO_SANDBOX = "No usable sandbox"


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


def dump_dom(page: Path | str, timeout: float = 90.0, virtual_time_ms: int | None = None) -> str:
    """The page's DOM after its scripts ran, as Chromium serialises it.

    `page` is a file or a URL. A virtual time budget lets a page that loads more (the
    admin page's images) finish before the dump, however slow the machine.
    """
    executable = ensure()
    url = page.as_uri() if isinstance(page, Path) else page
    budget = [f"--virtual-time-budget={virtual_time_ms}"] if virtual_time_ms else []
    with tempfile.TemporaryDirectory(prefix="harness-chromium-") as folder:
        home = Path(folder)
        env = {
            **os.environ,
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_CACHE_HOME": str(home / ".cache"),
            "XDG_DATA_HOME": str(home / ".local" / "share"),
        }
        args = [*FLAGS, f"--user-data-dir={home / 'profile'}", *budget, "--dump-dom", url]

        def run(sandbox: list[str]) -> subprocess.CompletedProcess:
            return subprocess.run(
                [executable, *sandbox, *args],
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
                env=env,
            )

        if os.geteuid() == 0:
            completed = run(["--no-sandbox"])
        else:
            completed = run([])
            if completed.returncode != 0 and NO_SANDBOX in completed.stderr:
                completed = run(["--no-sandbox"])  # no usable sandbox on this machine
    if completed.returncode != 0 or not completed.stdout.strip():
        raise HarnessError(
            f"chromium --dump-dom {url} failed ({completed.returncode}): "
            + completed.stderr.strip()[-2000:]
        )
    return completed.stdout


class Dom(HTMLParser):
    """The elements of a DOM dump, (tag, attributes) in document order: what a check of
    a rendered page looks at."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, Any]]] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))

    def find(self, tag: str, **attributes: str) -> list[dict[str, Any]]:
        """Elements of `tag` with these attribute values (`data_row` means `data-row`)."""
        return [
            a
            for t, a in self.elements
            if t == tag and all(a.get(k.replace("_", "-")) == v for k, v in attributes.items())
        ]

    def having_class(self, name: str) -> list[dict[str, Any]]:
        return [a for _, a in self.elements if name in (a.get("class") or "").split()]


if __name__ == "__main__":
    try:
        print(f"chromium: {ensure()}")
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
