"""The database gate (runtime/database_gate.py): a real process relaying real sockets.

An outage through it must look to the loader like a database outage: new connections
refused, open ones broken, and the same relay back afterwards. The server behind it is
a loopback echo server here; the e2e test runs the loader through it to MariaDB.
"""

from __future__ import annotations

import os
import socket
import socketserver
import threading
from collections.abc import Iterator

import pytest

from harness import config
from harness.runtime import database_gate, stack
from harness.util.errors import HarnessError
from harness.util.net import free_ports
from harness.util.processes import ProcessRecords, is_alive


class Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(4096):
            self.request.sendall(data)


@pytest.fixture
def server() -> Iterator[tuple[str, int]]:
    """A loopback echo server standing in for the database server."""
    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), Echo) as echo:
        echo.daemon_threads = True
        thread = threading.Thread(target=echo.serve_forever, daemon=True)
        thread.start()
        yield echo.server_address
        echo.shutdown()


@pytest.fixture
def settings(monkeypatch, tmp_path) -> Iterator[config.Settings]:
    for name in list(os.environ):
        if name.startswith("HARNESS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HARNESS_STATE_DIR", str(tmp_path))
    settings = config.Settings(backend="embedded")
    yield settings
    database_gate.stop(settings)


def roundtrip(port: int, payload: bytes = b"SELECT 1") -> bytes:
    """What the server behind the gate answers; b"" when the connection was closed or
    reset (a close with the client's bytes unread resets it)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        try:
            sock.sendall(payload)
            return sock.recv(4096)
        except ConnectionResetError:
            return b""


def test_the_gate_relays_to_the_server_and_an_outage_refuses_and_breaks_connections(
    settings, server
):
    (port,) = free_ports(1)
    assert database_gate.start(settings, port, *server) is True
    assert roundtrip(port) == b"SELECT 1"
    held = socket.create_connection(("127.0.0.1", port), timeout=5)
    held.sendall(b"BEGIN")
    assert held.recv(4096) == b"BEGIN"
    pid = database_gate.running(settings)["pid"]

    with database_gate.closed(settings):
        assert not is_alive(pid)
        with pytest.raises(ConnectionRefusedError):
            roundtrip(port)
        try:  # the open connection is broken: closed, or reset, never answered
            held.sendall(b"INSERT")
            assert held.recv(4096) == b""
        except (ConnectionResetError, BrokenPipeError):
            pass
        finally:
            held.close()

    assert roundtrip(port, b"again") == b"again"
    back = database_gate.running(settings)
    assert back["pid"] != pid
    assert (back["port"], back["target_host"], back["target_port"]) == (port, *server)


def test_a_running_gate_is_reused_and_one_to_another_target_replaced(settings, server):
    (port,) = free_ports(1)
    database_gate.start(settings, port, *server)
    first = database_gate.running(settings)["pid"]
    assert database_gate.start(settings, port, *server) is False
    assert database_gate.running(settings)["pid"] == first
    assert database_gate.start(settings, port, server[0], server[1] + 1) is True
    assert not is_alive(first)
    assert len([r for r in ProcessRecords(settings.state_dir).all()]) == 1


def test_a_half_close_reaches_the_server_and_its_answer_still_comes_back(settings, server):
    """A client that is done sending (shutdown SHUT_WR) still reads the answer: the gate
    passes the end on as a half-close, not as a close of both directions."""
    (port,) = free_ports(1)
    database_gate.start(settings, port, *server)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"last words")
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
    assert answer == b"last words"


def test_a_server_that_is_gone_closes_the_client_connection(settings):
    port, nobody = free_ports(2)
    database_gate.start(settings, port, "127.0.0.1", nobody)
    assert roundtrip(port) == b""  # accepted, then closed: to the client, no server


def test_a_port_taken_by_another_program_is_named(settings, server):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(HarnessError, match="HARNESS_DB_PORT"):
            database_gate.start(settings, taken.getsockname()[1], *server)
    assert database_gate.running(settings) is None


def test_closing_a_gate_that_does_not_run_says_so(settings):
    with pytest.raises(HarnessError, match="does not run"), database_gate.closed(settings):
        pass


def test_harness_down_stops_the_gate(settings, server):
    (port,) = free_ports(1)
    database_gate.start(settings, port, *server)
    pid = database_gate.running(settings)["pid"]
    assert stack.DATABASE_GATE in stack.running(settings)
    assert stack.down(settings, [stack.DATABASE_GATE]) == [stack.DATABASE_GATE]
    assert not is_alive(pid)
    assert database_gate.running(settings) is None
