"""A deployed stack's state, saved to a folder and loaded into a fresh LocalStack.

Deploying infra/envs/local takes about a minute, most of it the AWS provider's fixed
waits (docs/performance.md, "Cold start"). LocalStack 4.13.1 community keeps the
persistence API (each provider's `accept_state_visitor` and state lifecycle hooks) but
not the code that drives it (`PERSISTENCE` and `localstack state` are in the Pro
package). This plugin drives it, and only on request:

- `POST /_harness/state/save` `{"folder": ...}`: every loaded service's stores, each
  pickled with LocalStack's own pickler (`localstack.state.pickle`), and the S3 objects'
  bodies, with a `manifest.json` that names them. Asset folders are not carried: S3's
  holds only nameless temporary files (the bodies are read through S3's storage
  backend instead), and CloudWatch's holds the metrics database, which other threads
  write every second and which holds only the deploy's own traffic;
- `POST /_harness/state/load` `{"folder": ...}`: the same containers in the same
  order, replacing what each service holds (the harness loads only into a LocalStack it
  has just started and that holds no function, queue or bucket), each service's
  `on_before_state_load` / `on_after_state_load` hooks around it (Lambda starts its
  function versions and event source mappings again, CloudWatch its alarms). A load
  whose function versions do not all come back Active fails.

A save refuses what a load could not bring back whole: an S3 multipart upload in
progress (its parts are not carried) and EventBridge rules (the events provider has no
hook that rebuilds their runtime objects; the pipeline has none).

The harness saves right after a successful deploy and loads, instead of the next deploy
of the same sources, into a fresh LocalStack (harness/build/snapshots.py). The
containers are visited in the order each provider visits them; the manifest records
that order, its types and the LocalStack version, and a load refuses a folder that does
not match.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from localstack.runtime import hooks

LOG = logging.getLogger(__name__)
SAVE_PATH = "/_harness/state/save"
LOAD_PATH = "/_harness/state/load"
MANIFEST = "manifest.json"
# S3 first (Lambda's code is an object of LocalStack's internal bucket), Lambda after the
# services its mappings and functions use, CloudWatch's alarms last.
FIRST, LAST = ("s3",), ("lambda", "cloudwatch")
_lock = threading.Lock()


# --- what LocalStack's pickler cannot take as it is -----------------------------------
# dill restores a lock in the state it was in when saved; a store pickled while one of
# LocalStack's threads held its lock would come back locked forever. A condition keeps
# its waiters' locks: the threads that waited on it are gone after a load. So each comes
# back new and free; a condition over the same lock object as before.


def _new_condition(lock: Any) -> threading.Condition:
    return threading.Condition(lock)


def _parameter_dict(cls: type, state: dict[str, Any], items: dict[str, Any]) -> Any:
    """moto's SSM ParameterDict: a defaultdict whose __init__ takes the account and
    region, which the defaultdict pickle protocol would not pass."""
    obj = cls.__new__(cls)
    defaultdict.__init__(obj, list)
    obj.__dict__.update(state)
    obj.update(items)
    return obj


def _register_reducers() -> None:
    from localstack.state.pickle import register

    @register(type(threading.Lock()))
    def _lock(pickler: Any, obj: Any) -> None:
        pickler.save_reduce(threading.Lock, (), obj=obj)

    @register(type(threading.RLock()))
    def _rlock(pickler: Any, obj: Any) -> None:
        pickler.save_reduce(threading.RLock, (), obj=obj)

    @register(threading.Condition)
    def _condition(pickler: Any, obj: Any) -> None:
        # Its lock, not a new one: `with queue.mutex: queue.not_empty.notify()` needs both
        # to be the same object after the load as before (the pickler keeps that identity).
        pickler.save_reduce(_new_condition, (obj._lock,), obj=obj)

    try:
        from moto.ssm.models import ParameterDict
    except ImportError:  # no SSM in this LocalStack: nothing to teach
        return

    @register(ParameterDict)
    def _parameters(pickler: Any, obj: Any) -> None:
        pickler.save_reduce(_parameter_dict, (type(obj), dict(obj.__dict__), dict(obj)), obj=obj)


def _ordered(services: list[str]) -> list[str]:
    middle = sorted(s for s in services if s not in FIRST + LAST)
    return [s for s in FIRST if s in services] + middle + [s for s in LAST if s in services]


def _kind(container: Any) -> str:
    from localstack.state import AssetDirectory

    return "assets" if isinstance(container, AssetDirectory) else type(container).__name__


class _Visitor:
    """Numbers the containers of one service in the order its provider visits them."""

    def __init__(self, folder: Path, service: str) -> None:
        self.folder, self.service = folder, service
        self.entries: list[dict[str, Any]] = []

    def visit(self, container: Any) -> None:
        entry = {"index": len(self.entries), "kind": _kind(container)}
        self.entries.append(entry)
        self.handle(container, self.folder / f"{self.service}.{entry['index']}", entry)

    def handle(self, container: Any, path: Path, entry: dict[str, Any]) -> None:
        raise NotImplementedError


class _Saver(_Visitor):
    def handle(self, container: Any, path: Path, entry: dict[str, Any]) -> None:
        from localstack.state import pickle

        if entry["kind"] == "assets":  # not carried (the module's docstring says why)
            return
        with path.open("wb") as file:
            pickle.dump(container, file)


class _Loader(_Visitor):
    def __init__(self, folder: Path, service: str, expected: list[dict[str, Any]]) -> None:
        super().__init__(folder, service)
        self.expected = expected

    def handle(self, container: Any, path: Path, entry: dict[str, Any]) -> None:
        from localstack.state import pickle

        index = entry["index"]
        if index >= len(self.expected) or self.expected[index]["kind"] != entry["kind"]:
            raise ValueError(f"{self.service}: container {index} is not the saved one")
        if entry["kind"] == "assets":
            return
        with path.open("rb") as file:
            loaded = pickle.load(file)
        # In place: the providers and their workers hold the container itself.
        container.clear()
        container.update(loaded)
        container.__dict__.update(loaded.__dict__)


# --- S3 object bodies ---------------------------------------------------------------
# S3's stores hold the objects' metadata; their bodies live in the provider's storage
# backend, in memory or in unlinked temporary files under names hashed per process, so
# its asset folder holds nothing a new process could read. Each body is read through the
# backend and written back through it, in the stores' own order.


def _s3_buckets() -> dict[int, tuple[str, Any]]:
    from localstack.services.s3.models import s3_stores

    return {
        id(bucket): (name, bucket)
        for regions in s3_stores.values()
        for store in regions.values()
        for name, bucket in store.buckets.items()  # one dict for every region
    }


def _s3_objects() -> list[tuple[str, Any]]:
    from localstack.services.s3.models import S3DeleteMarker, VersionedKeyStore

    found: list[tuple[str, Any]] = []
    for name, bucket in _s3_buckets().values():
        objects = bucket.objects
        if isinstance(objects, VersionedKeyStore):
            values = objects.values(with_versions=True)
        else:
            values = objects.values()
        found += [(name, o) for o in values if not isinstance(o, S3DeleteMarker)]
    return found


def _s3_storage() -> Any:
    from localstack.services.plugins import SERVICE_PLUGINS

    return SERVICE_PLUGINS.get_service("s3")._provider._storage_backend


def _object_id(bucket: str, obj: Any) -> list[str | None]:
    return [bucket, obj.key, obj.version_id]


def _save_s3_bodies(folder: Path) -> int:
    storage, bodies = _s3_storage(), folder / "s3.bodies"
    bodies.mkdir()
    index = []
    for number, (bucket, obj) in enumerate(_s3_objects()):
        stored = storage.open(bucket, obj, "r")
        try:
            (bodies / str(number)).write_bytes(stored.read())
        finally:
            stored.close()
        index.append(_object_id(bucket, obj))
    (bodies / "index.json").write_text(json.dumps(index))
    return len(index)


def _load_s3_bodies(folder: Path) -> int:
    storage, bodies = _s3_storage(), folder / "s3.bodies"
    index = json.loads((bodies / "index.json").read_text())
    objects = _s3_objects()
    if [_object_id(bucket, obj) for bucket, obj in objects] != index:
        raise ValueError("the S3 objects loaded are not those whose bodies were saved")
    for name, _ in _s3_buckets().values():
        storage.create_bucket(name)  # the bucket's folder, as CreateBucket makes it
    for number, (bucket, obj) in enumerate(objects):
        etag = obj.etag  # as saved: a multipart upload's is not the body's MD5
        stored = storage.open(bucket, obj, "w")
        try:
            with (bodies / str(number)).open("rb") as body:
                stored.write(body)
        finally:
            stored.close()
        obj.etag = etag
    return len(index)


def _refuse_what_a_load_cannot_restore() -> None:
    from localstack.services.events.models import events_stores

    for _, bucket in _s3_buckets().values():
        if bucket.multiparts:
            raise ValueError(f"bucket {bucket.name} has a multipart upload in progress")
    for regions in events_stores.values():
        for store in regions.values():
            for bus in store.event_buses.values():
                if bus.rules:
                    raise ValueError(f"event bus {bus.name} has rules, which a load cannot start")


def _lambda_versions_not_active() -> list[str]:
    from localstack.aws.api.lambda_ import State
    from localstack.services.lambda_.invocation.lambda_service import lambda_stores

    return [
        f"{version.id.qualified_arn()}: {version.config.state.state}"
        for regions in lambda_stores.values()
        for store in regions.values()
        for function in store.functions.values()
        for version in function.versions.values()
        if version.config.state.state != State.Active
    ]


def save(folder: Path) -> dict[str, Any]:
    from localstack import version
    from localstack.services.plugins import SERVICE_PLUGINS

    started = time.monotonic()
    _refuse_what_a_load_cannot_restore()
    folder.mkdir(parents=True, exist_ok=True)
    services: dict[str, list[dict[str, Any]]] = {}
    for name in _ordered(SERVICE_PLUGINS.list_loaded_services()):
        service = SERVICE_PLUGINS.get_service(name)
        hook = service.lifecycle_hook
        hook.on_before_state_save()
        visitor = _Saver(folder, name)
        service.accept_state_visitor(visitor)
        if name == "s3":
            visitor.entries.append({"kind": "bodies", "count": _save_s3_bodies(folder)})
        hook.on_after_state_save()
        services[name] = visitor.entries
    manifest = {"localstack": version.__version__, "services": services}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2))
    return manifest | {"seconds": round(time.monotonic() - started, 3)}


def load(folder: Path) -> dict[str, Any]:
    from localstack import version
    from localstack.services.plugins import SERVICE_PLUGINS

    started = time.monotonic()
    manifest = json.loads((folder / MANIFEST).read_text())
    if manifest["localstack"] != version.__version__:
        raise ValueError(f"saved by LocalStack {manifest['localstack']}, not {version.__version__}")
    for name, expected in manifest["services"].items():
        service = SERVICE_PLUGINS.require(name)
        hook = service.lifecycle_hook
        hook.on_before_state_load()
        visitor = _Loader(folder, name, expected)
        service.accept_state_visitor(visitor)
        if name == "s3":
            visitor.entries.append({"kind": "bodies", "count": _load_s3_bodies(folder)})
        if len(visitor.entries) != len(expected):
            raise ValueError(f"{name}: {len(visitor.entries)} containers, {len(expected)} saved")
        hook.on_after_state_load()
    if "lambda" in manifest["services"] and (idle := _lambda_versions_not_active()):
        raise ValueError("function versions did not come back Active: " + "; ".join(idle))
    return {"services": list(manifest["services"]), "seconds": round(time.monotonic() - started, 3)}


class StateEndpoints:
    """The two routes; one save or load at a time."""

    def _run(self, request: Any, action: Any) -> Any:
        from localstack.http import Response

        body = request.get_json(force=True) or {}
        folder = body.get("folder")
        if not folder:
            return Response.for_json({"error": "a folder is needed"}, status=400)
        with _lock:
            try:
                return action(Path(folder))
            except Exception as error:  # the caller gets the reason; LocalStack's log the trace
                LOG.exception("harness_state: %s of %s failed", action.__name__, folder)
                return Response.for_json({"error": f"{type(error).__name__}: {error}"}, status=500)

    def save(self, request: Any) -> Any:
        return self._run(request, save)

    def load(self, request: Any) -> Any:
        return self._run(request, load)


@hooks.on_infra_start()
def add_state_endpoints() -> None:
    from localstack.services.edge import ROUTER

    _register_reducers()
    endpoints = StateEndpoints()
    ROUTER.add(SAVE_PATH, endpoints.save, methods=["POST"])
    ROUTER.add(LOAD_PATH, endpoints.load, methods=["POST"])
