"""Step kinds; importing this package registers them (see harness/scenarios/model.py).

To add a step kind (e.g. for the catalog pipeline), write a `Step` subclass decorated
with `@register_step` in a module of this package and import the module here.
"""

from harness.scenarios.steps import alarms, catalog, checks, control, messages, stubs, upload

__all__ = ["alarms", "catalog", "checks", "control", "messages", "stubs", "upload"]
