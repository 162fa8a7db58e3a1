"""Condition kinds for `wait` and `assert`; importing this package registers them.

A new condition kind is a `Condition` subclass decorated with `@register_condition` in
a module imported here (see harness/scenarios/model.py).
"""

from harness.scenarios.conditions import alerts, catalog, invariants, objects, queues

__all__ = ["alerts", "catalog", "invariants", "objects", "queues"]
