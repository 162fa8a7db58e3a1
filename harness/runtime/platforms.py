"""Image platforms: the one this machine runs natively, and another one under emulation.

The Docker path's image is built for the machine's own platform. `make test-arm64` also
builds it for linux/arm64 on an amd64 machine and runs the Compose demo on it, to check
what an Apple Silicon or Graviton user gets. The kernel runs the image's arm64 programs
through QEMU's user-mode emulator when `binfmt_misc` has a `qemu-aarch64` entry with the
`F` flag (the interpreter is opened when it is registered, so it works inside containers
that have no QEMU of their own). As root, `ensure_runnable` makes that entry once:
it mounts `binfmt_misc` if need be and installs Debian's `qemu-user-static` and
`binfmt-support`, which register it. Like the Docker engine's packages, the entry stays
for the next run; it changes nothing for the machine's own programs.

Layer 3 (runtime): it uses util.
"""

from __future__ import annotations

import os
import platform
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness.util.errors import HarnessError
from harness.util.packages import AptFailed, apt_install

BINFMT_DIR = Path("/proc/sys/fs/binfmt_misc")
EMULATION_PACKAGES = ("qemu-user-static", "binfmt-support")


class EmulationUnavailable(HarnessError):
    """Programs of that platform cannot run here; the message says why."""


@dataclass(frozen=True)
class Platform:
    """One platform in the four spellings the tools use."""

    docker: str  # Docker's and Compose's: linux/arm64
    debian: str  # dpkg's and debootstrap's, and an image's architecture: arm64
    machine: str  # `uname -m`, and QEMU's name for its emulator: aarch64
    lambda_architecture: str  # Lambda's (the functions' zips are built for it): arm64

    @property
    def variant(self) -> str:
        """The variant Docker records for the architecture ('' for none)."""
        return "v8" if self.debian == "arm64" else ""

    @property
    def is_native(self) -> bool:
        """This machine's own platform (no emulation)."""
        return self == native()


PLATFORMS = (
    Platform("linux/amd64", "amd64", "x86_64", "x86_64"),
    Platform("linux/arm64", "arm64", "aarch64", "arm64"),
)


def parse(name: str) -> Platform:
    """`linux/arm64` (or `arm64`, `aarch64`) -> its Platform; HarnessError if unknown."""
    wanted = name.strip().lower().removesuffix("/v8")
    for known in PLATFORMS:
        if wanted in (known.docker, known.debian, known.machine):
            return known
    names = ", ".join(known.docker for known in PLATFORMS)
    raise HarnessError(f"unknown platform {name!r}: use one of {names}")


def native() -> Platform:
    """This machine's platform; one not in PLATFORMS by its machine name (Docker's and
    Debian's names agree for ppc64le, s390x, riscv64), so the native path works there."""
    machine = platform.machine().lower()
    try:
        return parse(machine)
    except HarnessError:
        return Platform(f"linux/{machine}", machine, machine, machine)


def binfmt_entry(target: Platform) -> Path:
    return BINFMT_DIR / f"qemu-{target.machine}"


def why_not_runnable(target: Platform) -> str | None:
    """Why programs of `target` cannot run here now (None: they can)."""
    if target.is_native:
        return None
    entry = binfmt_entry(target)
    if not entry.is_file():
        return f"no binfmt_misc entry {entry} (QEMU's user-mode emulator is not registered)"
    lines = entry.read_text().splitlines()
    if not lines or lines[0].strip() != "enabled":
        return f"the binfmt_misc entry {entry} is disabled"
    flags = next((line.split(":", 1)[1] for line in lines if line.startswith("flags:")), "")
    if "F" not in flags:
        return (
            f"the binfmt_misc entry {entry} lacks the F flag, so containers, which have no "
            "QEMU of their own, cannot use it"
        )
    return None


def ensure_runnable(target: Platform, progress: Callable[[str], None] = print) -> None:
    """Make programs of `target` runnable here, as root, if they are not yet; raises
    `EmulationUnavailable` saying why when they cannot be."""
    reason = why_not_runnable(target)
    if reason is None:
        return
    if os.geteuid() != 0:
        raise EmulationUnavailable(f"{reason}; registering it needs root")
    if not (BINFMT_DIR / "register").exists():
        mounted = subprocess.run(
            ["mount", "-t", "binfmt_misc", "binfmt_misc", str(BINFMT_DIR)],
            capture_output=True,
            text=True,
            timeout=30,
        )
        if mounted.returncode != 0:
            raise EmulationUnavailable(
                f"{reason}; mounting binfmt_misc failed: {mounted.stderr.strip()}"
            )
    progress(f"registering QEMU's {target.machine} emulator ({', '.join(EMULATION_PACKAGES)}) ...")
    try:
        apt_install(EMULATION_PACKAGES, progress=progress)
    except AptFailed as exc:
        raise EmulationUnavailable(f"{reason}; {exc}") from None
    # The packages register their entries when installed; an install that found them
    # installed already (an entry removed since) needs the entry enabled again.
    enabled = subprocess.run(
        ["update-binfmts", "--enable", f"qemu-{target.machine}"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    still = why_not_runnable(target)
    if still:
        packages = ", ".join(EMULATION_PACKAGES)
        said = (enabled.stdout + enabled.stderr).strip() or "nothing"
        raise EmulationUnavailable(
            f"{still}, even after installing {packages} (update-binfmts said: {said})"
        )
