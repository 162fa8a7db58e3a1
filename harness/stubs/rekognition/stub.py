"""Rekognition stub: a real HTTP server speaking DetectLabels over AWS JSON 1.1.

An unmodified boto3 client works against it (``endpoint_url=`` or
``AWS_ENDPOINT_URL_REKOGNITION``), so the labeler Lambda runs locally exactly as in AWS.

Wire protocol
    ``POST /`` with ``X-Amz-Target: RekognitionService.DetectLabels`` and
    ``Content-Type: application/x-amz-json-1.1``. Success: 200, ``{"Labels": [...],
    "LabelModelVersion": "3.0"}`` (+ ``ImageProperties`` when asked for). Errors: the
    status from the API reference, body ``{"__type": code, "Code": code, "Message": ...}``
    and headers ``x-amzn-ErrorType`` and ``x-amzn-RequestId``. Any other target:
    400 ``com.amazon.coral.service#UnknownOperationException``.

Processing order
    faults (see ``faults.py``) -> request validation -> the caller's permissions
    (``caller.py``: the local stack's IAM, as Rekognition acts with the caller's
    permissions on AWS) -> fetch the image (``Image.Bytes``
    or ``Image.S3Object`` through the S3 reader) -> size, format and dimension checks
    (``images.py``) -> first matching rule (``rules.py``) or the default labels
    (``labels.py``) -> ``Settings`` filters, ``MinConfidence``, ``MaxLabels``.
    Size limits are AWS's: image bytes over 5 MB (decoded) and S3 objects over 15 MB
    are ``ImageTooLargeException``; a request body too large to hold a 5 MB image is
    refused before it is read, and an S3 object over 15 MB is refused from its length.

Control API (JSON in and out; all under ``/_stub/``)
    ``GET    /_stub/health``  ``{"ok": true, "service": "rekognition", "calls": n}``
    ``GET    /_stub/rules``   ``{"rules": [...]}``
    ``PUT    /_stub/rules``   replace; body: a list, ``{"rules": [...]}`` or one rule
    ``POST   /_stub/rules``   append (same body forms)
    ``DELETE /_stub/rules``   remove all rules
    ``GET    /_stub/faults``  ``{"faults": [...]}`` with ``eligible``/``fired`` counters
    ``PUT    /_stub/faults``  replace (counters and RNGs restart)
    ``POST   /_stub/faults``  append
    ``DELETE /_stub/faults``  remove all faults
    ``GET    /_stub/calls``   ``{"calls": [...]}``, oldest first (the newest 50,000
                              are kept); each call: ``time``, ``request_id``,
                              ``operation``, ``source`` ("s3"/"bytes"), ``bucket``,
                              ``key``, ``version``, ``sha256``, ``size``, ``outcome``
                              ("labels"/"error"), ``labels`` (count), ``error`` (code),
                              ``status``, ``rule`` and ``fault`` (indexes), ``latency_ms``
    ``DELETE /_stub/calls``   forget the call log
    ``POST   /_stub/reset``   rules, faults and calls back to empty
    A malformed control body gets 400 ``{"error": "..."}`` and changes nothing.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import deque
from typing import Any

from harness.stubs.httpserver import (
    HOST,
    BackgroundServer,
    ControlError,
    ControlRoute,
    StubHandler,
    log,
)
from harness.stubs.rekognition.api import (
    DetectLabelsRequest,
    load_body,
    parse_request,
    s3_key_of,
)
from harness.stubs.rekognition.caller import CallerCheck
from harness.stubs.rekognition.exceptions import (
    UNKNOWN_OPERATION_TYPE,
    RekognitionError,
    error_from_spec,
)
from harness.stubs.rekognition.faults import Fault, parse_faults, roll_faults
from harness.stubs.rekognition.images import MAX_BYTES_SIZE, inspect_image, sha256_hex
from harness.stubs.rekognition.labels import (
    LABEL_MODEL_VERSION,
    default_labels,
    filter_labels,
    image_properties,
)
from harness.stubs.rekognition.rules import Rule, parse_rules
from harness.stubs.rekognition.s3_reader import S3Reader, boto3_s3_reader

TARGET = "RekognitionService.DetectLabels"
JSON_11 = "application/x-amz-json-1.1"
MAX_CALLS = 50_000  # the call log keeps the newest calls; a long `harness up` stays bounded
# The base64 of the largest image DetectLabels takes in the request, plus room for the
# rest of the JSON: a larger body cannot hold an acceptable image.
MAX_REQUEST_BYTES = 4 * -(-MAX_BYTES_SIZE // 3) + 1024 * 1024


class RekognitionState:
    """Rules, faults and the call log, shared by all handler threads under one lock."""

    def __init__(self, s3_reader: S3Reader, caller_check: CallerCheck | None = None) -> None:
        self.s3_reader = s3_reader
        self.caller_check = caller_check
        self._lock = threading.Lock()
        self._rules: list[Rule] = []
        self._faults: list[Fault] = []
        self._calls: deque[dict[str, Any]] = deque(maxlen=MAX_CALLS)

    # rules
    def rules(self) -> list[dict[str, Any]]:
        with self._lock:
            return [r.spec for r in self._rules]

    def set_rules(self, raw: Any, append: bool = False) -> list[dict[str, Any]]:
        with self._lock:
            start = len(self._rules) if append else 0
            parsed = parse_rules(raw, start)  # raises before anything changes
            self._rules = [*self._rules, *parsed] if append else parsed
            return [r.spec for r in self._rules]

    def match_rule(
        self, bucket: str | None, key: str | None, sha256: str
    ) -> tuple[int, Rule] | None:
        with self._lock:
            for index, rule in enumerate(self._rules):
                if rule.matches(bucket, key, sha256):
                    return index, rule
        return None

    # faults
    def faults(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.to_json() for f in self._faults]

    def set_faults(self, raw: Any, append: bool = False) -> list[dict[str, Any]]:
        with self._lock:
            start = len(self._faults) if append else 0
            parsed = parse_faults(raw, start)
            self._faults = [*self._faults, *parsed] if append else parsed
            return [f.to_json() for f in self._faults]

    def roll_faults(self, key: str | None) -> tuple[int, dict[str, Any] | None, int | None]:
        with self._lock:
            return roll_faults(self._faults, key)

    # calls
    def record(self, call: dict[str, Any]) -> None:
        with self._lock:
            self._calls.append(call)

    def calls(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(c) for c in self._calls]

    def clear_calls(self) -> None:
        with self._lock:
            self._calls.clear()

    def reset(self) -> None:
        with self._lock:
            self._rules, self._faults = [], []
            self._calls.clear()


def detect_labels(
    state: RekognitionState, raw: bytes, call: dict[str, Any], authorization: str = ""
) -> dict[str, Any]:
    """Run one DetectLabels call; fills ``call`` (the log entry) as it learns things.
    ``authorization`` is the request's Authorization header: whose permissions apply."""
    body = load_body(raw)
    latency_ms, fault_error, fault_index = state.roll_faults(s3_key_of(body))
    call["fault"] = fault_index
    if latency_ms:
        time.sleep(latency_ms / 1000)
    if fault_error is not None:
        raise error_from_spec(fault_error)

    request = parse_request(body)
    call.update(
        source="bytes" if request.image_bytes is not None else "s3",
        bucket=request.bucket,
        key=request.key,
        version=request.version,
    )
    _check_caller(state, request, authorization)
    data = _fetch(state, request)
    call.update(sha256=sha256_hex(data), size=len(data))
    info = inspect_image(data, from_s3=request.image_bytes is None)

    matched = state.match_rule(request.bucket, request.key, info.sha256)
    if matched is not None:
        call["rule"] = matched[0]
        spec = matched[1].spec
        if "error" in spec:
            raise error_from_spec(spec["error"])
        labels = [dict(item) for item in spec["labels"]]
    else:
        labels = default_labels(info)

    response: dict[str, Any] = {"Labels": [], "LabelModelVersion": LABEL_MODEL_VERSION}
    if "GENERAL_LABELS" in request.features:
        response["Labels"] = filter_labels(
            labels, request.min_confidence, request.max_labels, request.settings
        )
    if "IMAGE_PROPERTIES" in request.features:
        response["ImageProperties"] = image_properties(info)
    return response


