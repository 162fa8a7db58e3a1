"""The test suite on several pytest-xdist workers, each with a stack of its own.

Most end-to-end time is spent waiting on timers (visibility timeouts, DLQ redrives,
alarm periods), not on the CPU. So `make test` runs pytest-xdist workers side by side
(9 unless PYTEST_WORKERS says): each worker gets its own LocalStack, stubs, MariaDB,
admin port, state dir and resource prefix (derived here from the configured base
settings, so CI's defaults and a developer's own ports both work), and the tests that
drive a stack are packed into one group per stack-running worker (all workers but two,
six at most). Everything else
(unit tests, Terraform and checkov checks) is scheduled one module at a time on
whichever worker is free, so the CPU-heavy offline checks overlap with the end-to-end
waits.

Registered by the harness pytest plugin; it does nothing without xdist's `-n`.
Use `--dist loadgroup --no-loadscope-reorder` (the Makefile does): the groups are
then handed out in the order sorted here, one stack group per worker first.
xdist's own `xdist_group` marker is not used: on pytest 9.2 it does not group (pytest
no longer reads the node id xdist rewrites), hence the scheduler below.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections import defaultdict
from pathlib import Path

import pytest

from harness import config as config_module
from harness.config import Settings, env_int
from harness.runtime import backends
from harness.scenarios import pytest_items
from harness.systems.catalog import admin, database
from harness.testing.side_by_side import harness_down, stack_environment
from harness.util.files import atomic_write_text

# Backends that start a stack of their own from a worker's shifted settings (ports, state
# dir, prefix). Embedded only, as before: side-by-side docker stacks are not tried yet.
SIDE_BY_SIDE_BACKENDS = ("embedded",)
# Ports of worker k are the configured ones + PORT_STEP * (k + 1): 4566 -> 5566, 6566...
PORT_STEP = 1000
# A fixture every test that drives the session's stack depends on.
STACK_FIXTURE = "_harness_session_stack"
# The fixture that deploys infra/envs/local onto it.
DEPLOYMENT_FIXTURE = "local_deployment"
# Seconds a unit (module, scenario, or a folder run as one) took: the stack units' to
# balance the stack groups, the others' to hand out the longest first (so that the run
# does not end on one long unit). Measured in warm 8-worker runs on 2 cores (runs 79-81,
# 2026-12-06, their mean: reports/suite-times-*.json, written by every parallel run; a
# stack group's first unit also paid its stack's start, about 25 s, taken off).
# Stack units not listed count DEFAULT_ITEM_SECONDS per test, the others nothing (all
# took under 10 s). Only the order and the balance depend on them.
UNIT_SECONDS = {
    # A module of UNITS_PER_TEST: a unit per test function.
    "tests/e2e/test_iam_mutations.py::test_taking_the_statement_away_gets_a_call_of_the_flow_denied": 187,  # noqa: E501
    "tests/e2e/test_iam_mutations.py::test_taking_a_resource_statement_away_gets_its_delivery_denied": 130,  # noqa: E501
    "tests/e2e/test_labeling_dead_letters.py": 152,  # three DLQ cases, one wait
    "scenarios/dlq-alarm-redrive.yaml": 120,
    "tests/e2e/test_aws_root_on_local.py": 113,
    "tests/e2e/test_faults_stack.py": 109,
    "scenarios/nothing-lost.yaml": 87,
    "tests/e2e/test_iam_deliveries.py": 83,
    "tests/e2e/test_replay.py": 82,
    "tests/e2e/test_timeline.py": 77,
    "tests/e2e/test_iam_enforcement.py": 76,
    "scenarios/slack-down-then-up.yaml": 56,
    "tests/e2e/test_catalog_pipeline.py": 52,
    "tests/infra/test_packaging.py": 32,
    "scenarios/throttling-storm.yaml": 28,
    "scenarios/partial-batch.yaml": 26,
    "tests/e2e/test_faults_processes.py": 26,
    "tests/e2e/test_failed_notices_live.py": 26,
    "tests/e2e/test_bench_smoke.py": 17,
    "scenarios/burst-200.yaml": 11,
    "tests/e2e/test_labeling_pipeline.py": 10,
    "tests/e2e/test_esm_concurrency.py": 4,
    # Many quick tests (DEFAULT_ITEM_SECONDS each would count them 30-160 s):
    "tests/e2e/test_foundation.py": 22,
    "tests/e2e/test_faults_commands.py": 10,
    "tests/e2e/test_catalog_admin_live.py": 8,
    "tests/security": 7,
    "tests/e2e/test_iam_answers.py": 2,
    # Units that need no stack of the worker's (the docker lane: its two stacks at once;
    # 323-336 s with its image cached, 437 s rebuilt).
    "tests/docker": 365,
    "tests/e2e/test_nonroot_user.py": 206,
    "tests/e2e/test_faults_own_stack.py": 139,
    "tests/e2e/test_saved_deployment.py": 114,
    "tests/infra/test_terraform.py": 52,
    "tests/e2e/test_cleanup.py": 47,
    "tests/unit/test_promote.py": 22,
    "tests/security/test_checkov.py": 14,
}
DEFAULT_ITEM_SECONDS = 5
# A module attribute: True makes each of the module's test functions a unit (`unit_of`).
UNITS_PER_TEST = "XDIST_UNITS_PER_TEST"
# Stack group k's name: the scheduler hands it to worker k (`next_scope`).
STACK_GROUP = "stack-"
# Controller -> workers: the file where the workers leave each test's group.
GROUPS_ENV = "HARNESS_XDIST_GROUPS"
GROUPS_KEY = pytest.StashKey[Path]()
# Worker -> controller: the scenario results a worker ran (harness/scenarios/pytest_items.py).
SCENARIOS_OUTPUT = "harness_scenarios"


def worker_index(worker_id: str) -> int:
    """`gw3` -> 3."""
    return int(worker_id.removeprefix("gw"))


def worker_environment(settings: Settings, index: int) -> dict[str, str]:
    """The HARNESS_* variables that give worker `index` a stack of its own beside the
    configured one: ports shifted by PORT_STEP * (index + 1), its own state dir (under
    the configured one, so `make clean` removes it) and resource prefix."""
    offset = PORT_STEP * (index + 1)
    configured = (
        settings.port,
        settings.rekognition_port,
        settings.slack_port,
        database.port(),
        env_int(admin.PORT_ENV, admin.DEFAULT_PORT),
    )
    return stack_environment(
        settings.state_dir / "workers" / f"gw{index}",
        f"{settings.name_prefix}-w{index}",
        tuple(port + offset for port in configured),
    )


def side_by_side_possible(settings: Settings) -> bool:
    """Only a backend of SIDE_BY_SIDE_BACKENDS with the harness's own MariaDB runs one
    stack per worker: an external LocalStack or database is one shared thing, so then all
    stack tests stay on one worker. `auto` counts as what it resolves to here (embedded
    when no Docker daemon answers), which the unresolved name would never match."""
    if os.environ.get("HARNESS_DATABASE_URL"):
        return False
    return backends.resolve(settings).backend in SIDE_BY_SIDE_BACKENDS


def unit_of(item: pytest.Item) -> str:
    """What must run on one worker: a module (its module fixtures), a scenario file, or
    as a whole: the stack tests of tests/security (their session fixture plans every env
    once; checkov needs no stack and runs with the offline checks) and the docker lane
    (one Docker engine and Compose stack for its files: on two workers, two of each).
    A module that sets UNITS_PER_TEST (it has no module fixture) is a unit per test
    function, all its parameters together: so that two stack workers share a module
    longer than the others' whole groups."""
    path = Path(item.path).resolve().relative_to(Path(item.config.rootpath).resolve())
    name = path.as_posix()
    if name.startswith("tests/security/") and needs_stack(item):
        return "tests/security"
    if name.startswith("tests/docker/"):
        return "tests/docker"
    if split_per_test(item):
        return f"{name}::{getattr(item, 'originalname', item.name)}"
    return name


