"""SQS event source mappings run several batches at once, as on AWS.

AWS polls a standard queue with five concurrent batches from the start and scales up
from there, to `ScalingConfig.MaximumConcurrency` when the mapping sets it. LocalStack
4.13's mapping polls, invokes and deletes one batch at a time, so a function that takes
0.8 s per batch of ten caps the pipeline at ~12 images/s however many images wait.

This hook (entry point `localstack.hooks.on_runtime_create` in this folder's
pyproject.toml) lets each SQS mapping keep up to `concurrency` batches in flight: the
mapping's poll loop takes a free slot before it receives, then hands the batch to a
thread of its own and polls again. What LocalStack does with a batch (filtering, the
invoke, `ReportBatchItemFailures`, the deletes) is unchanged: it is LocalStack's own
`handle_messages`, only run on that thread. FIFO queues keep one batch at a time, which
keeps their order within a message group.

`concurrency`: the mapping's `ScalingConfig.MaximumConcurrency` when it sets one (at
most `CEILING`), else `HARNESS_ESM_CONCURRENCY`, which the harness sets to 1 unless told
otherwise: measured on a 2-core machine (on hypercorn), 300 images through the labeler
went at 8.4, 8.1 and 5.9 images/s with 1, 2 and 5 batches in flight, since LocalStack's
single process was the limit and more batches only stretched each one towards the
function's timeout. On twisted, on a faster machine, 2 batches lifted batch size 1 from
12 to 22 images/s and left batch size 10 (30-40) within its spread (docs/performance.md).
So envs/local's labeler runs one batch at a time, and envs/aws (MaximumConcurrency 5) or a
test that sets MaximumConcurrency runs five. AWS's scale-up past its first five batches
is not emulated. Both are written down in infra/envs/differences.yaml.

The same hook makes an empty poll back off LAMBDA_EVENT_SOURCE_MAPPING_MAX_BACKOFF_ON_EMPTY_POLL_SEC
at most (0.2 s here, jittered by half: 0.1 to 0.3 s), as the setting says. LocalStack
starts that backoff at 1 s and caps only the intervals after it, and a
poll that finds messages starts it afresh, so the first empty poll after every batch
slept 0.5 to 1.5 s (jittered): at 10 uploads/s the images queued up behind it and an
upload waited up to 1.5 s for its result (measured, docs/performance.md). AWS long-polls,
so it takes a message as soon as it arrives.

And a mapping without a batching window long-polls, as AWS's does: LocalStack's receives
with WaitTimeSeconds 0 when MaximumBatchingWindowInSeconds is 0, so an idle mapping
polled its queue five times a second (1.7 % of a core per mapping here, every idle
minute of every stack: measured with the mapping enabled and disabled). Its receives get
WaitTimeSeconds LONG_POLL_S instead, which SQS answers as soon as a message is there (a
receive wakes on the message, not on the next poll); LONG_POLL_S, not AWS's 20 s, so
that a disabled mapping reaches Disabled within seconds, as the tests wait for it.
An update of the mapping (UpdateEventSourceMapping: LocalStack stops its worker and
starts a new one) waits for the old worker's poll loop to end, STOP_JOIN_S at most: a
receive it still had waiting would otherwise take messages for the old configuration
(a batch size of 10 after the update said 2) once the mapping already read Enabled.

Hand-written because LocalStack has no setting for any of these; the patch touches two
methods of `SqsPoller` (and its client's receive parameters), one of `EsmWorkerFactory`,
`EsmWorker.stop` and the backoff class `esm_worker` makes, all checked to exist at
start-up.
"""

from __future__ import annotations

import logging
import os
import threading
import types
from collections.abc import Callable
from typing import Any

from localstack.runtime import hooks

LOG = logging.getLogger(__name__)
ENV_VAR = "HARNESS_ESM_CONCURRENCY"
DEFAULT = 1  # LocalStack's own: one batch at a time
CEILING = 10  # threads per mapping, whatever MaximumConcurrency says (AWS allows 1000)
LONG_POLL_S = 2  # a mapping's receive with no batching window waits this long for a message
LONG_POLL_ID = "harness-esm-long-poll"  # once per client, should mappings share one
STOP_JOIN_S = 10.0  # a long poll, and the batch it may have taken, to finish


def concurrency(esm_config: dict[str, Any], default: int) -> int:
    """Batches one mapping may have in flight: its MaximumConcurrency, else the default."""
    maximum = (esm_config.get("ScalingConfig") or {}).get("MaximumConcurrency")
    return max(1, min(CEILING, int(maximum))) if maximum else max(1, default)


def configured_default(environ: dict[str, str] | None = None) -> int:
    value = (environ if environ is not None else os.environ).get(ENV_VAR) or str(DEFAULT)
    try:
        cap = int(value)
    except ValueError:
        raise ValueError(f"{ENV_VAR} must be a whole number >= 1, not {value!r}") from None
    if cap < 1:
        raise ValueError(f"{ENV_VAR} must be a whole number >= 1, not {value!r}")
    return cap


class Slots:
    """The batches in flight of one mapping, and the hand-off from its poll loop.

    `poll` wraps one round of the poll loop: it waits for a free slot *before* the
    receive, so no message is taken from the queue (and made invisible) while every
    slot is busy. If that round hands a batch over (`handle`), the slot goes with it
    and is freed when the batch is done; otherwise `poll` frees it itself.
    """

    def __init__(self, size: int, name: str = "esm") -> None:
        self.size = size
        self.name = name
        self._free = threading.BoundedSemaphore(size)
        self._held = threading.local()

    def poll(self, receive: Callable[[], None]) -> None:
        self._free.acquire()
        self._held.slot = True
        try:
            receive()
        finally:
            if getattr(self._held, "slot", False):
                self._held.slot = False
                self._free.release()

    def handle(self, process: Callable[[], None]) -> None:
        """Run `process` on a thread of its own when this round holds a slot, else here."""
        if not getattr(self._held, "slot", False):
            process()
            return
        self._held.slot = False
        threading.Thread(target=self._run, args=(process,), name=self.name, daemon=True).start()

    def _run(self, process: Callable[[], None]) -> None:
        try:
            process()
        except Exception as error:  # LocalStack's poll_events logs these the same way
            LOG.warning("Polling or batch processing failed: %s", error)
        finally:
            self._free.release()