def _check_caller(
    state: RekognitionState, request: DetectLabelsRequest, authorization: str
) -> None:
    if state.caller_check is None:
        return
    try:
        state.caller_check(authorization, request.bucket, request.key, request.version)
    except RekognitionError:
        raise
    except Exception as exc:  # IAM could not be asked: an error, never an allow
        log.warning("asking IAM about the caller failed: %r", exc)
        raise RekognitionError("InternalServerError") from exc


def _fetch(state: RekognitionState, request: DetectLabelsRequest) -> bytes:
    if request.image_bytes is not None:
        return request.image_bytes
    assert request.bucket is not None and request.key is not None
    try:
        return state.s3_reader(request.bucket, request.key, request.version)
    except RekognitionError:  # the reader refused the object itself (too large)
        raise
    except Exception as exc:  # any reader failure looks the same to the caller as in AWS
        log.info("reading s3://%s/%s failed: %r", request.bucket, request.key, exc)
        raise RekognitionError("InvalidS3ObjectException") from exc


class RekognitionHandler(StubHandler):
    """HTTP front: the JSON 1.1 endpoint plus the control API."""

    @property
    def state(self) -> RekognitionState:
        return self.server.state  # type: ignore[no-any-return]

    def handle_service(self, method: str) -> None:
        started = time.monotonic()
        # A body far over the image limit is refused before it is read (as AWS's front
        # end does); one just over it is read and its decoded image refused.
        refused = self.body_length() > MAX_REQUEST_BYTES
        raw = b"" if refused else self.read_body()
        target = self.headers.get("X-Amz-Target", "")
        request_id = str(uuid.uuid4())
        call: dict[str, Any] = {
            "time": time.time(),
            "request_id": request_id,
            "operation": target.rpartition(".")[2] or None,
            **dict.fromkeys(("source", "bucket", "key", "version", "sha256", "size")),
            **dict.fromkeys(("rule", "fault", "labels", "error")),
        }
        headers = {"x-amzn-RequestId": request_id}
        if method != "POST" or self.route_path != "/" or target != TARGET:
            status, payload = 400, {"__type": UNKNOWN_OPERATION_TYPE}
            headers["x-amzn-ErrorType"] = "UnknownOperationException:"
            call.update(outcome="error", error="UnknownOperationException")
        else:
            try:
                if refused:
                    raise RekognitionError("ImageTooLargeException")
                authorization = self.headers.get("Authorization", "")
                payload = detect_labels(self.state, raw, call, authorization)
                status = 200
                call.update(outcome="labels", labels=len(payload["Labels"]))
            except RekognitionError as err:
                status, payload, extra = err.wire()
                headers.update(extra)
                call.update(outcome="error", error=err.code)
        call.update(status=status, latency_ms=round((time.monotonic() - started) * 1000, 1))
        self.state.record(call)  # before answering: a caller may read the log right after
        if refused:
            headers["Connection"] = "close"
        self.send_json(status, payload, content_type=JSON_11, headers=headers)
        if refused:
            self.discard_body()