def split_per_test(item: pytest.Item) -> bool:
    """The item's module is a unit per test function (UNITS_PER_TEST). Its units are not
    bound to system B's group either (`plan`): one of them may pay B's set-up again on
    another worker, which is what lets them run side by side."""
    return bool(getattr(getattr(item, "module", None), UNITS_PER_TEST, False))


def needs_stack(item: pytest.Item) -> bool:
    return STACK_FIXTURE in getattr(item, "fixturenames", ())


def watches_alarm(item: pytest.Item) -> bool:
    """A scenario that observes the DLQ alarm or Slack: it first waits until no message
    was in the DLQ within the alarm's window (harness/scenarios/isolation.py), up to 40
    s after a scenario that filled it (slack-down-then-up after nothing-lost: 87-94 s
    against 50-56 s, runs w82 and w84). `plan` runs these first in their stack group."""
    scenario = getattr(item, "scenario", None)
    return bool(scenario is not None and scenario.needs_quiet_alarm)


def needs_catalog(item: pytest.Item) -> bool:
    """System B's session set-up (MariaDB, migrations) is paid once per worker: its tests
    share a group."""
    return "catalog_pipeline" in getattr(item, "fixturenames", ()) or bool(
        item.get_closest_marker("catalog")
    )


def pack(weights: dict[str, float], count: int, together: set[str]) -> dict[str, int]:
    """Unit -> group index: the `together` units as one, then longest first onto the
    lightest group (greedy; good enough for a handful of groups)."""
    loads = [0.0] * count
    chosen: dict[str, int] = {}
    blocks: list[tuple[float, list[str]]] = [(sum(weights[u] for u in together), sorted(together))]
    blocks += [(w, [u]) for u, w in weights.items() if u not in together]
    for weight, units in sorted(blocks, key=lambda block: -block[0]):
        if not units:
            continue
        group = loads.index(min(loads))
        loads[group] += weight
        for unit in units:
            chosen[unit] = group
    return chosen


