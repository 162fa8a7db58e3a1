"""Our LocalStack plugins imported here, where LocalStack is not installed.

A plugin imports `localstack.runtime.hooks` (plux's decorators) and whatever LocalStack
module it patches; stand-ins for those are put in `sys.modules` for one test, and the
plugin is imported fresh against them. Both are gone again when the test ends.
"""

from __future__ import annotations

import importlib
import sys
import types

import pytest

from harness.runtime import localstack

if str(localstack.PLUGIN_DIR) not in sys.path:
    sys.path.insert(0, str(localstack.PLUGIN_DIR))


def import_plugin(
    monkeypatch: pytest.MonkeyPatch,
    package: str,
    modules: dict[str, types.ModuleType] | None = None,
) -> types.ModuleType:
    hooks = types.ModuleType("localstack.runtime.hooks")
    # plux's decorators, stood in for
    hooks.on_runtime_create = hooks.on_infra_start = lambda *_, **__: lambda fn: fn
    runtime = types.ModuleType("localstack.runtime")
    runtime.hooks = hooks
    standins = {
        "localstack": types.ModuleType("localstack"),
        "localstack.runtime": runtime,
        "localstack.runtime.hooks": hooks,
    } | (modules or {})
    for name, module in standins.items():
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.delitem(sys.modules, package, raising=False)
    plugin = importlib.import_module(package)
    monkeypatch.setitem(sys.modules, package, plugin)  # removed again when the test ends
    return plugin
