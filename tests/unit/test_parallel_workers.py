"""Side-by-side stacks for xdist workers (harness/testing/parallel.py): nothing shared."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from harness.config import Settings
from harness.runtime.backends import docker as docker_backend
from harness.testing import parallel
from harness.testing.side_by_side import PORT_VARIABLES


@pytest.fixture
def defaults(monkeypatch, tmp_path) -> Settings:
    """The settings CI runs with: no HARNESS_* variable set."""
    for name in (*PORT_VARIABLES, "HARNESS_STATE_DIR", "HARNESS_NAME_PREFIX"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HARNESS_PROJECT_DIR", str(tmp_path))
    return Settings()


def test_workers_get_ports_beside_the_defaults_and_their_own_state_and_prefix(defaults):
    first = parallel.worker_environment(defaults, 0)
    assert [first[name] for name in PORT_VARIABLES] == ["5566", "5580", "5581", "5582", "5583"]
    assert Path(first["HARNESS_STATE_DIR"]) == defaults.state_dir / "workers" / "gw0"
    assert first["HARNESS_NAME_PREFIX"] == "imgpipe-w0"


def test_no_two_workers_and_no_worker_and_the_default_stack_share_anything(defaults):
    default_ports = {4566, 4580, 4581, 4582, 4583}
    seen_ports: set[int] = set(default_ports)
    seen_dirs = {str(defaults.state_dir)}
    seen_prefixes = {defaults.name_prefix}
    for index in range(8):
        env = parallel.worker_environment(defaults, index)
        ports = {int(env[name]) for name in PORT_VARIABLES}
        assert len(ports) == len(PORT_VARIABLES)
        assert not ports & seen_ports
        assert env["HARNESS_STATE_DIR"] not in seen_dirs
        assert env["HARNESS_NAME_PREFIX"] not in seen_prefixes
        seen_ports |= ports
        seen_dirs.add(env["HARNESS_STATE_DIR"])
        seen_prefixes.add(env["HARNESS_NAME_PREFIX"])


def test_worker_ports_follow_a_configured_base(defaults, monkeypatch):
    monkeypatch.setenv("HARNESS_PORT", "4766")
    monkeypatch.setenv("HARNESS_DB_PORT", "4782")
    env = parallel.worker_environment(Settings(), 1)
    assert env["HARNESS_PORT"] == "6766"
    assert env["HARNESS_DB_PORT"] == "6782"


def test_an_external_stack_or_database_is_not_multiplied(defaults, monkeypatch):
    assert parallel.side_by_side_possible(defaults)
    monkeypatch.setenv("HARNESS_BACKEND", "external")
    assert not parallel.side_by_side_possible(Settings())
    monkeypatch.setenv("HARNESS_BACKEND", "embedded")
    monkeypatch.setenv("HARNESS_DATABASE_URL", "mysql://u:p@db:3306")
    assert not parallel.side_by_side_possible(Settings())


@pytest.mark.parametrize(("daemon", "possible"), [(False, True), (True, False)])
def test_auto_is_judged_by_the_backend_it_resolves_to(defaults, monkeypatch, daemon, possible):
    """HARNESS_BACKEND=auto without a Docker daemon is embedded: a stack per worker."""
    monkeypatch.setattr(docker_backend, "daemon_answers", lambda: daemon)
    monkeypatch.setenv("HARNESS_BACKEND", "auto")
    assert parallel.side_by_side_possible(Settings()) is possible


def test_packing_balances_the_groups_and_keeps_the_catalog_units_together():
    weights = {"a": 100.0, "b": 90.0, "c": 60.0, "cat1": 30.0, "cat2": 30.0, "d": 10.0}
    groups = parallel.pack(weights, 3, {"cat1", "cat2"})
    assert set(groups) == set(weights)
    assert groups["cat1"] == groups["cat2"]
    loads = [sum(w for unit, w in weights.items() if groups[unit] == g) for g in range(3)]
    assert max(loads) - min(loads) <= 40
    assert parallel.pack(weights, 1, set()) == dict.fromkeys(weights, 0)


def test_two_workers_keep_the_units_without_a_stack_and_six_stacks_at_most(monkeypatch):
    monkeypatch.delenv(parallel.STACKS_ENV, raising=False)
    counts = [parallel.stack_count(n) for n in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10)]
    assert counts == [1, 1, 2, 3, 3, 4, 5, 6, 6, 6]
    monkeypatch.setenv(parallel.STACKS_ENV, "3")
    assert parallel.stack_count(6) == 3 and parallel.stack_count(3) == 2


def test_worker_index_reads_the_xdist_worker_id():
    assert parallel.worker_index("gw0") == 0
    assert parallel.worker_index("gw11") == 11


def _item(root: Path, path: str, name: str, *fixtures: str) -> SimpleNamespace:
    return SimpleNamespace(
        path=root / path,
        config=SimpleNamespace(rootpath=root),
        nodeid=f"{path}::{name}",
        fixturenames=fixtures,
        get_closest_marker=lambda marker: None,
    )


def test_a_module_of_units_per_test_is_a_unit_per_test_function(tmp_path):
    """All the parameters of one function together; other modules stay one unit."""
    split = SimpleNamespace(**{parallel.UNITS_PER_TEST: True})
    path = "tests/e2e/test_iam_mutations.py"

    def item(name: str, module: SimpleNamespace) -> SimpleNamespace:
        found = _item(tmp_path, path, name)
        found.module, found.name = module, name
        found.originalname = name.split("[")[0]
        return found

    units = [
        parallel.unit_of(item(name, split))
        for name in ("t_roles[a]", "t_roles[b]", "t_resources[a]")
    ]
    assert units == [f"{path}::t_roles", f"{path}::t_roles", f"{path}::t_resources"]
    assert parallel.unit_of(item("t_roles[a]", SimpleNamespace())) == path
    measured = [unit for unit in parallel.UNIT_SECONDS if unit.startswith(f"{path}::")]
    assert len(measured) == 2, "both of its long tests are weighed as units of their own"


def test_units_per_test_of_system_b_are_not_bound_to_its_group(tmp_path, monkeypatch):
    """System B's other units stay together; the split ones go where the load is."""
    stack, catalog = parallel.STACK_FIXTURE, "catalog_pipeline"
    monkeypatch.setattr(
        parallel, "UNIT_SECONDS", {"tests/e2e/test_m.py::t1": 100, "tests/e2e/test_m.py::t2": 90}
    )
    split = SimpleNamespace(**{parallel.UNITS_PER_TEST: True})
    items = []
    for name, module in (("t1", split), ("t2", split), ("t", SimpleNamespace())):
        path = "tests/e2e/test_m.py" if module is split else "tests/e2e/test_b.py"
        found = _item(tmp_path, path, name, stack, catalog)
        found.module, found.name, found.originalname = module, name, name
        items.append(found)
    groups = parallel.plan(items, 2)
    assert groups["tests/e2e/test_m.py::t1"] != groups["tests/e2e/test_m.py::t2"]