def pytest_configure(config: pytest.Config) -> None:
    """On the controller: where the workers leave the groups for its scheduler. On an
    xdist worker: the environment of its own stack, before any setting is read
    (subprocesses such as the `harness` CLI inherit it)."""
    workerinput = getattr(config, "workerinput", None)
    if workerinput is None:
        if config.getoption("numprocesses", None) and GROUPS_ENV not in os.environ:
            folder = Path(tempfile.mkdtemp(prefix="harness-xdist-"))
            config.stash[GROUPS_KEY] = folder
            os.environ[GROUPS_ENV] = str(folder / "groups.json")  # workers inherit it
        return
    settings = config_module.load()
    if side_by_side_possible(settings):
        os.environ.update(worker_environment(settings, worker_index(workerinput["workerid"])))


def pytest_unconfigure(config: pytest.Config) -> None:
    """On the controller, last: stop what a worker left running (a worker stops its own
    stack at its end, but one that xdist had to kill, after Ctrl-C or a crash, cannot)."""
    folder = config.stash.get(GROUPS_KEY, None)  # only where pytest_configure made it
    if folder is None:
        return
    os.environ.pop(GROUPS_ENV, None)
    shutil.rmtree(folder, ignore_errors=True)
    stop_leftovers(int(config.getoption("numprocesses") or 0))


def stop_leftovers(workers: int) -> None:
    """`harness down` for each worker that had a state dir. Not only where a process is
    still recorded: a LocalStack whose record was lost is found by `down` too (by its
    file system root), and a `down` with nothing to stop takes about 0.4 s. What it says
    is shown only when it stopped something."""
    settings = config_module.load()
    if not side_by_side_possible(settings):
        return
    for index in range(workers):
        env = worker_environment(settings, index)
        if Path(env["HARNESS_STATE_DIR"]).is_dir():
            said = harness_down(os.environ | env)
            if NOTHING_STOPPED not in said:
                print(f"gw{index}: {said.strip()}")


