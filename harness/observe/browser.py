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

import functools
import os
import shutil
import subprocess
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from harness.util.errors import HarnessError
from harness.util.packages import AptFailed, apt_install, privilege

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
    if privilege() is None:  # neither root nor sudo
        raise HarnessError("Chromium is missing: run `sudo apt-get install -y chromium`")
    say = functools.partial(print, flush=True)
    say("installing Chromium (Debian package `chromium`) for the HTML report test")
    try:
        # Shown as it runs (a first install takes minutes); recommended packages too, as before.
        apt_install(["chromium"], progress=say, recommends=True, show_output=True)
    except AptFailed as exc:
        raise HarnessError(f"Chromium could not be installed: {exc}") from None
    found = find()
    if not found:
        raise HarnessError("chromium was installed but is not on PATH")
    return found


def _chromium(args: list[str], timeout: float) -> subprocess.CompletedProcess:
    """Chromium headless with `args`, in a throw-away profile, sandboxed where it can be
    (root gets `--no-sandbox`; so does a machine where Chromium finds no usable sandbox)."""
    executable = ensure()
    with tempfile.TemporaryDirectory(prefix="harness-chromium-") as folder:
        home = Path(folder)
        env = {
            **os.environ,
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_CACHE_HOME": str(home / ".cache"),
            "XDG_DATA_HOME": str(home / ".local" / "share"),
        }
        every = [*FLAGS, f"--user-data-dir={home / 'profile'}", *args]

        def run(sandbox: list[str]) -> subprocess.CompletedProcess:
            return subprocess.run(
                [executable, *sandbox, *every],
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
                env=env,
            )

        if os.geteuid() == 0:
            return run(["--no-sandbox"])
        completed = run([])
        if completed.returncode != 0 and NO_SANDBOX in completed.stderr:
            completed = run(["--no-sandbox"])  # no usable sandbox on this machine
        return completed


def _window(width: int | None, height: int) -> list[str]:
    return [f"--window-size={width},{height}", "--hide-scrollbars"] if width else []


def dump_dom(
    page: Path | str,
    timeout: float = 90.0,
    virtual_time_ms: int | None = None,
    width: int | None = None,
    height: int = 1000,
) -> str:
    """The page's DOM after its scripts ran, as Chromium serialises it.

    `page` is a file or a URL. A virtual time budget lets a page that loads more (the
    admin page's images) finish before the dump, however slow the machine. `width` lays
    the page out in a window that wide (px).
    """
    url = page.as_uri() if isinstance(page, Path) else page
    budget = [f"--virtual-time-budget={virtual_time_ms}"] if virtual_time_ms else []
    completed = _chromium([*budget, *_window(width, height), "--dump-dom", url], timeout)
    if completed.returncode != 0 or not completed.stdout.strip():
        raise HarnessError(
            f"chromium --dump-dom {url} failed ({completed.returncode}): "
            + completed.stderr.strip()[-2000:]
        )
    return completed.stdout


def screenshot(
    page: Path | str, path: Path, width: int = 1400, height: int = 2000, timeout: float = 90.0
) -> Path:
    """A PNG of the page as a `width` x `height` px window shows it (its top part)."""
    url = page.as_uri() if isinstance(page, Path) else page
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    args = [*_window(width, height), f"--screenshot={path}", url]
    completed = _chromium(args, timeout)
    if completed.returncode != 0 or not path.is_file():
        raise HarnessError(
            f"chromium --screenshot {url} failed ({completed.returncode}): "
            + completed.stderr.strip()[-2000:]
        )
    return path


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) from a PNG's header."""
    header = path.read_bytes()[:24]
    if header[:8] != b"\x89PNG\r\n\x1a\n" or header[12:16] != b"IHDR":
        raise HarnessError(f"{path} is not a PNG")
    return int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")


# Appended to a copy of the page: once laid out, how wide its content is against the window.
_MEASURE = (
    "<script>(function () { var d = document.documentElement;"
    " d.setAttribute('data-scroll-width', String(d.scrollWidth));"
    " d.setAttribute('data-client-width', String(d.clientWidth)); })();</script>"
)


def overflow(page: Path, width: int = 1400, timeout: float = 90.0) -> int:
    """How many px the page is wider than a `width` px window (0: no horizontal scroll).

    Measured on a copy of the page with a small script appended, next to the original so
    that relative references still resolve."""
    text = page.read_text(encoding="utf-8")
    cut = text.lower().rfind("</body>")
    measured = text[:cut] + _MEASURE + text[cut:] if cut >= 0 else text + _MEASURE
    with tempfile.NamedTemporaryFile(
        "w", suffix=".html", dir=page.parent, encoding="utf-8", delete=False
    ) as copy:
        copy.write(measured)
    try:
        dom = Dom(dump_dom(Path(copy.name), timeout, width=width))
    finally:
        Path(copy.name).unlink(missing_ok=True)
    root = next(a for tag, a in dom.elements if tag == "html")
    return int(root["data-scroll-width"]) - int(root["data-client-width"])


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
