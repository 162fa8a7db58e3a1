"""JSON over HTTP (harness.util.http) against a real loopback server: what a health
check makes of each kind of answer."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from harness.runtime.backends import server_kinds
from harness.util import http

ANSWERS = {"/object": b'{"up": true}', "/list": b"[1, 2]", "/empty": b"", "/text": b"up"}


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = ANSWERS.get(self.path, b'{"error": "no such route"}')
        self.send_response(200 if self.path in ANSWERS else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:  # quiet
        return


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_an_error_status_keeps_what_the_server_said(base):
    with pytest.raises(http.HttpStatusError) as raised:
        http.call_json(base + "/missing")
    assert raised.value.status == 404
    assert raised.value.json_field("error", "?") == "no such route"


def test_a_health_check_tells_an_empty_answer_from_none(base):
    assert http.get_json_or_none(base + "/object") == {"up": True}
    assert http.get_json_or_none(base + "/empty") is None
    assert http.get_json_or_none(base + "/empty", empty={}) == {}
    assert http.get_json_or_none(base + "/text") is None  # not JSON
    assert http.get_json_or_none(base + "/missing") is None


def test_a_server_kinds_health_document_is_always_an_object_or_none(base):
    assert server_kinds.http_json(base + "/object") == {"up": True}
    assert server_kinds.http_json(base + "/empty") == {}  # up, saying nothing
    assert server_kinds.http_json(base + "/list") == {"answer": [1, 2]}
    assert server_kinds.http_json(base + "/missing") is None


def test_nothing_listening_is_none():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port = server.server_address[1]
    server.server_close()  # the port was free a moment ago and nothing listens now
    assert http.get_json_or_none(f"http://127.0.0.1:{port}/object", timeout=1) is None
