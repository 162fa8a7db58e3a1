"""Every resource address an environment had before the pipeline module still exists,
or `moved {}` blocks carry it to one that does: a deployment made before is moved in
its state, never destroyed and created again.

The old addresses are recorded in data/addresses_before_pipeline.json (from offline
plans of the old code; see its "about"). The configuration is read from the .tf files
(kept in `terraform fmt` form by test_terraform.py), following module calls from each
root; moved blocks are applied the way Terraform chains them: a module's own blocks are
relative to it, and a block in a root that moves a module call moves everything in it.
Offline and fast: no Terraform run. The proof on a real plan: test_moved_plan.py
(and infra/README.md, "Moved addresses").
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]
INFRA = PROJECT / "infra"
RECORDED = Path(__file__).resolve().parent / "data" / "addresses_before_pipeline.json"

# An address: module segments then, optionally, one resource segment; any segment may
# carry an instance key ([0] or ["name"]).
SEGMENT = re.compile(r'(?:module\.([\w-]+)|([a-z][\w]*)\.([\w-]+))(\[(?:\d+|"[^"]*")\])?(?:\.|$)')
HEADER = re.compile(r'^(resource|module|moved)\b\s*((?:"[^"]*"\s*)*)\{(.*)$')
ATTRIBUTE = re.compile(r"^  ([\w-]+)\s*=\s*(.+?)\s*$")


@dataclass(frozen=True)
class Address:
    modules: tuple[tuple[str, str | None], ...]
    resource: tuple[str, str, str | None] | None  # (type, name, key)

    @classmethod
    def parse(cls, text: str) -> Address:
        modules: list[tuple[str, str | None]] = []
        resource = None
        position = 0
        while position < len(text):
            match = SEGMENT.match(text, position)
            if not match or resource is not None:
                raise ValueError(f"not an address: {text!r}")
            if match[1]:
                modules.append((match[1], match[4]))
            else:
                resource = (match[2], match[3], match[4])
            position = match.end()
        return cls(tuple(modules), resource)

    def __str__(self) -> str:
        parts = [f"module.{name}{key or ''}" for name, key in self.modules]
        if self.resource:
            parts.append(f"{self.resource[0]}.{self.resource[1]}{self.resource[2] or ''}")
        return ".".join(parts)

    def within(self, modules: tuple[tuple[str, str | None], ...]) -> Address:
        """This address, written relative to a module, made absolute."""
        return Address(modules + self.modules, self.resource)

    @property
    def config(self) -> str:
        """The configuration address: no instance keys."""
        parts = [f"module.{name}" for name, _ in self.modules]
        if self.resource:
            parts.append(f"{self.resource[0]}.{self.resource[1]}")
        return ".".join(parts)


def key_kind(key: str | None) -> str:
    if key is None:
        return "single"
    return "for_each" if key.startswith('["') else "count"


@dataclass
class Configuration:
    """What a root declares, with every module it calls, in absolute addresses."""

    resources: dict[str, str] = field(default_factory=dict)  # config address -> kind
    modules: set[str] = field(default_factory=set)
    moved: list[tuple[Address, Address, str]] = field(default_factory=list)  # from, to, where


def blocks(path: Path):
    """(kind, labels, {attribute: expression}) of each top-level block of a fmt'd file."""
    lines = path.read_text().splitlines()
    index = 0
    while index < len(lines):
        header = HEADER.match(lines[index])
        index += 1
        if not header:
            continue
        labels = re.findall(r'"([^"]*)"', header[2])
        attributes: dict[str, str] = {}
        if header[3].strip().endswith("}"):  # a one-line block: no attribute of interest
            yield header[1], labels, attributes
            continue
        while index < len(lines) and lines[index] != "}":
            attribute = ATTRIBUTE.match(lines[index])
            if attribute:
                attributes[attribute[1]] = attribute[2]
            index += 1
        yield header[1], labels, attributes


def load(root: Path) -> Configuration:
    configuration = Configuration()

    def visit(directory: Path, modules: tuple[tuple[str, str | None], ...]) -> None:
        where = str(directory.relative_to(INFRA))
        for path in sorted(directory.glob("*.tf")):  # symlinked files are read as theirs
            for kind, labels, attributes in blocks(path):
                if kind == "resource":
                    address = Address(modules, (labels[0], labels[1], None))
                    count = "count" in attributes
                    each = "for_each" in attributes
                    configuration.resources[address.config] = (
                        "count" if count else "for_each" if each else "single"
                    )
                elif kind == "module":
                    source = json.loads(attributes["source"])
                    assert source.startswith(("./", "../")), f"{path}: {source} is not local"
                    call = (*modules, (labels[0], None))
                    configuration.modules.add(Address(call, None).config)
                    visit((directory / source).resolve(), call)
                elif kind == "moved":
                    moved_from = Address.parse(attributes["from"]).within(modules)
                    moved_to = Address.parse(attributes["to"]).within(modules)
                    configuration.moved.append((moved_from, moved_to, where))

    visit(root.resolve(), ())
    return configuration