NOTHING_STOPPED = "nothing was running"  # what `harness down` says when it stopped nothing


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On an xdist worker: each item's group (its unit, or the stack group its unit was
    packed into) written for the controller's scheduler, and the items sorted so that
    the stack groups are handed out first. Every worker collects the same items and
    computes the same groups."""
    workerinput = getattr(config, "workerinput", None)
    path = os.environ.get(GROUPS_ENV)
    if workerinput is None or not path:
        return
    workers = int(workerinput["workercount"])
    stacks = stack_count(workers) if side_by_side_possible(config_module.load()) else 1
    units = {item.nodeid: unit_of(item) for item in items}  # unit_of resolves paths: once
    atomic_write_text(Path(path), json.dumps(plan(items, stacks, units)))
    atomic_write_text(seconds_file(path), json.dumps(estimated_seconds(units)))


# Stacks side by side, at most. On 2 cores a fourth was slower while the suite used about
# 1,250 CPU-s (run 39: 919 s against 872-902 s with three); at about 1,000 CPU-s the
# three stack groups were the run's critical path (run 55: they ended at 627-655 s, the
# other two workers at 560 s), and four stacks on six workers took 618 s (run 56). The
# units that need no stack (the docker lane, the unprivileged user's run, the faults
# with a stack of their own, `terraform test`) keep two workers from five workers on.
# Once the suite was down to about 800 busy CPU-s, 22 % of the cores idle (2026-12-06,
# runs 71-73: the chains waited on timers), a fifth stack on eight workers (three for
# the rest) took the warm run from 518 s to 483 s, every worker but one done by 382 s;
# with test_iam_mutations shared by two stacks, 413 s, all eight done at 383-399 s
# (run 75, 7 % of the cores idle). With Terraform's collector tuned and LocalStack's
# start cheaper (about 600 busy CPU-s, 25 % of the cores idle: run 81), the stack groups
# were the critical path again (292-391 s against 304-323 s for the others): a sixth
# stack on nine workers.
STACKS_ENV = "HARNESS_XDIST_STACKS"
MAX_STACKS = 6


def stack_count(workers: int) -> int:
    """How many of `workers` run a stack group: all but one up to four workers, all but
    two from five on, at most HARNESS_XDIST_STACKS (MAX_STACKS unless set)."""
    spare = 1 if workers <= 4 else 2
    return max(1, min(workers - spare, env_int(STACKS_ENV, MAX_STACKS)))


def plan(
    items: list[pytest.Item], stacks: int, units: dict[str, str] | None = None
) -> dict[str, str]:
    """Each item's group: its unit, or `stack_group(k)` for the stack units packed into
    group k. Sorts `items` in place: the stack groups first, in order, and in each the
    units that deploy the pipeline first (the first deploy onto a worker's new LocalStack
    is the one that may load or save a deployment), except that a long unit of PREFETCH
    tests or fewer that deploys nothing comes right after the group's first unit, not
    last (the worker would fetch its next unit while that one runs, and run it only
    after), and among units of one place the scenarios that watch the alarm first
    (`watches_alarm`); then the other units in `order_others`' order."""
    if units is None:  # node id -> unit_of(item), unless the caller has it
        units = {item.nodeid: unit_of(item) for item in items}
    weights: dict[str, float] = defaultdict(float)
    catalog: set[str] = set()
    deploying: set[str] = set()
    for item in items:
        if needs_stack(item):
            unit = units[item.nodeid]
            weights[unit] += DEFAULT_ITEM_SECONDS
            if needs_catalog(item) and not split_per_test(item):
                catalog.add(unit)
            if DEPLOYMENT_FIXTURE in getattr(item, "fixturenames", ()):
                deploying.add(unit)
    for unit in weights:
        weights[unit] = UNIT_SECONDS.get(unit, weights[unit])
    packed = pack(dict(weights), stacks, catalog)
    tests: dict[str, int] = defaultdict(int)
    for unit in units.values():
        tests[unit] += 1
    position = dict.fromkeys(packed, 0)  # a stack group's units: in their order
    position |= {unit: index for index, unit in enumerate(order_others(tests, set(packed)))}
    first: dict[int, str] = {}  # each group's first deploying unit, in collection order
    for unit in units.values():
        if unit in deploying:
            first.setdefault(packed[unit], unit)

    def place(unit: str) -> int:
        """Within a stack group: its first deploying unit, its long few-test units, the
        other deploying units, the rest (the other units: all 0)."""
        if unit not in packed or unit == first.get(packed[unit]):
            return 0
        if tests[unit] <= PREFETCH and unit in UNIT_SECONDS and unit not in deploying:
            return 1
        return 2 if unit in deploying else 3

    def rank(item: pytest.Item) -> tuple[int, int, bool, int]:
        unit = units[item.nodeid]
        return packed.get(unit, stacks), place(unit), not watches_alarm(item), position[unit]

    # Stable: a unit's tests stay in order, and so do a group's units of one place.
    items.sort(key=rank)
    return {
        nodeid: stack_group(packed[unit]) if unit in packed else unit
        for nodeid, unit in units.items()
    }


