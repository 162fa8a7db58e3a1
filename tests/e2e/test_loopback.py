"""Every server the harness runs listens on loopback only, as the OS sees it.

Not the configuration (`GATEWAY_LISTEN`, `--bind-address`, the stubs' `--host`): the
sockets themselves. For each process the harness recorded (LocalStack, the stubs,
MariaDB, the Lambda processes) and their children, psutil lists the sockets bound by
those PIDs; every one must be on 127.0.0.1 (or ::1), and each server must be found
listening where the settings say: LocalStack's gateway, both stubs, MariaDB, and the
Lambda Runtime API that LocalStack serves to each execution environment.

Embedded backend only: with Docker, ports are published by the daemon (checked by
tests/unit/test_docker_backend.py and test_docker_files.py).
"""

from __future__ import annotations

import ipaddress
import json
import os
import socket

import psutil
import pytest

from harness.build import functions
from harness.runtime import localstack, mariadb, stack
from harness.systems.catalog import database
from harness.util.processes import ProcessRecords


def _is_loopback(ip: str) -> bool:
    return ipaddress.ip_address(ip.split("%")[0]).is_loopback


def _trees(settings) -> dict[str, set[int]]:
    """Record name -> PIDs of the recorded process and all its descendants."""
    trees: dict[str, set[int]] = {}
    for entry in ProcessRecords(settings.state_dir).all():
        try:
            process = psutil.Process(entry["pid"])
            pids = {process.pid, *(child.pid for child in process.children(recursive=True))}
        except psutil.NoSuchProcess:
            continue
        trees.setdefault(entry["name"], set()).update(pids)
    return trees


def _sockets() -> list:
    try:
        return psutil.net_connections(kind="inet")
    except psutil.AccessDenied:  # macOS lists other processes' sockets to root only
        pytest.skip("this OS lists the sockets of processes to root only")


def _bound(connections: list, pids: set[int]) -> list[tuple[str, int, int]]:
    """(ip, port, pid) of every listening TCP socket and every bound, unconnected UDP
    socket of `pids`: what another machine could send to."""
    found = []
    for conn in connections:
        if conn.pid not in pids or not conn.laddr:
            continue
        listening = conn.type == socket.SOCK_STREAM and conn.status == psutil.CONN_LISTEN
        unconnected_udp = conn.type == socket.SOCK_DGRAM and not conn.raddr
        if listening or unconnected_udp:
            found.append((conn.laddr.ip, conn.laddr.port, conn.pid))
    return found


@pytest.fixture(scope="module")
def embedded(harness_settings):
    if harness_settings.backend != "embedded":
        pytest.skip(f"the {harness_settings.backend} backend's ports are not the harness's own")
    return harness_settings


@pytest.fixture(scope="module")
def warm_lambda(embedded, harness_stack, local_deployment, aws_client) -> str:
    """A Lambda execution environment kept warm: its process and its Runtime API server."""
    name = functions.BY_NAME["labeler"].deployed_name(local_deployment)
    aws_client("lambda").invoke(FunctionName=name, Payload=json.dumps({"Records": []}))
    return name


@pytest.fixture(scope="module")
def own_mariadb(embedded, catalog_pipeline) -> bool:
    """True when the catalog runs on the harness's own MariaDB (not HARNESS_DATABASE_URL)."""
    return not os.environ.get("HARNESS_DATABASE_URL")


def test_every_server_of_the_harness_listens_on_loopback_only(
    embedded, harness_stack, warm_lambda, own_mariadb
):
    settings = embedded
    trees = _trees(settings)
    connections = _sockets()
    everything = set().union(*trees.values())

    exposed = [
        f"{ip}:{port} (pid {pid}, {psutil.Process(pid).name()})"
        for ip, port, pid in _bound(connections, everything)
        if not _is_loopback(ip)
    ]
    assert exposed == [], "reachable from other machines"

    def listening(name: str) -> set[tuple[str, int]]:
        assert name in trees, f"no running process recorded as {name!r}: {sorted(trees)}"
        return {(ip, port) for ip, port, _ in _bound(connections, trees[name])}

    gateway = listening(localstack.RECORD)
    assert ("127.0.0.1", settings.port) in gateway
    stubs = listening(stack.STUBS)
    assert {("127.0.0.1", settings.rekognition_port), ("127.0.0.1", settings.slack_port)} <= stubs
    if own_mariadb:
        assert ("127.0.0.1", database.port()) in listening(mariadb.RECORD)

    # The Runtime API: served inside LocalStack's process, on a port of its own per
    # execution environment, and what each Lambda process is connected to.
    runtime_apis = {port for ip, port in gateway if port != settings.port}
    lambdas = {pid for name, pids in trees.items() if name.startswith("lambda-") for pid in pids}
    assert lambdas, "no Lambda process is running after the invocation"
    connected_to = {
        conn.raddr.port
        for conn in connections
        if conn.pid in lambdas and conn.raddr and _is_loopback(conn.raddr.ip)
    }
    assert runtime_apis & connected_to, (
        f"no Lambda process is connected to a Runtime API port of LocalStack "
        f"(LocalStack listens on {sorted(gateway)}, Lambda processes reach {sorted(connected_to)})"
    )
