"""A minimal Lambda Runtime API server for one execution environment.

The runtime interface client (`awslambdaric`) inside the function process long-polls
`/invocation/next` and posts back `/response` or `/error`, exactly as on AWS. One
server serves one environment, so there is at most one invocation in flight.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PREFIX = "/2018-06-01/runtime"


@dataclass
class PendingInvocation:
    request_id: str
    payload: bytes
    function_arn: str
    trace_id: str
    deadline_ms: int
    result: Future = field(default_factory=Future)


@dataclass
class RuntimeReply:
    """What the function process answered for one invocation."""

    payload: bytes
    is_error: bool


class _Stop:
    """Sentinel that releases a blocked `/next` call on shutdown."""


class RuntimeApiServer:
    def __init__(self) -> None:
        self._invocations: queue.Queue[PendingInvocation | _Stop] = queue.Queue()
        self._current: PendingInvocation | None = None
        self.ready = threading.Event()
        self.init_error: bytes | None = None
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def address(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{host}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Also when the server never started: LocalStack stops an environment whose
        start failed before the server ran (its AssumeRole of the execution role was
        refused, an unknown runtime), and `shutdown()` waits for `serve_forever` to
        return, so without a serving thread it would block that caller for good (a
        synchronous invoke that never answers, an invocation lease never released)."""
        self._invocations.put(_Stop())
        if self._thread.ident is not None:  # started: serve_forever exits at once if not yet in
            self._server.shutdown()
        self._server.server_close()

    def submit(self, invocation: PendingInvocation) -> None:
        self._invocations.put(invocation)

    def reset(self) -> None:
        """Forget readiness after the function process was restarted."""
        self.ready.clear()
        self.init_error = None

    # --- request handling -------------------------------------------------------------

    def _next(self) -> PendingInvocation | None:
        self.ready.set()
        item = self._invocations.get()
        if isinstance(item, _Stop):
            self._invocations.put(item)  # release any other waiter too
            return None
        self._current = item
        return item

    def _finish(self, request_id: str, body: bytes, is_error: bool) -> bool:
        current = self._current
        if current is None or current.request_id != request_id:
            return False
        self._current = None
        if not current.result.done():
            current.result.set_result(RuntimeReply(payload=body, is_error=is_error))
        return True

    def _init_failed(self, body: bytes) -> None:
        self.init_error = body
        self.ready.set()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out as separate writes: without this, Nagle's algorithm
            # and delayed ACKs add ~40 ms to every invocation.
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: object) -> None:
                """Silence per-request logging: it would end up in LocalStack's log."""

            def _body(self) -> bytes:
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def _reply(self, status: int, body: bytes = b"", headers: dict | None = None) -> None:
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                if self.path != f"{PREFIX}/invocation/next":
                    self._reply(404, b'{"errorMessage":"not found"}')
                    return
                invocation = api._next()
                if invocation is None:
                    self._reply(410, b'{"errorMessage":"environment stopped"}')
                    return
                self._reply(
                    200,
                    invocation.payload,
                    {
                        "Content-Type": "application/json",
                        "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
                        "Lambda-Runtime-Deadline-Ms": str(invocation.deadline_ms),
                        "Lambda-Runtime-Invoked-Function-Arn": invocation.function_arn,
                        "Lambda-Runtime-Trace-Id": invocation.trace_id,
                    },
                )

            def do_POST(self) -> None:
                body = self._body()
                parts = self.path.removeprefix(PREFIX).strip("/").split("/")
                accepted = json.dumps({"status": "OK"}).encode()
                if parts == ["init", "error"]:
                    api._init_failed(body)
                    self._reply(202, accepted)
                elif (
                    len(parts) == 3
                    and parts[0] == "invocation"
                    and parts[2]
                    in {
                        "response",
                        "error",
                    }
                ):
                    if api._finish(parts[1], body, is_error=parts[2] == "error"):
                        self._reply(202, accepted)
                    else:
                        self._reply(400, b'{"errorMessage":"unknown or finished request id"}')
                else:
                    self._reply(404, b'{"errorMessage":"not found"}')

        return Handler


def deadline_ms(timeout_seconds: float) -> int:
    return int((time.time() + timeout_seconds) * 1000)
