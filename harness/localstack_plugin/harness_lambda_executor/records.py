"""Records of the function processes, so `harness down` stops them even after LocalStack died.

The format is the harness's (`harness/util/processes.py`, which this package cannot import:
it runs in LocalStack's venv): `<HARNESS_STATE_DIR>/processes/<name>.<pid>.json` holding
`{"name", "pid", "create_time", ...}`, written atomically (temporary file, fsync, rename).
Keep the two in step; a unit test reads what this module writes with the harness's reader.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path

import psutil

STATE_DIR_VAR = "HARNESS_STATE_DIR"
MIB = 1024 * 1024


class ProcessRecords:
    def __init__(self, state_dir: Path) -> None:
        self.dir = state_dir / "processes"

    @classmethod
    def from_environment(cls) -> ProcessRecords | None:
        """The harness's records when it started this LocalStack (it sets the variable)."""
        state_dir = os.environ.get(STATE_DIR_VAR)
        return cls(Path(state_dir)) if state_dir else None

    def path(self, name: str, pid: int) -> Path:
        return self.dir / f"{name}.{pid}.json"

    def record(self, name: str, pid: int, **info: object) -> None:
        try:
            created: float | None = psutil.Process(pid).create_time()
        except psutil.Error:
            created = None
        # The boot time the create time was read with (harness/util/processes.py).
        boot = psutil.boot_time()
        entry = {"name": name, "pid": pid, "create_time": created, "boot_time": boot, **info}
        self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        target = self.path(name, pid)
        fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=self.dir)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(json.dumps(entry, indent=2))
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise

    def forget(self, name: str, pid: int) -> None:
        self.path(name, pid).unlink(missing_ok=True)


def peak_rss_mb(pid: int) -> float:
    """Peak resident memory of a running process in MiB (Linux VmHWM; elsewhere psutil's
    peak where the OS keeps one, else the current RSS); 0 when it is gone."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    try:
        memory = psutil.Process(pid).memory_info()
    except psutil.Error:
        return 0.0
    return getattr(memory, "peak_wset", memory.rss) / MIB
