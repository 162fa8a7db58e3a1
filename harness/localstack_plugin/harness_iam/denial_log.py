"""The denial log: one JSON object per line, appended by every process that denies.

The file is named by `HARNESS_IAM_DENIALS`. Lines are written with a single `write()` on
a file opened in append mode, so concurrent writers (LocalStack's request threads, a stub
in another process) never interleave inside a line.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path

ENV_VAR = "HARNESS_IAM_DENIALS"
_lock = threading.Lock()


class DenialLog:
    def __init__(self, path: str | os.PathLike[str] | None) -> None:
        self.path = Path(path) if path else None

    @classmethod
    def from_env(cls) -> DenialLog:
        return cls(os.environ.get(ENV_VAR) or None)

    def append(self, record: dict[str, object]) -> None:
        if self.path is None:
            return
        line = json.dumps(record, sort_keys=True, default=str) + "\n"
        with _lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(line)


def read(path: str | os.PathLike[str], since: str | None = None) -> Iterator[dict[str, object]]:
    """The records of a denial log, oldest first; `since` (ISO time) skips older ones."""
    file = Path(path)
    if not file.exists():
        return
    with open(file, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if since is None or str(record.get("time", "")) >= since:
                yield record


__all__ = ["ENV_VAR", "DenialLog", "read"]
