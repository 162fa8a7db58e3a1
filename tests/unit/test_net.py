"""Ports on loopback: which are free, and the clear error before a server starts on a
taken one."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from harness.util.errors import HarnessError
from harness.util.net import STEADY_PORTS, free_ports, port_in_use, require_free


def test_free_ports_are_distinct_and_free():
    ports = free_ports(3)
    assert len(set(ports)) == 3
    assert not any(port_in_use("127.0.0.1", port) for port in ports)


def test_steady_ports_lie_below_the_ephemeral_range_and_skip_a_taken_one():
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    (first,) = free_ports(1, steady=True)
    assert first in STEADY_PORTS and first < low
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", first))
        busy.listen()
        second, third = free_ports(2, steady=True)
    assert first < second < third and not port_in_use("127.0.0.1", second)


def test_a_taken_port_is_named_with_what_needs_it_and_what_to_do():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        (free,) = free_ports(1)
        require_free("127.0.0.1", [free], "the stubs", "set HARNESS_SLACK_PORT")  # no error
        with pytest.raises(HarnessError) as error:
            require_free("127.0.0.1", [free, taken], "the stubs", "set HARNESS_SLACK_PORT")
    assert str(error.value) == (
        f"port {taken} on 127.0.0.1 is in use by another program and is needed by the "
        "stubs. Free it, or set HARNESS_SLACK_PORT"
    )