def move_once(address: Address, moved_from: Address, moved_to: Address) -> Address | None:
    """Where one moved block sends an instance address, or None if it does not apply."""
    if moved_from.resource is None:  # a module call, and everything in it
        depth = len(moved_from.modules)
        head, tail = address.modules[:depth], address.modules[depth:]
        name, key = moved_from.modules[-1]
        if head[:-1] != moved_from.modules[:-1] or len(head) < depth or head[-1][0] != name:
            return None
        if key is not None and head[-1][1] != key:
            return None
        target = moved_to.modules
        if key is None and moved_to.modules[-1][1] is None:
            target = (*target[:-1], (target[-1][0], head[-1][1]))  # all instances keep keys
        return Address(target + tail, address.resource)
    if address.modules != moved_from.modules or address.resource is None:
        return None
    rtype, name, key = address.resource
    if (rtype, name) != moved_from.resource[:2]:
        return None
    if moved_from.resource[2] is None and moved_to.resource[2] is None:  # every instance
        return Address(moved_to.modules, (*moved_to.resource[:2], key))
    if key != moved_from.resource[2]:  # one instance (no key: the single one)
        return None
    return Address(moved_to.modules, moved_to.resource)


def follow(address: Address, configuration: Configuration) -> list[Address]:
    """The chain of addresses the moved blocks take an old address through."""
    chain = [address]
    while True:
        targets = [
            target
            for moved_from, moved_to, _ in configuration.moved
            if (target := move_once(chain[-1], moved_from, moved_to)) is not None
        ]
        if not targets:
            return chain
        if len(targets) > 1 or targets[0] in chain:
            raise AssertionError(f"ambiguous or circular moves: {[str(a) for a in chain]}")
        chain.append(targets[0])


def exists(address: Address, configuration: Configuration) -> bool:
    if address.resource is None:
        return address.config in configuration.modules
    kind = configuration.resources.get(address.config)
    return kind is not None and (
        address.resource[2] is None or kind == key_kind(address.resource[2])
    )


def _becomes_an_instance(
    moved_from: Address, moved_to: Address, configuration: Configuration
) -> bool:
    """A single resource moved onto one instance of itself, now repeated (`a` to
    `a["k"]` when `a` gained for_each): the one move that names a declared resource."""
    return (
        moved_from.resource is not None
        and moved_to.resource is not None
        and moved_from.resource[2] is None
        and moved_to.resource[2] is not None
        and moved_from.config == moved_to.config
        and configuration.resources.get(moved_to.config) == key_kind(moved_to.resource[2])
    )


def problems(old_addresses: list[str], configuration: Configuration) -> list[str]:
    """Old addresses neither declared nor moved to a declared address; moved blocks whose
    target is not declared, whose source still is, or that change a resource's type."""
    found = []
    for text in old_addresses:
        chain = follow(Address.parse(text), configuration)
        final = chain[-1]
        kind = configuration.resources.get(final.config)
        if kind is None or kind != key_kind(final.resource[2]):
            route = " -> ".join(str(a) for a in chain)
            found.append(f"{route}: not in the configuration (destroyed and created again)")
    for moved_from, moved_to, where in configuration.moved:
        if not exists(moved_to, configuration):
            found.append(f"{where}: moved to {moved_to}, which is not declared")
        if (
            moved_from.config in configuration.resources
            or moved_from.config in configuration.modules
        ) and not _becomes_an_instance(moved_from, moved_to, configuration):
            found.append(f"{where}: moved from {moved_from}, which is still declared")
        if (
            moved_from.resource
            and moved_to.resource
            and moved_from.resource[0] != moved_to.resource[0]
        ):
            found.append(f"{where}: {moved_from} -> {moved_to} changes the resource type")
        if (moved_from.resource is None) != (moved_to.resource is None):
            found.append(f"{where}: {moved_from} -> {moved_to} moves a module to a resource")
    return found


RECORDED_ENVS = json.loads(RECORDED.read_text())["envs"]


@pytest.mark.parametrize("env", sorted(RECORDED_ENVS))
def test_every_old_address_is_declared_or_moved(env):
    configuration = load(INFRA / "envs" / env)
    assert configuration.resources, f"infra/envs/{env}: no resources read"
    assert problems(RECORDED_ENVS[env], configuration) == []


