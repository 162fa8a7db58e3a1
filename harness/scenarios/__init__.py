"""Declarative scenarios: YAML files that describe a situation and what must happen.

- `schema`: the file format (version 1) and its loader, with errors naming file, line, field;
- `model`: base classes and registries of step kinds and condition kinds;
- `steps/`, `conditions/`: the built-in kinds;
- `runner`: runs scenarios isolated on one deployed stack and builds the run report;
- `pytest_items`, `cli`: the pytest plugin's items and the `harness run` / `scenarios` commands.

The reference for scenario authors is docs/scenarios.md.
"""
