"""harness_esm_scaling: an SQS mapping keeps several batches in flight, never more than
its slots, and takes no message from the queue while every slot is busy.

Runs against stand-ins of LocalStack's poller and worker factory (LocalStack is not in
this venv); the e2e suites run the real thing (test_labeling_dead_letters and test_esm_concurrency).
"""

from __future__ import annotations

import contextlib
import threading
import time
import types

import boto3
import pytest
from botocore.stub import Stubber
from localstack_standins import import_plugin


class Empty(Exception):
    pass


class FakePoller:
    """LocalStack's SqsPoller in miniature: receive, then handle_messages per batch."""

    def __init__(self, source_arn: str, batches: list[list[str]]) -> None:
        self.source_arn = source_arn
        self.batches = batches
        self.received = 0
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.in_flight = 0
        self.most_in_flight = 0
        self.handled: list[str] = []
        # A real client, as LocalStack's poller has (nothing is sent: tests stub it).
        self.source_client = boto3.client(
            "sqs",
            region_name="us-east-1",
            endpoint_url="http://127.0.0.1:9",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )

    def poll_events(self) -> None:
        if not self.batches:
            raise Empty
        self.received += 1
        self.handle_messages(self.batches.pop(0))

    def handle_messages(self, messages: list[str]) -> None:
        with self.lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        self.release.wait(10)
        with self.lock:
            self.in_flight -= 1
            self.handled += messages


class FakeFactory:
    def __init__(self, esm_config: dict, poller: FakePoller) -> None:
        self.esm_config = esm_config
        self.poller = poller

    def get_esm_worker(self):
        return types.SimpleNamespace(poller=self.poller, uuid="u-1")


@pytest.fixture
def scaling(monkeypatch):
    return import_plugin(monkeypatch, "harness_esm_scaling")


def patched(scaling, esm_config: dict, arn: str, batches: list[list[str]], cap: int):
    poller_class = type("Poller", (FakePoller,), {})
    factory_class = type("Factory", (FakeFactory,), {})
    scaling._patch(poller_class, factory_class, cap)
    poller = poller_class(arn, batches)
    return factory_class(esm_config, poller).get_esm_worker().poller


def poll_in_background(poller, rounds: int) -> threading.Thread:
    def loop():
        for _ in range(rounds):
            with contextlib.suppress(Empty):
                poller.poll_events()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    return thread


def test_a_standard_queue_runs_up_to_the_cap_and_receives_nothing_while_full(scaling):
    batches = [[f"m{i}"] for i in range(5)]
    poller = patched(scaling, {}, "arn:aws:sqs:r:1:q", batches, cap=3)
    loop = poll_in_background(poller, rounds=6)

    # Three batches in flight; the fourth receive waits for a free slot.
    loop.join(0.5)
    assert (poller.received, poller.in_flight) == (3, 3)
    poller.release.set()
    loop.join(10)
    assert not loop.is_alive()
    for _ in range(100):
        if len(poller.handled) == 5:
            break
        threading.Event().wait(0.05)
    assert sorted(poller.handled) == [f"m{i}" for i in range(5)]
    assert poller.most_in_flight == 3


def test_maximum_concurrency_lowers_the_cap_and_fifo_queues_stay_one_at_a_time(scaling):
    assert scaling.concurrency({"ScalingConfig": {"MaximumConcurrency": 2}}, 5) == 2
    assert scaling.concurrency({"ScalingConfig": {"MaximumConcurrency": 5}}, 1) == 5
    assert scaling.concurrency({"ScalingConfig": {"MaximumConcurrency": 50}}, 1) == scaling.CEILING
    assert scaling.concurrency({}, 1) == 1

    fifo = patched(scaling, {}, "arn:aws:sqs:r:1:q.fifo", [["a"], ["b"]], cap=5)
    assert not hasattr(fifo, "_harness_slots")
    fifo.release.set()
    fifo.poll_events()
    fifo.poll_events()
    assert fifo.handled == ["a", "b"] and fifo.most_in_flight == 1


def test_the_cap_comes_from_the_environment_and_a_bad_value_is_a_clear_error(scaling):
    assert scaling.configured_default({}) == scaling.DEFAULT == 1
    assert scaling.configured_default({"HARNESS_ESM_CONCURRENCY": "5"}) == 5
    assert scaling.configured_default({"HARNESS_ESM_CONCURRENCY": "1"}) == 1
    for bad in ("0", "many"):
        with pytest.raises(ValueError, match="HARNESS_ESM_CONCURRENCY"):
            scaling.configured_default({"HARNESS_ESM_CONCURRENCY": bad})


def test_a_failed_batch_frees_its_slot(scaling):
    poller = patched(scaling, {}, "arn:aws:sqs:r:1:q", [], cap=2)
    slots = poller._harness_slots
    failed = []

    def boom(name):
        failed.append(name)
        raise RuntimeError("invoke failed")

    for name in ("x", "y"):
        slots.poll(lambda name=name: slots.handle(lambda: boom(name)))
    # Both slots come back: two more batches get in flight at once.
    started, hold = threading.Semaphore(0), threading.Event()

    def blocking():
        started.release()
        hold.wait(10)

    for _ in range(2):
        threading.Thread(
            target=lambda: slots.poll(lambda: slots.handle(blocking)), daemon=True
        ).start()
    assert started.acquire(timeout=5) and started.acquire(timeout=5)
    hold.set()
    assert sorted(failed) == ["x", "y"]


