"""The IAM denial log of the local stack, read back for people and tests.

The IAM extension in LocalStack (`harness_iam`) and the Rekognition stub append every
denial (or would-be denial, in audit mode) as one JSON line to the file the settings
name (`Settings.iam_denials`). The harness cannot import the extension (it lives in
LocalStack's venv), so this is the reader on the harness's side: the records as they
are, oldest first, and a one-line account of each.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def read(path: Path, since: str | None = None) -> Iterator[dict[str, Any]]:
    """The records of the log, oldest first; `since` (an ISO time, as the records' `time`)
    skips older ones. A missing file has none; a torn or foreign line is skipped."""
    if not path.exists():
        return
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if not isinstance(record, dict):
                continue
            if since is None or str(record.get("time", "")) >= since:
                yield record


def who(record: dict[str, Any]) -> str:
    """The caller, short: the role session (`role/session`) rather than the whole ARN."""
    principal = str(record.get("principal") or record.get("role") or "?")
    return principal.split(":assumed-role/", 1)[-1].split(":role/", 1)[-1]


def why(record: dict[str, Any]) -> str:
    """Why it was denied, and through which service when one acted for the caller."""
    reason = str(record.get("reason") or record.get("decision") or "")
    via = record.get("via")
    return f"{reason} (via {via})" if via else reason


def iso(at: float) -> str:
    """Epoch seconds in the records' own time format, for `read(since=...)`."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at)) + f".{int(at * 1000) % 1000:03d}Z"


def brief(record: dict[str, Any]) -> dict[str, Any]:
    """What a run report shows of a denial: when, who, what on which resource, and why."""
    return {
        "time": record.get("time"),
        "who": who(record),
        "action": record.get("action"),
        "resource": record.get("resource"),
        "why": why(record),
        "enforced": bool(record.get("enforced", True)),
    }


__all__ = ["brief", "iso", "read", "who", "why"]
