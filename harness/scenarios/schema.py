"""Scenario files, version 1: the top-level fields and the list of steps.

    version: 1                 # required; the schema this file is written for
    name: happy-path           # required; lower-case letters, digits and '-'
    description: ...           # required; one or two sentences
    target: local              # local (default) | aws
    tags: [smoke]              # optional; become pytest marks
    steps:                     # required; each step is `- <kind>: <parameters>`
      - name: optional label
        upload: {...}

Step kinds and their parameters live in `harness/scenarios/steps/`; the reference is
docs/scenarios.md. Everything is validated when the file is loaded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from harness.scenarios import steps as _steps  # noqa: F401  (registers the step kinds)
from harness.scenarios.model import STEP_KINDS, ParseContext, Step
from harness.scenarios.runtime import TARGETS
from harness.scenarios.source import ScenarioError, Src, compose_file

SCHEMA_VERSION = 1
NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")


@dataclass(frozen=True)
class StepSpec:
    index: int
    kind: str
    label: str | None
    line: int
    action: Step

    @property
    def title(self) -> str:
        return f"step {self.index + 1} ({self.kind}{': ' + self.label if self.label else ''})"


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    file: Path
    display_file: str
    target: str
    tags: tuple[str, ...]
    steps: tuple[StepSpec, ...]

    @property
    def unavailable(self) -> str | None:
        """Why the scenario cannot run yet (a step kind that has not landed), if so."""
        for step in self.steps:
            if not step.action.available:
                return f"{step.title}: {step.action.unavailable_reason}"
        return None

    @property
    def needs_quiet_alarm(self) -> bool:
        return any(step.action.needs_quiet_alarm() for step in self.steps)

    @property
    def systems(self) -> frozenset[str]:
        """The pipelines its steps drive: `labeling` (system A), `catalog` (system B)."""
        return frozenset().union(*(step.action.systems() for step in self.steps))


def _parse_step(src: Src, index: int, ctx: ParseContext) -> StepSpec:
    fields = src.mapping()
    label = None
    if "name" in fields:
        label = fields.pop("name").text()
    if len(fields) != 1:
        kinds = ", ".join(sorted(STEP_KINDS))
        raise src.fail(
            f"a step is one `<kind>: <parameters>` mapping (plus an optional name); "
            f"got {sorted(fields) or 'no kind'}; kinds: {kinds}"
        )
    kind, params = next(iter(fields.items()))
    if kind not in STEP_KINDS:
        known = ", ".join(sorted(STEP_KINDS))
        raise ScenarioError(
            src.file, src.line, params.path, f"unknown step kind {kind!r}; kinds: {known}"
        )
    action = STEP_KINDS[kind].parse(params, ctx)
    return StepSpec(index=index, kind=kind, label=label, line=src.line, action=action)


def parse(root: Src, path: Path) -> Scenario:
    fields = root.fields(
        required=("version", "name", "description", "steps"), optional=("target", "tags")
    )
    version = fields["version"]
    if version.value != SCHEMA_VERSION:
        raise version.fail(
            f"unsupported version {version.value!r}; this harness reads version {SCHEMA_VERSION}"
        )
    name = fields["name"].text()
    if not NAME_PATTERN.fullmatch(name):
        raise fields["name"].fail(
            f"{name!r} must be lower-case letters, digits and '-' (it is used in object keys)"
        )
    description = fields["description"].text()
    target = fields["target"].choice(TARGETS) if "target" in fields else "local"
    tags: tuple[str, ...] = ()
    if "tags" in fields:
        tags = tuple(item.text() for item in fields["tags"].items())
        for item, tag in zip(fields["tags"].items(), tags, strict=True):
            if not tag.isidentifier():
                raise item.fail(f"tag {tag!r} must be a Python identifier (it becomes a mark)")
    ctx = ParseContext(file=root.file, base_dir=path.resolve().parent)
    step_nodes = fields["steps"].items()
    if not step_nodes:
        raise fields["steps"].fail("a scenario needs at least one step")
    steps = tuple(_parse_step(node, i, ctx) for i, node in enumerate(step_nodes))
    return Scenario(
        name=name,
        description=description.strip(),
        file=path,
        display_file=root.file,
        target=target,
        tags=tags,
        steps=steps,
    )


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def load(path: Path) -> Scenario:
    """Read and validate one scenario file; raises ScenarioError naming file, line, field."""
    return parse(compose_file(path, _display(path)), path)


def is_scenario_file(path: Path) -> bool:
    """`*.yaml` / `*.yml` in a folder named `scenarios`, or any `*.scenario.yaml`."""
    if path.suffix not in (".yaml", ".yml"):
        return False
    return path.parent.name == "scenarios" or path.name.endswith(
        (".scenario.yaml", ".scenario.yml")
    )


def load_dir(folder: Path) -> list[Scenario]:
    """Every scenario of a folder, sorted by file name; names must be unique."""
    scenarios = [load(p) for p in sorted(folder.iterdir()) if is_scenario_file(p)]
    seen: dict[str, Scenario] = {}
    for scenario in scenarios:
        if scenario.name in seen:
            raise ScenarioError(
                scenario.display_file,
                1,
                "name",
                f"{scenario.name!r} is also the name of {seen[scenario.name].display_file}",
            )
        seen[scenario.name] = scenario
    return scenarios