def test_an_empty_scaling_config_removes_the_setting_as_on_aws(scaling):
    stored = {"u-1": {"UUID": "u-1", "BatchSize": 10, "ScalingConfig": {"MaximumConcurrency": 5}}}

    class Provider:
        def update_event_source_mapping_v2(self, context, request):
            stored[request["UUID"]] |= {k: v for k, v in request.items() if k != "UUID"}
            return dict(stored[request["UUID"]])

    scaling._forget_emptied_scaling(Provider, lambda context: stored)
    kept = Provider().update_event_source_mapping_v2(None, {"UUID": "u-1", "BatchSize": 2})
    assert kept["ScalingConfig"] == {"MaximumConcurrency": 5}
    emptied = Provider().update_event_source_mapping_v2(None, {"UUID": "u-1", "ScalingConfig": {}})
    assert "ScalingConfig" not in emptied and "ScalingConfig" not in stored["u-1"]
    assert stored["u-1"]["BatchSize"] == 2


ESM_WORKER = """
class ExponentialBackoff:
    def __init__(self, **settings):
        self.settings = settings

class EsmWorker:
    def poller_loop(self):
        return ExponentialBackoff(initial_interval=1, max_interval=0.2)
"""


def miniature_esm_worker() -> types.ModuleType:
    """LocalStack's esm_worker in miniature: the loop finds the backoff class by its
    module-level name."""
    esm_worker = types.ModuleType("esm_worker")
    exec(ESM_WORKER, esm_worker.__dict__)
    return esm_worker


def test_an_empty_poll_backs_off_at_most_the_configured_maximum(scaling):
    """LocalStack makes the empty-poll backoff with initial_interval=1 and max_interval
    LAMBDA_EVENT_SOURCE_MAPPING_MAX_BACKOFF_ON_EMPTY_POLL_SEC, and caps only later
    intervals: the first empty poll after a batch slept up to 1.5 s."""
    esm_worker = miniature_esm_worker()
    scaling.cap_empty_poll_backoff(esm_worker)
    made = [
        esm_worker.ExponentialBackoff(initial_interval=1, max_interval=0.2),  # empty poll
        esm_worker.ExponentialBackoff(initial_interval=2, max_interval=5),  # error: unchanged
        esm_worker.ExponentialBackoff(initial_interval=3),  # no maximum: nothing to cap to
    ]
    assert [backoff.settings for backoff in made] == [
        {"initial_interval": 0.2, "max_interval": 0.2},
        {"initial_interval": 2, "max_interval": 5},
        {"initial_interval": 3},
    ]


def test_the_cap_replaces_the_name_the_poll_loop_uses_or_start_up_fails(scaling):
    """Replacing the module-level name caps the loop's own backoff; a release whose loop
    no longer uses the name fails start-up."""
    esm_worker = miniature_esm_worker()
    scaling.cap_empty_poll_backoff(esm_worker)
    made = esm_worker.EsmWorker().poller_loop()
    assert made.settings == {"initial_interval": 0.2, "max_interval": 0.2}

    class Renamed:  # a release whose loop makes its backoff some other way
        def poller_loop(self):
            return None

    esm_worker.EsmWorker = Renamed
    with pytest.raises(RuntimeError, match="no longer uses ExponentialBackoff"):
        scaling.cap_empty_poll_backoff(esm_worker)


@pytest.mark.parametrize(("window", "sent"), [(0, 2), (5, 5)])
def test_a_mapping_without_a_batching_window_long_polls(scaling, window, sent):
    """LocalStack's receive (WaitTimeSeconds: its batching window, 0 by default) goes
    out with LONG_POLL_S when it would not wait, and as it is when it would."""
    poller = patched(scaling, {}, "arn:aws:sqs:us-east-1:000000000000:q", [], cap=1)
    queue = "http://127.0.0.1:9/000000000000/q"
    assert scaling.LONG_POLL_S == 2
    with Stubber(poller.source_client) as stub:
        stub.add_response("receive_message", {}, {"QueueUrl": queue, "WaitTimeSeconds": sent})
        poller.source_client.receive_message(QueueUrl=queue, WaitTimeSeconds=window)
        stub.assert_no_pending_responses()


def test_a_stopped_worker_returns_once_its_poll_loop_has_ended(scaling):
    """The old worker of an updated mapping finishes the receive it had waiting before
    the new worker starts (its messages are then the old configuration's, before the
    mapping reads Enabled again)."""
    ended = threading.Event()
    stopping = threading.Event()

    class Worker:
        uuid = "u-1"

        def __init__(self) -> None:
            self._poller_thread = threading.Thread(target=self.loop)

        def loop(self) -> None:
            stopping.wait(5)
            time.sleep(0.3)  # the long poll in flight
            ended.set()

        def stop(self) -> None:
            stopping.set()

    scaling.join_on_stop(Worker, seconds=5)
    worker = Worker()
    worker._poller_thread.start()
    worker.stop()
    assert ended.is_set()
