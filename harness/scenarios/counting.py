"""Expected counts: `3`, or `{at_least: 1}`, `{at_most: 2}`, `{equals: 0}` (combinable)."""

from __future__ import annotations

from dataclasses import dataclass

from harness.scenarios.source import Src


@dataclass(frozen=True)
class CountSpec:
    equals: int | None = None
    at_least: int | None = None
    at_most: int | None = None

    def ok(self, value: int) -> bool:
        if self.equals is not None and value != self.equals:
            return False
        if self.at_least is not None and value < self.at_least:
            return False
        return self.at_most is None or value <= self.at_most

    def describe(self) -> str:
        parts = []
        if self.equals is not None:
            parts.append(f"exactly {self.equals}")
        if self.at_least is not None:
            parts.append(f"at least {self.at_least}")
        if self.at_most is not None:
            parts.append(f"at most {self.at_most}")
        return " and ".join(parts) or "any number"

    def to_json(self) -> dict[str, int]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


def parse_count(src: Src) -> CountSpec:
    if not src.is_mapping:
        return CountSpec(equals=src.integer(minimum=0))
    fields = src.fields(optional=("equals", "at_least", "at_most"))
    if not fields:
        raise src.fail("give equals, at_least or at_most")
    values = {name: child.integer(minimum=0) for name, child in fields.items()}
    spec = CountSpec(**values)
    if spec.at_least is not None and spec.at_most is not None and spec.at_least > spec.at_most:
        raise src.fail("at_least is greater than at_most: nothing can match")
    return spec


AT_LEAST_ONE = CountSpec(at_least=1)