def test_plan_puts_stack_groups_first_and_their_deploying_units_first_in_each(tmp_path):
    stack, deploy = parallel.STACK_FIXTURE, parallel.DEPLOYMENT_FIXTURE
    items = [
        _item(tmp_path, "tests/e2e/test_a_root.py", "t", stack),  # stack only: no deploy
        # long and one test: not last, or the worker's next unit would wait behind it
        _item(tmp_path, "tests/e2e/test_aws_root_on_local.py", "t", stack),
        _item(tmp_path, "tests/e2e/test_b_pipe.py", "t1", stack, deploy),
        _item(tmp_path, "tests/e2e/test_c_pipe.py", "t", stack, deploy),
        _item(tmp_path, "tests/unit/test_c.py", "t"),
        _item(tmp_path, "tests/e2e/test_b_pipe.py", "t2", stack, deploy),
        _item(tmp_path, "tests/docker/test_one.py", "t"),  # the lane: one unit
        _item(tmp_path, "tests/docker/test_two.py", "t"),
        _item(tmp_path, "tests/unit/test_d.py", "t"),
    ]
    groups = parallel.plan(items, 1)
    assert [item.nodeid for item in items] == [
        "tests/e2e/test_b_pipe.py::t1",
        "tests/e2e/test_b_pipe.py::t2",
        "tests/e2e/test_aws_root_on_local.py::t",
        "tests/e2e/test_c_pipe.py::t",
        "tests/e2e/test_a_root.py::t",
        # the other units: the long docker lane first, then the unmeasured in their order
        "tests/docker/test_one.py::t",
        "tests/docker/test_two.py::t",
        "tests/unit/test_c.py::t",
        "tests/unit/test_d.py::t",
    ]
    assert groups == {
        "tests/e2e/test_a_root.py::t": "stack-0",
        "tests/e2e/test_aws_root_on_local.py::t": "stack-0",
        "tests/e2e/test_c_pipe.py::t": "stack-0",
        "tests/e2e/test_b_pipe.py::t1": "stack-0",
        "tests/e2e/test_b_pipe.py::t2": "stack-0",
        "tests/unit/test_c.py::t": "tests/unit/test_c.py",
        "tests/docker/test_one.py::t": "tests/docker",
        "tests/docker/test_two.py::t": "tests/docker",
        "tests/unit/test_d.py::t": "tests/unit/test_d.py",
    }


