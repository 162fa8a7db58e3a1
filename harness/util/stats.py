"""Summary figures of measured samples, shared by the bench and the emulator matrix."""

from __future__ import annotations


def percentile(values: list[float], q: float) -> float:
    """The nearest-rank `q`th percentile (0-100) of the samples, in any order: a sample
    that was measured, never one interpolated between two."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]