def _health(h: RekognitionHandler, _body: Any) -> tuple[int, Any]:
    return 200, {"ok": True, "service": "rekognition", "calls": len(h.state.calls())}


def _list(kind: str) -> ControlRoute:
    def route(h: RekognitionHandler, _body: Any) -> tuple[int, Any]:
        return 200, {kind: getattr(h.state, kind)()}

    return route


def _store(kind: str, append: bool) -> ControlRoute:
    """PUT replaces, POST appends; DELETE is a replace with nothing."""

    def route(h: RekognitionHandler, body: Any) -> tuple[int, Any]:
        setter = getattr(h.state, f"set_{kind}")
        try:
            return 200, {kind: setter([] if body is None else body, append=append)}
        except ValueError as exc:
            raise ControlError(str(exc)) from exc

    return route


def _clear_calls(h: RekognitionHandler, _body: Any) -> tuple[int, Any]:
    h.state.clear_calls()
    return 200, {"calls": []}


def _reset(h: RekognitionHandler, _body: Any) -> tuple[int, Any]:
    h.state.reset()
    return 200, {"ok": True}


RekognitionHandler.control_routes = {
    ("GET", "/_stub/health"): _health,
    ("GET", "/_stub/rules"): _list("rules"),
    ("PUT", "/_stub/rules"): _store("rules", append=False),
    ("POST", "/_stub/rules"): _store("rules", append=True),
    ("DELETE", "/_stub/rules"): lambda h, _b: _store("rules", append=False)(h, []),
    ("GET", "/_stub/faults"): _list("faults"),
    ("PUT", "/_stub/faults"): _store("faults", append=False),
    ("POST", "/_stub/faults"): _store("faults", append=True),
    ("DELETE", "/_stub/faults"): lambda h, _b: _store("faults", append=False)(h, []),
    ("GET", "/_stub/calls"): _list("calls"),
    ("DELETE", "/_stub/calls"): _clear_calls,
    ("POST", "/_stub/reset"): _reset,
}


class RekognitionStub(BackgroundServer):
    """The Rekognition stub on ``127.0.0.1:port`` (0 = ephemeral) in a background thread.

    ``s3_reader`` wins over ``s3_endpoint``; with neither, boto3's own configuration
    (e.g. ``AWS_ENDPOINT_URL_S3``) decides where S3 objects are read from. ``caller_check``
    decides whether the caller may (``caller.iam_caller_check``: the local stack's IAM,
    which ``python -m harness.stubs`` wires in); None checks nothing.
    """

    name = "rekognition"

    def __init__(
        self,
        port: int = 0,
        s3_endpoint: str | None = None,
        s3_reader: S3Reader | None = None,
        host: str = HOST,
        caller_check: CallerCheck | None = None,
    ) -> None:
        reader = s3_reader or boto3_s3_reader(s3_endpoint)
        state = RekognitionState(reader, caller_check)
        super().__init__(port, RekognitionHandler, state, host)
        self.state: RekognitionState
