"""Shared HTTP plumbing for the stubs: a loopback-only threaded server and a handler base.

Both stubs are plain ``http.server`` servers so they need nothing beyond the standard
library, run in-process for tests or in the foreground for ``harness up``, and handle many
concurrent Lambda calls (one thread per connection). Paths under ``/_stub/`` are the
control API; everything else is the emulated service.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Self
from urllib.parse import urlsplit

HOST = "127.0.0.1"
"""The only address the stubs bind to: they must never be reachable from the network."""

CONTROL_PREFIX = "/_stub/"
DISCARD_LIMIT = 256 * 1024 * 1024  # a refused body is drained up to this, never stored
DISCARD_SECONDS = 5.0

log = logging.getLogger("harness.stubs")


class ControlError(Exception):
    """A bad control-API request; answered with ``{"error": message}`` and ``status``."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


ControlRoute = Callable[["StubHandler", Any], tuple[int, Any]]
"""A control endpoint: gets the handler and the parsed JSON body (None if empty)."""


class StubHandler(BaseHTTPRequestHandler):
    """Request handler base: JSON helpers, control routing, quiet logging.

    Subclasses set ``control_routes`` ({(method, path): route}) and implement
    ``handle_service(method)`` for every non-control request.
    """

    protocol_version = "HTTP/1.1"  # keep-alive, as botocore's connection pool expects
    timeout = 60  # idle keep-alive connections do not pin a thread forever
    control_routes: ClassVar[dict[tuple[str, str], ControlRoute]] = {}
    server: StubHTTPServer

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, open_=True)
        # Headers and body go out in separate writes; without TCP_NODELAY, Nagle plus the
        # client's delayed ACK adds ~40 ms to every response.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, open_=False)

    # --- dispatch -----------------------------------------------------------------
    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    @property
    def route_path(self) -> str:
        """The request path without query string or trailing slash (``/`` stays ``/``)."""
        path = urlsplit(self.path).path
        return path.rstrip("/") or "/"

    def _dispatch(self, method: str) -> None:
        try:
            if self.route_path.startswith(CONTROL_PREFIX.rstrip("/")):
                self._dispatch_control(method)
            else:
                self.handle_service(method)
        except (BrokenPipeError, ConnectionResetError):
            log.debug("client went away during %s %s", method, self.path)

    def _dispatch_control(self, method: str) -> None:
        route = self.control_routes.get((method, self.route_path))
        body = self.read_body()
        if route is None:
            known = {p for (_, p) in self.control_routes}
            status = 405 if self.route_path in known else 404
            self.send_json(status, {"error": f"no control endpoint {method} {self.route_path}"})
            return
        try:
            payload = json.loads(body) if body.strip() else None
        except ValueError as exc:
            self.send_json(400, {"error": f"body is not JSON: {exc}"})
            return
        try:
            status, result = route(self, payload)
        except ControlError as exc:
            status, result = exc.status, {"error": str(exc)}
        self.send_json(status, result)

    def handle_service(self, method: str) -> None:  # pragma: no cover - overridden
        self.send_json(404, {"error": "not found"})

    # --- helpers ------------------------------------------------------------------
    def body_length(self) -> int:
        """The declared length of the request body (Content-Length; 0 when none)."""
        return max(0, int(self.headers.get("Content-Length") or 0))

    def read_body(self) -> bytes:
        """Read the request body (Content-Length only; the stubs' clients never chunk)."""
        length = self.body_length()
        return self.rfile.read(length) if length > 0 else b""

    def discard_body(self) -> None:
        """After answering a request whose body was refused unread: read and drop the body
        in small chunks (never held whole), then close the connection.

        The client sends the whole body before it reads the answer; closing on unread
        data would reset the connection under the answer. Draining stops after
        `DISCARD_LIMIT` bytes or `DISCARD_SECONDS` of silence; the connection is then
        closed anyway.
        """
        self.close_connection = True
        left = min(self.body_length(), DISCARD_LIMIT)
        with contextlib.suppress(OSError):
            self.connection.settimeout(DISCARD_SECONDS)
            while left > 0:
                chunk = self.rfile.read1(min(left, 64 * 1024))
                if not chunk:
                    break
                left -= len(chunk)

    def send_bytes(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.wfile.flush()

    def send_json(
        self,
        status: int,
        payload: Any,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> None:
        body = json.dumps(payload, default=str).encode()
        self.send_bytes(status, body, content_type, headers)

    def log_message(self, format: str, *args: Any) -> None:
        # Access logs at DEBUG: pytest output stays readable, `-v` logging still shows them.
        log.debug("%s %s", self.address_string(), format % args)


class StubHTTPServer(ThreadingHTTPServer):
    """Threaded server bound to 127.0.0.1 that carries the stub's shared ``state``."""

    daemon_threads = True  # a stuck handler (latency fault, open keep-alive) never blocks exit
    allow_reuse_address = True
    # socketserver listens with a backlog of 5. A burst of new connections (twenty
    # concurrent calls, or Lambda batches in parallel) overflowed it on a loaded machine:
    # the dropped handshakes were retried after 1, 3, 7 ... s, and twenty concurrent calls
    # had not all arrived after 30 s (a fresh `make test`, 2026-12-05).
    request_queue_size = 128

    def __init__(self, port: int, handler: type[StubHandler], state: Any, host: str = HOST) -> None:
        super().__init__((host, port), handler)
        self.state = state
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def track(self, connection: socket.socket, open_: bool) -> None:
        with self._connections_lock:
            if open_:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def close_connections(self) -> None:
        """Cut open keep-alive connections: a stopped stub must not keep answering
        pooled clients (tests simulate outages by stopping it)."""
        with self._connections_lock:
            connections, self._connections = self._connections, set()
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by the client
                connection.shutdown(socket.SHUT_RDWR)


class BackgroundServer:
    """Runs a ``StubHTTPServer`` in a daemon thread; ``start()``/``stop()`` are idempotent."""

    name = "stub"

    def __init__(self, port: int, handler: type[StubHandler], state: Any, host: str = HOST) -> None:
        self.host = host  # anything but 127.0.0.1 only inside a Docker network (compose)
        self._requested_port = port
        self._handler = handler
        self.state = state
        self._httpd: StubHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError(f"{self.name} stub is not running")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{HOST if self.host == '0.0.0.0' else self.host}:{self.port}"

    def start(self) -> Self:
        if self._httpd is None:
            self._httpd = StubHTTPServer(self._requested_port, self._handler, self.state, self.host)
            self._thread = threading.Thread(
                target=self._httpd.serve_forever,
                kwargs={"poll_interval": 0.1},
                name=f"{self.name}-stub:{self.port}",
                daemon=True,
            )
            self._thread.start()
            log.info("%s stub listening on %s", self.name, self.url)
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
            httpd.close_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
