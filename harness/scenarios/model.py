"""The building blocks every step kind and condition kind is made of, and their registries.

A step kind is a class with `parse` (validate its YAML, at load time) and `run` (do it,
at run time, returning a JSON-able detail dict). Conditions (used by `wait` and
`assert`) have `parse` and `check`. Both register themselves by kind name, so a new
system (e.g. the catalog pipeline) adds step kinds in a module of its own:

    @register_step
    class Resize(Step):
        kind = "resize"
        ...

and imports that module from `harness/scenarios/steps/__init__.py`. A kind drives
system A (`rt.labeling`) unless its `systems()` says otherwise: one that drives the
catalog (system B, `rt.catalog`) returns `{"catalog"}` there (or takes a `system:`
field, see `parse_system`), so the runner opens and resets the catalog before the
scenario.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from harness.build.functions import SYSTEMS
from harness.scenarios import templates
from harness.scenarios.source import Src

if TYPE_CHECKING:
    from harness.scenarios.runtime import Runtime

ALL_OBJECTS = "all"  # the object set holding every key the scenario uploaded
LABELING_ONLY = frozenset({"labeling"})  # what a kind drives unless it says otherwise


class StepFailed(AssertionError):
    """A step did not do or see what the scenario expects; `detail` says what it saw."""

    def __init__(self, message: str, detail: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.detail = detail or {}


class SkipStep(Exception):
    """A step has nothing to do on this target (e.g. it needs the stubs); says why."""


@dataclass
class ParseContext:
    """What parsing knows about the scenario so far (object sets defined by earlier steps)."""

    file: str
    base_dir: Path = Path(".")  # relative paths in the scenario (folders, files) start here
    object_sets: set[str] = field(default_factory=lambda: {ALL_OBJECTS})
    snapshots: set[str] = field(default_factory=set)  # names kept by `remember:` so far
    database_down: bool = False  # system B's database is down after the steps so far


@dataclass(frozen=True)
class ObjectsRef:
    """Which objects a step or condition is about: a named set, or keys (templates)."""

    set_name: str | None = None
    keys: tuple[str, ...] = ()

    def describe(self) -> str:
        if self.set_name is not None:
            return f"objects '{self.set_name}'"
        return ", ".join(self.keys)


def parse_objects(src: Src, ctx: ParseContext) -> ObjectsRef:
    """`objects: <set name>` or `objects: [<key template>, ...]`."""
    if src.is_sequence:
        keys = tuple(templates.check(item) for item in src.items())
        if not keys:
            raise src.fail("list at least one key")
        return ObjectsRef(keys=keys)
    name = src.text()
    if name not in ctx.object_sets:
        known = ", ".join(sorted(ctx.object_sets))
        raise src.fail(f"no object set {name!r} is defined before this step (known: {known})")
    return ObjectsRef(set_name=name)


def parse_system(src: Src) -> str:
    """`system: labeling` (system A, the default) or `system: catalog` (system B)."""
    return src.choice(SYSTEMS)


class Step:
    """One step kind. Subclasses are dataclasses holding the validated parameters."""

    kind: ClassVar[str]
    summary: ClassVar[str]  # one line for docs and `harness scenarios list`
    local_only: ClassVar[bool] = False  # needs the Rekognition stub or the Slack sink
    available: ClassVar[bool] = True
    unavailable_reason: ClassVar[str] = ""

    @classmethod
    def parse(cls, src: Src, ctx: ParseContext) -> Step:
        raise NotImplementedError

    def run(self, rt: Runtime) -> dict[str, Any]:
        raise NotImplementedError

    def needs_quiet_alarm(self) -> bool:
        """True when the step looks at the alarm or Slack: see runner isolation."""
        return False

    def systems(self) -> frozenset[str]:
        """The pipelines the step drives or observes (SYSTEMS); system A by default."""
        return LABELING_ONLY


@dataclass(frozen=True)
class Verdict:
    ok: bool
    summary: str
    detail: dict[str, Any] = field(default_factory=dict)


class Condition:
    """One condition kind for `wait` and `assert`."""

    kind: ClassVar[str]
    summary: ClassVar[str]
    local_only: ClassVar[bool] = False
    quiet_alarm: ClassVar[bool] = False  # observes the DLQ alarm or Slack

    @classmethod
    def parse(cls, src: Src, ctx: ParseContext) -> Condition:
        raise NotImplementedError

    def check(self, rt: Runtime) -> Verdict:
        raise NotImplementedError

    def systems(self) -> frozenset[str]:
        """The pipelines the condition observes (SYSTEMS); system A by default."""
        return LABELING_ONLY


STEP_KINDS: dict[str, type[Step]] = {}
CONDITION_KINDS: dict[str, type[Condition]] = {}


def register_step(cls: type[Step]) -> type[Step]:
    if cls.kind in STEP_KINDS:
        raise ValueError(f"step kind {cls.kind!r} is registered twice")
    STEP_KINDS[cls.kind] = cls
    return cls


def register_condition(cls: type[Condition]) -> type[Condition]:
    if cls.kind in CONDITION_KINDS:
        raise ValueError(f"condition kind {cls.kind!r} is registered twice")
    CONDITION_KINDS[cls.kind] = cls
    return cls
