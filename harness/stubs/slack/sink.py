"""Slack incoming-webhook sink: captures what the alerting Lambda posts.

Any ``POST`` outside ``/_stub/`` is a webhook delivery (real URLs look like
``/services/T000/B000/XXXX``). It is answered the way Slack answers:

* 200 ``ok`` (text/plain) for a JSON object with a non-empty ``text``, or ``blocks`` /
  ``attachments``; ``application/x-www-form-urlencoded`` with a ``payload=<json>`` field
  (the legacy form) is accepted too;
* 400 ``invalid_payload`` when the body is not JSON (or not an object);
* 400 ``no_text`` when it is a JSON object without ``text``, ``blocks`` and
  ``attachments`` (or with an empty ``text``), which is what Slack replies then;
* 400 ``msg_too_long`` when ``text`` is longer than 40,000 characters (Slack's limit);
* 413 ``request_too_large`` for a body over 1 MiB, answered without reading the body
  (recorded with ``body`` None and its declared ``size``).

Every request is recorded - also the rejected and the deliberately failed ones - as
``{id, path, headers, body, received_at, status, response, failed, reason, delay_ms}``;
``body`` is the parsed JSON when it parses, else the text. ``failed`` is false only for a
200 that the client was still waiting for, so tests can count delivered vs attempted.

Failure switch: ``POST /_stub/fail {"count": N, "status": 500, "body": "rollup_error",
"delay_ms": 0}`` makes the next N deliveries fail with that status and body (defaults
500 ``rollup_error``). With ``delay_ms`` each of them is first held for that long (to
trip the caller's timeout); if ``delay_ms`` is given without ``status`` the delayed
request is then answered normally, and recorded as failed (``client_gone``) when the
client hung up meanwhile. ``count: 0`` cancels the switch.

Control API (JSON)
    ``GET    /_stub/health``    ``{"ok": true, "service": "slack", "messages": n}``
    ``GET    /_stub/messages``  ``{"messages": [...]}`` oldest first
                                (``?delivered=true`` keeps only the delivered ones)
    ``DELETE /_stub/messages``  forget captured messages
    ``POST   /_stub/fail``      arm the failure switch (see above); returns its state
    ``GET    /_stub/fail``      the failure switch's state
    ``POST   /_stub/reset``     messages and the failure switch back to empty
    ``GET    /``                HTML page of the captured messages, newest first
"""

from __future__ import annotations

import copy
import json
import select
import socket
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from harness.stubs.httpserver import HOST, BackgroundServer, ControlError, StubHandler
from harness.stubs.slack.page import render_page

_TEXT = "text/plain; charset=utf-8"
MAX_TEXT_CHARS = 40_000  # Slack's limit on a message's `text`
MAX_BODY_BYTES = 1024 * 1024  # a larger request is refused before it is read


@dataclass
class FailSwitch:
    remaining: int = 0
    status: int | None = 500  # None: answer normally after the delay
    body: str = "rollup_error"
    delay_ms: int = 0