def test_scenarios_that_watch_the_alarm_come_before_the_others_of_their_place(tmp_path):
    """So they do not wait out the alarm's window after a scenario that filled the DLQ."""
    stack, deploy = parallel.STACK_FIXTURE, parallel.DEPLOYMENT_FIXTURE

    def scenario(name: str, quiet: bool) -> SimpleNamespace:
        found = _item(tmp_path, f"scenarios/{name}.yaml", name, stack, deploy)
        found.scenario = SimpleNamespace(needs_quiet_alarm=quiet)
        return found

    items = [
        _item(tmp_path, "tests/e2e/test_pipe.py", "t", stack, deploy),
        scenario("fills-the-dlq", False),
        scenario("other", False),
        scenario("watches-the-alarm", True),
    ]
    parallel.plan(items, 1)
    assert [item.nodeid.split("::")[1] for item in items] == [
        "t",  # the group's first deploying unit stays first
        "watches-the-alarm",
        "fills-the-dlq",
        "other",
    ]


def test_a_long_unit_of_one_test_is_followed_by_quick_work_not_by_the_next_long_one(
    monkeypatch,
):
    """xdist gives a worker with 2 tests or fewer left its next unit at once: after a
    one-test unit that is the unit behind it, so it must not be the next long one."""
    measured = {
        "tests/docker": 430,
        "tests/e2e/test_nonroot_user.py": 170,
        "tests/e2e/test_saved_deployment.py": 160,
        "tests/infra/test_terraform.py": 127,
        "tests/unit/test_promote.py": 35,  # measured, not collected here
    }
    monkeypatch.setattr(parallel, "UNIT_SECONDS", measured)
    tests = {
        "tests/e2e/test_labeling_pipeline.py": 9,  # a stack unit: not handed out here
        "tests/unit/test_a.py": 20,
        "tests/unit/test_one.py": 1,  # quick, but too small to fill a worker
        "tests/e2e/test_saved_deployment.py": 1,
        "tests/docker": 6,
        "tests/unit/test_c.py": 30,
        "tests/e2e/test_nonroot_user.py": 1,
        "tests/infra/test_terraform.py": 72,
    }
    assert parallel.order_others(tests, {"tests/e2e/test_labeling_pipeline.py"}) == [
        "tests/docker",  # the longest; six tests fill its worker by themselves
        "tests/e2e/test_nonroot_user.py",
        "tests/unit/test_a.py",
        "tests/e2e/test_saved_deployment.py",
        "tests/unit/test_c.py",
        "tests/infra/test_terraform.py",  # 72 tests: no filler needed
        "tests/unit/test_one.py",
    ]


