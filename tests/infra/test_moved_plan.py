"""The proof by plan behind test_moved_blocks.py: today's envs/local, planned by the real
AWS provider on a state of the old code (before the pipeline module), destroys and
replaces nothing; every old instance appears as a move.

The state (data/state_before_pipeline.json) holds the pre-redesign addresses with the
values that code deployed (how it was made: offline_plan_on_state.py, which also says
why the plan runs against a fake STS rather than `terraform test` with a mocked
provider). Updates in place and new resources are allowed: the code has gained
features since (versioned buckets, the notifier's failure queue); a delete is not.
One init and one plan, offline, about 20 s.
"""

from __future__ import annotations

import json
import shutil

import pytest
from offline_plan_on_state import PROJECT, STATE_BEFORE_PIPELINE, plan_on_state

from harness.build import terraform
from harness.build.terraform import stage_infra
from harness.util.errors import HarnessError

STATE = json.loads(STATE_BEFORE_PIPELINE.read_text())
# The old addresses test_moved_blocks.py checks statically.
RECORDED = json.loads((STATE_BEFORE_PIPELINE.parent / "addresses_before_pipeline.json").read_text())
RECORDED_ENVS = RECORDED["envs"]


def _state_addresses(state: dict) -> set[str]:
    """Every instance address of a v4 state, as Terraform prints it."""
    found = set()
    for resource in state["resources"]:
        base = ".".join(filter(None, [resource.get("module"), resource["type"], resource["name"]]))
        for instance in resource["instances"]:
            key = instance.get("index_key")
            found.add(base + ("" if key is None else f"[{json.dumps(key)}]"))
    return found


@pytest.fixture(scope="module")
def plan(tmp_path_factory) -> dict:
    try:
        terraform.require_terraform()
    except HarnessError as exc:
        pytest.skip(str(exc))
    work = tmp_path_factory.mktemp("moved-plan")
    root = stage_infra(PROJECT, work / "infra")
    state = work / "state.json"  # a copy: nothing may write next to the committed one
    shutil.copy(STATE_BEFORE_PIPELINE, state)
    return plan_on_state(root, "local", state, work)


def test_the_state_holds_recorded_old_addresses():
    """The state is of the old code: every instance has a recorded pre-redesign address
    (the recorded ones it lacks are counted resources the defaults do not create)."""
    addresses = _state_addresses(STATE)
    assert addresses <= set(RECORDED_ENVS["local"])
    assert len(addresses) == 55
    assert not any(a.startswith("module.pipeline") for a in addresses)


def test_nothing_is_destroyed_or_replaced(plan):
    changes = [c for c in plan["resource_changes"] if c["mode"] == "managed"]
    deleted = [
        f"{c['address']}: {c['change']['actions']}"
        for c in changes
        if "delete" in c["change"]["actions"]
    ]
    assert deleted == []
    assert not any(c["address"] in RECORDED_ENVS["local"] for c in changes), "not moved"


def test_every_old_instance_is_moved_and_kept(plan):
    kept = {
        c["previous_address"]: c["change"]["actions"]
        for c in plan["resource_changes"]
        if c.get("previous_address")
    }
    assert set(kept) == _state_addresses(STATE)
    assert {tuple(actions) for actions in kept.values()} <= {("no-op",), ("update",)}
