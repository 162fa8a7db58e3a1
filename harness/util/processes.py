"""Records of the processes the harness started, so it stops exactly those.

Each record keeps the PID and the process start time from /proc: a PID that the
kernel has reused for another program is never signalled.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from pathlib import Path


def _start_ticks(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name may contain spaces; fields after the closing parenthesis are fixed.
    return stat.rsplit(")", 1)[1].split()[19]


def is_alive(pid: int, start_ticks: str | None = None) -> bool:
    ticks = _start_ticks(pid)
    if ticks is None:
        return False
    state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    if state == "Z":
        return False
    return start_ticks is None or ticks == start_ticks


def peak_rss_mb(pid: int) -> float:
    """Peak resident memory of a running process (VmHWM), 0 when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class ProcessRecords:
    def __init__(self, state_dir: Path) -> None:
        self.dir = state_dir / "processes"

    def _path(self, name: str) -> Path:
        return self.dir / f"{name}.json"

    def record(self, name: str, pid: int, **info: object) -> dict:
        self.dir.mkdir(parents=True, exist_ok=True)
        entry = {"name": name, "pid": pid, "start_ticks": _start_ticks(pid), **info}
        self._path(name).write_text(json.dumps(entry, indent=2))
        return entry

    def get(self, name: str) -> dict | None:
        """The record if that process still runs; stale records are removed."""
        path = self._path(name)
        try:
            entry = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            return None
        if not is_alive(entry["pid"], entry.get("start_ticks")):
            path.unlink(missing_ok=True)
            return None
        return entry

    def forget(self, name: str) -> None:
        self._path(name).unlink(missing_ok=True)

    def all(self) -> list[dict]:
        if not self.dir.exists():
            return []
        return [e for p in sorted(self.dir.glob("*.json")) if (e := self.get(p.stem))]

    def stop(self, name: str, timeout: float = 10.0) -> bool:
        """Stop the named process (and its process group); True if it was running."""
        entry = self.get(name)
        self._path(name).unlink(missing_ok=True)
        if entry is None:
            return False
        stop_pid(entry["pid"], entry.get("start_ticks"), timeout)
        return True


def stop_pid(pid: int, start_ticks: str | None = None, timeout: float = 10.0) -> None:
    """SIGTERM the process group led by pid, then SIGKILL what is left after timeout."""
    if not is_alive(pid, start_ticks):
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        except PermissionError:
            os.kill(pid, sig)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not is_alive(pid, start_ticks):
                _reap(pid)
                return
            _reap(pid)
            time.sleep(0.05)


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