def test_worker_k_takes_stack_group_k_whoever_asks_first():
    queued = ["stack-0", "stack-1", "tests/unit/test_a.py", "tests/unit/test_b.py"]
    live = [0, 1, 2]
    # xdist's initial round may ask gw2 first: it leaves both stack groups to their workers.
    assert parallel.next_scope(queued, 2, live) == "tests/unit/test_a.py"
    assert parallel.next_scope(queued, 1, live) == "stack-1"
    assert parallel.next_scope(queued, 0, live) == "stack-0"
    # A crashed worker's group goes back to the queue and is anyone's.
    assert (
        parallel.next_scope(["tests/unit/test_b.py", "stack-1"], 0, [0, 2])
        == "tests/unit/test_b.py"
    )
    assert parallel.next_scope(["stack-1"], 0, [0, 2]) == "stack-1"
    # Only other live workers' groups left: taken rather than idling.
    assert parallel.next_scope(["stack-1"], 2, live) == "stack-1"
    # A worker named otherwise (`--tx id=...`) has no group of its own.
    assert parallel._index("gw7") == 7 and parallel._index("box") is None
    assert parallel.next_scope(queued, None, [0, 1, None]) == "tests/unit/test_a.py"


def test_leftovers_are_looked_for_on_every_worker_that_had_a_stack(defaults, monkeypatch, capsys):
    """Not only where a record is left: `down` finds a LocalStack whose record was lost
    by its file system root, so it runs for every worker's state dir, recorded or not."""
    monkeypatch.setenv("HARNESS_BACKEND", "embedded")  # not a Docker daemon's answer
    downs: list[str] = []

    def down(env: dict[str, str]) -> str:
        downs.append(Path(env["HARNESS_STATE_DIR"]).name)
        nothing = f"stopped: {parallel.NOTHING_STOPPED}"
        return "stopped: localstack" if downs[-1] == "gw2" else nothing

    monkeypatch.setattr(parallel, "harness_down", down)
    for index in (0, 2):  # gw1 never started: no state dir, nothing to stop
        Path(parallel.worker_environment(defaults, index)["HARNESS_STATE_DIR"]).mkdir(parents=True)
    parallel.stop_leftovers(3)
    assert downs == ["gw0", "gw2"]
    assert capsys.readouterr().out == "gw2: stopped: localstack\n"  # only what was stopped


def test_a_busy_worker_takes_a_quick_unit_and_leaves_the_long_one():
    """Run 65: a stack worker with its last two scenarios (75 s) to run took the saved
    deployment's test (149 s) by xdist's prefetch and ended the run 70-80 s late."""
    long_unit = "tests/e2e/test_saved_deployment.py"
    assert parallel.UNIT_SECONDS[long_unit] >= parallel.QUICK_S
    queued = ["stack-1", long_unit, "tests/unit/test_a.py", "tests/unit/test_b.py"]
    live = [0, 1, 2]
    assert parallel.next_scope(queued, 0, live, busy=True) == "tests/unit/test_a.py"
    assert parallel.next_scope(queued, 0, live, busy=False) == long_unit
    # Only long units (or other workers' groups) left: the busy worker still gets work.
    assert parallel.next_scope(["stack-1", long_unit], 0, live, busy=True) == long_unit
    # Its own stack group comes first, busy or not.
    assert parallel.next_scope(queued, 1, live, busy=True) == "stack-1"


def test_a_tests_estimate_is_its_units_seconds_shared_among_its_tests():
    own = "tests/e2e/test_faults_own_stack.py"
    units = {  # node id -> unit_of(item)
        f"{own}::test_a": own,
        f"{own}::test_b": own,
        "tests/docker/test_compose_demo.py::test_c": "tests/docker",
        "tests/docker/test_platform.py::test_d[linux/amd64]": "tests/docker",
        "scenarios/partial-batch.yaml::partial-batch": "scenarios/partial-batch.yaml",
        "tests/unit/test_quick.py::test_e": "tests/unit/test_quick.py",
    }
    seconds = parallel.estimated_seconds(units)
    nodeids = list(units)
    assert seconds[nodeids[0]] == seconds[nodeids[1]] == parallel.UNIT_SECONDS[own] / 2
    assert seconds[nodeids[2]] == seconds[nodeids[3]] == parallel.UNIT_SECONDS["tests/docker"] / 2
    assert seconds[nodeids[4]] == parallel.UNIT_SECONDS["scenarios/partial-batch.yaml"]
    assert seconds[nodeids[5]] == 0  # not listed: quick
