"""Fault injection for the Rekognition stub: throttling, outages, slowness.

A fault spec is a JSON object::

    {"error": "ThrottlingException",   # or null/absent: latency only
     "message": "optional override",
     "rate": 1.0,                      # probability per eligible call, 0.0-1.0
     "first_n": 3,                     # only the first N eligible calls (null: all)
     "latency_ms": 0,                  # sleep before answering when the fault fires
     "until": 1735689600.0,            # epoch seconds; inactive afterwards (null: forever)
     "key_glob": "ingest/slow/*",      # only S3 keys matching (null: every call)
     "seed": 0}                        # seeds this fault's RNG so rates are reproducible

Faults are checked before anything else (as throttling happens at the service front
door), in order. A call is *eligible* for a fault when ``key_glob`` and ``until`` allow
it and fewer than ``first_n`` calls were eligible before; an eligible call fires the
fault with probability ``rate`` (one draw from the fault's own seeded RNG). Latency of
every fired fault is added up; the first fired fault with an ``error`` decides the answer.
"""

from __future__ import annotations

import fnmatch
import random
import time
from dataclasses import dataclass, field
from typing import Any

from harness.stubs.rekognition.exceptions import parse_error_spec
from harness.stubs.rekognition.specs import parse_entries

_FAULT_KEYS = {"error", "message", "rate", "first_n", "latency_ms", "until", "key_glob", "seed"}


@dataclass
class Fault:
    """One fault with its runtime counters. Not thread-safe: the state's lock guards it."""

    error: dict[str, Any] | None
    rate: float = 1.0
    first_n: int | None = None
    latency_ms: int = 0
    until: float | None = None
    key_glob: str | None = None
    seed: int = 0
    eligible: int = 0
    fired: int = 0
    rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def roll(self, key: str | None, now: float) -> bool:
        """Count the call against this fault and decide whether it fires."""
        if self.until is not None and now >= self.until:
            return False
        if self.key_glob is not None and (
            key is None or not fnmatch.fnmatchcase(key, self.key_glob)
        ):
            return False
        if self.first_n is not None and self.eligible >= self.first_n:
            return False
        self.eligible += 1
        fires = self.rng.random() < self.rate
        self.fired += int(fires)
        return fires

    def to_json(self) -> dict[str, Any]:
        return {
            "error": self.error,
            "rate": self.rate,
            "first_n": self.first_n,
            "latency_ms": self.latency_ms,
            "until": self.until,
            "key_glob": self.key_glob,
            "seed": self.seed,
            "eligible": self.eligible,
            "fired": self.fired,
        }


def parse_fault(raw: Any, index: int) -> Fault:
    where = f"fault {index}"
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: must be an object")
    unknown = set(raw) - _FAULT_KEYS
    if unknown:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)}; allowed {sorted(_FAULT_KEYS)}")
    error = None
    if raw.get("error") is not None:
        spec = raw["error"]
        spec = {"type": spec} if isinstance(spec, str) else spec
        if isinstance(spec, dict) and raw.get("message") is not None:
            spec = {"message": raw["message"], **spec}
        error = parse_error_spec(spec, where)
    rate = _number(raw.get("rate", 1.0), where, "rate")
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"{where}: rate must be within 0.0-1.0")
    first_n = raw.get("first_n")
    if first_n is not None and (not _is_int(first_n) or first_n < 0):
        raise ValueError(f"{where}: first_n must be a non-negative integer or null")
    latency_ms = raw.get("latency_ms", 0) or 0
    if not _is_int(latency_ms) or not 0 <= latency_ms <= 600_000:
        raise ValueError(f"{where}: latency_ms must be an integer within 0-600000")
    until = raw.get("until")
    if until is not None:
        until = _number(until, where, "until")
    key_glob = raw.get("key_glob")
    if key_glob is not None and not isinstance(key_glob, str):
        raise ValueError(f"{where}: key_glob must be a string")
    seed = raw.get("seed", 0)
    if not _is_int(seed):
        raise ValueError(f"{where}: seed must be an integer")
    if error is None and latency_ms == 0:
        raise ValueError(f"{where}: a fault needs an error, a latency_ms, or both")
    return Fault(error, rate, first_n, latency_ms, until, key_glob, seed)


def parse_faults(raw: Any, start: int = 0) -> list[Fault]:
    """Accept a list of faults, ``{"faults": [...]}`` or a single fault object."""
    return parse_entries(raw, "faults", parse_fault, start)


def roll_faults(
    faults: list[Fault], key: str | None, now: float | None = None
) -> tuple[int, dict[str, Any] | None, int | None]:
    """Total latency (ms), the error spec that decides the call (if any) and its index."""
    now = time.time() if now is None else now
    latency = 0
    for index, fault in enumerate(faults):
        if fault.roll(key, now):
            latency += fault.latency_ms
            if fault.error is not None:
                return latency, fault.error, index
    return latency, None, None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value: Any, where: str, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{where}: {name} must be a number")
    return float(value)
