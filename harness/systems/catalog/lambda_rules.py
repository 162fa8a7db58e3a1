"""The resize function's own rules, imported from lambdas/resize for the operator tools.

`harness upload` must accept exactly what the function accepts (names and JPEG
content), and `harness bench resize` must measure the function's real code; both
load the function's modules from the project instead of restating them. They are
imported under private names, so they never clash with the Lambda test imports.
"""

from __future__ import annotations

import importlib.util
import sys
from functools import cache
from types import ModuleType

from harness.config import load
from harness.util.errors import HarnessError


@cache
def resize_module(name: str) -> ModuleType:
    """`naming` or `imaging` of lambdas/resize."""
    path = load().project_dir / "lambdas" / "resize" / f"{name}.py"
    if not path.is_file():
        raise HarnessError(f"{path} is missing: the harness needs the resize function's sources")
    unique = f"_harness_resize_{name}"
    spec = importlib.util.spec_from_file_location(unique, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[unique] = module
    spec.loader.exec_module(module)
    return module


def naming() -> ModuleType:
    return resize_module("naming")


def imaging() -> ModuleType:
    return resize_module("imaging")


def check_jpeg(data: bytes, max_pixels: int = 100_000_000) -> str | None:
    """None if the resize function can decode `data`, else the reason it would reject it.

    Decodes at 1/8 scale: it reads every byte of the entropy-coded data (so a
    truncated file fails) at a fraction of a full decode's cost.
    """
    imaging_module = imaging()
    try:
        image = imaging_module.open_jpeg(data, max_pixels)
        imaging_module.decode(image, 16)
    except imaging_module.ImageRejected as exc:
        return exc.reason
    return None