def long_poll(params: dict[str, Any], **kwargs: Any) -> None:
    """A boto `provide-client-params` hook: a receive that would not wait, waits."""
    if not params.get("WaitTimeSeconds"):
        params["WaitTimeSeconds"] = LONG_POLL_S


def _patch(poller_class: type, factory_class: type, default: int) -> None:
    poll_events = poller_class.poll_events
    handle_messages = poller_class.handle_messages
    get_esm_worker = factory_class.get_esm_worker

    def scaled_get_esm_worker(self):
        worker = get_esm_worker(self)
        poller = worker.poller
        if not isinstance(poller, poller_class):
            return worker
        poller.source_client.meta.events.register(
            "provide-client-params.sqs.ReceiveMessage", long_poll, unique_id=LONG_POLL_ID
        )
        # A FIFO queue's name ends in .fifo on AWS (asking the queue would call the
        # gateway while LocalStack may still be restoring its state).
        size = concurrency(self.esm_config, default)
        if size > 1 and not poller.source_arn.endswith(".fifo"):
            poller._harness_slots = Slots(size, f"esm-batch-{worker.uuid}")
        return worker

    def scaled_poll_events(self) -> None:
        slots = getattr(self, "_harness_slots", None)
        if slots is None:
            return poll_events(self)
        return slots.poll(lambda: poll_events(self))

    def scaled_handle_messages(self, messages) -> None:
        slots = getattr(self, "_harness_slots", None)
        if slots is None:
            return handle_messages(self, messages)
        return slots.handle(lambda: handle_messages(self, messages))

    poller_class.poll_events = scaled_poll_events
    poller_class.handle_messages = scaled_handle_messages
    factory_class.get_esm_worker = scaled_get_esm_worker


def join_on_stop(worker_class: type, seconds: float = STOP_JOIN_S) -> None:
    """Make `worker_class.stop` return once the worker's poll loop has ended (or after
    `seconds`), not as soon as it has asked the loop to end."""
    stop = worker_class.stop

    def stop_and_join(self) -> None:
        stop(self)
        thread = getattr(self, "_poller_thread", None)
        if isinstance(thread, threading.Thread) and thread is not threading.current_thread():
            thread.join(seconds)
            if thread.is_alive():
                LOG.warning("event source mapping %s: its poll loop is still running", self.uuid)

    worker_class.stop = stop_and_join


def _forget_emptied_scaling(provider_class: type, mappings: Callable[[Any], dict]) -> None:
    """UpdateEventSourceMapping with `ScalingConfig: {}` removes the setting, as on AWS;
    LocalStack keeps an empty one, which Terraform then plans to remove forever."""
    update = provider_class.update_event_source_mapping_v2

    def update_event_source_mapping_v2(self, context, request):
        result = update(self, context, request)
        if request.get("ScalingConfig") == {}:
            mappings(context).get(request["UUID"], {}).pop("ScalingConfig", None)
            result = {k: v for k, v in result.items() if k != "ScalingConfig"}
        return result

    provider_class.update_event_source_mapping_v2 = update_event_source_mapping_v2


def cap_empty_poll_backoff(esm_worker: types.ModuleType) -> None:
    """Make every backoff `esm_worker` makes start at no more than its `max_interval`.

    The module's poll loop looks its backoff class up by name each time it starts, so
    replacing the name caps every mapping started after this hook (the error backoff,
    initial 2 s and max 5 s, is left as it is). If a LocalStack release stops using that
    name, start-up fails here instead of the cap quietly doing nothing.
    """
    if "ExponentialBackoff" not in esm_worker.EsmWorker.poller_loop.__code__.co_names:
        raise RuntimeError(
            "harness_esm_scaling: EsmWorker.poller_loop no longer uses ExponentialBackoff"
        )
    backoff_class = esm_worker.ExponentialBackoff

    def capped(**settings: Any) -> Any:
        if "initial_interval" in settings and "max_interval" in settings:
            settings["initial_interval"] = min(
                settings["initial_interval"], settings["max_interval"]
            )
        return backoff_class(**settings)

    esm_worker.ExponentialBackoff = capped


@hooks.on_runtime_create()
def scale_sqs_mappings() -> None:
    default = configured_default()
    from localstack.services.lambda_.event_source_mapping import esm_worker
    from localstack.services.lambda_.event_source_mapping.esm_worker_factory import (
        EsmWorkerFactory,
    )
    from localstack.services.lambda_.event_source_mapping.pollers.sqs_poller import SqsPoller
    from localstack.services.lambda_.invocation.lambda_service import lambda_stores
    from localstack.services.lambda_.provider import LambdaProvider

    _patch(SqsPoller, EsmWorkerFactory, default)
    cap_empty_poll_backoff(esm_worker)
    join_on_stop(esm_worker.EsmWorker)
    _forget_emptied_scaling(
        LambdaProvider,
        lambda context: lambda_stores[context.account_id][context.region].event_source_mappings,
    )
    LOG.info(
        "SQS event source mappings run MaximumConcurrency batches at once (at most %d), else %d",
        CEILING,
        default,
    )
