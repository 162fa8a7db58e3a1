"""Choose the local interpreter that plays a Lambda Python runtime.

The harness prepares one interpreter per runtime (a venv holding `awslambdaric` and the
runtime's boto3) and passes the map in `HARNESS_LAMBDA_INTERPRETERS` as JSON, e.g.
`{"python3.12": "/cache/lambda-runtimes/python3.12-ab12/bin/python"}`. When a function
asks for a runtime that is not in the map, the closest version is used and the
function's log says so: a demo keeps running, and the mismatch is visible.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

ENV_VAR = "HARNESS_LAMBDA_INTERPRETERS"


@dataclass(frozen=True)
class Interpreter:
    runtime: str
    path: str
    warning: str | None = None


def _version(runtime: str) -> tuple[int, int] | None:
    if not runtime.startswith("python3."):
        return None
    try:
        return 3, int(runtime.removeprefix("python3."))
    except ValueError:
        return None


def available() -> dict[str, str]:
    raw = os.environ.get(ENV_VAR, "{}")
    try:
        mapping = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{ENV_VAR} is not valid JSON: {exc}") from exc
    return {k: v for k, v in mapping.items() if _version(k) and os.path.exists(v)}


def resolve(runtime: str, mapping: dict[str, str] | None = None) -> Interpreter:
    """Return the interpreter for `runtime`, or raise ValueError saying what to do."""
    wanted = _version(runtime or "")
    if wanted is None:
        raise ValueError(
            f"runtime {runtime!r} is not supported by the local process executor "
            "(Python runtimes only); use a python3.x runtime"
        )
    mapping = available() if mapping is None else mapping
    if runtime in mapping:
        return Interpreter(runtime, mapping[runtime])
    if not mapping:
        raise ValueError(
            f"no local interpreter for {runtime}: the harness passed none in {ENV_VAR}; "
            "run `harness up` (it prepares them) or install python3.12"
        )
    closest = min(mapping, key=lambda r: abs(_version(r)[1] - wanted[1]))  # type: ignore[index]
    return Interpreter(
        closest,
        mapping[closest],
        warning=(
            f"WARNING harness: no {runtime} interpreter on this machine; "
            f"running this function with {closest} ({mapping[closest]})"
        ),
    )
