"""pytest plugin (entry point `harness`): one local stack per test session.

The stack is started at most once per session, or reused when `harness up` left one
running. Whatever the session started is stopped at the end, also after a failure,
Ctrl-C or SIGTERM, so no process outlives the run.
"""

from __future__ import annotations

import atexit
import signal
import time
from collections.abc import Callable, Iterator

import pytest

from harness import config
from harness.config import Settings
from harness.runtime import aws, backends, stack
from harness.util import processes


class _SessionStack:
    """Starts the stack lazily on first use; at the end stops what the session started
    (LocalStack, the stubs, MariaDB), never what ran before it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.state: stack.StackState | None = None
        self._before: frozenset[str] | None = None
        self._tests_done_at_start = 0

    def get(self) -> stack.StackState:
        if self.state is None:
            self._before = stack.running(self.settings)
            atexit.register(self.close)
            _stop_on_sigterm(self.close)
            self.state = stack.up(self.settings, progress=lambda m: print(f"[harness] {m}"))
            self._tests_done_at_start = _TESTS_DONE[0]
        return self.state

    @property
    def untouched(self) -> bool:
        """The session started LocalStack and no test has finished since: it holds only
        what the test setting up now has made (a saved deployment may be loaded or saved,
        harness/build/snapshots.py)."""
        started = self.state is not None and self.state.started_localstack
        return started and _TESTS_DONE[0] == self._tests_done_at_start

    def close(self) -> None:
        if self._before is not None:
            before, self._before = self._before, None
            stack.down(self.settings, stack.running(self.settings) - before)


def _stop_on_sigterm(close: Callable[[], None]) -> None:
    previous = signal.getsignal(signal.SIGTERM)

    def handler(signum, frame):
        # Nothing starts after this: a block unwinding from the SystemExit below (a
        # database outage's end) would otherwise start a server the stop has missed.
        processes.refuse_new_starts("the test session is stopping (SIGTERM)")
        close()
        if callable(previous):
            previous(signum, frame)
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handler)


def pytest_configure(config: pytest.Config) -> None:
    """Scenario files (scenarios/*.yaml) become test items (harness/scenarios/pytest_items.py);
    with xdist's `-n`, each worker runs a stack of its own (harness/testing/parallel.py);
    the run ends with its time per part of the suite (harness/testing/suite_times.py)."""
    from harness.observe.report import reports_base
    from harness.scenarios import pytest_items
    from harness.testing import parallel, suite_times

    config.pluginmanager.register(pytest_items, "harness-scenarios")
    config.pluginmanager.register(parallel, "harness-parallel")
    if not hasattr(config, "workerinput"):  # the controller adds up its workers' reports
        times = suite_times.SuiteTimes(reports_base())
        config.pluginmanager.register(times, "harness-suite-times")
    else:  # a worker measures what each test costs the CPU
        config.pluginmanager.register(suite_times.CpuMeter(), "harness-cpu-meter")


_STARTED_AT = pytest.StashKey[float]()
_TESTS_DONE = [0]  # tests finished in this process (a session's stack asks: used yet?)


def pytest_runtest_logfinish(nodeid: str, location: tuple) -> None:
    _TESTS_DONE[0] += 1


_DENIALS_SHOWN = 20


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    item.stash[_STARTED_AT] = time.time()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    """A failed test shows the calls IAM refused while it ran: a denial is often the
    cause of a timeout or a DLQ message, and the log names the role and the action."""
    outcome = yield
    report = outcome.get_result()
    if not report.failed or _STARTED_AT not in item.stash:
        return
    settings = item.funcargs.get("harness_settings") if hasattr(item, "funcargs") else None
    text = _denials_since(settings or config.load(), item.stash[_STARTED_AT])
    if text:
        report.sections.append(("IAM denials during this test", text))


def _denials_since(settings: Settings, started_at: float) -> str:
    from harness.observe import denials

    try:
        found = list(denials.read(settings.iam_denials, since=denials.iso(started_at)))
    except OSError:
        return ""
    lines = [
        f"{d.get('time')} {denials.who(d)} {d.get('action')} on {d.get('resource')}: "
        f"{denials.why(d)}"
        for d in found[-_DENIALS_SHOWN:]
    ]
    if len(found) > _DENIALS_SHOWN:
        lines.insert(0, f"(the last {_DENIALS_SHOWN} of {len(found)}; `harness iam denials`)")
    return "\n".join(lines)


@pytest.fixture(scope="session")
def harness_settings() -> Settings:
    return backends.resolve(config.load())  # `auto` decided once for the session


@pytest.fixture(scope="session")
def _harness_session_stack(harness_settings: Settings) -> Iterator[_SessionStack]:
    session_stack = _SessionStack(harness_settings)
    try:
        yield session_stack
    finally:
        session_stack.close()


@pytest.fixture(scope="session")
def harness_stack(_harness_session_stack: _SessionStack) -> stack.StackState:
    """The running local stack (LocalStack + stubs), started once per session."""
    return _harness_session_stack.get()


@pytest.fixture(scope="session")
def aws_client(harness_stack: stack.StackState, harness_settings: Settings):
    """Factory: `aws_client("s3")` gives a boto3 client for the local stack."""

    def make(service: str):
        return aws.client(service, harness_settings, endpoint=harness_stack.endpoint)

    return make


@pytest.fixture(scope="session")
def local_deployment(
    harness_stack: stack.StackState,
    harness_settings: Settings,
    _harness_session_stack: _SessionStack,
) -> dict:
    """The outputs of `infra/envs/local` (both systems), deployed once per session on the
    session's stack (skipped when nothing changed; a saved deployment loaded, or the
    apply saved, when the session started LocalStack itself and no test has used it)."""
    from harness.build import deploy

    deployment = deploy.ready(
        harness_settings,
        progress=lambda m: print(f"[harness] {m}"),
        started_localstack=_harness_session_stack.untouched,
    )
    return deployment.outputs


@pytest.fixture
def labeling(local_deployment: dict, harness_settings: Settings):
    """The labeling pipeline, emptied before the test: buckets, queues, stubs, alarm."""
    from harness.systems.labeling.pipeline import LabelingPipeline

    pipeline = LabelingPipeline(harness_settings, local_deployment)
    pipeline.reset()
    return pipeline


@pytest.fixture(scope="session")
def catalog_pipeline(local_deployment: dict, harness_settings: Settings):
    """System B deployed, its database started and migrated, once per session.

    A MariaDB the session started is stopped with the session's stack (one that ran
    before stays).
    """
    from harness.systems.catalog.pipeline import CatalogPipeline

    return CatalogPipeline.open(
        harness_settings, local_deployment, progress=lambda m: print(f"[harness] {m}")
    )


@pytest.fixture
def catalog(catalog_pipeline):
    """The catalog pipeline (system B), emptied before the test (buckets, queues, table,
    alarms) and after it, so no message it left can raise an alarm during the next test."""
    catalog_pipeline.reset()
    yield catalog_pipeline
    catalog_pipeline.reset()