# xdist hands a worker its next unit as soon as it has PREFETCH tests or fewer left to
# run (`LoadScopeScheduling._reschedule`), and a worker runs a test only once it knows
# the one after it. So a worker that takes a unit of one or two long tests takes the
# next unit at once and runs it afterwards: run 39 had the unprivileged user's test
# (300 s) and the saved deployment's (120 s) on one worker, while the others had ended.
PREFETCH = 2


def order_others(tests: dict[str, int], stack_units: set[str]) -> list[str]:
    """The units that need no stack of the worker's, in the order they are handed out:
    the longest of UNIT_SECONDS first, the rest in their order, and each unit of
    PREFETCH tests or fewer followed by a quick unit of more (one not in UNIT_SECONDS).
    A heuristic: the worker that takes the long one usually fetches the quick one with it
    (another worker asking at that moment may take it instead)."""
    ranked = sorted(
        (unit for unit in tests if unit not in stack_units),
        key=lambda unit: -UNIT_SECONDS.get(unit, 0),
    )
    fillers = [u for u in ranked if u not in UNIT_SECONDS and tests[u] > PREFETCH]
    order: list[str] = []
    for unit in ranked:
        if unit in order:
            continue
        order.append(unit)
        if tests[unit] <= PREFETCH and unit in UNIT_SECONDS:
            filler = next((f for f in fillers if f not in order), None)
            if filler:
                order.append(filler)
    return order


def _index(worker_id: str) -> int | None:
    """The index of an xdist worker id; None for one named otherwise (`--tx id=...`)."""
    return worker_index(worker_id) if worker_id.removeprefix("gw").isdigit() else None


def stack_group(index: int) -> str:
    return f"{STACK_GROUP}{index}"


# A worker that asks for its next unit with more than BUSY_S of its own still to run
# (by the estimates below) takes a quick unit, if one is queued, and leaves the long
# ones to a worker about to be free. Run 65: a stack worker asked with its group's last
# two scenarios (75 s) to run, took the saved deployment's test (149 s) and ended the
# run 70-80 s after the other five.
BUSY_S = 40.0
QUICK_S = 20.0  # a unit not in UNIT_SECONDS took less (see there)


