"""OS packages installed with apt-get: the one way the harness does it.

Some programs the harness needs come from Debian/Ubuntu packages when they are missing
(Docker's engine, MariaDB, Chromium). Each caller decides first whether installing makes
sense on this machine and what to tell the user when it does not; `apt_install` only runs
apt-get:

- as root, or else through password-less sudo (`sudo -n`: it fails instead of asking);
- without questions (`DEBIAN_FRONTEND=noninteractive`, passed through sudo too, which
  would drop it from the environment);
- waiting for dpkg's lock while another install holds it (`DPkg::Lock::Timeout`)
  instead of failing at once;
- once more after `apt-get update` when the first try fails (package lists that are
  missing or stale, as on a fresh container).

A failure raises `AptFailed`, whose message names the command and ends with what apt-get
said. Layer 0 (util): imports nothing of the harness but util.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterable

from harness.util.errors import HarnessError

LOCK_TIMEOUT_S = 300  # how long apt-get waits for another install's dpkg lock
TIMEOUT_S = 900.0  # one apt-get run, lock wait and downloads included
NONINTERACTIVE = "DEBIAN_FRONTEND=noninteractive"


class AptFailed(HarnessError):
    """apt-get could not install the packages; the message says which command and why."""


def privilege() -> list[str] | None:
    """What runs apt-get with root's rights: nothing as root, `sudo -n` for a user who
    has sudo (password-less, or the install fails saying so), None when neither."""
    if os.geteuid() == 0:
        return []
    return ["sudo", "-n"] if shutil.which("sudo") else None


def apt_install(
    packages: Iterable[str],
    *,
    progress: Callable[[str], None],
    recommends: bool = False,
    show_output: bool = False,
    timeout: float = TIMEOUT_S,
) -> None:
    """Install `packages` with apt-get; raises `AptFailed` when it cannot.

    `recommends`: install the packages' recommended ones too (apt's default).
    `show_output`: apt-get writes to this process's terminal instead of being captured
    (a long install shows its progress); the error then points at that output.
    """
    names = list(packages)
    prefix = privilege()
    if prefix is None:
        raise AptFailed(
            f"installing {' '.join(names)} needs root or sudo, and this user has neither"
        )
    if prefix:
        prefix = [*prefix, "env", NONINTERACTIVE]
    apt = [*prefix, "apt-get", "-q", "-o", f"DPkg::Lock::Timeout={LOCK_TIMEOUT_S}"]
    install = [*apt, "install", "-y", *([] if recommends else ["--no-install-recommends"])]
    install += names
    done = _run(install, show_output, timeout)
    if done.returncode != 0:
        progress("apt-get install failed; updating the package lists and trying again ...")
        _run([*apt, "update"], show_output, timeout)
        done = _run(install, show_output, timeout)
    if done.returncode != 0:
        command = " ".join(install)
        if show_output:
            raise AptFailed(f"`{command}` failed (exit {done.returncode}); see its output above")
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-10:])
        raise AptFailed(f"`{command}` failed (exit {done.returncode}):\n{tail}")


def _run(command: list[str], show_output: bool, timeout: float) -> subprocess.CompletedProcess:
    name, value = NONINTERACTIVE.split("=")
    env = os.environ | {name: value}
    try:
        return subprocess.run(
            command,
            stdin=subprocess.DEVNULL,  # nothing can stop to ask
            capture_output=not show_output,
            text=True,
            env=env,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise AptFailed(f"`{' '.join(command)}` did not finish within {timeout:.0f} s") from None
