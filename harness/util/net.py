"""Loopback sockets: is a port taken before a server is started on it, and which are free."""

from __future__ import annotations

import itertools
import socket

from harness.util.errors import HarnessError


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def require_free(
    host: str, ports: tuple[int, ...] | list[int], needed_by: str, advice: str
) -> None:
    """Fail before a server is started if another program holds one of its ports: the
    server would die on bind with a message about sockets, not about what to change."""
    for port in ports:
        if port_in_use(host, port):
            raise HarnessError(
                f"port {port} on {host} is in use by another program and is needed by "
                f"{needed_by}. Free it, or {advice}"
            )


# Linux hands out local ports for outgoing connections from 32768 up
# (/proc/sys/net/ipv4/ip_local_port_range); these lie below.
STEADY_PORTS = range(24000, 32000, 7)


def free_ports(count: int, host: str = "127.0.0.1", *, steady: bool = False) -> list[int]:
    """`count` distinct ports free on `host` now, for a stack started beside another.

    By default the kernel's choice, all held open together so none is given twice. With
    `steady`, ports below the ephemeral range: a server that is stopped and started again
    on one (a fault test's outage) finds it still free, as no outgoing connection of this
    host can have taken it meanwhile."""
    if steady:
        free = (port for port in STEADY_PORTS if not port_in_use(host, port))
        return list(itertools.islice(free, count))
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind((host, 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()