class SlackState:
    """Captured messages and the failure switch, shared by all handler threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._messages: list[dict[str, Any]] = []
        self._switch = FailSwitch()

    def begin(self, message: dict[str, Any]) -> FailSwitch | None:
        """Record an incoming delivery; returns the failure to apply to it, if any."""
        with self._lock:
            message["id"] = len(self._messages) + 1
            self._messages.append(message)
            if self._switch.remaining <= 0:
                return None
            self._switch.remaining -= 1
            return copy.copy(self._switch)

    def begin_refused(self, message: dict[str, Any], status: int, response: str) -> None:
        """Record a delivery refused at the door; the failure switch is left as it is."""
        with self._lock:
            message.update(
                id=len(self._messages) + 1, status=status, response=response, reason=response
            )
            self._messages.append(message)

    def finish(self, message: dict[str, Any], **result: Any) -> None:
        with self._lock:
            message.update(result)

    def messages(self, delivered_only: bool = False) -> list[dict[str, Any]]:
        with self._lock:
            return [
                copy.deepcopy(m) for m in self._messages if not delivered_only or not m["failed"]
            ]

    def clear(self) -> None:
        with self._lock:
            self._messages.clear()

    def arm(self, spec: Any) -> dict[str, Any]:
        switch = _parse_switch(spec)
        with self._lock:
            self._switch = switch
            return asdict(switch)

    def switch(self) -> dict[str, Any]:
        with self._lock:
            return asdict(self._switch)

    def reset(self) -> None:
        with self._lock:
            self._messages.clear()
            self._switch = FailSwitch()


def _parse_switch(spec: Any) -> FailSwitch:
    spec = spec or {}
    if not isinstance(spec, dict):
        raise ControlError("fail expects an object {count, status?, body?, delay_ms?}")
    count, delay = spec.get("count", 1), spec.get("delay_ms", 0) or 0
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise ControlError("count must be a non-negative integer")
    if not isinstance(delay, int) or isinstance(delay, bool) or not 0 <= delay <= 600_000:
        raise ControlError("delay_ms must be an integer within 0-600000")
    status = spec.get("status", 500 if "status" in spec or not delay else None)
    if status is not None and (not isinstance(status, int) or not 100 <= status <= 599):
        raise ControlError("status must be an HTTP status code or null")
    body = spec.get("body", "rollup_error")
    if not isinstance(body, str):
        raise ControlError("body must be a string")
    return FailSwitch(count, status, body, delay)


def slack_verdict(content_type: str, raw: bytes) -> tuple[Any, int, str]:
    """Parse a webhook body; returns (recorded body, status, Slack's response text)."""
    text = raw.decode("utf-8", errors="replace")
    if content_type.startswith("application/x-www-form-urlencoded"):
        fields = parse_qs(text)
        if "payload" not in fields:
            return text, 400, "invalid_payload"
        text = fields["payload"][0]
    try:
        body = json.loads(text)
    except ValueError:
        return text, 400, "invalid_payload"
    if not isinstance(body, dict):
        return body, 400, "invalid_payload"
    has_text = isinstance(body.get("text"), str) and body["text"].strip() != ""
    if not (has_text or body.get("blocks") or body.get("attachments")):
        return body, 400, "no_text"
    if has_text and len(body["text"]) > MAX_TEXT_CHARS:
        return body, 400, "msg_too_long"
    return body, 200, "ok"


def client_gone(sock: socket.socket) -> bool:
    """True when the peer closed the connection (a caller that timed out and hung up)."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        return bool(readable) and sock.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


class SlackHandler(StubHandler):
    @property
    def state(self) -> SlackState:
        return self.server.state  # type: ignore[no-any-return]

    def handle_service(self, method: str) -> None:
        if method == "GET" and self.route_path == "/":
            page = render_page(list(reversed(self.state.messages())))
            self.send_bytes(200, page.encode(), "text/html; charset=utf-8")
            return
        if method != "POST":
            self.send_bytes(404, b"no_service", _TEXT)
            return
        message: dict[str, Any] = {
            "path": urlsplit(self.path).path,
            "headers": dict(self.headers.items()),
            "body": None,
            "received_at": time.time(),
            "status": None,
            "response": None,
            "failed": True,
            "reason": "pending",
            "delay_ms": 0,
        }
        if self.body_length() > MAX_BODY_BYTES:
            self._refuse_unread(message)
            return
        raw = self.read_body()
        body, status, reply = slack_verdict(self.headers.get("Content-Type", ""), raw)
        message["body"] = body
        failure = self.state.begin(message)
        reason = None if status == 200 else reply
        if failure is not None:
            if failure.delay_ms:
                time.sleep(failure.delay_ms / 1000)
            if failure.status is not None:
                status, reply, reason = failure.status, failure.body, "injected"
            elif client_gone(self.connection):
                reason = "client_gone"
        self.state.finish(
            message,
            status=status,
            response=reply,
            failed=reason is not None,
            reason=reason,
            delay_ms=failure.delay_ms if failure else 0,
        )
        self.send_bytes(status, reply.encode(), _TEXT)

    def _refuse_unread(self, message: dict[str, Any]) -> None:
        """413 for a body over the limit, before reading it (the failure switch is not
        used: Slack's front end refuses before anything else looks at the request)."""
        reply = "request_too_large"
        message.update(size=self.body_length())
        self.state.begin_refused(message, status=413, response=reply)
        self.send_bytes(413, reply.encode(), _TEXT, headers={"Connection": "close"})
        self.discard_body()


def _health(h: SlackHandler, _body: Any) -> tuple[int, Any]:
    return 200, {"ok": True, "service": "slack", "messages": len(h.state.messages())}


def _messages(h: SlackHandler, _body: Any) -> tuple[int, Any]:
    query = parse_qs(urlsplit(h.path).query)
    delivered = query.get("delivered", ["false"])[0].lower() in ("1", "true", "yes")
    return 200, {"messages": h.state.messages(delivered_only=delivered)}


def _clear(h: SlackHandler, _body: Any) -> tuple[int, Any]:
    h.state.clear()
    return 200, {"messages": []}


def _arm(h: SlackHandler, body: Any) -> tuple[int, Any]:
    return 200, {"fail": h.state.arm(body)}


def _switch(h: SlackHandler, _body: Any) -> tuple[int, Any]:
    return 200, {"fail": h.state.switch()}


def _reset(h: SlackHandler, _body: Any) -> tuple[int, Any]:
    h.state.reset()
    return 200, {"ok": True}


SlackHandler.control_routes = {
    ("GET", "/_stub/health"): _health,
    ("GET", "/_stub/messages"): _messages,
    ("DELETE", "/_stub/messages"): _clear,
    ("POST", "/_stub/fail"): _arm,
    ("GET", "/_stub/fail"): _switch,
    ("POST", "/_stub/reset"): _reset,
}


class SlackSink(BackgroundServer):
    """The Slack webhook sink on ``127.0.0.1:port`` (0 = ephemeral) in a background thread."""

    name = "slack"

    def __init__(self, port: int = 0, host: str = HOST) -> None:
        super().__init__(port, SlackHandler, SlackState(), host)
        self.state: SlackState

    def webhook_url(self, path: str = "/services/T000/B000/XXXX") -> str:
        return self.url + path