def estimated_seconds(units: dict[str, str]) -> dict[str, float]:
    """Node id -> its estimated seconds: its unit's (`unit_of`) UNIT_SECONDS shared
    evenly among the unit's tests (0 for a unit not listed: they are all quick)."""
    counts: dict[str, int] = defaultdict(int)
    for unit in units.values():
        counts[unit] += 1
    return {nodeid: UNIT_SECONDS.get(unit, 0) / counts[unit] for nodeid, unit in units.items()}


def seconds_file(groups_file: str) -> Path:
    """Where the workers leave `estimated_seconds` for the scheduler: beside the groups."""
    return Path(groups_file).with_name("seconds.json")


def next_scope(
    queued: list[str], worker: int | None, live: list[int | None], busy: bool = False
) -> str:
    """The work unit worker `worker` takes next: its own stack group first, then the
    first unit that is not another live worker's stack group (the last resort: any);
    for a `busy` worker (more than BUSY_S of its own still to run), the first quick
    unit of those, if any.

    Worker k always runs stack group k, so its saved deployment (harness/build/
    snapshots.py, keyed by the worker's ports and prefix) is the one the next run
    loads; xdist would otherwise hand the groups to whichever worker asks first. A
    group whose worker is gone (crashed) is anyone's."""
    if worker is not None and stack_group(worker) in queued:
        return stack_group(worker)
    others = {stack_group(index) for index in live if index is not None and index != worker}
    free = [scope for scope in queued if scope not in others]
    if busy:
        quick = [
            scope
            for scope in free
            if not scope.startswith(STACK_GROUP) and UNIT_SECONDS.get(scope, 0) < QUICK_S
        ]
        free = quick or free
    return free[0] if free else queued[0]


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """On the controller with `--dist loadgroup`: xdist's load-scope scheduling over the
    groups the workers wrote (xdist's own `xdist_group` marker does not group on
    pytest 9.2, which no longer reads the node id xdist rewrites)."""
    path = os.environ.get(GROUPS_ENV)
    if config.getvalue("dist") != "loadgroup" or not path:
        return None
    from xdist.scheduler import LoadScopeScheduling

    class GroupScheduling(LoadScopeScheduling):
        """One work unit per group; a group is handed to one worker whole, stack group k
        to worker k while it runs."""

        groups: dict[str, str] | None = None

        def _split_scope(self, nodeid: str) -> str:
            if self.groups is None:  # read once all workers have collected
                self.groups = json.loads(Path(path).read_text())
            return self.groups.get(nodeid) or nodeid.split("::", 1)[0]

        seconds: dict[str, float] | None = None

        def _assign_work_unit(self, node) -> None:
            if self.seconds is None:  # written with the groups, by every worker
                self.seconds = json.loads(seconds_file(path).read_text())
            pending = [
                nodeid
                for unit in self.assigned_work.get(node, {}).values()
                for nodeid, completed in unit.items()
                if not completed
            ]
            busy = sum(self.seconds.get(nodeid, 0.0) for nodeid in pending) > BUSY_S
            live = [_index(other.gateway.id) for other in self.nodes]
            scope = next_scope(list(self.workqueue), _index(node.gateway.id), live, busy)
            self.workqueue.move_to_end(scope, last=False)
            super()._assign_work_unit(node)

    return GroupScheduling(config, log)


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    """On a worker: hand the scenario results to the controller, which writes the one
    report of the run and prints the scenarios' summary (harness/scenarios/pytest_items.py
    then finds nothing left to write here)."""
    workeroutput = getattr(session.config, "workeroutput", None)
    run = session.config.stash.get(pytest_items.RUN_KEY, None)
    if workeroutput is None or not run:
        return
    workeroutput[SCENARIOS_OUTPUT] = json.dumps(run["scenarios"], default=str)
    run["scenarios"] = []


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:
    """On the controller (an xdist hook): collect a finished worker's scenario results."""
    raw = getattr(node, "workeroutput", {}).get(SCENARIOS_OUTPUT)
    run = node.config.stash.get(pytest_items.RUN_KEY, None)
    if raw and run is not None:
        run["scenarios"].extend(json.loads(raw))