def test_every_environment_has_recorded_addresses():
    envs = {p.name for p in (INFRA / "envs").iterdir() if p.is_dir() and any(p.glob("*.tf"))}
    assert envs <= set(RECORDED_ENVS), "record the addresses of a new env before it is deployed"


@pytest.mark.parametrize("env", sorted(RECORDED_ENVS))
def test_old_addresses_end_where_expected(env):
    """Spot checks of the chains: a root move then the module's own move."""
    configuration = load(INFRA / "envs" / env)
    expected = {
        "module.labeling.aws_s3_bucket.this": (
            "module.pipeline.module.labeling.module.bucket.aws_s3_bucket.this"
        ),
        "module.labeling.aws_sqs_queue.dlq": (
            "module.pipeline.module.labeling.module.queue.aws_sqs_queue.dlq[0]"
        ),
        "module.catalog.aws_s3_bucket_lifecycle_configuration.upload": (
            "module.pipeline.module.catalog.module.upload_bucket."
            "aws_s3_bucket_lifecycle_configuration.this[0]"
        ),
        "module.catalog.aws_iam_role_policy_attachment.loader_vpc[0]": (
            "module.pipeline.module.catalog.module.loader.aws_iam_role_policy_attachment.vpc[0]"
        ),
        'module.alerting.aws_cloudwatch_metric_alarm.queue_depth["labeler_dlq"]': (
            'module.pipeline.module.alerting.aws_cloudwatch_metric_alarm.queue_depth["labeler_dlq"]'
        ),
        "module.alerting.aws_lambda_function.this": (
            "module.pipeline.module.alerting.module.notifier.aws_lambda_function.this"
        ),
        # A resource that gained for_each: the old single instance is one of its keys.
        "module.catalog.aws_scheduler_schedule.loader": (
            'module.pipeline.module.catalog.aws_scheduler_schedule.loader["every_minute"]'
        ),
    }
    for old, new in expected.items():
        assert str(follow(Address.parse(old), configuration)[-1]) == new


# --- the checker itself catches what it must ------------------------------------


def test_an_address_without_a_move_is_reported():
    configuration = load(INFRA / "envs" / "local")
    configuration.moved = [
        m for m in configuration.moved if not str(m[0]).endswith("labeling.aws_sqs_queue.main")
    ]
    found = problems(["module.labeling.aws_sqs_queue.main"], configuration)
    assert len(found) == 1 and "module.pipeline.module.labeling.aws_sqs_queue.main" in found[0]


def test_a_move_to_an_undeclared_address_is_reported():
    configuration = load(INFRA / "envs" / "local")
    configuration.moved.append(
        (
            Address.parse("module.pipeline.module.labeling.aws_sqs_queue.gone"),
            Address.parse("module.pipeline.module.labeling.module.queue.aws_sqs_queue.typo"),
            "modules/labeling",
        )
    )
    found = problems([], configuration)
    assert found == [
        "modules/labeling: moved to module.pipeline.module.labeling.module.queue."
        "aws_sqs_queue.typo, which is not declared"
    ]


def test_a_move_onto_an_instance_needs_the_resource_to_repeat():
    """`a` -> `a["k"]` is the one move whose source stays declared, and only while `a`
    has for_each: a move to a key of a single resource is reported."""
    configuration = load(INFRA / "envs" / "local")
    schedule = "module.pipeline.module.catalog.aws_scheduler_schedule.loader"
    assert configuration.resources[schedule] == "for_each"
    assert problems([], configuration) == []
    configuration.resources[schedule] = "single"
    found = problems([], configuration)
    assert any("which is still declared" in f and "aws_scheduler_schedule" in f for f in found)


def test_a_counted_target_needs_an_index():
    """`to` without [0] on a counted resource is not the same instance: Terraform would
    plan a delete and a create."""
    configuration = load(INFRA / "envs" / "local")
    for number, (moved_from, moved_to, where) in enumerate(configuration.moved):
        if str(moved_from).endswith("labeling.aws_sqs_queue.dlq"):
            unindexed = Address(moved_to.modules, (*moved_to.resource[:2], None))
            configuration.moved[number] = (moved_from, unindexed, where)
    found = problems(["module.labeling.aws_sqs_queue.dlq"], configuration)
    assert len(found) == 1 and found[0].endswith("(destroyed and created again)")


def test_addresses_parse_and_print_alike():
    for text in (
        "aws_s3_bucket.this",
        "module.a.module.b.aws_sqs_queue.dlq[0]",
        'module.alerting.aws_cloudwatch_metric_alarm.queue_depth["labeler_dlq"]',
        "module.pipeline",
    ):
        assert str(Address.parse(text)) == text
    with pytest.raises(ValueError):
        Address.parse("aws_s3_bucket.this.extra")
