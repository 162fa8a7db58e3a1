"""The Lambda functions of both systems, each named once: folder, Terraform names, outputs.

Every part of the harness that needs a function's other names reads them here: the local
deploy and promote build the zips with `build` and pass them to Terraform with
`tf_variables`; the code-only update finds the deployed function with `deployed_name`;
scenarios and timelines find its log group with `log_group`. A new function is one
`Function` line below plus its folder in `lambdas/` and its variables in
`infra/envs/*/variables.tf` (tests/unit/test_functions.py checks the three agree).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.build import packaging
from harness.build.packaging import Package
from harness.util.errors import HarnessError

SYSTEMS = ("labeling", "catalog")  # system A, system B


@dataclass(frozen=True)
class Function:
    name: str  # its folder `lambdas/<name>/` and its zip `<name>.zip`
    short: str  # `<short>_zip_path` / `<short>_zip_sha256` in the envs; scenarios' `function:`
    system: str  # one of SYSTEMS
    function_output: tuple[str, ...]  # path in the env outputs to the deployed function name
    log_group_output: tuple[str, ...]  # path in the env outputs to its log group

    def source(self, project_dir: Path) -> Path:
        return project_dir / "lambdas" / self.name

    @property
    def zip_path_variable(self) -> str:
        return f"{self.short}_zip_path"

    @property
    def zip_sha256_variable(self) -> str:
        return f"{self.short}_zip_sha256"

    def deployed_name(self, outputs: Mapping[str, Any]) -> str:
        return _lookup(outputs, self.function_output)

    def log_group(self, outputs: Mapping[str, Any]) -> str:
        return _lookup(outputs, self.log_group_output)


FUNCTIONS: tuple[Function, ...] = (
    Function("labeler", "labeler", "labeling", ("labeler_function",), ("labeler_log_group",)),
    Function(
        "slack_notifier",
        "notifier",
        "labeling",
        ("notifier_function",),
        ("notifier_log_group",),
    ),
    Function("resize", "resize", "catalog", ("resize_function",), ("catalog", "resize_log_group")),
    Function(
        "catalog_loader",
        "loader",
        "catalog",
        ("catalog_loader_function",),
        ("catalog", "loader_log_group"),
    ),
)
BY_NAME = {function.name: function for function in FUNCTIONS}
BY_SHORT = {function.short: function for function in FUNCTIONS}


def get(name: str) -> Function:
    """A function by its folder name or its short name (`slack_notifier` or `notifier`)."""
    function = BY_NAME.get(name) or BY_SHORT.get(name)
    if function is None:
        known = ", ".join(f"{f.name} ({f.short})" for f in FUNCTIONS)
        raise HarnessError(f"no Lambda function {name!r}; the functions are {known}")
    return function


def _lookup(outputs: Mapping[str, Any], path: tuple[str, ...]) -> str:
    value: Any = outputs
    for part in path:
        if not isinstance(value, Mapping) or part not in value:
            raise HarnessError(
                f"the deployment has no output {'.'.join(path)}; run `harness deploy`"
            )
        value = value[part]
    return value


def zip_dir(project_dir: Path, architecture: str, python_version: str, local: bool = False) -> Path:
    """Where the zips for one platform go: `build/lambdas-<arch>-py<version>/` for a
    promotion, `build/local/lambdas-<arch>-py<version>/` for the local stacks.

    One folder per platform: the embedded stack's zips (the runtime's Python) and the
    docker backend's (the image's) are built side by side in a test run, and a shared
    `resize.zip` was replaced under one deploy by the other's, whose compiled Pillow the
    first runtime could not import. Promotion's are apart from the local stacks': a
    local deploy between `promote plan` and `apply` leaves the reviewed zips alone."""
    build = project_dir / "build" / "local" if local else project_dir / "build"
    return build / f"lambdas-{architecture}-py{python_version}"


def build(
    project_dir: Path,
    build_dir: Path,
    python_version: str = "3.12",
    architecture: str = "x86_64",
    progress: Callable[[str], None] = print,
    functions: Iterable[Function] = FUNCTIONS,
) -> dict[str, Package]:
    """Build `<build_dir>/<name>.zip` of each function; {name: package}.

    The one way zips are made, for the local stack and for promotion alike.
    """
    packages = {}
    for function in functions:
        started = time.monotonic()
        packages[function.name] = packaging.build_function(
            function.source(project_dir), build_dir, python_version, architecture
        )
        seconds = time.monotonic() - started
        progress(
            f"built {function.name}.zip ({architecture}, python{python_version}) in {seconds:.1f} s"
        )
    return packages


def tf_variables(packages: Mapping[str, Package], relative_to: Path | None = None) -> dict:
    """`<short>_zip_path` and `<short>_zip_sha256` of each package, for Terraform.

    With `relative_to` (the env folder), paths are relative to it, so a plan made in one
    clone reads the same in another.
    """
    variables: dict[str, str] = {}
    for name, package in packages.items():
        function = BY_NAME[name]
        path = os.path.relpath(package.path, relative_to) if relative_to else str(package.path)
        variables[function.zip_path_variable] = path
        variables[function.zip_sha256_variable] = package.sha256_base64
    return variables
