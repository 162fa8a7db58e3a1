"""YAML values that remember where they came from, for errors that point at the line.

Scenario files are composed (not loaded) with PyYAML, so every value keeps its node and
with it the line number. Validation reads the file through `Src` objects; every check
that fails raises `ScenarioError` naming the file, the line and the field path
(`steps[2].upload.items[0].count`), which is what a user needs to fix the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


class ScenarioError(ValueError):
    """A scenario file is invalid: file, line (1-based) and field say where."""

    def __init__(self, file: str, line: int, field: str, message: str) -> None:
        self.file = file
        self.line = line
        self.field = field
        self.message = message
        where = f"{file}:{line}"
        super().__init__(f"{where}: {field}: {message}" if field else f"{where}: {message}")


class Src:
    """One YAML node with its file and field path; typed accessors validate as they read."""

    def __init__(self, node: yaml.Node, file: str, path: str = "") -> None:
        self.node = node
        self.file = file
        self.path = path

    @property
    def line(self) -> int:
        return self.node.start_mark.line + 1

    def fail(self, message: str) -> ScenarioError:
        return ScenarioError(self.file, self.line, self.path, message)

    def _child(self, node: yaml.Node, suffix: str) -> Src:
        if suffix.startswith("["):
            path = self.path + suffix
        else:
            path = f"{self.path}.{suffix}" if self.path else suffix
        return Src(node, self.file, path)

    # shapes
    @property
    def is_mapping(self) -> bool:
        return isinstance(self.node, yaml.MappingNode)

    @property
    def is_sequence(self) -> bool:
        return isinstance(self.node, yaml.SequenceNode)

    @property
    def is_null(self) -> bool:
        return isinstance(self.node, yaml.ScalarNode) and self.node.tag.endswith(":null")

    @property
    def value(self) -> Any:
        """The plain Python value (dicts, lists, scalars), as yaml.safe_load gives it."""
        loader = yaml.SafeLoader("")
        try:
            return loader.construct_object(self.node, deep=True)
        except yaml.YAMLError as exc:
            raise self.fail(f"cannot read value: {exc}") from exc
        finally:
            loader.dispose()

    def mapping(self) -> dict[str, Src]:
        if not self.is_mapping:
            raise self.fail(f"must be a mapping, got {self.describe()}")
        result: dict[str, Src] = {}
        for key_node, value_node in self.node.value:
            if not isinstance(key_node, yaml.ScalarNode) or not isinstance(key_node.value, str):
                raise Src(key_node, self.file, self.path).fail("keys must be plain strings")
            key = key_node.value
            if key in result:
                raise Src(key_node, self.file, self._child(key_node, key).path).fail(
                    f"duplicate key {key!r}"
                )
            result[key] = self._child(value_node, key)
        return result

    def fields(self, required: tuple[str, ...] = (), optional: tuple[str, ...] = ()) -> dict:
        """The mapping's fields, refusing unknown and missing ones (typos fail loudly)."""
        fields = self.mapping()
        allowed = set(required) | set(optional)
        for name, child in fields.items():
            if name not in allowed:
                raise child.fail(f"unknown field; allowed: {', '.join(sorted(allowed))}")
        for name in required:
            if name not in fields:
                raise self.fail(f"missing required field {name!r}")
        return fields

    def items(self) -> list[Src]:
        if not self.is_sequence:
            raise self.fail(f"must be a list, got {self.describe()}")
        return [self._child(node, f"[{i}]") for i, node in enumerate(self.node.value)]

    def one_key(self) -> tuple[str, Src]:
        """A single-key mapping such as `- upload: {...}`: the key and its value."""
        fields = self.mapping()
        if len(fields) != 1:
            raise self.fail(f"must have exactly one key, got {sorted(fields) or 'none'}")
        return next(iter(fields.items()))

    # scalars
    def text(self, allow_empty: bool = False) -> str:
        value = self.value
        if not isinstance(value, str):
            raise self.fail(f"must be a string, got {self.describe()}")
        if not allow_empty and not value.strip():
            raise self.fail("must not be empty")
        return value

    def integer(self, minimum: int | None = None, maximum: int | None = None) -> int:
        value = self.value
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(f"must be a whole number, got {self.describe()}")
        self._check_range(value, minimum, maximum)
        return value

    def number(self, minimum: float | None = None, maximum: float | None = None) -> float:
        value = self.value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(f"must be a number, got {self.describe()}")
        self._check_range(value, minimum, maximum)
        return float(value)

    def boolean(self) -> bool:
        value = self.value
        if not isinstance(value, bool):
            raise self.fail(f"must be true or false, got {self.describe()}")
        return value

    def choice(self, options: tuple[str, ...]) -> str:
        value = self.text()
        if value not in options:
            raise self.fail(f"must be one of {', '.join(options)}; got {value!r}")
        return value

    def _check_range(self, value: float, minimum: float | None, maximum: float | None) -> None:
        if minimum is not None and value < minimum:
            raise self.fail(f"must be at least {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise self.fail(f"must be at most {maximum}, got {value}")

    def describe(self) -> str:
        if self.is_mapping:
            return "a mapping"
        if self.is_sequence:
            return "a list"
        if self.is_null:
            return "nothing (null)"
        return f"{type(self.value).__name__} {self.value!r}"


def compose_file(path: Path, display: str | None = None) -> Src:
    """The file's single YAML document as a `Src`; syntax errors name the line too."""
    name = display or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(name, 1, "", f"cannot read the file: {exc}") from exc
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise ScenarioError(name, line, "", f"YAML syntax: {exc.problem or exc}") from exc
    except yaml.YAMLError as exc:  # e.g. several documents in one file
        raise ScenarioError(name, 1, "", f"YAML: {exc}") from exc
    if node is None:
        raise ScenarioError(name, 1, "", "the file is empty")
    return Src(node, name)
